"""An estimate of the storage each backup policy costs, at one moment.

BigQuery charges a table snapshot only for data that is no longer in its base table (changed or
deleted since), and data held by several snapshots once, to the oldest of them (docs/real-world.md,
"snapshot storage"). So, per table class (`infra.ops.coverage`):
- a rebuildable table is rewritten in full by each run: every snapshot of a version that is no
  longer the live one is a full copy. The estimate replays the table's schedule and each policy's
  schedule over the retention: the versions the kept snapshots hold, each charged once to the
  policy with the oldest snapshot of it, the live version not at all;
- a history or irreplaceable table keeps its past rows: a snapshot costs only the rows changed or
  deleted later (a day rewritten, an expired partition, a loader's merge), counted as changed
  data, not as copies;
- a cross-region copy keeps one full copy of each table of its dataset in the other region
  (ordinary storage there, not snapshot storage).

Without sizes the estimate is in full copies of tables. `backups coverage --sizes` reads each
table's current logical size (`Table.num_bytes`) and adds bytes.

Deliberately approximate: a table rewritten between two runs (a backfill) costs more; a table
whose build did not change its data (BigQuery still writes new storage) costs the same; history
tables rewritten in full by re-clustering can cost up to a full copy (the docs' own caveat).
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

from infra.declarations.backups import Policy
from infra.declarations.schedule_runs import fire_times
from infra.model.warehouse import Warehouse
from infra.ops.coverage import HISTORY, IRREPLACEABLE, REBUILDABLE, DatasetCoverage, TableCoverage

GIB = 1024 ** 3


@dataclass
class PolicyStorage:
    """What one snapshot policy keeps at the moment of the estimate."""

    policy: Policy
    kept_per_table: int  # snapshots of each table kept at the moment
    full_copies: dict[str, int] = field(default_factory=dict)  # rebuildable table key -> full copies charged
    changed_data: list[str] = field(default_factory=list)  # history and irreplaceable table keys
    bytes: int = 0  # full copies x size, for the tables whose size is known
    unsized: list[str] = field(default_factory=list)  # rebuildable tables with copies and no known size

    @property
    def copies(self) -> int:
        return sum(self.full_copies.values())


@dataclass
class CopyStorage:
    """What one cross-region copy policy keeps: one full copy of each table of its datasets."""

    policy: Policy
    datasets: list[str] = field(default_factory=list)
    tables: list[str] = field(default_factory=list)
    bytes: int = 0
    unsized: list[str] = field(default_factory=list)


def estimate(warehouse: Warehouse, rows: list[DatasetCoverage], moment: dt.datetime,
             sizes: Mapping[str, int | None] | None = None) -> tuple[list[PolicyStorage], list[CopyStorage]]:
    """Each snapshot and copy policy's storage at `moment`; `sizes` by table id (`project.dataset.table`)."""
    backups = warehouse.backups
    if backups is None:
        return [], []
    policies = {job.policy.name: job.policy for job in backups.snapshots}
    storage = {name: PolicyStorage(p, len(_kept(p, moment))) for name, p in sorted(policies.items())}
    for row in rows:
        for t in row.tables:
            if not t.snapshots:
                continue
            if t.value in (HISTORY, IRREPLACEABLE):
                for name in t.snapshots:
                    storage[name].changed_data.append(t.key)
            elif t.value == REBUILDABLE:
                for name, copies in _full_copies(warehouse, t, [policies[n] for n in t.snapshots], moment).items():
                    _add(storage[name], t, copies, sizes)
    copies: dict[str, CopyStorage] = {}
    for job in backups.copies:
        row = next(r for r in rows if r.name == job.dataset and not r.source)
        held = copies.setdefault(job.policy.name, CopyStorage(job.policy))
        held.datasets.append(row.dataset_id)
        for t in row.tables:
            if t.value != "view":
                held.tables.append(t.key)
                size = (sizes or {}).get(t.table_id)
                if size is None:
                    held.unsized.append(t.key)
                else:
                    held.bytes += size
    return list(storage.values()), list(copies.values())


