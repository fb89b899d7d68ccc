"""Restore points of a table: its name in a stack, its snapshots and time travel, and which point a
request means. Pure: every check here needs no BigQuery, so a bad request fails even without
credentials (the restore itself is `restore.py`).

A restore point of `<dataset>.<table>` (the managed dataset's name, as in the SQL files) is one of:
- a snapshot: a table in one of the stack's snapshot datasets of the source's location (one per
  retention, `backup_<location>_<N>d`), named
  `<source dataset id>__<table>__<policy>__<YYYYMMDDTHHMM>` (`infra.model.backups`), whose name
  carries its point in time (UTC, to the minute): no other catalogue is read;
- a moment inside the dataset's time-travel window (`time_travel_days` of its declaration,
  counted back from now, and never before the table was created), while the table exists.

Choosing: `snapshot=NAME` takes that snapshot; `at=TIME` takes time travel when TIME is inside the
window and the table exists, otherwise the newest snapshot taken at or before TIME; with neither,
the newest snapshot. Safety snapshots (policy `prerestore`) hold the state a restore replaced, so
they are never chosen automatically (the newest one would undo the last restore): only by name.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from infra.declarations.keys import suggest
from infra.model.backups import PRE_RESTORE_POLICY, SNAPSHOT_TIME_FORMAT, is_snapshot_dataset_of
from infra.vocabulary import BACKUP_LAYERS

if TYPE_CHECKING:
    from infra.model.warehouse import Dataset, Warehouse

UTC = dt.UTC
RESTORED_INFIX = "_restored_"  # <table>_restored_<point>: the default name of a restore's new table
STAGING_INFIX = "_restoring_"  # <table>_restoring_<now>: an in-place time-travel restore's staging table
# A point this close to the time-travel window's far edge could leave the window before the clone
# runs (BigQuery counts the window from the statement's own start): use a snapshot instead.
TIME_TRAVEL_MARGIN = dt.timedelta(minutes=10)
_TABLE_NAME = re.compile(r"^[\w-]{1,1024}$")


def utc_now() -> dt.datetime:
    return dt.datetime.now(UTC)


class RestoreError(Exception):
    """A request refused (or a restore that failed), for people: what is wrong and how to fix it."""

    def __init__(self, what: str, fix: str):
        self.what = what
        self.fix = fix
        super().__init__(f"{what}; fix: {fix}")


# --- names and points -------------------------------------------------------------------------------

@dataclass(frozen=True)
class TableName:
    """A table of a managed dataset, for one stack."""

    dataset: Dataset
    table: str

    @property
    def name(self) -> str:
        """As people write it: `mart.revenue_mrr`."""
        return f"{self.dataset.name}.{self.table}"

    @property
    def table_id(self) -> str:
        return f"{self.dataset.project}.{self.dataset.dataset_id}.{self.table}"

    def sibling(self, table: str) -> TableName:
        return TableName(self.dataset, table)


@dataclass(frozen=True)
class Snapshot:
    table_id: str  # project.backup dataset id.name
    name: str
    policy: str
    taken_at: dt.datetime  # from the name: UTC, to the minute
    expires: dt.datetime | None = None
    rows: int | None = None


@dataclass(frozen=True)
class RestorePoint:
    at: dt.datetime
    snapshot: Snapshot | None = None  # None: time travel to `at`

    @property
    def kind(self) -> str:
        return "snapshot" if self.snapshot else "time travel"

    def describe(self) -> str:
        if self.snapshot:
            return f"snapshot {self.snapshot.name} (taken {format_time(self.at)})"
        return f"time travel to {format_time(self.at, seconds=True)}"


@dataclass(frozen=True)
class Listing:
    """What `backups list` shows: the snapshots, newest first, and the time-travel window."""

    table: TableName
    backup_dataset_ids: tuple[str, ...]  # the snapshot datasets of the table's location
    snapshots: tuple[Snapshot, ...]
    exists: bool
    window_start: dt.datetime | None  # None: no time travel (the table does not exist)
    now: dt.datetime


@dataclass(frozen=True)
class RestoreRequest:
    """A request that passed every check that needs no BigQuery."""

    table: TableName
    at: dt.datetime | None
    snapshot: str | None
    to: str | None
    in_place: bool


def format_time(moment: dt.datetime, seconds: bool = False) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC" if seconds else "%Y-%m-%d %H:%M UTC")


def iso_minute(moment: dt.datetime) -> str:
    """A time as `--at` takes it."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")


