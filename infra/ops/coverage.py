"""Backup coverage: for every raw source, dataset and table of a stack, what it is worth and what
protects it.

Read by `backups coverage`. Each table falls in one class, by what it would take to get its data
back:
- irreplaceable: a raw source's table (the Amplitude export, Stitch, Fivetran, the Firestore
  export). The loaders keep no history, so only a snapshot brings it back;
- history: a table that accumulates what nothing else keeps, because each run adds to it
  (`incremental: true`, one day per run; or `write_disposition: WRITE_APPEND`). Rebuilding it
  gives today's view of the past, not the past;
- rebuildable: a table rebuilt in full from its inputs on each run. Its data comes back by running
  its lineage again, provided the irreplaceable and history tables it ultimately reads are backed
  up; the report names those that are not;
- view: nothing stored; `pulumi up` recreates it from its SQL.

For each table: the policies that actually snapshot it (a `tables: history` policy skips
rebuildable tables) and the cross-region copies of its dataset. For each dataset: its recovery
points (time travel, each policy's cadence) and retentions; an exempt dataset shows its written
reason. The snapshot storage each policy costs is estimated by `infra.ops.snapshot_storage`.
"""

from __future__ import annotations

from dataclasses import dataclass

from infra.model.backups import is_history
from infra.model.warehouse import Warehouse
from infra.vocabulary import BACKUP_LAYERS

IRREPLACEABLE, HISTORY, REBUILDABLE, VIEW = "irreplaceable", "history", "rebuildable", "view"


@dataclass(frozen=True)
class TableCoverage:
    """One table (or view) and what protects it."""

    key: str  # `dataset.table` (managed dataset or raw source name)
    table_id: str  # `project.dataset_id.table`
    value: str  # IRREPLACEABLE, HISTORY, REBUILDABLE or VIEW
    why: str  # the class in words (`incremental: one day per run`)
    snapshots: tuple[str, ...]  # snapshot policies that snapshot it
    copies: tuple[str, ...]  # cross-region copy policies of its dataset
    unprotected_inputs: tuple[str, ...] = ()  # rebuildable: inputs (by key) no snapshot covers


@dataclass(frozen=True)
class DatasetCoverage:
    """One managed dataset or raw source, its policies and its tables."""

    name: str
    dataset_id: str
    source: bool  # a raw source
    policies: tuple[str, ...]
    recovery: str
    retention: str
    exempt: str | None
    tables: tuple[TableCoverage, ...]

    @property
    def covered(self) -> bool:
        return bool(self.policies) or self.exempt is not None


def snapshot_policies_of(warehouse: Warehouse, dataset: str, table: str) -> tuple[str, ...]:
    """The snapshot policies whose runs snapshot `dataset.table` (`dataset` a managed dataset's
    or a raw source's name)."""
    backups = warehouse.backups
    if backups is None:
        return ()
    return tuple(job.policy.name for job in backups.snapshots
                 if (dataset in job.datasets or dataset in job.sources)
                 and (job.tables is None or table in job.tables.get(dataset, ())))


def copy_policies_of(warehouse: Warehouse, dataset: str) -> tuple[str, ...]:
    backups = warehouse.backups
    return tuple(c.policy.name for c in backups.copies if c.dataset == dataset) if backups else ()


def coverage(warehouse: Warehouse) -> list[DatasetCoverage]:
    """Raw sources first, then the managed datasets (backup datasets aside), each with its tables."""
    backups = warehouse.backups
    out = []
    for s in warehouse.sources:
        policies = backups.source_policies_of(s.name) if backups else ()
        exempt = backups.source_exemption_of(s.name) if backups else None
        tables = tuple(TableCoverage(f"{s.name}.{t}", f"{s.project}.{s.dataset_id}.{t}", IRREPLACEABLE,
                                     f"a raw load by {s.spec.loader}",
                                     snapshot_policies_of(warehouse, s.name, t), ())
                       for t in sorted(s.spec.tables))
        out.append(DatasetCoverage(s.name, s.dataset_id, True, tuple(p.name for p in policies),
                                   _recovery(policies, None), _retention(policies), exempt, tables))
    for d in warehouse.datasets:
        if d.layer in BACKUP_LAYERS:
            continue
        policies = backups.policies_of(d.name) if backups else ()
        exempt = backups.exemption_of(d.name) if backups else None
        tables = tuple(_table(warehouse, q) for q in sorted((q for q in warehouse.queries if q.spec.dataset == d.name),
                                                            key=lambda q: q.spec.name))
        out.append(DatasetCoverage(d.name, d.dataset_id, False, tuple(p.name for p in policies),
                                   _recovery(policies, d.spec.time_travel_days), _retention(policies), exempt, tables))
    return out


