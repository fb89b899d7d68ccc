"""The backup commands: `backups coverage` (what protects each table), `backups list TABLE` (its
snapshots and time-travel window) and `restore TABLE`, the on-call engineer's.

    python -m infra backups coverage --stack prod
    python -m infra backups copy revenue_mrr_before_eur                # a one-off copy, once
    python -m infra backups list mart.revenue_mrr                      # snapshots + time travel
    python -m infra restore mart.revenue_mrr                           # newest snapshot -> new table
    python -m infra restore mart.revenue_mrr --at 2026-01-15T06:00     # that moment -> new table
    python -m infra restore mart.revenue_mrr --snapshot NAME --in-place --yes

The work is in `infra.ops.restore` and `infra.ops.coverage`; this module parses the options, draws
the progress (a `rich` spinner per step on a terminal, plain lines otherwise) and turns every
refusal into one line on stderr with exit 1: `restore: <what>; fix: <how>`. Everything that needs
no BigQuery is checked before the client is made, so bad input is reported even without
credentials.

`--emulator-url URL` (hidden) points `list` and `restore` at a local BigQuery emulator with
anonymous credentials and the emulator's SQL fallbacks (`RestoreSql(emulator=True)`); the tests
use it to run a real restore through the CLI. It is never needed against BigQuery.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from infra.cli.preflight import EMULATOR_OPTION, client, fail, load, run_guarded, stack_option
from infra.model.backups import PRE_RESTORE_POLICY
from infra.ops.restore import Restorer, Step
from infra.ops.restore_points import Listing, RestoreError, check_request, format_time, resolve_table, utc_now

PLAIN_STILL_RUNNING_EVERY = 30.0  # seconds between "still running" lines when not on a terminal
REFUSED_FIX = ("check the name, and that you may read and write the dataset (roles/bigquery.dataEditor) and run "
               "jobs (roles/bigquery.jobUser)")
T = TypeVar("T")


def _run(command: str, action: Callable[[], T]) -> T:
    """`action()`; a refused restore, or BigQuery's refusal, as one line and exit 1."""
    try:
        return run_guarded(command, action, REFUSED_FIX)
    except RestoreError as exc:
        fail(command, str(exc))


# --- progress -----------------------------------------------------------------------------------------

