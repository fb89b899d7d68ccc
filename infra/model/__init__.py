"""The model: the validated warehouse of one stack, and the loader that builds it.

`load.load_for_stack` reads every declaration (`infra.declarations`), applies the rules that need
several files at once and the SQL rules (`infra.checks`), and returns a frozen `Warehouse`
(`warehouse.py`): datasets with their complete ACL (`access.py`), roles, raw sources, resolved
queries (`queries.py`) and backups (`backups.py`). Everything downstream (the Pulumi program,
the plan, the local run, restore, drift) works on this model and never reads a file again.
"""
