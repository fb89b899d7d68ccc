"""Restoring a table from its backups: list its snapshots, prepare a restore, run it.

Which restore point a request means is `restore_points.py`. Restoring clones the point into a NEW
table of the same dataset (`<table>_restored_<point>` or the caller's name). Replacing the table
itself needs both `in_place` and `yes`; it then first takes a safety snapshot of the table (if it
still exists) into the backup dataset under the `prerestore` policy name, kept 35 days, drops the
table and clones the point into its name. A time-travel point is cloned into a staging table
first (`<table>_restoring_<now>`), because a dropped table can no longer be time-travelled by
name. Every check (names, existence, the point, the target) runs in `Restorer.prepare`, before
the first statement that changes anything, so a refused request leaves BigQuery as it was. After
a restore the target's row count is compared with the restore point's.

The SQL comes from `RestoreSql`, in BigQuery's production forms: `CREATE TABLE t CLONE s [FOR
SYSTEM_TIME AS OF ...]` (a clone keeps partitioning, clustering and descriptions) and
`CREATE SNAPSHOT TABLE ... CLONE ... OPTIONS(expiration_timestamp = ...)`. `RestoreSql(emulator=True)`
is the local emulator's fallback, chosen explicitly by the caller (the tests, the CLI's hidden
`--emulator-url`), never detected: the emulator parses neither `CLONE ... FOR SYSTEM_TIME AS OF`
(so it gets `CREATE TABLE t AS SELECT * FROM s FOR SYSTEM_TIME AS OF ...`, which loses
partitioning and clustering) nor `CREATE SNAPSHOT TABLE` with `OPTIONS(...)` (so its safety
snapshot does not expire). Written down in docs/backups-and-restore.md.

Every job runs without the client's job retry and with a bounded API retry: the emulator answers
some failures with HTTP 500, which the client would otherwise retry for ten minutes, and a DDL
statement is better reported than silently re-run.

Deliberately left out: restoring a dropped table by time travel (BigQuery needs a `bq cp
table@<millis>` decorator copy for that; the snapshots cover it), views (`pulumi up` recreates
them), restores from the cross-region copies, and restoring into another dataset.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from infra.model.backups import PRE_RESTORE_POLICY, SNAPSHOT_TIME_FORMAT, parse_snapshot_name, snapshot_table_name
from infra.ops.bigquery_client import one_line
from infra.ops.restore_points import (
    STAGING_INFIX,
    UTC,
    Listing,
    RestoreError,
    RestorePoint,
    RestoreRequest,
    Snapshot,
    TableName,
    backup_dataset_id,
    check_request,
    choose_point,
    default_target,
    format_time,
    resolve_table,
    time_travel_start,
    utc_now,
)

if TYPE_CHECKING:
    from google.cloud import bigquery

    from infra.model.warehouse import Warehouse

PRE_RESTORE_RETENTION_DAYS = 35  # as long as the daily snapshots: time to notice a bad restore
RETRY_DEADLINE_SECONDS = 120.0
POLL_SECONDS = 2.0


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
            return (f"CREATE TABLE {_quote(target)} AS SELECT * FROM {_quote(source)} "
                    f"FOR SYSTEM_TIME AS OF {timestamp_literal(at)}")
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
            kept = f"kept {PRE_RESTORE_RETENTION_DAYS} days"
            items.append((f"Safety snapshot of {source.name} into {_short(safety)} ({kept})",
                          sql.safety_snapshot(safety, source.table_id, expires), None))
            if staging:
                items.append((f"Clone {source.name} as of {format_time(point.at, seconds=True)} into {_short(staging)}",
                              sql.clone_at(staging, source.table_id, point.at), None))
            items.append((f"Drop {source.name}", sql.drop(source.table_id), None))
            if staging:
                items.append((f"Clone {_short(staging)} into {target.name}",
                              sql.clone_table(target.table_id, staging), None))
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
            except Exception as exc:
                raise self._failure(procedure, step, done, exc) from exc
            if step.counts:
                counts[step.counts] = rows
            done.append(step)
        if counts["target"] != counts["point"]:
            raise RestoreError(f"{procedure.target.name} has {counts['target']} rows after the restore, but the "
                               f"restore point has {counts['point']}",
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
            self.progress.failed(step, time.monotonic() - began, one_line(exc))
            raise
        rows = int(result[0][0]) if step.counts else 0
        self.progress.finished(step, time.monotonic() - began, f"{rows} rows" if step.counts else "done")
        return rows

    def _failure(self, procedure: RestoreProcedure, step: Step, done: list[Step], exc: Exception) -> RestoreError:
        what = f"step {step.number}/{step.total} ({step.text}) failed: {one_line(exc)}"
        changed = [s for s in done if not s.counts]
        if not changed:
            return RestoreError(what + "; nothing was changed", "fix the cause above and run the restore again")
        dropped = any(s.sql == self.sql.drop(procedure.request.table.table_id) for s in done)
        if dropped and procedure.safety_snapshot:
            name = procedure.safety_snapshot.rpartition(".")[2]
            return RestoreError(
                what + f"; {procedure.request.table.name} was dropped after its safety snapshot "
                       f"{procedure.safety_snapshot}",
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
        required = (api.get("requirePartitionFilter")
                    or (api.get("timePartitioning") or {}).get("requirePartitionFilter"))
        if str(required).lower() != "true":
            return None
        if tp is not None:
            return tp.field or "_PARTITIONTIME"
        return rp.field if rp is not None else None