def _table(warehouse: Warehouse, query) -> TableCoverage:
    spec = query.spec
    dataset = next(d for d in warehouse.datasets if d.name == spec.dataset)
    table_id = f"{dataset.project}.{dataset.dataset_id}.{spec.name}"
    if spec.is_view:
        return TableCoverage(spec.key, table_id, VIEW, "rebuilt from its SQL by pulumi up", (), ())
    snapshots = snapshot_policies_of(warehouse, spec.dataset, spec.name)
    copies = copy_policies_of(warehouse, spec.dataset)
    if is_history(spec):
        why = ("incremental: one day per run" if spec.incremental else "written by its own script" if spec.is_script
               else "appended to on each run")
        return TableCoverage(spec.key, table_id, HISTORY, why, snapshots, copies)
    inputs = ultimate_inputs(warehouse, spec.key)
    unprotected = tuple(sorted(k for k in inputs if not _snapshotted(warehouse, k)))
    why = "a full rebuild from backed-up inputs" if not unprotected else "a full rebuild"
    return TableCoverage(spec.key, table_id, REBUILDABLE, why, snapshots, copies, unprotected)


def ultimate_inputs(warehouse: Warehouse, key: str) -> set[str]:
    """What a full rebuild of `key` needs that cannot itself be rebuilt: the raw source tables and
    history tables upstream of it, reached through full rebuilds and views."""
    lineage = warehouse.lineage
    if lineage is None:
        return set()
    out: set[str] = set()
    seen = {key}
    todo = list(lineage.upstream.get(key, ()))
    while todo:
        k = todo.pop()
        if k in seen:
            continue
        seen.add(k)
        node = lineage.nodes.get(k)
        query = warehouse.query(k)
        if node is None or node.kind == "source" or (query is not None and is_history(query.spec)):
            out.add(k)
        else:
            todo.extend(lineage.upstream.get(k, ()))
    return out


def _snapshotted(warehouse: Warehouse, key: str) -> bool:
    dataset, _, table = key.partition(".")
    return bool(snapshot_policies_of(warehouse, dataset, table))


def _recovery(policies, time_travel_days: int | None) -> str:
    points = [f"time travel {time_travel_days} d"] if time_travel_days is not None else []
    for p in policies:
        if p.kind == "snapshot":
            points.append(f"{p.name}: {p.schedule.text} UTC")
        else:
            points.append(f"copy to {p.destination_location}: {p.schedule.text} UTC")
    return "; ".join(points) or "-"


def _retention(policies) -> str:
    return ", ".join(f"{p.name} {p.retention_days} d" for p in policies if p.kind == "snapshot") or "-"


def render_coverage(warehouse: Warehouse, rows: list[DatasetCoverage]) -> str:
    lines = [f"Backup coverage of stack {warehouse.stack.stack!r} "
             f"({'protected' if warehouse.stack.protect else 'not protected'}):"]
    for heading, group in (("Raw sources (irreplaceable: the loaders keep no history):", [r for r in rows if r.source]),
                           ("Managed datasets:", [r for r in rows if not r.source])):
        lines += ["", heading]
        for row in group:
            status = (f"EXEMPT: {row.exempt}" if row.exempt else
                      f"policies: {', '.join(row.policies)}" if row.policies else "NOT COVERED")
            lines.append(f"{row.dataset_id}  [{status}]")
            lines.append(f"    recovery points: {row.recovery}")
            lines.append(f"    retention: {row.retention}")
            for t in row.tables:
                lines.append(f"    {'view' if t.value == VIEW else 'table':<5} {t.key.partition('.')[2]:<32} "
                             f"{_class_text(t):<52} {_protection(t, row)}")
    lines += ["", _summary(rows)]
    return "\n".join(lines)


def _class_text(t: TableCoverage) -> str:
    return t.why if t.value == VIEW else f"{t.value} ({t.why})"


def _protection(t: TableCoverage, row: DatasetCoverage) -> str:
    if t.value == VIEW:
        return ""
    names = ", ".join(t.snapshots + t.copies)
    text = names or ("exempt" if row.exempt else "NO SNAPSHOT")
    if t.unprotected_inputs:
        text += f"; inputs not backed up: {', '.join(t.unprotected_inputs)}"
    return text


def _summary(rows: list[DatasetCoverage]) -> str:
    tables = [t for r in rows for t in r.tables]
    counts = {v: sum(1 for t in tables if t.value == v) for v in (IRREPLACEABLE, HISTORY, REBUILDABLE, VIEW)}
    uncovered = [r.dataset_id for r in rows if not r.covered]
    bare = [t.key for r in rows if not r.exempt for t in r.tables
            if t.value in (IRREPLACEABLE, HISTORY) and not t.snapshots]
    loose = sorted({t.key for t in tables if t.unprotected_inputs})
    text = (f"{sum(1 for r in rows if r.source)} raw sources, {sum(1 for r in rows if not r.source)} datasets; "
            f"{counts[IRREPLACEABLE]} irreplaceable, {counts[HISTORY]} history and {counts[REBUILDABLE]} rebuildable "
            f"tables, {counts[VIEW]} views; ")
    if uncovered:
        text += f"not covered: {', '.join(uncovered)}"
    else:
        text += "every dataset and raw source covered or exempted."
    if bare:
        text += f"\nNot snapshotted though they cannot be rebuilt: {', '.join(bare)}."
    if loose:
        text += f"\nRebuildable only from inputs that are not backed up: {', '.join(loose)}."
    return text