def parse_time(text: str, now: dt.datetime) -> dt.datetime:
    """An ISO 8601 time (`2026-01-15`, `2026-01-15T06:10`, `... +02:00`, `...Z`, `... UTC`); UTC
    when it has no zone. Refused when it is in the future."""
    cleaned = text.strip()
    if cleaned.upper().endswith(" UTC"):  # as this tool prints times
        cleaned = cleaned[:-4].strip() + "+00:00"
    try:
        moment = dt.datetime.fromisoformat(cleaned)
    except ValueError:
        raise RestoreError(f"--at {text!r} is not a time",
                           "write an ISO time such as 2026-01-15T06:00 (UTC) or 2026-01-15T07:00+01:00") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    if moment > now:
        raise RestoreError(f"--at {text} is in the future (now is {format_time(now, seconds=True)})",
                           "choose a moment in the past")
    return moment


def resolve_table(warehouse: Warehouse, text: str) -> TableName:
    """`<dataset name>.<table>` -> the table in the stack; unknown or backup datasets are refused."""
    names = sorted(d.name for d in warehouse.datasets if d.spec.layer not in BACKUP_LAYERS)
    dataset_name, dot, table = text.partition(".")
    if not dot or not dataset_name or not table or "." in table:
        raise RestoreError(f"{text!r} is not <dataset>.<table>",
                           "name the table with its dataset's name, e.g. mart.revenue_mrr")
    dataset = next((d for d in warehouse.datasets if d.name == dataset_name), None)
    if dataset is None:
        by_id = next((d for d in warehouse.datasets if d.dataset_id == dataset_name), None)
        if by_id is not None:
            raise RestoreError(f"{dataset_name!r} is a dataset id, not a dataset's name",
                               f"write {by_id.name}.{table} (the stack maps {by_id.name} to {by_id.dataset_id})")
        raise RestoreError(f"unknown dataset {dataset_name!r}{suggest(dataset_name, names)}",
                           f"use one of: {', '.join(names)} (the names of datasets/*.yaml)")
    if dataset.spec.layer in BACKUP_LAYERS:
        raise RestoreError(f"{dataset_name} is a backup dataset: its tables are the backups",
                           "name the source table (e.g. mart.revenue_mrr) and pick the snapshot with --snapshot NAME")
    if not _TABLE_NAME.match(table):
        raise RestoreError(f"{table!r} is not a table name", "use letters, digits, _ and -")
    return TableName(dataset, table)


def backup_dataset_ids(warehouse: Warehouse, dataset: Dataset) -> tuple[str, ...]:
    """The stack's snapshot datasets of the source's location (snapshots stay in their region),
    shortest retention first."""
    found = [d for d in warehouse.datasets if d.layer == "backup" and is_snapshot_dataset_of(d.name, dataset.location)]
    return tuple(d.dataset_id for d in sorted(found, key=lambda d: (d.spec.default_table_expiration_days or 0, d.name)))


