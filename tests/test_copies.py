"""One-off copies (`backups/one_off_copies.yaml`, `infra/ops/copies.py`) and `backups copy NAME`.

The copies run against the local BigQuery emulator, each test in datasets of its own (the dev
stack's model under a prefix of the test's own: `<prefix>mart`, `<prefix>backup_us_400d`), so the
tests do not collide with each other, with tests/test_restore.py or with the local run.

Source tables are made by `CREATE TABLE ... AS SELECT`, not by DML: the emulator counts a table's
rows (`numRows`, which the copy checks) when a statement creates the table, not after an INSERT,
where BigQuery counts them after both. Waiting for a source runs on a fake clock (no real sleep).
A copy job that BigQuery accepts and then fails cannot be made in the emulator (it refuses such a
job when it is inserted, and keeps no trace of it), so that path runs against a small fake client.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import re
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest
from google.api_core.exceptions import Forbidden, NotFound
from google.cloud import bigquery

from infra.ops import copies
from infra.ops.copies import COPY_LABEL, POLL_SECONDS, Copier, CopyError, CopyResult, copy_job_id, find_copy
from tests.conftest import copy_project, isolated, one_line_error, run_cli
from tests.conftest import run_cli_without_credentials as cli_without_credentials

UTC = dt.UTC
PROJECT = "acme-warehouse-dev"  # the emulator's project and the dev stack's
COPY = "revenue_mrr_before_eur"  # the shipped one-off copy: mart.revenue_mrr -> backup_us_400d.<COPY>
DATASETS = ("mart", "backup_us_400d")
NOW = dt.datetime(2026, 1, 20, 12, 0, tzinfo=UTC)
LATER = dt.datetime(2026, 2, 3, 8, 30, tzinfo=UTC)
ROWS = [(dt.date(2026, 1, 1), Decimal("1200.5")), (dt.date(2026, 2, 1), Decimal("1312")),
        (dt.date(2026, 3, 1), Decimal("1400.25"))]
DESCRIPTION = "MRR as computed before EUR subscriptions are counted, kept for the finance reconciliation."
FIX_SOURCE = "fix: run the copy once the table is built, or pass --wait-minutes to wait for it"


# --- set-up -----------------------------------------------------------------------------------------

def create_datasets(client, prefix: str) -> None:
    for name in DATASETS:
        ds = bigquery.Dataset(f"{PROJECT}.{prefix}{name}")
        ds.location = "US"
        client.create_dataset(ds)


def delete_datasets(client, prefix: str) -> None:
    for name in DATASETS:
        client.delete_dataset(f"{PROJECT}.{prefix}{name}", delete_contents=True, not_found_ok=True)


@pytest.fixture
def wh(dev, client, request):
    """The dev model under a prefix of the test's own, with its `mart` and `backup_us_400d`
    datasets created in the emulator (and deleted afterwards)."""
    digest = hashlib.sha256(request.node.nodeid.encode()).hexdigest()[:6]
    prefix = "c_" + re.sub(r"\W", "_", request.node.name)[5:30].strip("_") + f"_{digest}_"
    create_datasets(client, prefix)
    yield isolated(dev, prefix)
    delete_datasets(client, prefix)


def source_id(warehouse) -> str:
    return f"{PROJECT}.{warehouse.dataset('mart').dataset_id}.revenue_mrr"


def destination_id(warehouse) -> str:
    return f"{PROJECT}.{warehouse.dataset('backup_us_400d').dataset_id}.{COPY}"


def q(client, sql: str) -> list[tuple]:
    return [tuple(r.values()) for r in client.query(sql, job_retry=None).result()]


def make_table(client, table_id: str, rows=ROWS) -> str:
    """`table_id` holding `rows` (month, mrr), made in one CREATE TABLE AS SELECT."""
    select = " UNION ALL ".join(f"SELECT DATE '{d}' AS month, NUMERIC '{m}' AS mrr" for d, m in rows)
    q(client, f"CREATE TABLE `{table_id}` AS {select}")
    return table_id


def make_empty_table(client, table_id: str) -> str:
    schema = [bigquery.SchemaField("month", "DATE"), bigquery.SchemaField("mrr", "NUMERIC")]
    client.create_table(bigquery.Table(table_id, schema=schema))
    return table_id


def all_rows(client, table_id: str) -> list[tuple]:
    return q(client, f"SELECT month, mrr FROM `{table_id}` ORDER BY month")


def job_or_none(client, job_id: str):
    try:
        return client.get_job(job_id, location="US")
    except NotFound:
        return None


def table_or_none(client, table_id: str):
    try:
        return client.get_table(table_id)
    except NotFound:
        return None


def copier(client, warehouse, clock=NOW, **kw) -> Copier:
    return Copier(client, warehouse, clock=lambda: clock, **kw)


def first_job_id(warehouse, attempt: int = 1) -> str:
    return copy_job_id(COPY, PROJECT, source_id(warehouse), destination_id(warehouse), attempt)


def recorded_description(warehouse, job_id: str, moment: str = "2026-01-20 12:00 UTC") -> str:
    return (f"One-off copy {COPY} of {source_id(warehouse)}, made {moment} by job {job_id} "
            f"(backups/one_off_copies.yaml): {DESCRIPTION}")


class FakeTime:
    """`time.monotonic` and `time.sleep` for the copies module: sleeping moves the clock at once.
    `on_sleep(n)` runs after the n-th sleep (to make the awaited table appear)."""

    def __init__(self, on_sleep=None):
        self.now = 1000.0
        self.sleeps: list[float] = []
        self.on_sleep = on_sleep

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        if self.on_sleep is not None:
            self.on_sleep(len(self.sleeps))


@pytest.fixture
def fake_time(monkeypatch):
    """A FakeTime installed as the copies module's `time` (the deadline of a wait reads
    `time.monotonic()` there; the Copier's own `sleep` must be given the fake's too)."""
    fake = FakeTime()
    monkeypatch.setattr(copies, "time", SimpleNamespace(monotonic=fake.monotonic, sleep=fake.sleep))
    return fake


# --- copies against the emulator -----------------------------------------------------------------------

def test_a_copy_copies_the_rows_and_records_what_it_did(client, wh):
    make_table(client, source_id(wh))
    result = copier(client, wh).run(COPY)

    job_id = first_job_id(wh)
    assert result == CopyResult(COPY, source_id(wh), destination_id(wh), job_id, len(ROWS), already_done=False)
    assert all_rows(client, destination_id(wh)) == ROWS  # every row, every value
    assert all_rows(client, source_id(wh)) == ROWS  # the source is untouched
    table = client.get_table(destination_id(wh))
    assert table.labels == {COPY_LABEL: "revenue-mrr-before-eur"}
    assert table.description == recorded_description(wh, job_id)
    job = client.get_job(job_id, location="US")  # ran as a copy job under the derived id
    assert job.job_type == "copy" and job.state == "DONE" and job.error_result is None
    assert job.write_disposition == "WRITE_EMPTY"
    assert job.destination.to_api_repr()["tableId"] == COPY


def test_running_a_copy_again_finds_the_first_job_and_copies_nothing(client, wh):
    make_table(client, source_id(wh))
    first = copier(client, wh).run(COPY)
    q(client, f"INSERT INTO `{source_id(wh)}` VALUES (DATE '2026-04-01', NUMERIC '1500')")  # the source moves on

    again = copier(client, wh, clock=LATER).run(COPY)
    assert again == dataclasses.replace(first, already_done=True)
    assert all_rows(client, destination_id(wh)) == ROWS  # neither appended nor replaced
    assert client.get_table(destination_id(wh)).description == recorded_description(wh, first.job_id)  # not LATER
    assert job_or_none(client, first_job_id(wh, attempt=2)) is None  # no second job


def test_a_copy_whose_table_was_dropped_runs_again_under_a_new_job_id(client, wh):
    make_table(client, source_id(wh))
    first = copier(client, wh).run(COPY)
    assert first.job_id == first_job_id(wh)
    client.delete_table(destination_id(wh))

    second = copier(client, wh, clock=LATER).run(COPY)
    assert second.job_id == first_job_id(wh, attempt=2) and not second.already_done and second.rows == len(ROWS)
    assert all_rows(client, destination_id(wh)) == ROWS
    assert client.get_table(destination_id(wh)).description == recorded_description(wh, second.job_id,
                                                                                     "2026-02-03 08:30 UTC")
    # A run after that reports the job that made the table there now, not the first one.
    third = copier(client, wh).run(COPY)
    assert third == dataclasses.replace(second, already_done=True)
    assert job_or_none(client, first_job_id(wh, attempt=3)) is None


def test_a_missing_source_is_refused_at_once_without_a_wait(client, wh, fake_time):
    with pytest.raises(CopyError) as caught:
        copier(client, wh, sleep=fake_time.sleep).run(COPY)
    assert str(caught.value) == (
        f"the source mart.revenue_mrr ({source_id(wh)}) does not exist yet: `pulumi up` creates it and its first "
        f"scheduled run fills it; {FIX_SOURCE}")
    assert fake_time.sleeps == []
    assert table_or_none(client, destination_id(wh)) is None and job_or_none(client, first_job_id(wh)) is None


def test_a_missing_source_is_waited_for_then_refused(client, wh, fake_time):
    with pytest.raises(CopyError, match=re.escape(f"({source_id(wh)}) does not exist yet") + ".*" + FIX_SOURCE):
        copier(client, wh, sleep=fake_time.sleep).run(COPY, wait_seconds=60)
    assert fake_time.sleeps == [POLL_SECONDS] * 12  # polled every 5 s until the minute was up
    assert table_or_none(client, destination_id(wh)) is None and job_or_none(client, first_job_id(wh)) is None


def test_a_source_that_appears_while_waiting_is_copied(client, wh, fake_time):
    fake_time.on_sleep = lambda n: make_table(client, source_id(wh)) if n == 2 else None
    result = copier(client, wh, sleep=fake_time.sleep).run(COPY, wait_seconds=60)
    assert fake_time.sleeps == [POLL_SECONDS] * 2  # copied at the first look after it appeared
    assert not result.already_done and result.rows == len(ROWS)
    assert all_rows(client, destination_id(wh)) == ROWS


def test_an_empty_source_is_refused(client, wh, fake_time):
    make_empty_table(client, source_id(wh))
    with pytest.raises(CopyError) as caught:
        copier(client, wh, sleep=fake_time.sleep).run(COPY)
    assert str(caught.value) == (
        f"the source mart.revenue_mrr ({source_id(wh)}) has no rows yet: `pulumi up` creates it and its first "
        f"scheduled run fills it; {FIX_SOURCE}")
    with pytest.raises(CopyError, match="has no rows yet"):  # nor after waiting for rows that never come
        copier(client, wh, sleep=fake_time.sleep).run(COPY, wait_seconds=10)
    assert fake_time.sleeps == [POLL_SECONDS] * 2
    assert table_or_none(client, destination_id(wh)) is None and job_or_none(client, first_job_id(wh)) is None


def test_a_destination_made_by_someone_else_is_never_overwritten(client, wh):
    make_table(client, source_id(wh))
    theirs = ROWS[:1]
    make_table(client, destination_id(wh), theirs)
    table = client.get_table(destination_id(wh))
    table.description = "made by hand"
    client.update_table(table, ["description"])

    with pytest.raises(CopyError) as caught:
        copier(client, wh).run(COPY)
    assert str(caught.value) == (
        f"backup_us_400d.{COPY} ({destination_id(wh)}) exists already, and a one-off copy never overwrites; "
        "fix: choose another destination in backups/one_off_copies.yaml, or drop that table first")
    assert all_rows(client, destination_id(wh)) == theirs
    after = client.get_table(destination_id(wh))
    assert after.description == "made by hand" and COPY_LABEL not in (after.labels or {})
    assert job_or_none(client, first_job_id(wh)) is None  # no job ran


def test_an_unknown_copy_is_refused_with_the_known_names(dev):
    # Refused before any BigQuery call: the Copier has no client at all here.
    with pytest.raises(CopyError) as caught:
        Copier(None, dev).run("revenue_mrr_before_eu")
    assert str(caught.value) == (
        "there is no one-off copy 'revenue_mrr_before_eu' (did you mean 'revenue_mrr_before_eur'?); "
        "fix: use one of: revenue_mrr_before_eur (backups/one_off_copies.yaml)")
    with pytest.raises(CopyError, match=r"^there is no one-off copy 'zzz'; fix: use one of: revenue_mrr_before_eur "):
        find_copy(dev, "zzz")
    with pytest.raises(CopyError, match=re.escape("fix: use one of: (none declared) (backups/one_off_copies.yaml)")):
        find_copy(dataclasses.replace(dev, backups=None), COPY)
    assert find_copy(dev, COPY).source == "mart.revenue_mrr"


# --- a copy job that BigQuery accepts and then fails (not possible in the emulator) -------------------

class FakeJob:
    def __init__(self, error: str | None):
        self.error_result = {"reason": "quotaExceeded", "message": error} if error else None
        self.state = "DONE"

    def result(self):
        if self.error_result:
            raise Forbidden(self.error_result["message"])
        return self


class FakeClient:
    """Tables by id ({"rows": n, "labels": ..., "description": ...}) and jobs by id; the next
    `fail` copy jobs fail as BigQuery's do: created, then DONE with an error."""

    def __init__(self, tables: dict, fail: int = 0):
        self.tables = tables
        self.jobs: dict[str, FakeJob] = {}
        self.fail = fail
        self.updates: list[str] = []

    def get_job(self, job_id, location=None):
        if job_id not in self.jobs:
            raise NotFound(job_id)
        return self.jobs[job_id]

    def get_table(self, table_id):
        if table_id not in self.tables:
            raise NotFound(table_id)
        t = self.tables[table_id]
        return SimpleNamespace(num_rows=t["rows"], labels=dict(t.get("labels", {})), description=None, id=table_id)

    def copy_table(self, source, destination, job_id, location, job_config):
        assert job_id not in self.jobs and job_config.write_disposition == "WRITE_EMPTY"
        failing, self.fail = self.fail > 0, max(self.fail - 1, 0)
        self.jobs[job_id] = FakeJob("Quota exceeded: too many copy jobs" if failing else None)
        if not failing:
            self.tables[destination] = {"rows": self.tables[source]["rows"]}
        return self.jobs[job_id]

    def update_table(self, table, fields):
        self.tables[table.id].update(labels=table.labels, description=table.description)
        self.updates.append(table.id)


