"""The warehouse as it exists before this project, seeded into a local BigQuery emulator.

Like the company's: the seven production datasets, made by hand in US, with data; individual
users added as OWNER next to the project's owners, and the analysts' group as WRITER of the
marts; the tables the files declare (all but one), as dbt built them (the declared columns, no descriptions,
dbt's own labels), one of them not partitioned where the files partition it; tables and views
the files do not declare (dbt's intermediate models, an analyst's scratch table); a dbt
developer's dataset; and the raw sources' datasets in the same project, where the loaders' owners
have granted nothing to the warehouse's accounts yet (they do not exist before the first `up`).
"""

from __future__ import annotations

from google.cloud import bigquery

from infra.model.warehouse import Warehouse

OWNERS = ("alice@acme.com", "bob@acme.com")  # added as OWNER by hand
UNPARTITIONED = "mart.revenue_mrr"  # dbt built it without partitioning
UNDECLARED_TABLES = {"mart": ("int_users_joined", "scratch_alice_mrr_check"), "stg_external": ("stg_legacy_events",)}
UNDECLARED_VIEW = ("reporting", "old_mrr_dashboard")
UNDECLARED_DATASET = "dbt_alice"
SCHEMA_DRIFT = "stg_external.stg_stripe_customers"  # an older model: no created_at, a dbt column instead
NOT_BUILT = "mart.support_nps_weekly"  # declared, never built by dbt: the first `up` creates it

_VALUES = {"STRING": "'x'", "BYTES": "b'x'", "INT64": "1", "FLOAT64": "1.5", "NUMERIC": "NUMERIC '1'",
           "BIGNUMERIC": "BIGNUMERIC '1'", "BOOL": "TRUE", "DATE": "DATE '2026-11-01'",
           "DATETIME": "DATETIME '2026-11-01 10:00:00'", "TIME": "TIME '10:00:00'",
           "TIMESTAMP": "TIMESTAMP '2026-11-01 10:00:00+00'", "JSON": "JSON '{}'", "GEOGRAPHY": "ST_GEOGPOINT(1, 1)"}


def seed(client: bigquery.Client, warehouse: Warehouse) -> None:
    project = warehouse.stack.project
    managed = [d for d in warehouse.datasets if d.layer not in ("backup", "dr")]
    for d in managed:
        ds = bigquery.Dataset(f"{project}.{d.dataset_id}")
        ds.location = "US"
        ds.description = "made by hand"
        ds.labels = {"team": "data"}
        entries = [bigquery.AccessEntry("OWNER", "specialGroup", "projectOwners"),
                   *(bigquery.AccessEntry("OWNER", "userByEmail", who) for who in OWNERS),
                   bigquery.AccessEntry("WRITER", "specialGroup", "projectWriters")]
        if d.layer == "mart":
            entries.append(bigquery.AccessEntry("WRITER", "groupByEmail", "data-analysts@acme.com"))
        ds.access_entries = entries
        client.create_dataset(ds)
        for q in (q for q in warehouse.queries if q.spec.dataset == d.name and q.spec.key != NOT_BUILT):
            table_id = f"{project}.{d.dataset_id}.{q.spec.name}"
            if q.spec.is_view:
                view = bigquery.Table(table_id)
                view.view_query = "SELECT 1 AS x"
                client.create_table(view)
                continue
            columns = [c for c in q.spec.columns if not (q.spec.key == SCHEMA_DRIFT and c.name == "created_at")]
            schema = [bigquery.SchemaField.from_api_repr(_undescribed(c.as_bigquery_json())) for c in columns]
            if q.spec.key == SCHEMA_DRIFT:
                schema.append(bigquery.SchemaField("dbt_updated_at", "TIMESTAMP"))
            table = bigquery.Table(table_id, schema=schema)
            table.labels = {"dbt": "true"}
            if q.spec.partitioning is not None and q.spec.key != UNPARTITIONED:
                table.time_partitioning = bigquery.TimePartitioning(field=q.spec.partitioning.field,
                                                                    type_=q.spec.partitioning.type)
            table.clustering_fields = list(q.spec.clustering) or None
            client.create_table(table)
            names = ", ".join(f"`{c.name}`" for c in columns)
            values = ", ".join(_value(c) for c in columns)
            client.query(f"INSERT INTO `{table_id}` ({names}) VALUES ({values})").result()
        for name in UNDECLARED_TABLES.get(d.name, ()):
            table_id = f"{project}.{d.dataset_id}.{name}"
            client.create_table(bigquery.Table(table_id, schema=[bigquery.SchemaField("id", "STRING")]))
            client.query(f"INSERT INTO `{table_id}` (id) VALUES ('a')").result()
        if d.name == UNDECLARED_VIEW[0]:
            view = bigquery.Table(f"{project}.{d.dataset_id}.{UNDECLARED_VIEW[1]}")
            view.view_query = "SELECT 1 AS x"
            client.create_table(view)
    scratch = bigquery.Dataset(f"{project}.{UNDECLARED_DATASET}")
    scratch.location = "US"
    client.create_dataset(scratch)
    for s in warehouse.sources:
        ds = bigquery.Dataset(f"{s.project}.{s.dataset_id}")
        ds.location = "US"
        ds.access_entries = [bigquery.AccessEntry("OWNER", "specialGroup", "projectOwners")]
        client.create_dataset(ds)


def _value(column) -> str:
    """A literal of the column's type: a STRUCT of its fields' literals, an array of one element."""
    one = f"STRUCT({', '.join(f'{_value(f)} AS {f.name}' for f in column.fields)})" if column.type == "STRUCT" \
        else _VALUES[column.type]
    return f"[{one}]" if column.mode == "REPEATED" else one


def _undescribed(field: dict) -> dict:
    """A schema JSON field as dbt made it: no descriptions, nested fields included."""
    out = {k: v for k, v in field.items() if k != "description"}
    if "fields" in out:
        out["fields"] = [_undescribed(f) for f in out["fields"]]
    return out
