"""Running the warehouse locally: a BigQuery REST API on loopback (`emulator.py`) for the tests and
the local run, in place of the real service."""
