"""Operations on the live warehouse: restore (`restore.py`), backup coverage (`coverage.py`), the
drift review (`drift/`), the scan for unmanaged objects (`unmanaged.py`) and the one way to get a
BigQuery client (`bigquery_client.py`)."""
