"""The backup commands: `backups coverage` (what protects each table), `backups list TABLE` (its
snapshots and time-travel window) and `restore TABLE`, the on-call engineer's.

    python -m infra backups coverage --stack prod
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

from infra.cli.preflight import EMULATOR_OPTION, client, fail, load, run_guarded
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
    """Backups: coverage of a stack, the snapshots of a table."""


@backups.command()
@click.option("--stack", default="prod", show_default=True)
@click.pass_obj
def coverage(root: Path, stack: str) -> None:
    """Every dataset and table with its policies, recovery points and retention."""
    from infra.ops.coverage import coverage_rows, render_coverage

    warehouse = load(root, stack)
    click.echo(render_coverage(warehouse, coverage_rows(warehouse)))


@backups.command("list")
@click.argument("table")
@click.option("--stack", default="prod", show_default=True, help="Stack whose warehouse to read.")
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


@click.command()
@click.argument("table")
@click.option("--stack", default="prod", show_default=True, help="Stack whose warehouse to restore in.")
@click.option("--at", "at", metavar="TIME",
              help="Restore the table as it was at TIME (ISO 8601; UTC unless it has a zone): time travel inside "
                   "the dataset's window, else the newest snapshot at or before TIME.")
@click.option("--snapshot", metavar="NAME", help="Restore this snapshot (a name from `backups list`).")
@click.option("--to", "to", metavar="NEW_TABLE",
              help="Name of the new table, in the same dataset (default <table>_restored_<YYYYMMDDTHHMM>).")
@click.option("--in-place", is_flag=True,
              help="Replace the table itself (after a safety snapshot into the backup dataset). Needs --yes.")
@click.option("--yes", is_flag=True, help="Confirm --in-place.")
@EMULATOR_OPTION
@click.pass_obj
def restore(root: Path, table: str, stack: str, at: str | None, snapshot: str | None, to: str | None,
            in_place: bool, yes: bool, emulator_url: str | None) -> None:
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
    restorer = Restorer(client(command, warehouse, emulator_url), warehouse, emulator=bool(emulator_url),
                        progress=_progress())
    procedure = _run(command, lambda: restorer.prepare(request))
    click.echo(procedure.describe())
    result = _run(command, lambda: restorer.run(procedure))
    click.echo(f"Restored {procedure.target.name} ({procedure.target.table_id}): {result.rows} rows, as many as the "
               f"restore point ({result.seconds:.1f} s).")
    if procedure.safety_snapshot:
        name = procedure.safety_snapshot.rpartition(".")[2]
        click.echo(f"The table as it was before is in {procedure.safety_snapshot}: to put it back, run "
                   f"`restore {procedure.request.table.name} --stack {stack} --snapshot {name} --in-place --yes`.")


def render_listing(listing: Listing) -> str:
    table = listing.table
    lines = []
    if listing.snapshots:
        lines.append(f"Snapshots of {table.name} ({table.table_id}) in {listing.backup_dataset_id}, newest first:")
        header = ("name", "policy", "taken at", "expires at", "rows")
        rows = [(s.name, s.policy + (" (safety)" if s.policy == PRE_RESTORE_POLICY else ""),
                 format_time(s.taken_at), format_time(s.expires) if s.expires else "unknown",
                 str(s.rows) if s.rows is not None else "unknown") for s in listing.snapshots]
        widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header))]
        for r in (header, *rows):
            lines.append("  " + "  ".join(v.rjust(w) if i == 4 else v.ljust(w)
                                          for i, (v, w) in enumerate(zip(r, widths, strict=True))).rstrip())
    else:
        lines.append(f"No snapshots of {table.name} ({table.table_id}) in {listing.backup_dataset_id}.")
    days = table.dataset.spec.time_travel_days
    if listing.window_start is not None:
        lines.append(f"Time travel: from {format_time(listing.window_start)} to now "
                     f"({format_time(listing.now)}; the dataset keeps {days} days).")
    else:
        lines.append(f"Time travel: none ({table.table_id} does not exist now; restore from a snapshot).")
    return "\n".join(lines)