def check_request(warehouse: Warehouse, now: dt.datetime, table: str, *, at: str | None = None,
                  snapshot: str | None = None, to: str | None = None, in_place: bool = False,
                  yes: bool = False) -> RestoreRequest:
    """Every check that needs no BigQuery, so that they fail even without credentials."""
    if at is not None and snapshot is not None:
        raise RestoreError("--at and --snapshot both choose the restore point",
                           "pass one of them (--snapshot NAME for a given snapshot, --at TIME for a moment)")
    if in_place and to is not None:
        raise RestoreError("--in-place and --to both name the target",
                           "drop --to to replace the table itself, or --in-place to restore into a new table")
    if in_place and not yes:
        raise RestoreError("restoring in place replaces the table's rows",
                           "add --yes to confirm (a safety snapshot is taken first), or leave out --in-place "
                           "to restore into a new table")
    name = resolve_table(warehouse, table)
    moment = parse_time(at, now) if at is not None else None
    if to is not None and not _TABLE_NAME.match(to):
        raise RestoreError(f"--to {to!r} is not a table name",
                           f"name a new table of {name.dataset.name} with letters, digits, _ and - "
                           f"(e.g. {name.table}_restored)")
    if to == name.table:
        raise RestoreError(f"--to names the table being restored ({to})",
                           "use --in-place --yes to replace it, or another --to name")
    if snapshot is not None and "." in snapshot:
        qualifier, _, snapshot = snapshot.rpartition(".")
        expected = backup_dataset_ids(warehouse, name.dataset)
        if qualifier.rpartition(".")[2] not in expected:
            raise RestoreError(f"--snapshot: snapshots of {name.name} are in {', '.join(expected) or 'no dataset'}, "
                               f"not {qualifier}", f"pass the snapshot's name only (see `backups list {name.name}`)")
    return RestoreRequest(name, moment, snapshot, to, in_place)


def newest_at_or_before(snapshots: Iterable[Snapshot], at: dt.datetime | None) -> Snapshot | None:
    """The newest snapshot taken at or before `at` (any, when None); safety snapshots excluded."""
    candidates = [s for s in snapshots if s.policy != PRE_RESTORE_POLICY and (at is None or s.taken_at <= at)]
    return max(candidates, key=lambda s: (s.taken_at, s.name), default=None)


def time_travel_start(days: int, created: dt.datetime | None, now: dt.datetime) -> dt.datetime | None:
    """Where the time-travel window starts, or None when there is none (no table)."""
    if created is None:
        return None
    return max(now - dt.timedelta(days=days) + TIME_TRAVEL_MARGIN, created)


def choose_point(table: TableName, snapshots: Sequence[Snapshot], at: dt.datetime | None,
                 window_start: dt.datetime | None, now: dt.datetime) -> RestorePoint:
    """The restore point for `at` (None: the newest snapshot), from the snapshots or time travel."""
    if at is not None and window_start is not None and window_start <= at <= now:
        return RestorePoint(at)
    chosen = newest_at_or_before(snapshots, at)
    if chosen is not None:
        return RestorePoint(chosen.taken_at, chosen)
    regular = [s for s in snapshots if s.policy != PRE_RESTORE_POLICY]
    travel = (f"time travel reaches back to {format_time(window_start)}" if window_start
              else "there is no time travel (the table does not exist)")
    if at is None:
        raise RestoreError(
            f"{table.name} has no snapshots, and no --at was given; {travel}",
            f"pass --at TIME inside the time-travel window (--at {iso_minute(window_start)} or later)" if window_start
            else "nothing to restore from: check the backup coverage of the dataset (backups/coverage.yaml)")
    if not regular:
        raise RestoreError(f"no restore point of {table.name} at or before {format_time(at)}: "
                           f"it has no snapshots, and {travel}",
                           f"choose --at {iso_minute(window_start)} or later" if window_start
                           else "nothing to restore from at that time")
    oldest = min(s.taken_at for s in regular)
    raise RestoreError(f"{format_time(at)} is older than any backup of {table.name}: the oldest snapshot "
                       f"is from {format_time(oldest)}, and {travel}",
                       f"choose --at {iso_minute(oldest)} or later (see `backups list {table.name}`)")


def default_target(table: str, point: RestorePoint) -> str:
    return f"{table}{RESTORED_INFIX}{point.at.astimezone(UTC).strftime(SNAPSHOT_TIME_FORMAT)}"