def _add(storage: PolicyStorage, t: TableCoverage, copies: int, sizes: Mapping[str, int | None] | None) -> None:
    storage.full_copies[t.key] = copies
    size = (sizes or {}).get(t.table_id)
    if size is None:
        if copies:
            storage.unsized.append(t.key)
    else:
        storage.bytes += copies * size


def _kept(policy: Policy, moment: dt.datetime) -> list[dt.datetime]:
    """The snapshot times of `policy` whose snapshots still exist at `moment` (each expires
    `retention_days` after it is taken)."""
    return fire_times(policy.schedule, moment - dt.timedelta(days=policy.retention_days or 0), moment)


def _full_copies(warehouse: Warehouse, t: TableCoverage, policies: list[Policy],
                 moment: dt.datetime) -> dict[str, int]:
    """Policy name -> the full copies of rebuildable table `t` charged to it at `moment`."""
    query = warehouse.query(t.key)
    longest = max(p.retention_days or 0 for p in policies)
    builds = (fire_times(query.spec.schedule, moment - dt.timedelta(days=longest + 1), moment)
              if query is not None and query.spec.schedule is not None else [])

    def version(at: dt.datetime) -> int:
        return bisect.bisect_right(builds, at)  # the number of builds up to `at`: 0 = before them all

    live = version(moment)
    oldest: dict[int, tuple[dt.datetime, str]] = {}
    for p in policies:
        for taken in _kept(p, moment):
            v = version(taken)
            if v != live and (v not in oldest or (taken, p.name) < oldest[v]):
                oldest[v] = (taken, p.name)
    out = {p.name: 0 for p in policies}
    for _, name in oldest.values():
        out[name] += 1
    return out


def render_storage(storage: list[PolicyStorage], copies: list[CopyStorage], moment: dt.datetime,
                   sized: bool) -> str:
    lines = [f"Snapshot storage at {moment.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC (an estimate: a snapshot is "
             "charged only for data no longer in its table, and data in several snapshots once, to the oldest):"]
    for s in storage:
        p = s.policy
        lines.append(f"  {p.name}  ({p.schedule.text} UTC, kept {p.retention_days} d, tables: {p.tables}): "
                     f"{s.kept_per_table} snapshots of each table kept")
        rebuilt = [k for k, n in s.full_copies.items() if n]
        if s.full_copies:
            spread = sorted(set(s.full_copies.values()))
            each = f"{spread[0]}" if len(spread) == 1 else f"{spread[0]}-{spread[-1]}"
            lines.append(f"      {len(s.full_copies)} rebuildable tables, each rewritten in full: {each} full copies "
                         f"each, {s.copies} table copies in all" + _bytes(s.bytes, s.unsized, sized, rebuilt))
        if s.changed_data:
            lines.append(f"      {len(s.changed_data)} history and irreplaceable tables: only their changed or "
                         "deleted rows")
    for c in copies:
        p = c.policy
        lines.append(f"  {p.name}  ({p.schedule.text} UTC, to {p.destination_location}): one full copy of each of "
                     f"the {len(c.tables)} tables of {', '.join(c.datasets)} (storage in {p.destination_location})"
                     + _bytes(c.bytes, c.unsized, sized, c.tables))
    total = sum(s.copies for s in storage)
    lines.append(f"  In all: {total} full table copies in snapshots"
                 + (f", {_gib(sum(s.bytes for s in storage))} for the tables of known size" if sized else
                    " (add --sizes to read the tables' sizes and count bytes)"))
    return "\n".join(lines)


def _bytes(total: int, unsized: list[str], sized: bool, counted: list[str]) -> str:
    if not sized or not counted:
        return ""
    text = f" = {_gib(total)}"
    if unsized:
        text += f" (size unknown: {', '.join(sorted(unsized))})"
    return text


def _gib(n: int) -> str:
    return f"{n / GIB:,.2f} GiB"
