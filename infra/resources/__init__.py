"""Resources: the Pulumi program (`program.py`) turns the model into components
(`components/`, one per concept), plus the one SQL the program generates (`snapshot_sql.py`)."""
