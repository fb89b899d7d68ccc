"""Backups for one stack: which datasets they add, which jobs they schedule, what they cover,
and the names of what they make.

From the policies, `coverage.yaml` and the managed datasets this derives:
- the backup datasets: one snapshot dataset per location and retention in use
  (`backup_<location>_<N>d`), whose default table expiration of N days is what expires each
  snapshot (a snapshot created without an expiration takes it: docs/real-world.md), so the
  backup runner never needs `bigquery.tables.deleteSnapshot`, which only dataOwner has; and one
  disaster-recovery dataset per dataset that is copied across regions (`dr_<dataset>`);
- the scheduled jobs: one snapshot script per snapshot policy (its datasets and raw sources, and
  for `tables: history` the tables that cannot be rebuilt), and one cross-region copy per (copy
  policy, dataset);
- the rules `check` applies: coverage names existing datasets, raw sources and policies; a
  snapshot policy is in its sources' region; a copy goes to another region; in a protected stack
  every managed dataset and every raw source (the only data that cannot be rebuilt) has a policy
  or a written exemption; a one-off copy lands in a backup dataset of its source's region.

Names are derived here, once, and used by the program, the snapshot SQL, the local run, the
unmanaged scan and the restore tool: backup datasets (`<prefix>backup_<location>`,
`<prefix>dr_<dataset>`) and snapshot tables (`<source dataset id>__<table>__<policy>__<YYYYMMDDTHHMM>`),
which carry their point in time so that a restore can pick the newest one at or before a moment
without any other catalogue.

Deliberately not here: reading the files (`infra.declarations.backups`), the SQL of a snapshot
(`infra.resources.snapshot_sql`) and restoring (`infra.ops.restore`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from infra.declarations.backups import COPIES_FILE, COVERAGE_FILE, BackupDeclarations, Policy
from infra.declarations.datasets import DatasetSpec, SourceSpec
from infra.declarations.queries import QuerySpec
from infra.declarations.stack import StackConfig
from infra.problems import Problems

SNAPSHOT_TIME_FORMAT = "%Y%m%dT%H%M"
# The policy name of the safety snapshot a restore in place takes of the table it replaces.
PRE_RESTORE_POLICY = "prerestore"


def location_slug(location: str) -> str:
    return location.lower().replace("-", "_")


def backup_dataset_name(location: str, retention_days: int) -> str:
    """The managed-dataset name of the snapshot dataset of one location and retention (before the
    stack's prefix): `backup_us_35d`."""
    return f"backup_{location_slug(location)}_{retention_days}d"


def is_snapshot_dataset_of(name: str, location: str) -> bool:
    """Whether `name` (a managed dataset's name) is a snapshot dataset of `location`."""
    prefix = f"backup_{location_slug(location)}_"
    return name.startswith(prefix) and name[len(prefix):-1].isdigit() and name.endswith("d")


def dr_dataset_name(dataset: str) -> str:
    return f"dr_{dataset}"


def snapshot_table_name(source_dataset_id: str, table: str, policy: str, moment: dt.datetime) -> str:
    return f"{source_dataset_id}__{table}__{policy}__{moment.astimezone(dt.UTC).strftime(SNAPSHOT_TIME_FORMAT)}"


@dataclass(frozen=True)
class SnapshotName:
    source_dataset_id: str
    table: str
    policy: str
    taken_at: dt.datetime


def parse_snapshot_name(name: str, source_dataset_id: str, table: str) -> SnapshotName | None:
    """The parts of a snapshot of `source_dataset_id.table`, or None when `name` is not one."""
    prefix = f"{source_dataset_id}__{table}__"
    if not name.startswith(prefix):
        return None
    policy, sep, stamp = name[len(prefix):].rpartition("__")
    if not sep or "__" in policy:
        return None
    try:
        taken = dt.datetime.strptime(stamp, SNAPSHOT_TIME_FORMAT).replace(tzinfo=dt.UTC)
    except ValueError:
        return None
    return SnapshotName(source_dataset_id, table, policy, taken)


@dataclass(frozen=True)
class SnapshotSource:
    """One dataset a policy snapshots: a managed dataset or a raw source, possibly in another project."""

    project: str
    dataset_id: str
    tables: tuple[str, ...] | None = None  # only these tables (None: every base table)

    def takes(self, table: str) -> bool:
        """Whether the policy snapshots `table` of this dataset: every table, or one listed, or a
        shard of a listed family (`events_*` takes `events_20260101`)."""
        return self.tables is None or any(table.startswith(t[:-1]) if t.endswith("*") else table == t
                                          for t in self.tables)


@dataclass(frozen=True)
class SnapshotJob:
    policy: Policy
    location: str
    datasets: tuple[str, ...]  # managed dataset names
    backup_dataset: str  # managed dataset name of the snapshot dataset (its retention's)
    sources: tuple[str, ...] = ()  # raw source names
    # `tables: history`: the tables to snapshot, by managed dataset or raw source name (None: every
    # base table found at run time).
    tables: Mapping[str, tuple[str, ...]] | None = None


@dataclass(frozen=True)
class CopyJob:
    policy: Policy
    dataset: str  # the source's managed dataset name
    destination_dataset: str  # the managed dataset name of its DR copy


@dataclass(frozen=True)
class Backups:
    """The backups of one stack: the declarations, and the snapshot and copy jobs they make."""

    declarations: BackupDeclarations
    snapshots: tuple[SnapshotJob, ...]
    copies: tuple[CopyJob, ...]

    def policies_of(self, dataset: str) -> tuple[Policy, ...]:
        return self._policies(self.declarations.coverage.get(dataset))

    def source_policies_of(self, source: str) -> tuple[Policy, ...]:
        return self._policies(self.declarations.source_coverage.get(source))

    def exemption_of(self, dataset: str) -> str | None:
        coverage = self.declarations.coverage.get(dataset)
        return coverage.exempt if coverage else None

    def source_exemption_of(self, source: str) -> str | None:
        coverage = self.declarations.source_coverage.get(source)
        return coverage.exempt if coverage else None

    def _policies(self, coverage) -> tuple[Policy, ...]:
        if coverage is None:
            return ()
        return tuple(self.declarations.policies[p] for p in coverage.policies if p in self.declarations.policies)


def is_history(query: QuerySpec) -> bool:
    """A table that accumulates history (incremental, appended, or written by its own script, such as
    a MERGE upsert): its past cannot be rebuilt."""
    return not query.is_view and (query.incremental or query.write_disposition == "WRITE_APPEND" or query.is_script)


def resolve_backups(decl: BackupDeclarations, datasets: tuple[DatasetSpec, ...], sources: tuple[SourceSpec, ...],
                    queries: tuple[QuerySpec, ...], stack: StackConfig, problems: Problems,
                    unloaded: set[str] = frozenset()) -> tuple[tuple[DatasetSpec, ...], Backups]:
    """`unloaded` names dataset files that exist but failed to load (already reported)."""
    by_name = {d.name: d for d in datasets}
    by_source = {s.name: s for s in sources}
    location_of = {d.name: d.location or stack.location for d in datasets}
    source_location = {s.name: s.location or stack.location for s in sources}
    for section, coverage, known in (("datasets", decl.coverage, by_name),
                                     ("sources", decl.source_coverage, by_source)):
        for name, cov in coverage.items():
            if name not in known and name not in unloaded:
                noun = "dataset" if section == "datasets" else "raw source"
                problems.add(COVERAGE_FILE, cov.line, f"{section}.{name}", f"there is no {noun} {name!r}",
                             f"use one of: {', '.join(sorted(known))}")
    members: dict[str, dict[str, list[str]]] = {}  # policy -> {"datasets": [...], "sources": [...]}
    copies: list[CopyJob] = []
    for section, coverage, locations in (("datasets", decl.coverage, location_of),
                                         ("sources", decl.source_coverage, source_location)):
        for name, cov in sorted(coverage.items()):
            if name not in locations:
                continue
            for policy in (decl.policies[p] for p in cov.policies if p in decl.policies):
                where = locations[name]
                if policy.kind == "snapshot":
                    if policy.location != where:
                        problems.add(COVERAGE_FILE, cov.line, f"{section}.{name}",
                                     f"policy {policy.name!r} snapshots into {policy.location}, but {name} is in "
                                     f"{where} (a snapshot stays in its source's region)",
                                     f"use a snapshot policy with `location: {where}`")
                        continue
                    members.setdefault(policy.name, {"datasets": [], "sources": []})[section].append(name)
                elif section == "sources":
                    problems.add(COVERAGE_FILE, cov.line, f"sources.{name}",
                                 f"policy {policy.name!r} is a cross-region copy, which needs write access to the "
                                 "dataset's project transfers; raw sources are snapshotted",
                                 "cover the raw source with a snapshot policy")
                elif policy.destination_location == where:
                    problems.add(COVERAGE_FILE, cov.line, f"datasets.{name}",
                                 f"policy {policy.name!r} copies {name} to its own location {where}",
                                 "a disaster-recovery copy goes to another region: change `destination_location`")
                else:
                    copies.append(CopyJob(policy, name, dr_dataset_name(name)))
    if stack.protect:
        for d in datasets:
            if d.name not in decl.coverage:
                problems.add(COVERAGE_FILE, None, f"datasets.{d.name}",
                             f"dataset {d.name!r} has no backup policy and no exemption in a protected stack",
                             f"add `{d.name}: [<policy>]` or `{d.name}: {{exempt: <reason>}}`")
        for s in sources:
            if s.name not in decl.source_coverage:
                problems.add(COVERAGE_FILE, None, f"sources.{s.name}",
                             f"raw source {s.name!r} is irreplaceable (the loader keeps no history) and has no backup "
                             "policy and no exemption in a protected stack",
                             f"add `{s.name}: [<snapshot policy>]` under `sources:`, or `{s.name}: "
                             "{exempt: <why it can be re-loaded>}`")
    snapshots = []
    for name, picked in sorted(members.items()):
        policy = decl.policies[name]
        tables = None
        if policy.tables == "history":
            tables = {d: tuple(sorted(q.name for q in queries if q.dataset == d and is_history(q)))
                      for d in picked["datasets"]}
            tables.update({s: tuple(sorted(by_source[s].tables)) for s in picked["sources"]})
            tables = MappingProxyType(tables)
        snapshots.append(SnapshotJob(policy, policy.location, tuple(sorted(picked["datasets"])),
                                     backup_dataset_name(policy.location, policy.retention_days),
                                     tuple(sorted(picked["sources"])), tables))
    extra = _backup_datasets(tuple(snapshots), copies)
    locations = {**location_of, **{d.name: d.location for d in extra}}
    _check_one_off_copies(decl, locations, {d.name for d in extra if d.name.startswith("backup_")}, unloaded, problems)
    return extra, Backups(decl, tuple(snapshots), tuple(copies))


def _check_one_off_copies(decl: BackupDeclarations, location_of: dict[str, str], snapshot_datasets: set[str],
                          unloaded: set[str], problems: Problems) -> None:
    for copy in decl.copies:
        key = f"copies.{copy.name}"
        for side in (copy.source, copy.destination):
            dataset = side.split(".")[0]
            if dataset not in location_of and dataset not in unloaded:
                problems.add(COPIES_FILE, copy.line, key, f"there is no dataset {dataset!r}",
                             f"use one of: {', '.join(sorted(location_of))}")
        src, dst = copy.source.split(".")[0], copy.destination.split(".")[0]
        if src in location_of and dst in location_of and location_of[src] != location_of[dst]:
            problems.add(COPIES_FILE, copy.line, key, f"copies from {location_of[src]} to {location_of[dst]}",
                         "a one-off copy stays in its region: copy into a dataset of the same location")
        elif dst in location_of and dst not in snapshot_datasets:
            known = ", ".join(sorted(snapshot_datasets)) or "(none: add a snapshot policy)"
            problems.add(COPIES_FILE, copy.line, key, f"copies into {dst!r}, which is not a backup dataset",
                         f"copy into a backup dataset: {known}")


def _backup_datasets(snapshots: tuple[SnapshotJob, ...], copies: list[CopyJob]) -> tuple[DatasetSpec, ...]:
    out = []
    for location, retention in sorted({(s.location, s.policy.retention_days) for s in snapshots}):
        policies = ", ".join(s.policy.name for s in snapshots
                             if s.location == location and s.policy.retention_days == retention)
        out.append(_spec(backup_dataset_name(location, retention), f"backups/policies ({policies})",
                         f"Table snapshots of the warehouse's {location} tables, kept {retention} days (the dataset's "
                         f"default table expiration); written by {policies}.", location, retention))
    for copy in copies:
        out.append(_spec(copy.destination_dataset, copy.policy.file,
                         f"Disaster-recovery copy of {copy.dataset} in {copy.policy.destination_location}, "
                         f"refreshed by policy {copy.policy.name}.", copy.policy.destination_location, None, "dr"))
    return tuple(out)


def _spec(name: str, file: str, description: str, location: str, expiration_days: int | None,
          layer: str = "backup") -> DatasetSpec:
    return DatasetSpec(name=name, file=file, description=description, layer=layer, folders=(), sync_tool=None,
                       labels=MappingProxyType({}), time_travel_days=7, default_table_expiration_days=expiration_days,
                       location=location, friendly_name=None)
