"""Backups for one stack: which datasets they add, which jobs they schedule, what they cover,
and the names of what they make.

From the policies, `coverage.yaml` and the managed datasets this derives:
- the backup datasets: one snapshot dataset per location in use (`backup_<location>`, with a
  default table expiration one day past the longest retention, as a safety net) and one
  disaster-recovery dataset per dataset that is copied across regions (`dr_<dataset>`);
- the scheduled jobs: one snapshot script per snapshot policy, and one cross-region copy per
  (copy policy, dataset);
- the rules `check` applies: coverage names existing datasets and policies; a snapshot policy
  is in its datasets' region; a copy goes to another region; in a protected stack every managed
  dataset has a policy or a written exemption.

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
from dataclasses import dataclass
from types import MappingProxyType

from infra.declarations.backups import COPIES_FILE, COVERAGE_FILE, BackupDeclarations, Policy
from infra.declarations.datasets import DatasetSpec
from infra.declarations.stack import StackConfig
from infra.problems import Problems

SNAPSHOT_TIME_FORMAT = "%Y%m%dT%H%M"
# The policy name of the safety snapshot a restore in place takes of the table it replaces.
PRE_RESTORE_POLICY = "prerestore"


def location_slug(location: str) -> str:
    return location.lower().replace("-", "_")


def backup_dataset_name(location: str) -> str:
    """The managed-dataset name of the snapshot dataset of one location (before the prefix)."""
    return f"backup_{location_slug(location)}"


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
class SnapshotJob:
    policy: Policy
    location: str
    datasets: tuple[str, ...]  # managed dataset names
    backup_dataset: str  # managed dataset name of the snapshot dataset


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
        coverage = self.declarations.coverage.get(dataset)
        if coverage is None:
            return ()
        return tuple(self.declarations.policies[p] for p in coverage.policies if p in self.declarations.policies)

    def exemption_of(self, dataset: str) -> str | None:
        coverage = self.declarations.coverage.get(dataset)
        return coverage.exempt if coverage else None


def resolve_backups(decl: BackupDeclarations, datasets: tuple[DatasetSpec, ...], stack: StackConfig,
                    problems: Problems, unloaded: set[str] = frozenset()) -> tuple[tuple[DatasetSpec, ...], Backups]:
    """`unloaded` names dataset files that exist but failed to load (already reported)."""
    by_name = {d.name: d for d in datasets}
    location_of = {d.name: d.location or stack.location for d in datasets}
    for name, cov in decl.coverage.items():
        if name not in by_name and name not in unloaded:
            problems.add(COVERAGE_FILE, cov.line, f"datasets.{name}", f"there is no dataset {name!r}",
                         f"use one of: {', '.join(sorted(by_name))}")
    snapshot_members: dict[str, list[str]] = {}
    copies: list[CopyJob] = []
    for name, cov in sorted(decl.coverage.items()):
        if name not in by_name:
            continue
        for policy in (decl.policies[p] for p in cov.policies if p in decl.policies):
            if policy.kind == "snapshot":
                if policy.location != location_of[name]:
                    problems.add(COVERAGE_FILE, cov.line, f"datasets.{name}",
                                 f"policy {policy.name!r} snapshots into {policy.location}, but {name} is in "
                                 f"{location_of[name]} (a snapshot stays in its source's region)",
                                 f"use a snapshot policy with `location: {location_of[name]}`")
                    continue
                snapshot_members.setdefault(policy.name, []).append(name)
            else:
                if policy.destination_location == location_of[name]:
                    problems.add(COVERAGE_FILE, cov.line, f"datasets.{name}",
                                 f"policy {policy.name!r} copies {name} to its own location {location_of[name]}",
                                 "a disaster-recovery copy goes to another region: change `destination_location`")
                    continue
                copies.append(CopyJob(policy, name, dr_dataset_name(name)))
    if stack.protect:
        for d in datasets:
            if d.name not in decl.coverage:
                problems.add(COVERAGE_FILE, None, f"datasets.{d.name}",
                             f"dataset {d.name!r} has no backup policy and no exemption in a protected stack",
                             f"add `{d.name}: [<policy>]` or `{d.name}: {{exempt: <reason>}}`")
    snapshots = tuple(
        SnapshotJob(decl.policies[p], decl.policies[p].location, tuple(sorted(names)),
                    backup_dataset_name(decl.policies[p].location))
        for p, names in sorted(snapshot_members.items()))
    extra = _backup_datasets(snapshots, copies, decl, location_of)
    _check_one_off_copies(decl, {**location_of, **{d.name: d.location for d in extra}}, unloaded, problems)
    return extra, Backups(decl, snapshots, tuple(copies))


def _check_one_off_copies(decl: BackupDeclarations, location_of: dict[str, str], unloaded: set[str],
                          problems: Problems) -> None:
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


def _backup_datasets(snapshots, copies, decl: BackupDeclarations, location_of) -> tuple[DatasetSpec, ...]:
    out = []
    for location in sorted({s.location for s in snapshots}):
        longest = max(s.policy.retention_days for s in snapshots if s.location == location)
        out.append(_spec(backup_dataset_name(location), f"backups/policies (snapshots in {location})",
                         f"Table snapshots of the warehouse's {location} datasets, written by the snapshot "
                         f"policies; tables expire {longest + 1} days after creation at the latest.",
                         location, longest + 1))
    for copy in copies:
        out.append(_spec(copy.destination_dataset, copy.policy.file,
                         f"Disaster-recovery copy of {copy.dataset} in {copy.policy.destination_location}, "
                         f"refreshed by policy {copy.policy.name}.", copy.policy.destination_location, None))
    return tuple(out)


def _spec(name: str, file: str, description: str, location: str, expiration_days: int | None) -> DatasetSpec:
    return DatasetSpec(name=name, file=file, description=description, layer="backup", folders=(), sync_tool=None,
                       labels=MappingProxyType({}), time_travel_days=7, default_table_expiration_days=expiration_days,
                       location=location, friendly_name=None)
