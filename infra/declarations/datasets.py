"""Dataset declarations: `datasets/<name>.yaml` (managed) and `datasets/sources/<name>.yaml` (raw).

A managed dataset is one this project creates and owns: its id is the stack's dataset prefix plus
the file name (`mart.yaml` -> `production_mart` in prod), its ACL is computed from `roles/`
(see `access.py`), and it is protected in protected stacks. Each has a layer (staging, mart, ml,
reporting, sync, backup), which is how roles and later rules select datasets. A mart or ml
dataset may list query folders of its layer (`folders:`): their queries write to it (`folders.py`).

A raw source is a dataset a loader owns (Fivetran, Stitch, the Amplitude and Firestore exports,
Apollo). It is declared read-only: never created or changed by Pulumi, but known by id so that
lineage, local fixtures, cost checks and backups can refer to it. Its ACL belongs to the loader's
owner, so the file says which of this project's service accounts that owner has made READER
(`readers: [runner, backup]`): the permission preflight counts on it, `adopt` checks it live.

Deliberately not here: stack-specific values (ids with their prefix, members); `warehouse.py`
combines these specs with a `StackConfig`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from infra.declarations.columns import PARTITION_TYPES, Column, read_columns
from infra.declarations.files import NAME, declaration_files, load_declaration
from infra.declarations.keys import Field, check_labels, read_mapping
from infra.problems import Problems
from infra.vocabulary import LOCATION, LOCATION_HELP, PROJECT_ID, PROJECT_ID_HELP

LAYERS = ("staging", "mart", "ml", "reporting", "sync", "backup", "dr")
SYNC_TOOLS = ("airflow", "census", "customer_io")
# BigQuery: letters, digits and underscores, up to 1,024 characters; a leading digit is fine (GA360
# names its export dataset by the numeric view id). docs/real-world.md, "dataset-id".
_DATASET_ID = re.compile(r"^[A-Za-z0-9_]{1,1024}$")
# A table family: the shards' common prefix and `*` (`events_*`), read as a wildcard table.
FAMILY = re.compile(r"^[a-z][a-z0-9_]{0,62}\*$")
FAMILY_SUFFIX = "_TABLE_SUFFIX"  # the pseudo column a wildcard table adds: what the `*` matched

DATASET_FIELDS = (
    Field("description", str, required=True, example="'Datamarts: tables grouped by folder.'"),
    Field("layer", str, required=True, choices=LAYERS, example="mart"),
    Field("folders", list, default=[], item=str, example="[core, revenue]", unique=True),
    Field("sync_tool", str, choices=SYNC_TOOLS, example="census"),
    Field("labels", dict, default={}, example="{team: data}"),
    Field("time_travel_days", int, default=7, choices=(2, 3, 4, 5, 6, 7), example="7"),
    Field("default_table_expiration_days", int, example="400"),
    Field("location", str, example="EU"),
    Field("friendly_name", str, example="'Production marts'"),
)

SOURCE_FIELDS = (
    Field("description", str, required=True, example="'Hubspot CRM, loaded by Fivetran.'"),
    Field("loader", str, required=True, example="fivetran"),
    Field("dataset_id", str, required=True, example="fivetran_hubspot (all digits: quote it, '123456789')"),
    Field("tables", dict, required=True, example="{contact: {description: ..., columns: [...]}}"),
    Field("location", str, example="US"),
    Field("readers", list, default=[], item=str, example="[runner, backup]", unique=True),
    Field("project", str, example="acme-billing-prod"),
)
SOURCE_TABLE_FIELDS = (
    Field("description", str, required=True, example="'One row per contact.'"),
    Field("columns", list, required=True, example="[{name: id, type: STRING, description: ...}]"),
    Field("partition_column", str, example="event_time"),
    Field("massive", bool, default=False, example="true"),
    Field("require_partition_filter", bool, default=False, example="true"),
)


@dataclass(frozen=True)
class DatasetSpec:
    name: str  # the file name without .yaml; the stable logical name
    file: str
    description: str
    layer: str
    folders: tuple[str, ...]  # the query folders of its layer whose tables it holds (`folders.py`)
    sync_tool: str | None
    labels: Mapping[str, str]
    time_travel_days: int
    default_table_expiration_days: int | None
    location: str | None
    friendly_name: str | None
    folder_lines: tuple[int | None, ...] = field(default=(), compare=False)  # the line of each of `folders`


@dataclass(frozen=True)
class SourceTable:
    name: str
    description: str
    columns: tuple[Column, ...]
    partition_column: str | None  # reads must filter on it (cost guard)
    require_partition_filter: bool  # set by the loader on massive tables; BigQuery enforces it

    @property
    def partitioned(self) -> bool:
        return self.partition_column is not None

    @property
    def family(self) -> bool:
        """A family of date shards (`events_*`), with the columns of one shard: SQL reads it as a
        wildcard table and filters `_TABLE_SUFFIX` (the cost guard's column for it)."""
        return self.name.endswith("*")

    @property
    def prefix(self) -> str:
        """The shards' common prefix (`events_` of `events_*`); the whole name of a single table."""
        return self.name[:-1] if self.family else self.name


@dataclass(frozen=True)
class SourceSpec:
    name: str
    file: str
    description: str
    loader: str
    dataset_id: str
    tables: Mapping[str, SourceTable]
    location: str | None = None  # None: the stack's location
    readers: tuple[str, ...] = ()  # roles whose service account the dataset's owner made READER
    readers_line: int | None = None
    # The project holding the dataset when the same in every stack (a vendor's export project);
    # None: the stack's (`warehouse:sourceProjects.<name>`, else `warehouse:sourceProject`, else its own).
    project: str | None = None


def load_datasets(root: Path, problems: Problems) -> tuple[tuple[DatasetSpec, ...], tuple[SourceSpec, ...]]:
    datasets = tuple(d for d in (_load_dataset(root, p, problems)
                                 for p in declaration_files(root / "datasets", root, problems)) if d)
    sources = tuple(s for s in (_load_source(root, p, problems)
                                for p in declaration_files(root / "datasets" / "sources", root, problems)) if s)
    return datasets, sources


def _load_dataset(root: Path, path: Path, problems: Problems) -> DatasetSpec | None:
    doc = load_declaration(root, path, problems, "dataset")
    if doc is None:
        return None
    file = doc.file
    before = len(problems)
    v = read_mapping(doc, (), doc.data, DATASET_FIELDS, problems, "a dataset")
    if v is None:
        return None
    if v.get("layer") == "sync" and not v.get("sync_tool"):
        problems.add(file, doc.line(("layer",)), "sync_tool", "a sync dataset must name the tool that reads it",
                     f"add `sync_tool:` (one of {', '.join(SYNC_TOOLS)})")
    if v.get("sync_tool") and v.get("layer") and v["layer"] != "sync":
        problems.add(file, doc.line(("sync_tool",)), "sync_tool", "only sync datasets name a sync tool",
                     "remove `sync_tool:` or set `layer: sync`")
    if v.get("folders") and v.get("layer") and v["layer"] not in ("mart", "ml"):
        problems.add(file, doc.line(("folders",)), "folders", "only mart and ml datasets group tables by folder",
                     "remove `folders:`")
    for i, folder in enumerate(v.get("folders") or []):
        if not NAME.match(folder):
            problems.add(file, doc.line(("folders", i)), f"folders[{i}]", f"folder {folder!r} is not a valid name",
                         "use lower-case letters, digits and underscores")
    labels = v.get("labels") or {}
    check_labels(doc, labels, problems)
    expiration = v.get("default_table_expiration_days")
    if expiration is not None and not 1 <= expiration <= 3650:
        problems.add(file, doc.line(("default_table_expiration_days",)), "default_table_expiration_days",
                     f"{expiration} days is out of range", "use 1 to 3650 days, or remove the key")
    if v.get("location") is not None and not LOCATION.match(v["location"]):
        problems.add(file, doc.line(("location",)), "location", f"{v['location']!r} is not a BigQuery location",
                     LOCATION_HELP)
    if len(problems) > before:
        return None
    return DatasetSpec(
        name=path.stem, file=file, description=v["description"].strip(), layer=v["layer"],
        folders=tuple(v["folders"]), sync_tool=v["sync_tool"], labels=MappingProxyType(dict(labels)),
        time_travel_days=v["time_travel_days"], default_table_expiration_days=expiration,
        location=v["location"], friendly_name=v["friendly_name"],
        folder_lines=tuple(doc.lines.get(("folders", i)) for i in range(len(v["folders"]))),
    )


def _load_source(root: Path, path: Path, problems: Problems) -> SourceSpec | None:
    doc = load_declaration(root, path, problems, "source")
    if doc is None:
        return None
    file = doc.file
    before = len(problems)
    v = read_mapping(doc, (), doc.data, SOURCE_FIELDS, problems, "a raw source")
    if v is None:
        return None
    if "dataset_id" not in v.rejected and v["dataset_id"] is not None and not _DATASET_ID.match(v["dataset_id"]):
        problems.add(file, doc.line(("dataset_id",)), "dataset_id", f"{v['dataset_id']!r} is not a dataset id",
                     "use letters, digits and underscores")
    if v.get("location") is not None and not LOCATION.match(v["location"]):
        problems.add(file, doc.line(("location",)), "location", f"{v['location']!r} is not a BigQuery location",
                     LOCATION_HELP)
    if v.get("project") is not None and not PROJECT_ID.match(v["project"]):
        problems.add(file, doc.line(("project",)), "project", f"{v['project']!r} is not a GCP project id",
                     PROJECT_ID_HELP)
    tables = {name: _source_table(doc, name, raw, problems) for name, raw in (v.get("tables") or {}).items()}
    if len(problems) > before:
        return None
    return SourceSpec(name=path.stem, file=file, description=v["description"].strip(), loader=v["loader"],
                      dataset_id=v["dataset_id"], tables=MappingProxyType(tables), location=v["location"],
                      readers=tuple(v["readers"]), readers_line=doc.lines.get(("readers",)), project=v["project"])


def _source_table(doc, name: str, raw: object, problems: Problems) -> SourceTable | None:
    path = ("tables", name)
    key = f"tables.{name}"
    if not (NAME.match(name) or FAMILY.match(name)):
        problems.add(doc.file, doc.line(path), key, f"{name!r} is not a table name",
                     "use lower-case letters, digits and underscores; a family of date shards is their prefix and "
                     "`*` (`events_*`)")
        return None
    v = read_mapping(doc, path, raw, SOURCE_TABLE_FIELDS, problems, "a source table")
    if not v or {"columns", "description"} & v.rejected:
        return None
    columns = read_columns(doc, path + ("columns",), v["columns"], problems)
    if columns is None:
        return None
    partition = v["partition_column"]
    if partition is not None and name.endswith("*"):
        problems.add(doc.file, doc.line(path + ("partition_column",)), f"{key}.partition_column",
                     f"{name} is a family of shards, read with a filter on {FAMILY_SUFFIX}",
                     "remove `partition_column:` (and `require_partition_filter:`, `massive:`): "
                     f"every read of the family must bound {FAMILY_SUFFIX} by the run date")
        return None
    if partition is not None:
        column = next((c for c in columns if c.name == partition), None)
        if column is None or column.type not in PARTITION_TYPES:
            problems.add(doc.file, doc.line(path + ("partition_column",)), f"{key}.partition_column",
                         f"{partition!r} is not a DATE, TIMESTAMP or DATETIME column of the table",
                         "name one of the table's date or timestamp columns")
            return None
    if v["massive"] and not (partition and v["require_partition_filter"]):
        problems.add(doc.file, doc.line(path), f"{key}.require_partition_filter",
                     "a massive table must be partitioned and require a partition filter",
                     "set `partition_column:` and `require_partition_filter: true`")
        return None
    if v["require_partition_filter"] and not partition:
        problems.add(doc.file, doc.line(path + ("require_partition_filter",)), f"{key}.require_partition_filter",
                     "only a partitioned table can require a partition filter", "set `partition_column:`")
        return None
    return SourceTable(name=name, description=v["description"].strip(), columns=columns,
                       partition_column=partition, require_partition_filter=v["require_partition_filter"])
