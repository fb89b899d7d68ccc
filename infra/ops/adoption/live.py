"""What exists in a stack's project, read once through google-cloud-bigquery.

For every dataset of the project: its location, labels, description and ACL; for the datasets the
files manage, every table and view with its type, schema (name, type, mode, description),
partitioning and clustering (a STRUCT column with its fields). For each raw source: whether its
dataset exists and its ACL (the loaders' owners grant the warehouse's accounts there). Types are
compared in standard SQL names: the API may answer with the legacy aliases (INTEGER, FLOAT,
BOOLEAN, RECORD), which docs/real-world.md lists.

Deliberately not here: the comparison with the declarations (`migration.py`), and objects other
than datasets and tables (routines, models, transfer configs, service accounts).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from infra.model.warehouse import Warehouse
from infra.ops.unmanaged import entry_key

# TableFieldSchema.type: "INTEGER (or INT64)", "FLOAT (or FLOAT64)", "BOOLEAN (or BOOL)", "RECORD (or STRUCT)".
TYPE_ALIASES = {"INTEGER": "INT64", "FLOAT": "FLOAT64", "BOOLEAN": "BOOL", "RECORD": "STRUCT"}


def standard_type(name: str | None) -> str:
    name = str(name or "").upper()
    return TYPE_ALIASES.get(name, name)


@dataclass(frozen=True)
class LiveColumn:
    name: str
    type: str  # standard SQL name
    mode: str
    description: str
    fields: tuple[LiveColumn, ...] = ()  # a STRUCT's (RECORD's) columns


@dataclass(frozen=True)
class LiveTable:
    table_id: str
    kind: str  # TABLE, VIEW, SNAPSHOT, MATERIALIZED_VIEW, EXTERNAL ...
    columns: tuple[LiveColumn, ...] = ()
    partition_field: str | None = None  # None: not time-partitioned by a column
    partition_type: str | None = None
    ingestion_partitioned: bool = False  # time-partitioned by load time (no field)
    range_partitioned: bool = False
    clustering: tuple[str, ...] = ()


@dataclass
class LiveDataset:
    dataset_id: str
    project: str
    location: str
    description: str | None
    labels: dict[str, str]
    acl: list[tuple[str, str, str]]  # (role, entity type, id), as `infra.ops.unmanaged.entry_key` compares them
    tables: dict[str, LiveTable] = field(default_factory=dict)


@dataclass
class LiveProject:
    project: str
    datasets: dict[str, LiveDataset] = field(default_factory=dict)  # every dataset of the project, by id
    sources: dict[str, LiveDataset | None] = field(default_factory=dict)  # raw source name -> its dataset
    unreadable_sources: dict[str, str] = field(default_factory=dict)  # raw source name -> why it could not be read


def read_live(client: Any, warehouse: Warehouse) -> LiveProject:
    """Read the project; BigQuery errors propagate (the CLI turns them into one line)."""
    project = warehouse.stack.project
    live = LiveProject(project)
    managed = {d.dataset_id for d in warehouse.datasets if d.project == project}
    for item in sorted(client.list_datasets(project=project), key=lambda d: d.dataset_id):
        dataset = _dataset(client, project, item.dataset_id)
        if item.dataset_id in managed:
            for t in sorted(client.list_tables(f"{project}.{item.dataset_id}"), key=lambda t: t.table_id):
                dataset.tables[t.table_id] = _table(client.get_table(f"{project}.{item.dataset_id}.{t.table_id}"))
        live.datasets[item.dataset_id] = dataset
    from google.api_core.exceptions import Forbidden, NotFound

    for s in warehouse.sources:
        if s.project == project:
            live.sources[s.name] = live.datasets.get(s.dataset_id)
            continue
        try:
            live.sources[s.name] = _dataset(client, s.project, s.dataset_id)
        except NotFound:
            live.sources[s.name] = None
        except Forbidden as exc:  # another project's dataset: its owner may not let us look
            live.unreadable_sources[s.name] = str(getattr(exc, "message", exc)).splitlines()[0]
    return live


def _dataset(client: Any, project: str, dataset_id: str) -> LiveDataset:
    got = client.get_dataset(f"{project}.{dataset_id}")
    acl = [entry_key(e.role, e.entity_type, e.entity_id) for e in got.access_entries]
    return LiveDataset(dataset_id, project, str(got.location or ""), got.description, dict(got.labels or {}), acl)


def _columns(schema: Any) -> tuple[LiveColumn, ...]:
    return tuple(LiveColumn(f.name, standard_type(f.field_type), str(f.mode or "NULLABLE").upper(),
                            f.description or "", _columns(f.fields or ())) for f in schema)


def _table(table: Any) -> LiveTable:
    columns = _columns(table.schema or ())
    partitioning = table.time_partitioning
    return LiveTable(
        table.table_id, str(table.table_type or "TABLE"), columns,
        partition_field=partitioning.field if partitioning is not None else None,
        partition_type=partitioning.type_ if partitioning is not None else None,
        ingestion_partitioned=partitioning is not None and not partitioning.field,
        range_partitioned=table.range_partitioning is not None,
        clustering=tuple(table.clustering_fields or ()))