class TerminalSteps:
    """A spinner on the running step (with its elapsed time and the job's state, polled), and a
    line per finished step."""

    def __init__(self, console: Any):
        self.console = console
        self._status = None

    def _label(self, step: Step) -> str:
        from rich.markup import escape

        return f"[{step.number}/{step.total}] {escape(step.text)}"

    def started(self, step: Step) -> None:
        self._status = self.console.status(self._label(step))
        self._status.start()

    def running(self, step: Step, seconds: float, job: Any) -> None:
        processed = getattr(job, "total_bytes_processed", None)
        extra = f", {processed / 1e9:.1f} GB processed" if processed else ""
        state = str(getattr(job, "state", "") or "running").lower()
        self._status.update(f"{self._label(step)} ({state}, {seconds:.0f} s{extra})")

    def finished(self, step: Step, seconds: float, detail: str) -> None:
        self._stop()
        self.console.print(f"[green]\u2713[/green] {self._label(step)}: {detail} ({seconds:.1f} s)")

    def failed(self, step: Step, seconds: float, message: str) -> None:
        self._stop()
        self.console.print(f"[red]\u2717[/red] {self._label(step)}: failed ({seconds:.1f} s)")

    def _stop(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None


class PlainSteps:
    """One line when a step starts and one when it ends; a line every 30 s while a job runs."""

    def __init__(self) -> None:
        self._said = 0.0

    def started(self, step: Step) -> None:
        self._said = 0.0
        click.echo(f"[{step.number}/{step.total}] {step.text}")

    def running(self, step: Step, seconds: float, job: Any) -> None:
        if seconds - self._said >= PLAIN_STILL_RUNNING_EVERY:
            self._said = seconds
            click.echo(f"      still running ({seconds:.0f} s)")

    def finished(self, step: Step, seconds: float, detail: str) -> None:
        click.echo(f"      {detail} ({seconds:.1f} s)")

    def failed(self, step: Step, seconds: float, message: str) -> None:
        click.echo(f"      failed ({seconds:.1f} s)")


def _progress():
    from rich.console import Console

    console = Console()
    return TerminalSteps(console) if console.is_terminal else PlainSteps()


# --- commands -----------------------------------------------------------------------------------------

@click.group()
def backups() -> None:
    """Backups: coverage of a stack, the snapshots of a table, one-off copies."""


@backups.command()
@stack_option("Stack whose coverage to show")
@click.option("--sizes", is_flag=True,
              help="Read each table's size from BigQuery (credentials needed) to estimate storage in bytes.")
@EMULATOR_OPTION
@click.pass_obj
def coverage(root: Path, stack: str, sizes: bool, emulator_url: str | None) -> None:
    """Every raw source, dataset and table: what it is worth (irreplaceable, history, rebuildable),
    what protects it, and each policy's snapshot storage."""
    from infra.ops.coverage import coverage as coverage_of
    from infra.ops.coverage import render_coverage
    from infra.ops.snapshot_storage import estimate, render_storage

    command = "backups coverage"
    warehouse = load(root, stack)
    rows = coverage_of(warehouse)
    measured = None
    if sizes:
        bq = client(command, warehouse, emulator_url)
        measured = _run(command, lambda: table_sizes(bq, [t.table_id for r in rows for t in r.tables
                                                          if t.value != "view"]))
    moment = utc_now()
    storage, copies = estimate(warehouse, rows, moment, measured)
    click.echo(render_coverage(warehouse, rows))
    click.echo("")
    click.echo(render_storage(storage, copies, moment, sized=measured is not None))


def table_sizes(bq: Any, table_ids: list[str]) -> dict[str, int | None]:
    """Each table's logical bytes now (None: it does not exist, or BigQuery does not say)."""
    from google.api_core.exceptions import NotFound

    out: dict[str, int | None] = {}
    for table_id in table_ids:
        try:
            out[table_id] = bq.get_table(table_id).num_bytes
        except NotFound:
            out[table_id] = None
    return out


@backups.command("list")
@click.argument("table")
@stack_option("Stack whose warehouse to read")
@EMULATOR_OPTION
@click.pass_obj
def list_backups(root: Path, table: str, stack: str, emulator_url: str | None) -> None:
    """TABLE's snapshots, newest first, and its time-travel window."""
    command = "backups list"
    warehouse = load(root, stack)
    try:
        name = resolve_table(warehouse, table)
    except RestoreError as exc:
        fail(command, str(exc))
    restorer = Restorer(client(command, warehouse, emulator_url), warehouse, emulator=bool(emulator_url))
    listing = _run(command, lambda: restorer.listing(name, details=True))
    click.echo(render_listing(listing))


@backups.command("copy")
@click.argument("name")
@stack_option("Stack whose warehouse to copy in")
@click.option("--wait-minutes", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="Wait this long for the source table to exist and hold rows (after a first `pulumi up`).")
@EMULATOR_OPTION
@click.pass_obj
def copy(root: Path, name: str, stack: str, wait_minutes: float, emulator_url: str | None) -> None:
    """Run the one-off copy NAME of backups/one_off_copies.yaml, once, and say how it ended."""
    from infra.ops.copies import Copier, CopyError, find_copy

    command = "backups copy"
    warehouse = load(root, stack)
    try:
        find_copy(warehouse, name)
    except CopyError as exc:
        fail(command, str(exc))
    copier = Copier(client(command, warehouse, emulator_url), warehouse)
    try:
        result = run_guarded(command, lambda: copier.run(name, wait_seconds=wait_minutes * 60),
                             "check that you may read the source, write the backup dataset "
                             "(roles/bigquery.dataEditor) and run jobs (roles/bigquery.jobUser)")
    except CopyError as exc:
        fail(command, str(exc))
    if result.already_done:
        click.echo(f"{name}: already copied by job {result.job_id}: {result.destination} holds {result.rows} rows; "
                   "nothing to do.")
    else:
        click.echo(f"{name}: copied {result.source} into {result.destination} ({result.rows} rows, job "
                   f"{result.job_id}); recorded on the table (label warehouse-copy, description).")


@click.command()
@click.argument("table")
@stack_option("Stack whose warehouse to restore in")
@click.option("--at", "at", metavar="TIME",
              help="Restore the table as it was at TIME (ISO 8601; UTC unless it has a zone): time travel inside "
                   "the dataset's window, else the newest snapshot at or before TIME.")
@click.option("--snapshot", metavar="NAME", help="Restore this snapshot (a name from `backups list`).")
@click.option("--to", "to", metavar="NEW_TABLE",
              help="Name of the new table, in the same dataset (default <table>_restored_<YYYYMMDDTHHMM>).")
@click.option("--in-place", is_flag=True,
              help="Replace the table's rows (after a safety snapshot into the backup dataset, with its scheduled "
                   "query paused meanwhile). Needs --yes.")
@click.option("--yes", is_flag=True, help="Confirm --in-place.")
@click.option("--keep-paused", is_flag=True,
              help="With --in-place: leave the table's scheduled query paused afterwards, so that no run rebuilds "
                   "the restored rows (resume it in the console, or with `pulumi up`).")
@EMULATOR_OPTION
@click.pass_obj
def restore(root: Path, table: str, stack: str, at: str | None, snapshot: str | None, to: str | None,
            in_place: bool, yes: bool, keep_paused: bool, emulator_url: str | None) -> None:
    """Restore TABLE (<dataset>.<table>, e.g. mart.revenue_mrr) from a snapshot or by time travel.

    Restores into a new table unless --in-place --yes; without --at or --snapshot, from the newest
    snapshot. The restored table's row count is checked against the restore point's.
    """
    command = "restore"
    warehouse = load(root, stack)
    try:
        request = check_request(warehouse, utc_now(), table, at=at, snapshot=snapshot, to=to,
                                in_place=in_place, yes=yes)
    except RestoreError as exc:
        fail(command, str(exc))
    if keep_paused and not in_place:
        fail(command, "--keep-paused is for --in-place (only an in-place restore pauses the scheduled query); "
                      "fix: add --in-place --yes, or drop --keep-paused")
    restorer = Restorer(client(command, warehouse, emulator_url), warehouse, emulator=bool(emulator_url),
                        progress=_progress(), transfers=None if emulator_url else _transfers(command))
    procedure = _run(command, lambda: restorer.prepare(request, keep_paused=keep_paused))
    click.echo(procedure.describe())
    result = _run(command, lambda: restorer.run(procedure))
    click.echo(f"Restored {procedure.target.name} ({procedure.target.table_id}): {result.rows} rows, as many as the "
               f"restore point ({result.seconds:.1f} s).")
    if procedure.transfer and keep_paused:
        click.echo(f"Its scheduled query stays paused ({procedure.transfer}): resume it in the console (Scheduled "
                   "queries) or with the stack's `pulumi up` once the restored rows may be rebuilt.")
    if procedure.safety_snapshot:
        name = procedure.safety_snapshot.rpartition(".")[2]
        click.echo(f"The table as it was before is in {procedure.safety_snapshot}: to put it back, run "
                   f"`restore {procedure.request.table.name} --stack {stack} --snapshot {name} --in-place --yes`.")


def _transfers(command: str):
    """The Data Transfer Service, to pause a table's scheduled query (credentials as for BigQuery)."""
    from google.auth.exceptions import GoogleAuthError

    from infra.ops.transfers import DataTransferControl

    try:
        return DataTransferControl()
    except GoogleAuthError as exc:
        fail(command, f"the Google Cloud credentials could not be used: {exc}; fix: run "
                      "`gcloud auth application-default login` again")


def render_listing(listing: Listing) -> str:
    table = listing.table
    lines = []
    if listing.snapshots:
        lines.append(f"Snapshots of {table.name} ({table.table_id}) in {', '.join(listing.backup_dataset_ids)}, "
                     "newest first:")
        header = ("name", "policy", "taken at", "expires at", "rows")
        rows = [(s.name, s.policy + (" (safety)" if s.policy == PRE_RESTORE_POLICY else ""),
                 format_time(s.taken_at), format_time(s.expires) if s.expires else "unknown",
                 str(s.rows) if s.rows is not None else "unknown") for s in listing.snapshots]
        widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header))]
        for r in (header, *rows):
            lines.append("  " + "  ".join(v.rjust(w) if i == 4 else v.ljust(w)
                                          for i, (v, w) in enumerate(zip(r, widths, strict=True))).rstrip())
    else:
        lines.append(f"No snapshots of {table.name} ({table.table_id}) in "
                     f"{', '.join(listing.backup_dataset_ids) or 'any snapshot dataset'}.")
    days = table.dataset.spec.time_travel_days
    if listing.window_start is not None:
        lines.append(f"Time travel: from {format_time(listing.window_start)} to now "
                     f"({format_time(listing.now)}; the dataset keeps {days} days).")
    else:
        lines.append(f"Time travel: none ({table.table_id} does not exist now; restore from a snapshot).")
    return "\n".join(lines)
