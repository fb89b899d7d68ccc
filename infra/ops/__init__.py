"""Operations on the live warehouse: restore (`restore_points.py` chooses the point, `restore.py`
restores it), backup coverage (`coverage.py`), the drift review (`drift/`), the scan for
unmanaged objects (`unmanaged.py`) and the one way to get a BigQuery client (`bigquery_client.py`)."""
