"""Adopting the warehouse that exists: `adopt --stack S`.

- `live.py` reads what exists in the stack's project (datasets, their ACLs, tables and views with
  their schemas) and the raw sources' ACLs, through google-cloud-bigquery;
- `import_file.py` turns the plan's resources that already exist into a `pulumi import --file`
  file whose entries give exactly the plan's URNs;
- `migration.py` compares what exists with what the first `up` declares: what it removes,
  replaces, changes and leaves alone; `report.py` writes that as Markdown and JSON.
"""
