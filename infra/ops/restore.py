"""Restoring a table from its backups: list its snapshots, choose a restore point, restore it.

A restore point of `<dataset>.<table>` (the managed dataset's name, as in the SQL files) is one of:
- a snapshot: a table in the stack's backup dataset of the source's location, named
  `<source dataset id>__<table>__<policy>__<YYYYMMDDTHHMM>` (`backups.py`), whose name carries its
  point in time (UTC, to the minute): no other catalogue is read;
- a moment inside the dataset's time-travel window (`time_travel_days` of its declaration,
  counted back from now, and never before the table was created), while the table exists.

Choosing: `snapshot=NAME` takes that snapshot; `at=TIME` takes time travel when TIME is inside the
window and the table exists, otherwise the newest snapshot taken at or before TIME; with neither,
the newest snapshot. Safety snapshots (policy `prerestore`) hold the state a restore replaced, so
they are never chosen automatically (the newest one would undo the last restore): only by name.

Restoring clones the point into a NEW table of the same dataset (`<table>_restored_<point>` or the
caller's name). Replacing the table itself needs both `in_place` and `yes`; it then first takes a
safety snapshot of the table (if it still exists) into the backup dataset under the `prerestore`
policy name, kept 35 days, drops the table and clones the point into its name. A time-travel point
is cloned into a staging table first (`<table>_restoring_<now>`), because a dropped table can no
longer be time-travelled by name. Every check (names, existence, the point, the target) runs
before the first statement that changes anything, so a refused request leaves BigQuery as it was.
After a restore the target's row count is compared with the restore point's.

The SQL comes from `RestoreSql`, in BigQuery's production forms: `CREATE TABLE t CLONE s [FOR
SYSTEM_TIME AS OF ...]` (a clone keeps partitioning, clustering and descriptions) and
`CREATE SNAPSHOT TABLE ... CLONE ... OPTIONS(expiration_timestamp = ...)`. `RestoreSql(emulator=True)`
is the local emulator's fallback, chosen explicitly by the caller (the tests, the CLI's hidden
`--emulator-url`), never detected: the emulator parses neither `CLONE ... FOR SYSTEM_TIME AS OF`
(so it gets `CREATE TABLE t AS SELECT * FROM s FOR SYSTEM_TIME AS OF ...`, which loses
partitioning and clustering) nor `CREATE SNAPSHOT TABLE` with `OPTIONS(...)` (so its safety
snapshot does not expire). Written down in the README, "Restore a table".

Every job runs without the client's job retry and with a bounded API retry: the emulator answers
some failures with HTTP 500, which the client would otherwise retry for ten minutes, and a DDL
statement is better reported than silently re-run.

Deliberately left out: restoring a dropped table by time travel (BigQuery needs a `bq cp
table@<millis>` decorator copy for that; the snapshots cover it), views (`pulumi up` recreates
them), restores from the cross-region copies, and restoring into another dataset.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterable, Protocol, Sequence

from infra.model.backups import (PRE_RESTORE_POLICY, SNAPSHOT_TIME_FORMAT, backup_dataset_name, parse_snapshot_name,
                                 snapshot_table_name)
from infra.declarations.keys import suggest

if TYPE_CHECKING:
    from google.cloud import bigquery

    from infra.model.warehouse import Dataset, Warehouse

UTC = dt.timezone.utc
PRE_RESTORE_RETENTION_DAYS = 35  # as long as the daily snapshots: time to notice a bad restore
RESTORED_INFIX = "_restored_"
STAGING_INFIX = "_restoring_"
# A point this close to the time-travel window's far edge could leave the window before the clone
# runs (BigQuery counts the window from the statement's own start): use a snapshot instead.
TIME_TRAVEL_MARGIN = dt.timedelta(minutes=10)
RETRY_DEADLINE_SECONDS = 120.0
POLL_SECONDS = 2.0
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
    backup_dataset_id: str
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


@dataclass(frozen=True)
class Step:
    number: int
    total: int
    text: str
    sql: str
    counts: str | None = None  # "point" or "target": a row count, not a change


@dataclass(frozen=True)
class RestoreProcedure:
    request: RestoreRequest
    point: RestorePoint
    target: TableName
    replaces: bool  # in place, and the table exists: it is dropped after its safety snapshot
    safety_snapshot: str | None  # table id
    staging: str | None  # table id
    steps: tuple[Step, ...]

    def describe(self) -> str:
        into = (f"in place (safety snapshot first: {self.safety_snapshot})" if self.replaces
                else "in place (the table does not exist now)" if self.request.in_place
                else f"into the new table {self.target.name}")
        return f"Restore {self.request.table.name} ({self.request.table.table_id}) from {self.point.describe()} {into}"


@dataclass(frozen=True)
class RestoreResult:
    procedure: RestoreProcedure
    rows: int
    expected_rows: int
    seconds: float


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
    names = sorted(d.name for d in warehouse.datasets if d.spec.layer != "backup")
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
    if dataset.spec.layer == "backup":
        raise RestoreError(f"{dataset_name} is a backup dataset: its tables are the backups",
                           "name the source table (e.g. mart.revenue_mrr) and pick the snapshot with --snapshot NAME")
    if not _TABLE_NAME.match(table):
        raise RestoreError(f"{table!r} is not a table name", "use letters, digits, _ and -")
    return TableName(dataset, table)


def backup_dataset_id(warehouse: Warehouse, dataset: Dataset) -> str:
    """The stack's snapshot dataset of the source's location (snapshots stay in their region)."""
    return warehouse.stack.dataset_prefix + backup_dataset_name(dataset.location)


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
        raise RestoreError("restoring in place drops the table and replaces it",
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
        expected = backup_dataset_id(warehouse, name.dataset)
        if qualifier.rpartition(".")[2] != expected:
            raise RestoreError(f"--snapshot: snapshots of {name.name} are in {expected}, not {qualifier}",
                               f"pass the snapshot's name only (see `backups list {name.name}`)")
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


# --- SQL ----------------------------------------------------------------------------------------------

def _short(table_id: str) -> str:
    """`dataset.table` of a table id (the project is the stack's)."""
    return table_id.split(".", 1)[1]


def _quote(table_id: str) -> str:
    return f"`{table_id}`"


def timestamp_literal(moment: dt.datetime) -> str:
    return f"TIMESTAMP '{moment.astimezone(UTC).strftime('%Y-%m-%d %H:%M:%S.%f')} UTC'"


class RestoreSql:
    """Every statement a restore runs. Production forms by default; `emulator=True` selects the
    local emulator's fallbacks (see the module docstring), and only the caller decides that."""

    def __init__(self, emulator: bool = False):
        self.emulator = emulator

    def clone_snapshot(self, target: str, snapshot: str) -> str:
        return f"CREATE TABLE {_quote(target)} CLONE {_quote(snapshot)}"

    def clone_at(self, target: str, source: str, at: dt.datetime) -> str:
        if self.emulator:
            # Emulator gap: `CLONE ... FOR SYSTEM_TIME AS OF` does not parse; CTAS reads the same
            # rows but loses partitioning and clustering.
            return f"CREATE TABLE {_quote(target)} AS SELECT * FROM {_quote(source)} FOR SYSTEM_TIME AS OF {timestamp_literal(at)}"
        return f"CREATE TABLE {_quote(target)} CLONE {_quote(source)} FOR SYSTEM_TIME AS OF {timestamp_literal(at)}"

    def clone_table(self, target: str, source: str) -> str:
        return f"CREATE TABLE {_quote(target)} CLONE {_quote(source)}"

    def safety_snapshot(self, snapshot: str, source: str, expires: dt.datetime) -> str:
        if self.emulator:
            # Emulator gap: `CREATE SNAPSHOT TABLE` refuses OPTIONS(...) (and expiry is not emulated).
            return f"CREATE SNAPSHOT TABLE {_quote(snapshot)} CLONE {_quote(source)}"
        return (f"CREATE SNAPSHOT TABLE {_quote(snapshot)} CLONE {_quote(source)} "
                f"OPTIONS(expiration_timestamp = {timestamp_literal(expires)})")

    def drop(self, table: str) -> str:
        return f"DROP TABLE {_quote(table)}"

    def count(self, table: str, at: dt.datetime | None = None, partition_column: str | None = None) -> str:
        """COUNT(*); with a filter that keeps every row when the table requires a partition filter."""
        travel = f" FOR SYSTEM_TIME AS OF {timestamp_literal(at)}" if at else ""
        where = f" WHERE {partition_column} IS NULL OR {partition_column} IS NOT NULL" if partition_column else ""
        return f"SELECT COUNT(*) AS row_count FROM {_quote(table)}{travel}{where}"


# --- progress -----------------------------------------------------------------------------------------

class Progress(Protocol):
    """What a restore reports while it runs (the CLI draws it; the default says nothing)."""

    def started(self, step: Step) -> None: ...

    def running(self, step: Step, seconds: float, job: Any) -> None: ...

    def finished(self, step: Step, seconds: float, detail: str) -> None: ...

    def failed(self, step: Step, seconds: float, message: str) -> None: ...


class SilentProgress:
    def started(self, step: Step) -> None:
        pass

    def running(self, step: Step, seconds: float, job: Any) -> None:
        pass

    def finished(self, step: Step, seconds: float, detail: str) -> None:
        pass

    def failed(self, step: Step, seconds: float, message: str) -> None:
        pass


# --- against BigQuery ---------------------------------------------------------------------------------

class Restorer:
    """Lists and restores one stack's tables with a BigQuery client.

    `clock` gives the current UTC time (names of new tables and safety snapshots, the future check,
    the time-travel window), so tests are deterministic. `emulator=True` selects the emulator's
    SQL (`RestoreSql`)."""

    def __init__(self, client: bigquery.Client, warehouse: Warehouse, clock: Callable[[], dt.datetime] = utc_now,
                 *, emulator: bool = False, progress: Progress | None = None,
                 poll_seconds: float = POLL_SECONDS, retry_deadline: float = RETRY_DEADLINE_SECONDS,
                 sleep: Callable[[float], None] = time.sleep):
        from google.cloud import bigquery

        self.client = client
        self.warehouse = warehouse
        self.clock = clock
        self.sql = RestoreSql(emulator=emulator)
        self.progress = progress or SilentProgress()
        self.poll_seconds = poll_seconds
        self.sleep = sleep
        self._retry = bigquery.DEFAULT_RETRY.with_deadline(retry_deadline)

    # reading

    def request(self, table: str, **options: Any) -> RestoreRequest:
        return check_request(self.warehouse, self.clock(), table, **options)

    def listing(self, table: TableName | str, details: bool = False) -> Listing:
        """The table's snapshots (newest first) and time-travel window; `details` reads each
        snapshot's expiry and row count (one API call each)."""
        from google.api_core.exceptions import NotFound

        name = resolve_table(self.warehouse, table) if isinstance(table, str) else table
        now = self.clock()
        backup_id = backup_dataset_id(self.warehouse, name.dataset)
        snapshots = []
        try:
            for item in self.client.list_tables(f"{name.dataset.project}.{backup_id}", retry=self._retry):
                parsed = parse_snapshot_name(item.table_id, name.dataset.dataset_id, name.table)
                if parsed is None:
                    continue
                snapshot = Snapshot(f"{name.dataset.project}.{backup_id}.{item.table_id}", item.table_id,
                                    parsed.policy, parsed.taken_at, expires=item.expires)
                if details:
                    got = self.client.get_table(snapshot.table_id, retry=self._retry)
                    snapshot = Snapshot(snapshot.table_id, snapshot.name, snapshot.policy, snapshot.taken_at,
                                        expires=got.expires, rows=got.num_rows)
                snapshots.append(snapshot)
        except NotFound:
            pass  # no backup dataset (yet): no snapshots
        snapshots.sort(key=lambda s: (s.taken_at, s.name), reverse=True)
        source = self._table(name.table_id)
        if source is not None and source.table_type in ("VIEW", "MATERIALIZED_VIEW"):
            raise RestoreError(f"{name.name} is a view: views have no snapshots and are not restored",
                               "`pulumi up` recreates views from scheduled_queries/; restore the tables they read")
        if source is None and not snapshots:
            raise RestoreError(f"unknown table {name.name}: {name.table_id} does not exist and {backup_id} "
                               f"holds no snapshot of it",
                               f"check the table's name (`bq ls {name.dataset.project}:{name.dataset.dataset_id}`)")
        window = time_travel_start(name.dataset.spec.time_travel_days, source.created if source else None, now)
        return Listing(name, backup_id, tuple(snapshots), source is not None, window, now)

    def prepare(self, request: RestoreRequest) -> RestoreProcedure:
        """Chooses the point and the target and checks both; changes nothing."""
        listing = self.listing(request.table)
        source = request.table
        now = listing.now
        if request.snapshot is not None:
            point = self._named_snapshot(listing, request.snapshot)
        else:
            point = choose_point(source, listing.snapshots, request.at, listing.window_start, now)
        if request.in_place:
            target = source
        else:
            target = source.sibling(request.to or default_target(source.table, point))
            if self._table(target.table_id) is not None:
                which = f"--to {request.to}: {target.name}" if request.to else f"{target.name} (the default target)"
                raise RestoreError(f"{which} already exists, and a restore never overwrites a table",
                                   "pass --to with a new table name (or drop that table yourself first)")
        replaces = request.in_place and listing.exists
        stamp = now.astimezone(UTC).strftime(SNAPSHOT_TIME_FORMAT)
        safety = staging = None
        if replaces:
            safety = (f"{source.dataset.project}.{listing.backup_dataset_id}."
                      f"{snapshot_table_name(source.dataset.dataset_id, source.table, PRE_RESTORE_POLICY, now)}")
            if not self._dataset_exists(f"{source.dataset.project}.{listing.backup_dataset_id}"):
                raise RestoreError(f"the backup dataset {listing.backup_dataset_id} does not exist, so no safety "
                                   f"snapshot can be taken",
                                   "create it with `pulumi up` (backups/ declares it), or restore into a new table")
            if self._table(safety) is not None:
                raise RestoreError(f"the safety snapshot {safety} exists already (a restore of {source.name} "
                                   f"ran this minute)", "wait a minute and run the restore again")
            if point.snapshot is None:
                staging = f"{source.dataset.project}.{source.dataset.dataset_id}.{source.table}{STAGING_INFIX}{stamp}"
                if self._table(staging) is not None:
                    raise RestoreError(f"the staging table {staging} exists already",
                                       "drop it if a failed restore left it, or wait a minute")
        partition = self._partition_filter_column(point.snapshot.table_id if point.snapshot else source.table_id)
        return RestoreProcedure(request, point, target, replaces, safety, staging,
                           self._steps(source, point, target, replaces, safety, staging, now, partition))

    def _steps(self, source: TableName, point: RestorePoint, target: TableName, replaces: bool,
               safety: str | None, staging: str | None, now: dt.datetime, partition: str | None) -> tuple[Step, ...]:
        sql = self.sql
        origin = point.snapshot.table_id if point.snapshot else source.table_id
        at = None if point.snapshot else point.at
        items: list[tuple[str, str, str | None]] = [
            (f"Count the rows of the restore point ({point.describe()})", sql.count(origin, at, partition), "point")]
        if replaces:
            expires = now + dt.timedelta(days=PRE_RESTORE_RETENTION_DAYS)
            items.append((f"Safety snapshot of {source.name} into {_short(safety)} (kept {PRE_RESTORE_RETENTION_DAYS} days)",
                          sql.safety_snapshot(safety, source.table_id, expires), None))
            if staging:
                items.append((f"Clone {source.name} as of {format_time(point.at, seconds=True)} into {_short(staging)}",
                              sql.clone_at(staging, source.table_id, point.at), None))
            items.append((f"Drop {source.name}", sql.drop(source.table_id), None))
            if staging:
                items.append((f"Clone {_short(staging)} into {target.name}", sql.clone_table(target.table_id, staging), None))
                items.append((f"Drop the staging table {_short(staging)}", sql.drop(staging), None))
            else:
                items.append((f"Clone {point.snapshot.name} into {target.name}",
                              sql.clone_snapshot(target.table_id, origin), None))
        elif point.snapshot:
            items.append((f"Clone {point.snapshot.name} into {target.name}",
                          sql.clone_snapshot(target.table_id, origin), None))
        else:
            items.append((f"Clone {source.name} as of {format_time(point.at, seconds=True)} into {target.name}",
                          sql.clone_at(target.table_id, source.table_id, point.at), None))
        items.append((f"Count the rows of {target.name}", sql.count(target.table_id, None, partition), "target"))
        return tuple(Step(i, len(items), text, statement, counts)
                     for i, (text, statement, counts) in enumerate(items, start=1))

    def _named_snapshot(self, listing: Listing, name: str) -> RestorePoint:
        found = next((s for s in listing.snapshots if s.name == name), None)
        if found is not None:
            return RestorePoint(found.taken_at, found)
        table = listing.table
        if self._table(f"{table.dataset.project}.{listing.backup_dataset_id}.{name}") is not None:
            raise RestoreError(f"--snapshot {name} is not a snapshot of {table.name}: its name does not start with "
                               f"{table.dataset.dataset_id}__{table.table}__",
                               f"pick one of {table.name}'s snapshots (`backups list {table.name}`)")
        raise RestoreError(f"--snapshot {name} does not exist in {listing.backup_dataset_id}",
                           f"pick one of {table.name}'s snapshots (`backups list {table.name}`)")

    # restoring

    def restore(self, table: str, **options: Any) -> RestoreResult:
        return self.run(self.prepare(self.request(table, **options)))

    def run(self, procedure: RestoreProcedure) -> RestoreResult:
        began = time.monotonic()
        counts: dict[str, int] = {}
        done: list[Step] = []
        location = procedure.request.table.dataset.location
        for step in procedure.steps:
            try:
                rows = self._execute(step, location)
            except Exception as exc:  # noqa: BLE001 - reported as the failed step, with how to recover
                raise self._failure(procedure, step, done, exc) from exc
            if step.counts:
                counts[step.counts] = rows
            done.append(step)
        if counts["target"] != counts["point"]:
            raise RestoreError(f"{procedure.target.name} has {counts['target']} rows after the restore, but the restore "
                               f"point has {counts['point']}",
                               f"compare {procedure.target.table_id} with the restore point before using it")
        return RestoreResult(procedure, counts["target"], counts["point"], time.monotonic() - began)

    def _execute(self, step: Step, location: str | None = None) -> int:
        """Runs one statement as a job in the dataset's location, polling it for the progress display;
        the count of a counting step."""
        from google.cloud import bigquery

        self.progress.started(step)
        began = time.monotonic()
        try:
            job = self.client.query(step.sql, job_config=bigquery.QueryJobConfig(use_legacy_sql=False),
                                    location=location, retry=self._retry, job_retry=None)
            while not job.done(retry=self._retry):
                self.progress.running(step, time.monotonic() - began, job)
                self.sleep(self.poll_seconds)
            result = list(job.result(retry=self._retry, job_retry=None))
        except Exception as exc:
            self.progress.failed(step, time.monotonic() - began, _one_line(exc))
            raise
        rows = int(result[0][0]) if step.counts else 0
        self.progress.finished(step, time.monotonic() - began, f"{rows} rows" if step.counts else "done")
        return rows

    def _failure(self, procedure: RestoreProcedure, step: Step, done: list[Step], exc: Exception) -> RestoreError:
        what = f"step {step.number}/{step.total} ({step.text}) failed: {_one_line(exc)}"
        changed = [s for s in done if not s.counts]
        if not changed:
            return RestoreError(what + "; nothing was changed", "fix the cause above and run the restore again")
        dropped = any(s.sql == self.sql.drop(procedure.request.table.table_id) for s in done)
        if dropped and procedure.safety_snapshot:
            name = procedure.safety_snapshot.rpartition(".")[2]
            return RestoreError(
                what + f"; {procedure.request.table.name} was dropped after its safety snapshot {procedure.safety_snapshot}",
                f"run the restore again (the table no longer exists), or put the old state back with "
                f"`restore {procedure.request.table.name} --snapshot {name} --in-place --yes`"
                + (f"; then drop {procedure.staging}" if procedure.staging else ""))
        made = ", ".join(s.text for s in changed)
        return RestoreError(what + f"; already done: {made}",
                            "drop the tables those steps created (other than the safety snapshot), then run the "
                            "restore again")

    # helpers

    def _table(self, table_id: str) -> Any:
        from google.api_core.exceptions import NotFound

        try:
            return self.client.get_table(table_id, retry=self._retry)
        except NotFound:
            return None

    def _dataset_exists(self, dataset_id: str) -> bool:
        from google.api_core.exceptions import NotFound

        try:
            self.client.get_dataset(dataset_id, retry=self._retry)
        except NotFound:
            return False
        return True

    def _partition_filter_column(self, table_id: str) -> str | None:
        """The partition column to filter on when the table requires a partition filter."""
        table = self._table(table_id)
        if table is None:
            return None
        tp, rp = table.time_partitioning, table.range_partitioning
        # Top level in BigQuery; inside timePartitioning in older tables (and in the emulator).
        api = table.to_api_repr()
        required = api.get("requirePartitionFilter") or (api.get("timePartitioning") or {}).get("requirePartitionFilter")
        if str(required).lower() != "true":
            return None
        if tp is not None:
            return tp.field or "_PARTITIONTIME"
        return rp.field if rp is not None else None


def _one_line(exc: BaseException) -> str:
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return " ".join(str(message).split())