def test_a_failed_copy_job_is_one_line_and_retried_under_a_new_id(dev):
    source, destination = "acme-warehouse-dev.dev_mart.revenue_mrr", f"acme-warehouse-dev.dev_backup_us_400d.{COPY}"
    fake = FakeClient({source: {"rows": 7}}, fail=1)
    first = copy_job_id(COPY, PROJECT, source, destination)
    with pytest.raises(CopyError) as caught:
        copier(fake, dev).run(COPY)
    assert str(caught.value) == (f"the copy job {first} failed: Quota exceeded: too many copy jobs; fix: fix the "
                                 "cause and run `backups copy` again (it retries under a new job id)")
    assert destination not in fake.tables and fake.updates == []  # nothing recorded for a failed copy

    retried = copier(fake, dev).run(COPY)
    assert retried == CopyResult(COPY, source, destination, first + "_2", 7, already_done=False)
    assert fake.tables[destination]["labels"] == {COPY_LABEL: "revenue-mrr-before-eur"}
    assert copier(fake, dev).run(COPY) == dataclasses.replace(retried, already_done=True)
    assert sorted(fake.jobs) == [first, first + "_2"]


def test_a_copy_still_running_is_waited_for_not_started_twice(dev):
    source, destination = "acme-warehouse-dev.dev_mart.revenue_mrr", f"acme-warehouse-dev.dev_backup_us_400d.{COPY}"
    fake = FakeClient({source: {"rows": 7}})
    first = copy_job_id(COPY, PROJECT, source, destination)
    fake.jobs[first] = FakeJob(None)
    fake.jobs[first].state = "RUNNING"  # another run of the command started it
    with pytest.raises(CopyError) as caught:
        copier(fake, dev).run(COPY)
    assert str(caught.value) == (f"the copy job {first} of {COPY} is still running; fix: run `backups copy` again "
                                 "once it has finished (it then reports that job)")
    assert sorted(fake.jobs) == [first] and destination not in fake.tables


