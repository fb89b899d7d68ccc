"""Checks on the SQL: parsing and references (`sql.py`), the lineage graph (`lineage.py`), the run
order of scheduled queries (`run_order.py`), the rules every scheduled query and view must pass
(`query_rules.py`), and selecting tables on the lineage (`select.py`, with what git says changed:
`changed.py`). No resources, no BigQuery."""
