"""Scheduled queries and views: `scheduled_queries/<layer>/<folder>/<name>.sql` beside `<name>.yaml`.

Each pair declares one table (built by a scheduled query of the Data Transfer Service; with
`kind: script`, by a BigQuery script scheduled as written, that writes the table itself) or one
view. The YAML holds the contract (description, column schema, partitioning, clustering) and how
it runs (schedule, write disposition, incremental or full refresh); the SQL is what runs. Layers
are folders (`staging`, `mart`, `ml`, `sync`, `reporting`), and defaults come from the folders:
`<layer>/_defaults.yaml`, then the dataset that lists the folder under `folders:` (`folders.py`),
then `<layer>/<folder>/_defaults.yaml`, then the file itself, so a file holds only its exceptions.

SQL names tables as `<dataset>.<table>`, where `<dataset>` is a managed dataset's name
(`mart`, `stg_external`, ...) or a raw source's name (`stripe`, `amplitude`, ...): never a
project or a stack-specific dataset id. `sql.py` resolves those names per stack.

Deliberately not here: parsing and checking the SQL (`sql.py`, `lineage.py`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from infra.declarations.columns import PARTITION_TYPES, Column, read_columns
from infra.declarations.files import NAME, Doc, load_file, relative
from infra.declarations.folders import Folders, Route
from infra.declarations.keys import Field, check_labels, read_mapping, suggest
from infra.declarations.schedule import Schedule, ScheduleError, parse_schedule
from infra.problems import Problems

LAYERS = ("staging", "mart", "ml", "sync", "reporting")
KINDS = ("table", "view", "script")
WRITE_DISPOSITIONS = ("WRITE_TRUNCATE", "WRITE_APPEND")
PARTITION_GRANULARITY = ("DAY", "HOUR", "MONTH", "YEAR")
DEFAULTS_FILE = "_defaults.yaml"
# A problem with one of these keys leaves nothing to check the SQL against (its table, its contract).
BLOCKING_FIELDS = frozenset({"description", "dataset", "kind", "columns"})
# "An unresolved GoogleSQL query can be up to 1 MB long" (docs/real-world.md, "query-size"); the
# generated script adds a few hundred bytes around the file's SELECT, so the file gets a little less.
MAX_SQL_BYTES = 1_000_000

QUERY_FIELDS = (
    Field("description", str, required=True, example="'One row per Stripe subscription.'"),
    Field("kind", str, default="table", choices=KINDS, example="view"),
    Field("dataset", str, required=True, example="mart"),
    Field("schedule", str, example="'every day 05:10'"),
    Field("write_disposition", str, default="WRITE_TRUNCATE", choices=WRITE_DISPOSITIONS, example="WRITE_TRUNCATE"),
    Field("incremental", bool, default=False, example="true"),
    Field("partitioning", dict, example="{field: event_date, type: DAY}"),
    Field("clustering", list, default=[], item=str, example="[user_id]", unique=True),
    Field("columns", list, required=True, example="[{name: id, type: STRING, description: ...}]"),
    Field("labels", dict, default={}, example="{owner: growth}"),
    # minutes after its inputs' scheduled start; a day at most (schedules compare times of one day)
    Field("after_margin_minutes", int, default=20, example="30", minimum=0, maximum=1440),
)
DEFAULT_FIELDS = tuple(f for f in QUERY_FIELDS if f.name in (
    "kind", "dataset", "schedule", "write_disposition", "labels", "after_margin_minutes"))
PARTITIONING_FIELDS = (
    Field("field", str, required=True, example="event_date"),
    Field("type", str, default="DAY", choices=PARTITION_GRANULARITY, example="DAY"),
    # at most a hundred years: far beyond any retention, and well inside BigQuery's milliseconds
    Field("expiration_days", int, example="400", minimum=1, maximum=36_500),
    Field("require_filter", bool, default=False, example="true"),
)


@dataclass(frozen=True)
class Partitioning:
    field: str
    type: str
    expiration_days: int | None
    require_filter: bool


@dataclass(frozen=True)
class QuerySpec:
    name: str  # the destination table or view name (the file name)
    layer: str
    folder: str
    file: str  # the YAML file
    sql_file: str
    sql: str
    kind: str  # "table" (built by a scheduled query) or "view"
    dataset: str  # the managed dataset's name
    description: str
    schedule: Schedule | None
    write_disposition: str
    incremental: bool
    partitioning: Partitioning | None
    clustering: tuple[str, ...]
    columns: tuple[Column, ...]
    labels: Mapping[str, str]
    after_margin_minutes: int
    schedule_line: int | None = None  # where the schedule is written, for problems about it

    @property
    def key(self) -> str:
        """`dataset.table`, as SQL names it and as the lineage knows it."""
        return f"{self.dataset}.{self.name}"

    @property
    def is_view(self) -> bool:
        return self.kind == "view"

    @property
    def is_script(self) -> bool:
        """A BigQuery script scheduled as written, that writes its own table (`infra/checks/scripts.py`)."""
        return self.kind == "script"


def load_queries(root: Path, problems: Problems, folders: Folders | None = None) -> tuple[QuerySpec, ...]:
    """Every query and view; `folders` routes folders to the datasets that list them (none without)."""
    folders = folders or Folders()
    base = root / "scheduled_queries"
    if not base.is_dir():
        return ()
    specs: list[QuerySpec] = []
    for layer_dir in sorted(p for p in base.iterdir() if p.is_dir()):
        if layer_dir.name not in LAYERS:
            problems.add(relative(layer_dir, root), None, "", f"unknown layer folder {layer_dir.name!r}",
                         f"put queries under one of: {', '.join(LAYERS)}")
            continue
        layer_defaults = _defaults(root, layer_dir, {}, folders, None, problems)
        for folder in sorted(p for p in layer_dir.iterdir() if p.is_dir()):
            route = folders.routes.get((layer_dir.name, folder.name))
            inherited = {**layer_defaults, "dataset": route.dataset} if route else layer_defaults
            defaults = _defaults(root, folder, inherited, folders, route, problems)
            specs.extend(_load_folder(root, layer_dir.name, folder, defaults, folders, route, problems))
        stray = [p for p in layer_dir.iterdir() if p.is_file() and p.name != DEFAULTS_FILE]
        for p in stray:
            problems.add(relative(p, root), None, "", "queries live in a folder inside their layer",
                         f"move it to {relative(layer_dir, root)}/<folder>/{p.name}")
    return tuple(specs)


def _defaults(root: Path, folder: Path, inherited: dict, folders: Folders, route: Route | None,
              problems: Problems) -> dict:
    path = folder / DEFAULTS_FILE
    if not path.is_file():
        return dict(inherited)
    doc = load_file(path, relative(path, root), problems)
    if doc is None:
        return dict(inherited)
    # Defaults hold any subset of the keys: what is required is checked on each merged query.
    fields = tuple(dataclasses.replace(f, required=False) for f in DEFAULT_FIELDS)
    v = read_mapping(doc, (), doc.data, fields, problems, "folder defaults") or {}
    named = v.get("dataset") if isinstance(doc.data, dict) and "dataset" in doc.data else None
    conflict = folders.conflict(route, named)
    if conflict:
        problems.add(doc.file, doc.line(("dataset",)), "dataset", *route.conflict(folder.name, named))
    elif named is not None and folders.datasets and named not in folders.datasets:
        # Checked here because a default that every folder's route overrides is read by no query.
        problems.add(doc.file, doc.line(("dataset",)), "dataset",
                     f"dataset {named!r} is not a managed dataset{suggest(named, sorted(folders.datasets))}",
                     f"use one of: {', '.join(sorted(folders.datasets))}")
    merged = dict(inherited)
    merged.update({k: val for k, val in v.items() if k in (doc.data or {})})
    if conflict:
        merged["dataset"] = route.dataset  # told once, here, not again by every query it would misroute
    return merged


def _load_folder(root: Path, layer: str, folder: Path, defaults: dict, folders: Folders, route: Route | None,
                 problems: Problems) -> list[QuerySpec]:
    out = []
    names = {p.stem for p in folder.iterdir() if p.suffix in (".sql", ".yaml") and p.name != DEFAULTS_FILE}
    for name in sorted(names):
        yaml_path, sql_path = folder / f"{name}.yaml", folder / f"{name}.sql"
        if not yaml_path.is_file():
            problems.add(relative(sql_path, root), None, "", "SQL without its YAML (destination, schema, schedule)",
                         f"add {relative(yaml_path, root)}")
            continue
        if not sql_path.is_file():
            problems.add(relative(yaml_path, root), None, "", "YAML without its SQL",
                         f"add {relative(sql_path, root)} with the SELECT that builds the table")
            continue
        spec = _load_query(root, layer, folder.name, yaml_path, sql_path, defaults, folders, route, problems)
        if spec is not None:
            out.append(spec)
    return out


def _load_query(root: Path, layer: str, folder: str, yaml_path: Path, sql_path: Path, defaults: dict,
                folders: Folders, route: Route | None, problems: Problems) -> QuerySpec | None:
    file = relative(yaml_path, root)
    doc = load_file(yaml_path, file, problems)
    if doc is None:
        return None
    if not NAME.match(yaml_path.stem) or not NAME.match(folder):
        problems.add(file, None, "", f"{folder}/{yaml_path.stem} is not a valid folder/table name",
                     "use lower-case letters, digits and underscores, starting with a letter")
        return None
    merged: Any = {**defaults, **doc.data} if isinstance(doc.data, dict) else doc.data
    v = read_mapping(doc, (), merged, QUERY_FIELDS, problems, "a query")
    if v is None:
        return None
    named = v["dataset"] if isinstance(doc.data, dict) and "dataset" in doc.data and "dataset" not in v.rejected \
        else None
    blocking = bool(v.rejected & BLOCKING_FIELDS)
    if folders.conflict(route, named):
        problems.add(file, doc.line(("dataset",)), "dataset", *route.conflict(folder, named))
        blocking = True
    before_columns = len(problems)
    columns = (read_columns(doc, ("columns",), v["columns"], problems)
               if "columns" not in v.rejected and v["columns"] is not None else None)
    blocking = blocking or columns is None or len(problems) > before_columns
    partitioning = _partitioning(doc, v.get("partitioning"), columns or (), problems)
    kind = v.get("kind", "table")
    schedule = _schedule(doc, v, kind, relative(sql_path, root), problems)
    _check_table_options(doc, v, kind, columns or (), partitioning, problems)
    size = sql_path.stat().st_size
    if size > MAX_SQL_BYTES:
        problems.add(relative(sql_path, root), None, "", f"the SQL is {size:,} bytes; BigQuery refuses a query over "
                                                         f"1 MB ({MAX_SQL_BYTES:,} bytes)",
                     "shorten it: move long literal lists into a table and join it")
        return None
    try:
        sql = sql_path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        problems.add(relative(sql_path, root), None, "", "file is not UTF-8 text", "save the file as UTF-8")
        return None
    if not sql.strip():
        problems.add(relative(sql_path, root), 1, "", "the SQL file is empty", "write the SELECT that builds the table")
        return None
    if blocking:
        return None
    # Any other problem of the YAML (a schedule, the partitioning, a label...) leaves a spec the SQL
    # can still be checked with: one run reports the YAML's problems and the SQL's together, and
    # the load still fails on them.
    return QuerySpec(
        name=yaml_path.stem, layer=layer, folder=folder, file=file, sql_file=relative(sql_path, root), sql=sql,
        kind=kind, dataset=v["dataset"], description=v["description"].strip(), schedule=schedule,
        write_disposition=v["write_disposition"], incremental=v["incremental"] and kind != "script",
        partitioning=partitioning,
        clustering=tuple(v["clustering"]), columns=columns, labels=MappingProxyType(dict(v["labels"])),
        after_margin_minutes=v["after_margin_minutes"],
        schedule_line=doc.lines.get(("schedule",)),
    )


def _schedule(doc: Doc, v: dict, kind: str, sql_file: str, problems: Problems) -> Schedule | None:
    text = v.get("schedule")
    if kind == "view":
        if text is not None and "schedule" in (doc.data or {}):
            problems.add(doc.file, doc.line(("schedule",)), "schedule", "a view is not scheduled",
                         "remove `schedule:` (a view is always current)")
        return None
    if text is None:
        problems.add(doc.file, doc.line(), "schedule", "a scheduled query needs a schedule",
                     "add `schedule: every day 05:10` here or in the folder's _defaults.yaml")
        return None
    try:
        return parse_schedule(text)
    except ScheduleError as exc:
        problems.add(doc.file, doc.line(("schedule",)), "schedule", f"{exc.what} (when {sql_file} runs)", exc.fix)
        return None


def _partitioning(doc: Doc, raw: Any, columns: tuple[Column, ...], problems: Problems) -> Partitioning | None:
    if raw is None:
        return None
    p = read_mapping(doc, ("partitioning",), raw, PARTITIONING_FIELDS, problems, "partitioning")
    if not p or "field" not in p:
        return None
    column = next((c for c in columns if c.name == p["field"]), None)
    if columns and (column is None or column.type not in PARTITION_TYPES):
        problems.add(doc.file, doc.line(("partitioning", "field")), "partitioning.field",
                     f"{p['field']!r} is not a DATE, TIMESTAMP or DATETIME column of this table",
                     "partition on one of the declared date or timestamp columns")
        return None
    if p["expiration_days"] is not None and p["expiration_days"] < 1:
        problems.add(doc.file, doc.line(("partitioning", "expiration_days")), "partitioning.expiration_days",
                     "must be at least 1 day", "remove it to keep partitions forever")
        return None
    return Partitioning(p["field"], p["type"], p["expiration_days"], p["require_filter"])


def _check_table_options(doc: Doc, v: dict, kind: str, columns: tuple[Column, ...],
                         partitioning: Partitioning | None, problems: Problems) -> None:
    file = doc.file
    names = {c.name for c in columns}
    clustering = v.get("clustering") or []
    if len(clustering) > 4:
        problems.add(file, doc.line(("clustering",)), "clustering", "BigQuery clusters on at most 4 columns",
                     "keep the 4 columns most used in filters")
    for i, col in enumerate(clustering):
        if columns and col not in names:
            problems.add(file, doc.line(("clustering", i)), f"clustering[{i}]",
                         f"{col!r} is not a declared column", "cluster on declared columns")
    if kind == "view":
        for key in ("partitioning", "clustering", "incremental"):
            if (doc.data or {}).get(key):
                problems.add(file, doc.line((key,)), key, f"a view has no {key}", f"remove `{key}:`")
        return
    if kind == "script":
        for key in ("incremental", "write_disposition"):
            if key in (doc.data or {}):
                problems.add(file, doc.line((key,)), key, f"a script writes its table itself: `{key}:` does not apply",
                             f"remove `{key}:`; the script's INSERT, MERGE or DELETE say how it writes")
        check_labels(doc, v.get("labels"), problems)
        return
    if v.get("incremental") and partitioning is None and "partitioning" not in (doc.data or {}):
        problems.add(file, doc.line(("incremental",)), "incremental",
                     "an incremental query replaces one partition a run, so its table must be partitioned",
                     "add `partitioning: {field: <date column>, type: DAY}` or remove `incremental: true`")
    if v.get("incremental") and partitioning is not None and partitioning.type != "DAY":
        problems.add(file, doc.line(("partitioning", "type")), "partitioning.type",
                     "an incremental query replaces one day's partition a run",
                     "use `type: DAY` or a full refresh")
    if v.get("incremental") and v.get("write_disposition") == "WRITE_APPEND":
        problems.add(file, doc.line(("write_disposition",)), "write_disposition",
                     "an incremental query replaces its partition (WRITE_TRUNCATE); appending would duplicate "
                     "rows on every re-run", "remove `write_disposition: WRITE_APPEND`")
    check_labels(doc, v.get("labels"), problems)