# --- the CLI ---------------------------------------------------------------------------------------------

def test_cli_errors_are_one_line_without_credentials():
    assert one_line_error(cli_without_credentials("backups", "copy", COPY)).startswith(
        "backups copy: no Google Cloud credentials found for project acme-warehouse-dev; fix: ")
    # The name is checked before any credentials are needed.
    assert one_line_error(cli_without_credentials("backups", "copy", "revenue_mrr_before_eu")) == (
        "backups copy: there is no one-off copy 'revenue_mrr_before_eu' (did you mean 'revenue_mrr_before_eur'?); "
        "fix: use one of: revenue_mrr_before_eur (backups/one_off_copies.yaml)")


@pytest.fixture
def cli_project(tmp_path: Path, client):
    """A scratch copy of the project whose dev stack has a prefix of its own (`ccli_`), with
    `mart` and `backup_us_400d` created in the emulator."""
    project = copy_project(tmp_path / "project")
    stack = project / "Pulumi.dev.yaml"
    stack.write_text(stack.read_text().replace("datasetPrefix: dev_", "datasetPrefix: ccli_"))
    create_datasets(client, "ccli_")
    yield project
    delete_datasets(client, "ccli_")


def test_cli_copies_through_the_emulator_once(cli_project, emulator, client, dev):
    warehouse = isolated(dev, "ccli_")
    args = ["--root", str(cli_project), "backups", "copy", COPY, "--stack", "dev", "--emulator-url", emulator.url]

    missing = run_cli(*args)
    assert one_line_error(missing) == (
        f"backups copy: the source mart.revenue_mrr ({source_id(warehouse)}) does not exist yet: `pulumi up` "
        f"creates it and its first scheduled run fills it; {FIX_SOURCE}")

    make_table(client, source_id(warehouse))
    done = run_cli(*args)
    assert done.returncode == 0, done.stderr
    job_id = first_job_id(warehouse)
    assert done.stdout == (f"{COPY}: copied {source_id(warehouse)} into {destination_id(warehouse)} ({len(ROWS)} rows, "
                           f"job {job_id}); recorded on the table (label warehouse-copy, description).\n")
    assert all_rows(client, destination_id(warehouse)) == ROWS
    assert client.get_table(destination_id(warehouse)).labels == {COPY_LABEL: "revenue-mrr-before-eur"}

    again = run_cli(*args, "--wait-minutes", "1")
    assert again.returncode == 0, again.stderr
    assert again.stdout == (f"{COPY}: already copied by job {job_id}: {destination_id(warehouse)} holds {len(ROWS)} "
                            "rows; nothing to do.\n")
