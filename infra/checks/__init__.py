"""Checks on the SQL: parsing and references (`sql.py`), the lineage graph (`lineage.py`), the run
order of scheduled queries (`run_order.py`) and the rules every scheduled query and view must pass
(`query_rules.py`). No resources, no BigQuery."""
