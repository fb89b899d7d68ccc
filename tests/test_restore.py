"""The restore path of the backup system: choosing a restore point, the SQL, and restore drills
against the local BigQuery emulator (snapshot, time travel, in place), bad input that must change
nothing, and the CLI's one-line errors.

Each emulator test works in datasets of its own: the dev stack's model with a dataset prefix of
the test's own (`<prefix>mart`, `<prefix>backup_us`), so the tests do not collide with each other
or with the local run. Drills from snapshots use a fixed clock; time-travel drills use the real
one, because the emulator keeps a table's history by its own wall clock.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from decimal import Decimal
from pathlib import Path

import pytest
from google.cloud import bigquery

from infra.cli import main_group
from infra.cli.backups import render_listing
from infra.model.backups import PRE_RESTORE_POLICY, parse_snapshot_name, snapshot_table_name
from infra.model.load import load_for_stack
from infra.ops.restore import RestoreProcedure, Restorer, RestoreSql
from infra.ops.restore_points import (
    RestoreError,
    RestorePoint,
    Snapshot,
    TableName,
    check_request,
    choose_point,
    newest_at_or_before,
    parse_time,
    resolve_table,
    time_travel_start,
)
from tests.conftest import ROOT, copy_project, isolated, one_line_error
from tests.conftest import run_cli_without_credentials as cli

UTC = dt.UTC
BACKUP_DATASETS = ("backup_us_28d", "backup_us_35d", "backup_us_400d")  # the dev stack's snapshot datasets
PROJECT = "acme-warehouse-dev"  # the emulator's project and the dev stack's
NOW = dt.datetime(2026, 1, 20, 12, 0, tzinfo=UTC)  # the fixed clock of the snapshot drills
DAILY = dt.datetime(2026, 1, 15, 6, 10, tzinfo=UTC)
SCHEMA = [
    bigquery.SchemaField("id", "INT64", mode="REQUIRED"),
    bigquery.SchemaField("d", "DATE"),
    bigquery.SchemaField("customer", "STRING"),
    bigquery.SchemaField("amount", "NUMERIC"),
    bigquery.SchemaField("paid_at", "TIMESTAMP"),
]
ROWS = [(i, dt.date(2026, 1, 10 + i % 5), None if i % 7 == 0 else f"c{i % 4}",
         None if i % 6 == 0 else Decimal(i) / 4, dt.datetime(2026, 1, 10 + i % 5, i % 24, 30, tzinfo=UTC))
        for i in range(1, 25)]


# --- set-up -----------------------------------------------------------------------------------------

@pytest.fixture
def wh(dev, client, request):
    """The dev model under a prefix of the test's own, with its `mart` and `backup_us` datasets
    created in the emulator (and deleted afterwards)."""
    prefix = "r_" + re.sub(r"\W", "_", request.node.name)[5:40].strip("_") + "_"
    warehouse = isolated(dev, prefix)
    for name in ("mart", *BACKUP_DATASETS):
        ds = bigquery.Dataset(f"{PROJECT}.{prefix}{name}")
        ds.location = "US"
        client.create_dataset(ds)
    yield warehouse
    for name in ("mart", *BACKUP_DATASETS):
        client.delete_dataset(f"{PROJECT}.{prefix}{name}", delete_contents=True, not_found_ok=True)


def mart(warehouse) -> str:
    return warehouse.dataset("mart").dataset_id


def backup(warehouse) -> str:
    """The snapshot dataset the tests put their snapshots in (the daily policy's)."""
    return warehouse.stack.dataset_prefix + "backup_us_35d"


def safety_dataset(warehouse) -> str:
    """Where an in-place restore puts its safety snapshot: the longest-kept snapshot dataset."""
    return warehouse.stack.dataset_prefix + "backup_us_400d"


def q(client, sql: str) -> list[tuple]:
    return [tuple(r.values()) for r in client.query(sql, job_retry=None).result()]


def make_table(client, warehouse, table: str = "orders", rows=ROWS) -> str:
    """A DAY-partitioned, clustered table with `rows`, written by DML (so time travel sees them)."""
    t = bigquery.Table(f"{PROJECT}.{mart(warehouse)}.{table}", schema=SCHEMA)
    t.time_partitioning = bigquery.TimePartitioning(type_=bigquery.TimePartitioningType.DAY, field="d")
    t.clustering_fields = ["customer"]
    client.create_table(t)
    values = ", ".join(
        f"({i}, DATE '{d}', {'NULL' if c is None else repr(c)}, {'NULL' if a is None else f'NUMERIC {str(a)!r}'}, "
        f"TIMESTAMP '{at.isoformat()}')" for i, d, c, a, at in rows)
    client.query(f"INSERT INTO `{PROJECT}.{mart(warehouse)}.{table}` VALUES {values}", job_retry=None).result()
    return f"{PROJECT}.{mart(warehouse)}.{table}"


def take_snapshot(client, warehouse, table: str, policy: str, moment: dt.datetime) -> str:
    """A snapshot as the backup job names it (the emulator's plain form of the statement)."""
    name = snapshot_table_name(mart(warehouse), table, policy, moment)
    client.query(f"CREATE SNAPSHOT TABLE `{PROJECT}.{backup(warehouse)}.{name}` "
                 f"CLONE `{PROJECT}.{mart(warehouse)}.{table}`", job_retry=None).result()
    return name


def all_rows(client, table_id: str) -> list[tuple]:
    return q(client, f"SELECT id, d, customer, amount, paid_at FROM `{table_id}` ORDER BY id")


def table_lists(client, warehouse) -> dict[str, list[str]]:
    return {ds: sorted(t.table_id for t in client.list_tables(f"{PROJECT}.{ds}"))
            for ds in (mart(warehouse), *(warehouse.stack.dataset_prefix + b for b in BACKUP_DATASETS))}


class Recorder:
    """A progress sink that remembers what it was told."""

    def __init__(self):
        self.events: list[tuple] = []

    def started(self, step):
        self.events.append(("started", step.number))

    def running(self, step, seconds, job):
        self.events.append(("running", step.number))

    def finished(self, step, seconds, detail):
        self.events.append(("finished", step.number, detail))

    def failed(self, step, seconds, message):
        self.events.append(("failed", step.number))


def restorer(client, warehouse, clock=lambda: NOW, **kw) -> Restorer:
    return Restorer(client, warehouse, clock, emulator=True, **kw)


def real_clock() -> dt.datetime:
    return dt.datetime.now(UTC)


# --- choosing the restore point (no BigQuery) -----------------------------------------------------------

def snap(name_policy: str, moment: dt.datetime) -> Snapshot:
    name = snapshot_table_name("production_mart", "revenue_mrr", name_policy, moment)
    return Snapshot(f"p.production_backup_us.{name}", name, name_policy, moment)


LISTING = [
    snap("daily_snapshots", dt.datetime(2026, 1, 13, 6, 10, tzinfo=UTC)),
    snap("daily_snapshots", dt.datetime(2026, 1, 14, 6, 10, tzinfo=UTC)),
    snap("daily_snapshots", DAILY),
    snap("monthly_snapshots", dt.datetime(2026, 1, 1, 6, 40, tzinfo=UTC)),
    snap(PRE_RESTORE_POLICY, dt.datetime(2026, 1, 15, 9, 0, tzinfo=UTC)),
]


@pytest.fixture(scope="module")
def revenue(dev) -> TableName:
    prod = load_for_stack(ROOT, "prod")
    return resolve_table(prod, "mart.revenue_mrr")


@pytest.mark.parametrize("at, expected", [
    (None, DAILY),  # the newest; the later safety snapshot is never chosen by itself
    (dt.datetime(2026, 1, 15, 6, 10, tzinfo=UTC), DAILY),  # at or before: the same minute counts
    (dt.datetime(2026, 1, 15, 6, 9, 59, tzinfo=UTC), dt.datetime(2026, 1, 14, 6, 10, tzinfo=UTC)),
    (dt.datetime(2026, 1, 20, 0, 0, tzinfo=UTC), DAILY),
    (dt.datetime(2026, 1, 13, 0, 0, tzinfo=UTC), dt.datetime(2026, 1, 1, 6, 40, tzinfo=UTC)),  # the monthly one
])
def test_the_newest_snapshot_at_or_before_is_chosen(revenue, at, expected):
    point = choose_point(revenue, LISTING, at, window_start=None, now=NOW)
    assert point.snapshot is not None and point.at == expected and point.snapshot.taken_at == expected
    assert newest_at_or_before(reversed(LISTING), at).taken_at == expected  # order of the listing is irrelevant


def test_time_travel_is_chosen_inside_the_window_when_the_table_exists(revenue):
    start = time_travel_start(7, created=dt.datetime(2025, 1, 1, tzinfo=UTC), now=NOW)
    assert start == NOW - dt.timedelta(days=7) + dt.timedelta(minutes=10)  # a margin at the far edge
    inside = dt.datetime(2026, 1, 15, 5, 0, tzinfo=UTC)
    assert choose_point(revenue, LISTING, inside, start, NOW) == RestorePoint(inside)
    # Outside the window (or with no table to travel in): the newest snapshot at or before.
    outside = dt.datetime(2026, 1, 13, 7, 0, tzinfo=UTC)
    assert choose_point(revenue, LISTING, outside, start, NOW).snapshot == LISTING[0]
    assert choose_point(revenue, LISTING, inside, None, NOW).snapshot == LISTING[1]
    # A table created inside the window travels back to its creation only.
    created = dt.datetime(2026, 1, 19, tzinfo=UTC)
    assert time_travel_start(7, created, NOW) == created
    assert time_travel_start(7, None, NOW) is None


def test_a_point_older_than_every_backup_is_refused(revenue):
    with pytest.raises(RestoreError, match=r"2025-12-31 00:00 UTC is older than any backup of mart.revenue_mrr: "
                                           r"the oldest snapshot is from 2026-01-01 06:40 UTC.*"
                                           r"fix: choose --at 2026-01-01T06:40 or later"):
        choose_point(revenue, LISTING, dt.datetime(2025, 12, 31, tzinfo=UTC), None, NOW)
    with pytest.raises(RestoreError, match="has no snapshots, and no --at was given"):
        choose_point(revenue, [LISTING[-1]], None, None, NOW)


def test_times_are_iso_and_utc_unless_zoned():
    assert parse_time("2026-01-15", NOW) == dt.datetime(2026, 1, 15, tzinfo=UTC)
    assert parse_time("2026-01-15T06:10", NOW) == DAILY
    assert parse_time("2026-01-15T07:10+01:00", NOW) == DAILY
    assert parse_time("2026-01-15T06:10:00Z", NOW) == DAILY
    assert parse_time("2026-01-15 06:10 UTC", NOW) == DAILY  # as the tool prints times
    with pytest.raises(RestoreError, match="is in the future"):
        parse_time("2026-01-20T12:01", NOW)
    with pytest.raises(RestoreError, match="is not a time; fix: write an ISO time"):
        parse_time("yesterday", NOW)


def test_tables_are_named_by_the_datasets_name(dev):
    prod = load_for_stack(ROOT, "prod")
    name = resolve_table(prod, "mart.revenue_mrr")
    assert name.table_id == "acme-warehouse-prod.production_mart.revenue_mrr"
    for text, message in [("martt.x", "unknown dataset 'martt' (did you mean 'mart'?)"),
                          ("production_mart.x", "is a dataset id, not a dataset's name; fix: write mart.x"),
                          ("backup_us_35d.x", "is a backup dataset"),
                          ("revenue_mrr", "is not <dataset>.<table>"),
                          ("mart.a.b", "is not <dataset>.<table>"),
                          ("mart.x`y", "is not a table name")]:
        with pytest.raises(RestoreError, match=re.escape(message)):
            resolve_table(prod, text)


def test_sql_production_forms_and_the_emulators_fallbacks():
    at = dt.datetime(2026, 1, 15, 6, 10, 30, tzinfo=UTC)
    prod, emu = RestoreSql(), RestoreSql(emulator=True)
    assert prod.clone_at("p.d.t_new", "p.d.t", at) == (
        "CREATE TABLE `p.d.t_new` CLONE `p.d.t` FOR SYSTEM_TIME AS OF TIMESTAMP '2026-01-15 06:10:30.000000 UTC'")
    assert emu.clone_at("p.d.t_new", "p.d.t", at) == (
        "CREATE TABLE `p.d.t_new` AS SELECT * FROM `p.d.t` FOR SYSTEM_TIME AS OF "
        "TIMESTAMP '2026-01-15 06:10:30.000000 UTC'")
    expires = at + dt.timedelta(days=35)
    assert prod.safety_snapshot("p.b.s", "p.d.t", expires) == (
        "CREATE SNAPSHOT TABLE `p.b.s` CLONE `p.d.t` "
        "OPTIONS(expiration_timestamp = TIMESTAMP '2026-02-19 06:10:30.000000 UTC')")
    assert emu.safety_snapshot("p.b.s", "p.d.t", expires) == "CREATE SNAPSHOT TABLE `p.b.s` CLONE `p.d.t`"
    for sql in (prod, emu):
        assert sql.clone_snapshot("p.d.t", "p.b.s") == "CREATE TABLE `p.d.t` CLONE `p.b.s`"
        assert sql.drop("p.d.t") == "DROP TABLE `p.d.t`"
    assert prod.count("p.d.t", at, "d") == ("SELECT COUNT(*) AS row_count FROM `p.d.t` FOR SYSTEM_TIME AS OF "
                                            "TIMESTAMP '2026-01-15 06:10:30.000000 UTC' "
                                            "WHERE d IS NULL OR d IS NOT NULL")


def test_requests_are_checked_before_bigquery(dev):
    for options, message in [
        (dict(at="2026-01-15", snapshot="s"), "--at and --snapshot both choose the restore point"),
        (dict(in_place=True), "restoring in place replaces the table's rows; fix: add --yes"),
        (dict(in_place=True, yes=True, to="x"), "--in-place and --to both name the target"),
        (dict(at="2026-02-01"), "is in the future"),
        (dict(to="mart.other"), "--to 'mart.other' is not a table name"),
        (dict(to="orders"), "--to names the table being restored"),
        (dict(snapshot="other_backup.s"), ("snapshots of mart.orders are in dev_backup_us_28d, dev_backup_us_35d, "
                                          "dev_backup_us_400d, not other_backup")),
    ]:
        with pytest.raises(RestoreError, match=re.escape(message)):
            check_request(dev, NOW, "mart.orders", **options)
    request = check_request(dev, NOW, "mart.orders", snapshot="dev_backup_us_35d.s")
    assert request.snapshot == "s" and request.table.table_id == "acme-warehouse-dev.dev_mart.orders"


def test_a_long_job_is_polled_and_shown(dev):
    """The restore polls each job until it is done, telling the progress display each time."""

    class Job:
        def __init__(self):
            self.polls = 0
            self.state = "RUNNING"

        def done(self, retry=None):
            self.polls += 1
            return self.polls > 2

        def result(self, retry=None, job_retry=None):
            return [(7,)]

    class Client:
        def query(self, sql, job_config=None, location=None, retry=None, job_retry=None):
            assert job_retry is None  # no silent re-run of a statement
            return Job()

    sleeps, progress = [], Recorder()
    restorer_ = Restorer(Client(), dev, lambda: NOW, progress=progress, poll_seconds=5, sleep=sleeps.append)
    from infra.ops.restore import Step
    assert restorer_._execute(Step(1, 1, "Count", "SELECT 7", counts="point")) == 7
    assert sleeps == [5, 5]
    assert progress.events == [("started", 1), ("running", 1), ("running", 1), ("finished", 1, "7 rows")]


class FakeTransfers:
    """The Data Transfer Service of a test: one scheduled query, and what was done to it."""

    def __init__(self, busy: bool = False):
        self.calls: list[tuple[str, str]] = []
        self._busy = busy

    def find(self, project, location, display_name):
        self.calls.append(("find", display_name))
        return f"projects/{project}/locations/{location}/transferConfigs/cfg-{display_name.replace('/', '-')}"

    def busy(self, name):
        return self._busy

    def pause(self, name):
        self.calls.append(("pause", name))

    def resume(self, name):
        self.calls.append(("resume", name))


class FakeClient:
    """A BigQuery client whose copy job fails: nothing else is asked of it."""

    def __init__(self):
        self.sql, self.copies = [], []

    def query(self, sql, job_config=None, location=None, retry=None, job_retry=None):
        self.sql.append(sql)
        return type("Job", (), {"done": lambda self, retry=None: True,
                                "result": lambda self, retry=None, job_retry=None: [(3,)]})()

    def copy_table(self, source, destination, job_config=None, location=None, retry=None):
        self.copies.append((source, destination, job_config.write_disposition, job_config.operation_type))
        raise RuntimeError("quota exceeded")


def test_a_failed_copy_leaves_the_table_as_it_was_and_resumes_its_query(dev):
    """The rows are replaced in one copy job: when it fails, the table is untouched, the safety
    snapshot stays, and the paused scheduled query is resumed."""
    fake, transfers = FakeClient(), FakeTransfers()
    restorer_ = Restorer(fake, dev, lambda: NOW, transfers=transfers)
    request = check_request(dev, NOW, "mart.revenue_mrr", in_place=True, yes=True)
    snapshot = Snapshot("acme-warehouse-dev.dev_backup_us_35d.dev_mart__revenue_mrr__daily_snapshots__20260115T0610",
                        "dev_mart__revenue_mrr__daily_snapshots__20260115T0610", "daily_snapshots", DAILY)
    safety = "acme-warehouse-dev.dev_backup_us_400d." + snapshot_table_name("dev_mart", "revenue_mrr",
                                                                             PRE_RESTORE_POLICY, NOW)
    transfer = restorer_._transfer_of(request.table)
    steps = restorer_._steps(request.table, RestorePoint(DAILY, snapshot), request.table, True, safety, None, NOW,
                             None, transfer, False)
    assert [s.kind for s in steps] == ["query", "pause", "query", "copy", "query", "resume"]
    procedure = RestoreProcedure(request, RestorePoint(DAILY, snapshot), request.table, True, safety, None, steps,
                                 transfer)
    with pytest.raises(RestoreError) as caught:
        restorer_.run(procedure)
    assert str(caught.value) == (
        "step 4/6 (Replace the rows of mart.revenue_mrr with dev_mart__revenue_mrr__daily_snapshots__20260115T0610's "
        "(one copy job)) failed: quota exceeded; mart.revenue_mrr is as it was (its rows are replaced in one copy job, "
        "which did not run); its scheduled query is resumed; fix: fix the cause and run the restore again")
    assert [sql.split()[0] for sql in fake.sql] == ["SELECT", "CREATE"]  # the count, the safety snapshot
    assert fake.copies == [(snapshot.table_id, "acme-warehouse-dev.dev_mart.revenue_mrr", "WRITE_TRUNCATE", "RESTORE")]
    name = "projects/acme-warehouse-dev/locations/US/transferConfigs/cfg-mart-revenue-revenue_mrr"
    assert transfers.calls == [("find", "mart/revenue/revenue_mrr"), ("pause", name), ("resume", name)]


def test_a_run_in_progress_refuses_the_restore_before_anything_changes(dev):
    restorer_ = Restorer(FakeClient(), dev, lambda: NOW, transfers=FakeTransfers(busy=True))
    request = check_request(dev, NOW, "mart.revenue_mrr", in_place=True, yes=True)
    message = "a run of mart/revenue/revenue_mrr, which builds mart.revenue_mrr, is in progress; fix: wait for it"
    with pytest.raises(RestoreError, match=re.escape(message)):
        restorer_._transfer_of(request.table)


def test_the_terminal_display_shows_each_step():
    from io import StringIO

    from rich.console import Console

    from infra.cli.backups import TerminalSteps
    from infra.ops.restore import Step

    out = StringIO()
    steps = TerminalSteps(Console(file=out, force_terminal=True, width=200, color_system=None))
    first, second = Step(1, 2, "Clone [a] into b", "..."), Step(2, 2, "Count the rows of b", "...", "target")
    steps.started(first)
    steps.running(first, 3.0, type("Job", (), {"state": "RUNNING", "total_bytes_processed": 2e9})())
    steps.finished(first, 3.2, "done")
    steps.started(second)
    steps.failed(second, 0.1, "boom")
    text = out.getvalue()
    assert "\u2713 [1/2] Clone [a] into b: done (3.2 s)" in text
    assert "\u2717 [2/2] Count the rows of b: failed (0.1 s)" in text


def test_the_cli_has_the_backup_commands():
    assert {"backups", "restore"} <= set(main_group.commands)
    assert set(main_group.commands["backups"].commands) == {"copy", "coverage", "list"}


# --- drills against the emulator ------------------------------------------------------------------------

def test_restore_from_a_snapshot_after_deleting_rows_and_after_dropping_the_table(client, wh):
    table_id = make_table(client, wh)
    original = all_rows(client, table_id)
    assert len(original) == len(ROWS)
    name = take_snapshot(client, wh, "orders", "daily_snapshots", DAILY)
    assert parse_snapshot_name(name, mart(wh), "orders").taken_at == DAILY

    client.query(f"DELETE FROM `{table_id}` WHERE id > 10", job_retry=None).result()
    progress = Recorder()
    result = restorer(client, wh, progress=progress).restore("mart.orders")
    target = f"{PROJECT}.{mart(wh)}.orders_restored_20260115T0610"
    assert result.procedure.point.snapshot.name == name and result.procedure.target.table_id == target
    assert result.rows == result.expected_rows == len(ROWS)
    assert all_rows(client, target) == original  # every row, every column
    assert client.get_table(target).time_partitioning.field == "d"  # a clone keeps the partitioning
    assert len(all_rows(client, table_id)) == 10  # the table itself is untouched
    assert [e[:2] for e in progress.events] == [("started", 1), ("finished", 1), ("started", 2), ("finished", 2),
                                                ("started", 3), ("finished", 3)]

    client.query(f"DROP TABLE `{table_id}`", job_retry=None).result()
    listing = restorer(client, wh).listing("mart.orders", details=True)
    assert not listing.exists and listing.window_start is None
    assert [s.name for s in listing.snapshots] == [name]
    assert "Time travel: none" in render_listing(listing)
    result = restorer(client, wh).restore("mart.orders", to="orders_back")
    assert all_rows(client, f"{PROJECT}.{mart(wh)}.orders_back") == original
    # In place, a dropped table needs no safety snapshot: it is cloned back under its own name.
    result = restorer(client, wh).restore("mart.orders", in_place=True, yes=True)
    assert not result.procedure.replaces and result.procedure.safety_snapshot is None
    assert all_rows(client, table_id) == original
    assert table_lists(client, wh)[backup(wh)] == [name]


def test_restore_by_time_travel_after_deleting_rows(client, wh):
    table_id = make_table(client, wh)
    original = all_rows(client, table_id)
    time.sleep(0.3)
    before_delete = real_clock()
    time.sleep(0.3)
    client.query(f"DELETE FROM `{table_id}` WHERE customer = 'c1' OR customer IS NULL", job_retry=None).result()
    assert len(all_rows(client, table_id)) < len(original)

    restorer_ = restorer(client, wh, clock=real_clock)
    procedure = restorer_.prepare(restorer_.request("mart.orders", at=before_delete.isoformat()))
    assert procedure.point == RestorePoint(before_delete)  # no snapshot: time travel
    assert any("AS SELECT * FROM" in step.sql and "FOR SYSTEM_TIME AS OF" in step.sql for step in procedure.steps)
    result = restorer_.run(procedure)
    assert result.rows == len(original)
    assert all_rows(client, procedure.target.table_id) == original


def test_restore_in_place_from_a_snapshot_takes_a_restorable_safety_snapshot(client, wh):
    table_id = make_table(client, wh)
    original = all_rows(client, table_id)
    name = take_snapshot(client, wh, "orders", "daily_snapshots", DAILY)
    client.query(f"DELETE FROM `{table_id}` WHERE MOD(id, 3) = 0", job_retry=None).result()
    client.query(f"UPDATE `{table_id}` SET customer = 'broken' WHERE id < 5", job_retry=None).result()
    broken = all_rows(client, table_id)

    result = restorer(client, wh).restore("mart.orders", snapshot=name, in_place=True, yes=True)
    safety = snapshot_table_name(mart(wh), "orders", PRE_RESTORE_POLICY, NOW)
    assert result.procedure.safety_snapshot == f"{PROJECT}.{safety_dataset(wh)}.{safety}"
    # no moment without the table: its rows are replaced in one copy job
    assert [s.text.split()[0] for s in result.procedure.steps] == ["Count", "Safety", "Replace", "Count"]
    assert all_rows(client, table_id) == original
    assert client.get_table(table_id).time_partitioning.field == "d"
    assert client.get_table(f"{PROJECT}.{safety_dataset(wh)}.{safety}").table_type == "SNAPSHOT"

    # The safety snapshot is itself a restore point: only by name, never chosen by itself.
    listing = restorer(client, wh).listing("mart.orders")
    assert {s.policy for s in listing.snapshots} == {"daily_snapshots", PRE_RESTORE_POLICY}
    assert restorer(client, wh).prepare(restorer(client, wh).request("mart.orders")).point.snapshot.name == name
    restorer(client, wh).restore("mart.orders", snapshot=safety, to="orders_before_restore")
    assert all_rows(client, f"{PROJECT}.{mart(wh)}.orders_before_restore") == broken


def test_restore_in_place_by_time_travel(client, wh):
    table_id = make_table(client, wh)
    original = all_rows(client, table_id)
    time.sleep(0.3)
    good = real_clock()
    time.sleep(0.3)
    client.query(f"DELETE FROM `{table_id}` WHERE id > 3", job_retry=None).result()

    result = restorer(client, wh, clock=real_clock).restore("mart.orders", at=good.isoformat(), in_place=True,
                                                            yes=True)
    assert result.procedure.point.snapshot is None and result.procedure.staging is not None
    assert all_rows(client, table_id) == original
    tables = table_lists(client, wh)
    assert tables[mart(wh)] == ["orders"]  # the staging table is gone
    safety = tables[safety_dataset(wh)]
    assert [parse_snapshot_name(t, mart(wh), "orders").policy for t in safety] == [PRE_RESTORE_POLICY]
    assert len(all_rows(client, f"{PROJECT}.{safety_dataset(wh)}.{safety[0]}")) == 3
    assert [s.text.split()[0] for s in result.procedure.steps] == ["Count", "Safety", "Clone", "Replace", "Drop",
                                                                     "Count"]


def test_bad_input_is_refused_and_changes_nothing(client, wh):
    make_table(client, wh)
    make_table(client, wh, "invoices", ROWS[:3])
    name = take_snapshot(client, wh, "orders", "daily_snapshots", DAILY)
    other = take_snapshot(client, wh, "invoices", "daily_snapshots", DAILY)
    make_table(client, wh, "orders_copy", ROWS[:1])
    before = table_lists(client, wh)
    cases = [
        (dict(table="stg.orders"), "unknown dataset 'stg'"),
        (dict(table="mart.nothing"), "unknown table mart.nothing"),
        (dict(table="mart.orders", at="2026-01-14T00:00"), "is older than any backup of mart.orders"),
        (dict(table="mart.orders", at="2026-01-21T00:00"), "is in the future"),
        (dict(table="mart.orders", snapshot=name + "x"), "does not exist in"),
        (dict(table="mart.orders", snapshot=other), f"--snapshot {other} is not a snapshot of mart.orders"),
        (dict(table="mart.orders", to="orders_copy"), "--to orders_copy: mart.orders_copy already exists"),
        (dict(table="mart.orders", in_place=True), "add --yes"),
        (dict(table="mart.orders", at="2026-01-16T00:00", snapshot=name), "--at and --snapshot"),
    ]
    for options, message in cases:
        options = dict(options)
        table = options.pop("table")
        with pytest.raises(RestoreError, match=re.escape(message)):
            restorer(client, wh).restore(table, **options)
        assert table_lists(client, wh) == before, options
    # The default target exists already (a second restore of the same point): refused too.
    restorer(client, wh).restore("mart.orders")
    after_one = table_lists(client, wh)
    with pytest.raises(RestoreError, match="already exists, and a restore never overwrites a table"):
        restorer(client, wh).restore("mart.orders")
    assert table_lists(client, wh) == after_one


# --- the CLI ---------------------------------------------------------------------------------------------

def test_cli_errors_are_one_line_without_credentials():
    cases = [
        (["restore", "mart.revenue_mrr"], "restore: no Google Cloud credentials found for project "
                                          "acme-warehouse-dev; fix: run `gcloud auth application-default login`"),
        (["backups", "list", "mart.revenue_mrr"], "backups list: no Google Cloud credentials found"),
        (["restore", "mart.revenue_mrr", "--at", "2999-01-01"], "restore: --at 2999-01-01 is in the future"),
        (["restore", "mart.revenue_mrr", "--at", "2026-01-01", "--snapshot", "s"], "restore: --at and --snapshot"),
        (["restore", "mart.revenue_mrr", "--in-place"], "restore: restoring in place replaces the table's rows"),
        (["restore", "nope.revenue_mrr"], "restore: unknown dataset 'nope'"),
        (["backups", "list", "mart"], "backups list: 'mart' is not <dataset>.<table>"),
    ]
    for args, message in cases:
        assert one_line_error(cli(*args)).startswith(message)


@pytest.fixture
def cli_project(tmp_path: Path, emulator, client):
    """A scratch copy of the project whose dev stack has a prefix of its own, with `mart` and
    `backup_us` created in the emulator."""
    project = copy_project(tmp_path / "project")
    stack = project / "Pulumi.dev.yaml"
    stack.write_text(stack.read_text().replace("datasetPrefix: dev_", "datasetPrefix: rcli_"))
    for name in ("mart", *BACKUP_DATASETS):
        ds = bigquery.Dataset(f"{PROJECT}.rcli_{name}")
        ds.location = "US"
        client.create_dataset(ds)
    yield project
    for name in ("mart", *BACKUP_DATASETS):
        client.delete_dataset(f"{PROJECT}.rcli_{name}", delete_contents=True, not_found_ok=True)


def test_cli_lists_and_restores_through_the_emulator(cli_project, emulator, client):
    warehouse = isolated(load_for_stack(ROOT, "dev"), "rcli_")
    table_id = make_table(client, warehouse)
    original = all_rows(client, table_id)
    name = take_snapshot(client, warehouse, "orders", "daily_snapshots", DAILY)
    base = ["--root", str(cli_project)]
    flags = ["--stack", "dev", "--emulator-url", emulator.url]

    listed = cli(*base, "backups", "list", "mart.orders", *flags)
    assert listed.returncode == 0, listed.stderr
    assert re.search(rf"{name}\s+daily_snapshots\s+2026-01-15 06:10 UTC\s+unknown\s+{len(ROWS)}", listed.stdout)
    assert "Time travel: from " in listed.stdout

    client.query(f"DELETE FROM `{table_id}` WHERE TRUE", job_retry=None).result()
    done = cli(*base, "restore", "mart.orders", "--snapshot", name, "--to", "orders_back", *flags)
    assert done.returncode == 0, done.stderr
    assert "[1/3] Count the rows of the restore point" in done.stdout  # plain lines: not a terminal
    assert f"Restored mart.orders_back ({PROJECT}.rcli_mart.orders_back): {len(ROWS)} rows" in done.stdout
    assert all_rows(client, f"{PROJECT}.rcli_mart.orders_back") == original

    again = cli(*base, "restore", "mart.orders", "--snapshot", name, "--to", "orders_back", *flags)
    assert one_line_error(again) == ("restore: --to orders_back: mart.orders_back already exists, and a restore "
                                     "never overwrites a table; fix: pass --to with a new table name "
                                     "(or drop that table yourself first)")
    assert one_line_error(cli(*base, "restore", "mart.orders", "--snapshot", "nope", *flags)).startswith(
        "restore: --snapshot nope does not exist in rcli_backup_us_28d, rcli_backup_us_35d, rcli_backup_us_400d")
