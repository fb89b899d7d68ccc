"""Restoring a table from its backups: list its snapshots, prepare a restore, run it.

Which restore point a request means is `restore_points.py`. Restoring clones the point into a NEW
table of the same dataset (`<table>_restored_<point>` or the caller's name). Replacing the table
itself needs both `in_place` and `yes`. It then pauses the table's scheduled query (`transfers.py`:
a run would rebuild the table under the restore), takes a safety snapshot of the table into the
location's longest-kept snapshot dataset under the `prerestore` policy name, kept 35 days, and
replaces the table's rows with the point's in ONE copy job with WRITE_TRUNCATE (a copy job
replaces its destination atomically when it completes: docs/real-world.md), from the snapshot
(operation RESTORE) or from a staging clone of the time-travel point (`<table>_restoring_<now>`,
dropped afterwards). No moment exists without the table, and a failed copy leaves it as it was.
The scheduled query is resumed at the end, whatever happened, unless `keep_paused`. Every check
(names, existence, the point, the target, a run in progress) runs in `Restorer.prepare`, before
the first step that changes anything, so a refused request leaves BigQuery as it was. After a
restore the target's row count is compared with the restore point's.

The SQL comes from `RestoreSql`, in BigQuery's production forms: `CREATE TABLE t CLONE s [FOR
SYSTEM_TIME AS OF ...]` (a clone keeps partitioning, clustering and descriptions) and
`CREATE SNAPSHOT TABLE ... CLONE ... OPTIONS(expiration_timestamp = ...)`. `RestoreSql(emulator=True)`
is the local emulator's fallback, chosen explicitly by the caller (the tests, the CLI's hidden
`--emulator-url`), never detected: the emulator parses neither `CLONE ... FOR SYSTEM_TIME AS OF`
(so it gets `CREATE TABLE t AS SELECT * FROM s FOR SYSTEM_TIME AS OF ...`, which loses
partitioning and clustering) nor `CREATE SNAPSHOT TABLE` with `OPTIONS(...)` (so its safety
snapshot does not expire). Written down in docs/backups.md.

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
    backup_dataset_ids,
    check_request,
    choose_point,
    default_target,
    format_time,
    resolve_table,
    time_travel_start,
    utc_now,
)
from infra.ops.transfers import Transfers

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
    sql: str  # a query step's statement ("" for the other kinds)
    counts: str | None = None  # "point" or "target": a row count, not a change
    kind: str = "query"  # query | copy (a copy job) | pause | resume (the table's scheduled query)
    copy: tuple[str, str, str] | None = None  # (source, destination, operation COPY | RESTORE)


@dataclass(frozen=True)
class RestoreProcedure:
    request: RestoreRequest
    point: RestorePoint
    target: TableName
    replaces: bool  # in place, and the table exists: its rows are replaced after its safety snapshot
    safety_snapshot: str | None  # table id
    staging: str | None  # table id
    steps: tuple[Step, ...]
    transfer: str | None = None  # the scheduled query paused meanwhile (its resource name)
    keep_paused: bool = False

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
                 sleep: Callable[[float], None] = time.sleep, transfers: Transfers | None = None):
        from google.cloud import bigquery

        self.client = client
        self.warehouse = warehouse
        self.clock = clock
        self.sql = RestoreSql(emulator=emulator)
        self.progress = progress or SilentProgress()
        self.poll_seconds = poll_seconds
        self.sleep = sleep
        # The scheduled queries to pause during an in-place restore (None: there are none to reach,
        # as in the local emulator).
        self.transfers = transfers
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
        backup_ids = backup_dataset_ids(self.warehouse, name.dataset)
        snapshots = []
        for backup_id in backup_ids:
            try:
                items = list(self.client.list_tables(f"{name.dataset.project}.{backup_id}", retry=self._retry))
            except NotFound:
                continue  # not created yet: no snapshots there
            for item in items:
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
        snapshots.sort(key=lambda s: (s.taken_at, s.name), reverse=True)
        source = self._table(name.table_id)
        if source is not None and source.table_type in ("VIEW", "MATERIALIZED_VIEW"):
            raise RestoreError(f"{name.name} is a view: views have no snapshots and are not restored",
                               "`pulumi up` recreates views from scheduled_queries/; restore the tables they read")
        if source is None and not snapshots:
            where = ", ".join(backup_ids) or "no snapshot dataset"
            raise RestoreError(f"unknown table {name.name}: {name.table_id} does not exist and {where} "
                               f"holds no snapshot of it",
                               f"check the table's name (`bq ls {name.dataset.project}:{name.dataset.dataset_id}`)")
        window = time_travel_start(name.dataset.spec.time_travel_days, source.created if source else None, now)
        return Listing(name, backup_ids, tuple(snapshots), source is not None, window, now)

    def prepare(self, request: RestoreRequest, keep_paused: bool = False) -> RestoreProcedure:
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
            if not listing.backup_dataset_ids:
                raise RestoreError(f"the stack has no snapshot dataset in {source.dataset.location}, so no safety "
                                   "snapshot can be taken",
                                   "declare a snapshot policy for the location (backups/), or restore into a new table")
            safety_dataset = listing.backup_dataset_ids[-1]  # the longest kept; the snapshot sets its own expiry
            safety = (f"{source.dataset.project}.{safety_dataset}."
                      f"{snapshot_table_name(source.dataset.dataset_id, source.table, PRE_RESTORE_POLICY, now)}")
            if not self._dataset_exists(f"{source.dataset.project}.{safety_dataset}"):
                raise RestoreError(f"the backup dataset {safety_dataset} does not exist, so no safety "
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
        transfer = self._transfer_of(source) if request.in_place else None
        partition = self._partition_filter_column(point.snapshot.table_id if point.snapshot else source.table_id)
        steps = self._steps(source, point, target, replaces, safety, staging, now, partition, transfer, keep_paused)
        return RestoreProcedure(request, point, target, replaces, safety, staging, steps, transfer, keep_paused)

    def _transfer_of(self, table: TableName) -> str | None:
        """The scheduled query that builds the table, refused when one of its runs is in progress."""
        query = self.warehouse.query(f"{table.dataset.name}.{table.table}")
        if self.transfers is None or query is None or query.spec.is_view:
            return None
        name = self.transfers.find(table.dataset.project, table.dataset.location, query.transfer_display_name)
        if name is not None and self.transfers.busy(name):
            raise RestoreError(f"a run of {query.transfer_display_name}, which builds {table.name}, is in progress",
                               "wait for it to finish (BigQuery console, Scheduled queries), then restore")
        return name

    def _steps(self, source: TableName, point: RestorePoint, target: TableName, replaces: bool,
               safety: str | None, staging: str | None, now: dt.datetime, partition: str | None,
               transfer: str | None, keep_paused: bool) -> tuple[Step, ...]:
        sql = self.sql
        origin = point.snapshot.table_id if point.snapshot else source.table_id
        at = None if point.snapshot else point.at
        when = format_time(point.at, seconds=True)
        items: list[dict] = [dict(text=f"Count the rows of the restore point ({point.describe()})",
                                  sql=sql.count(origin, at, partition), counts="point")]
        if transfer:
            items.append(dict(text=f"Pause the scheduled query that builds {source.name}", kind="pause"))
        if replaces:
            expires = now + dt.timedelta(days=PRE_RESTORE_RETENTION_DAYS)
            items.append(dict(text=f"Safety snapshot of {source.name} into {_short(safety)} "
                                   f"(kept {PRE_RESTORE_RETENTION_DAYS} days)",
                              sql=sql.safety_snapshot(safety, source.table_id, expires)))
            if staging:
                items.append(dict(text=f"Clone {source.name} as of {when} into {_short(staging)}",
                                  sql=sql.clone_at(staging, source.table_id, point.at)))
                items.append(dict(text=f"Replace the rows of {target.name} with {_short(staging)}'s (one copy job)",
                                  kind="copy", copy=(staging, target.table_id, "COPY")))
                items.append(dict(text=f"Drop the staging table {_short(staging)}", sql=sql.drop(staging)))
            else:
                items.append(dict(text=f"Replace the rows of {target.name} with {point.snapshot.name}'s (one copy job)",
                                  kind="copy", copy=(origin, target.table_id, "RESTORE")))
        elif point.snapshot:
            items.append(dict(text=f"Clone {point.snapshot.name} into {target.name}",
                              sql=sql.clone_snapshot(target.table_id, origin)))
        else:
            items.append(dict(text=f"Clone {source.name} as of {when} into {target.name}",
                              sql=sql.clone_at(target.table_id, source.table_id, point.at)))
        items.append(dict(text=f"Count the rows of {target.name}", sql=sql.count(target.table_id, None, partition),
                          counts="target"))
        if transfer and not keep_paused:
            items.append(dict(text=f"Resume the scheduled query that builds {source.name}", kind="resume"))
        return tuple(Step(i, len(items), sql=item.pop("sql", ""), **item) for i, item in enumerate(items, start=1))

    def _named_snapshot(self, listing: Listing, name: str) -> RestorePoint:
        found = next((s for s in listing.snapshots if s.name == name), None)
        if found is not None:
            return RestorePoint(found.taken_at, found)
        table = listing.table
        if any(self._table(f"{table.dataset.project}.{b}.{name}") is not None for b in listing.backup_dataset_ids):
            raise RestoreError(f"--snapshot {name} is not a snapshot of {table.name}: its name does not start with "
                               f"{table.dataset.dataset_id}__{table.table}__",
                               f"pick one of {table.name}'s snapshots (`backups list {table.name}`)")
        where = ", ".join(listing.backup_dataset_ids) or "any snapshot dataset"
        raise RestoreError(f"--snapshot {name} does not exist in {where}",
                           f"pick one of {table.name}'s snapshots (`backups list {table.name}`)")

    # restoring

    def restore(self, table: str, keep_paused: bool = False, **options: Any) -> RestoreResult:
        return self.run(self.prepare(self.request(table, **options), keep_paused=keep_paused))

    def run(self, procedure: RestoreProcedure) -> RestoreResult:
        began = time.monotonic()
        counts: dict[str, int] = {}
        done: list[Step] = []
        location = procedure.request.table.dataset.location
        try:
            for step in procedure.steps:
                try:
                    rows = self._execute(step, location, procedure.transfer)
                except Exception as exc:
                    raise self._failure(procedure, step, done, exc) from exc
                if step.counts:
                    counts[step.counts] = rows
                done.append(step)
        finally:
            self._resume_after_failure(procedure, done)
        if counts["target"] != counts["point"]:
            raise RestoreError(f"{procedure.target.name} has {counts['target']} rows after the restore, but the "
                               f"restore point has {counts['point']}",
                               f"compare {procedure.target.table_id} with the restore point before using it")
        return RestoreResult(procedure, counts["target"], counts["point"], time.monotonic() - began)

    def _resume_after_failure(self, procedure: RestoreProcedure, done: list[Step]) -> None:
        """A restore that stopped after pausing the scheduled query resumes it (unless asked not to)."""
        paused = any(s.kind == "pause" for s in done)
        resumed = any(s.kind == "resume" for s in done)
        if paused and not resumed and not procedure.keep_paused and self.transfers is not None:
            self.transfers.resume(procedure.transfer)

    def _execute(self, step: Step, location: str | None = None, transfer: str | None = None) -> int:
        """Runs one step (a statement or a copy job in the dataset's location, polled for the
        progress display; or the pause or resume of the scheduled query); the count of a counting step."""
        from google.cloud import bigquery

        self.progress.started(step)
        began = time.monotonic()
        try:
            if step.kind in ("pause", "resume"):
                (self.transfers.pause if step.kind == "pause" else self.transfers.resume)(transfer)
                result = []
            else:
                if step.kind == "copy":
                    source, destination, operation = step.copy
                    config = bigquery.CopyJobConfig(write_disposition="WRITE_TRUNCATE", operation_type=operation)
                    job = self.client.copy_table(source, destination, job_config=config, location=location,
                                                 retry=self._retry)
                else:
                    job = self.client.query(step.sql, job_config=bigquery.QueryJobConfig(use_legacy_sql=False),
                                            location=location, retry=self._retry, job_retry=None)
                while not job.done(retry=self._retry):
                    self.progress.running(step, time.monotonic() - began, job)
                    self.sleep(self.poll_seconds)
                if step.kind == "copy":
                    job.result(retry=self._retry)  # raises the job's error
                    result = []
                else:
                    result = list(job.result(retry=self._retry, job_retry=None))
        except Exception as exc:
            self.progress.failed(step, time.monotonic() - began, one_line(exc))
            raise
        rows = int(result[0][0]) if step.counts else 0
        detail = {"pause": "paused", "resume": "resumed"}.get(step.kind, f"{rows} rows" if step.counts else "done")
        self.progress.finished(step, time.monotonic() - began, detail)
        return rows

    def _failure(self, procedure: RestoreProcedure, step: Step, done: list[Step], exc: Exception) -> RestoreError:
        what = f"step {step.number}/{step.total} ({step.text}) failed: {one_line(exc)}"
        changed = [s for s in done if not s.counts and s.kind not in ("pause", "resume")]
        paused = any(s.kind == "pause" for s in done) and not procedure.keep_paused
        resumed = "; its scheduled query is resumed" if paused else ""
        if not changed:
            return RestoreError(what + f"; nothing was changed{resumed}",
                                "fix the cause above and run the restore again")
        replaced = any(s.kind == "copy" for s in done)
        if procedure.safety_snapshot and not replaced:
            return RestoreError(what + f"; {procedure.request.table.name} is as it was (its rows are replaced in one "
                                f"copy job, which did not run){resumed}",
                                "fix the cause and run the restore again"
                                + (f"; drop {procedure.staging} if it exists" if procedure.staging else ""))
        made = ", ".join(s.text for s in changed)
        return RestoreError(what + f"; already done: {made}{resumed}",
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
