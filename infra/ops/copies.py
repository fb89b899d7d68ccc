"""One-off copies (`backups/one_off_copies.yaml`), run by `backups copy NAME` and told how they ended.

A one-off copy was a `gcp.bigquery.Job` resource: on a fresh stack it ran before its source table
existed, and the provider's create only polls that the job exists, never its error, so a failed
copy still showed a green `up` (docs/real-world.md). Run here instead, after `up` has made the
source, each copy:

- checks its source exists and holds rows (or waits for it, `wait_seconds`), and that its
  destination, a backup dataset's table, does not exist yet (a copy never overwrites:
  `WRITE_EMPTY`);
- runs as a copy job with an id derived from what it copies, so that running it again finds the
  first job and reports it instead of copying twice (a failed job is retried under a new id);
- waits for the job and reports its error in one line;
- records what it did on the destination: the labels `warehouse-copy: <name>` and a description
  naming the source, the moment and the job.

Deliberately not here: the command-line options (`infra/cli/backups.py`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from infra.declarations.backups import OneOffCopySpec
from infra.declarations.keys import suggest
from infra.model.warehouse import Warehouse
from infra.ops.bigquery_client import one_line

POLL_SECONDS = 5.0
COPY_LABEL = "warehouse-copy"


class CopyError(Exception):
    """A copy refused or failed, for people: `what; fix: how`."""

    def __init__(self, what: str, fix: str):
        super().__init__(f"{what}; fix: {fix}")


@dataclass(frozen=True)
class CopyResult:
    name: str
    source: str  # table ids
    destination: str
    job_id: str
    rows: int
    already_done: bool  # an earlier run of this command made it


def copy_job_id(name: str, project: str, source: str, destination: str, attempt: int = 1) -> str:
    """Stable for the same copy, different for any other: a re-run finds the first job."""
    digest = hashlib.sha256(f"{project}:{source}:{destination}".encode()).hexdigest()[:12]
    return f"warehouse_copy_{name}_{digest}" + (f"_{attempt}" if attempt > 1 else "")


def find_copy(warehouse: Warehouse, name: str) -> OneOffCopySpec:
    copies = warehouse.backups.declarations.copies if warehouse.backups else ()
    found = next((c for c in copies if c.name == name), None)
    if found is None:
        names = sorted(c.name for c in copies)
        raise CopyError(f"there is no one-off copy {name!r}{suggest(name, names)}",
                        f"use one of: {', '.join(names) or '(none declared)'} (backups/one_off_copies.yaml)")
    return found


class Copier:
    """Runs the one-off copies of one stack with a `google.cloud.bigquery.Client`."""

    def __init__(self, client: Any, warehouse: Warehouse, clock: Callable[[], dt.datetime] | None = None,
                 sleep: Callable[[float], None] = time.sleep):
        self.client = client
        self.warehouse = warehouse
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self.sleep = sleep

    def table_id(self, managed: str) -> str:
        dataset, _, table = managed.partition(".")
        d = self.warehouse.dataset(dataset)
        return f"{d.project}.{d.dataset_id}.{table}"

    def run(self, name: str, wait_seconds: float = 0.0) -> CopyResult:
        spec = find_copy(self.warehouse, name)
        source, destination = self.table_id(spec.source), self.table_id(spec.destination)
        location = self.warehouse.dataset(spec.source.partition(".")[0]).location
        project = self.warehouse.stack.project
        attempt, done = 1, None
        while True:
            job_id = copy_job_id(name, project, source, destination, attempt)
            earlier = self._job(job_id, location)
            if earlier is None:
                break
            if getattr(earlier, "state", "DONE") != "DONE":  # a copy started by another run of this command
                raise CopyError(f"the copy job {job_id} of {name} is still {str(earlier.state).lower()}",
                                "run `backups copy` again once it has finished (it then reports that job)")
            if earlier.error_result is None:
                done = job_id  # the newest attempt that succeeded made the table there now
            attempt += 1  # a failed attempt (or its table dropped since): a new job id
        got = self._table(destination) if done is not None else None
        if got is not None:
            return CopyResult(name, source, destination, done, got.num_rows or 0, already_done=True)
        self._wait_for_source(spec, source, wait_seconds)
        if self._table(destination) is not None:
            raise CopyError(f"{spec.destination} ({destination}) exists already, and a one-off copy never overwrites",
                            "choose another destination in backups/one_off_copies.yaml, or drop that table first")
        job = self._copy(source, destination, job_id, location)
        if job.error_result:
            raise CopyError(f"the copy job {job_id} failed: {job.error_result.get('message')}",
                            "fix the cause and run `backups copy` again (it retries under a new job id)")
        self._record(spec, source, destination, job_id)
        got = self._table(destination)
        return CopyResult(name, source, destination, job_id, got.num_rows or 0 if got else 0, already_done=False)

    def _wait_for_source(self, spec: OneOffCopySpec, source: str, wait_seconds: float) -> None:
        deadline = time.monotonic() + wait_seconds
        while True:
            table = self._table(source)
            if table is not None and (table.num_rows or 0) > 0:
                return
            if time.monotonic() >= deadline:
                state = "does not exist" if table is None else "has no rows"
                raise CopyError(f"the source {spec.source} ({source}) {state} yet: `pulumi up` creates it and its "
                                "first scheduled run fills it",
                                "run the copy once the table is built, or pass --wait-minutes to wait for it")
            self.sleep(POLL_SECONDS)

    def _copy(self, source: str, destination: str, job_id: str, location: str) -> Any:
        from google.cloud import bigquery

        config = bigquery.CopyJobConfig(write_disposition="WRITE_EMPTY", create_disposition="CREATE_IF_NEEDED")
        job = self.client.copy_table(source, destination, job_id=job_id, location=location, job_config=config)
        try:
            job.result()
        except Exception as exc:
            if job.error_result is None:
                raise CopyError(f"the copy job {job_id} failed: {one_line(exc)}",
                                "fix the cause and run `backups copy` again") from None
        return job

    def _record(self, spec: OneOffCopySpec, source: str, destination: str, job_id: str) -> None:
        table = self.client.get_table(destination)
        table.labels = {**(table.labels or {}), COPY_LABEL: spec.name.replace("_", "-")[:63]}
        moment = self.clock().astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        table.description = (f"One-off copy {spec.name} of {source}, made {moment} by job {job_id} "
                             f"(backups/one_off_copies.yaml): {spec.description.strip()}")
        self.client.update_table(table, ["labels", "description"])

    def _table(self, table_id: str) -> Any:
        from google.api_core.exceptions import NotFound

        try:
            return self.client.get_table(table_id)
        except NotFound:
            return None

    def _job(self, job_id: str, location: str) -> Any:
        from google.api_core.exceptions import NotFound

        try:
            return self.client.get_job(job_id, location=location)
        except NotFound:
            return None
