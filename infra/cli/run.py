"""`run --local`: build the planned warehouse from fixtures in a local BigQuery emulator and check
every table and view against its contract (the work is in `infra.local.runner`); `--show` prints
tables' rows after the run (`infra.local.show`)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from infra.cli.preflight import fail, load_and_plan, stack_option
from infra.declarations.keys import suggest


def status(result) -> str:
    """What a result's line says after its numbers."""
    if result.kind == "backup":
        return "snapshots OK" if result.ok else "; ".join(result.problems)
    if result.skipped:
        return f"skipped: upstream {', '.join(result.skipped_for)} failed"
    if result.failed:
        return "; ".join(result.problems)
    return "contract OK; WARNING: 0 rows" if result.empty else "contract OK"


def summary(results, seconds: float) -> str:
    """The last line: what was loaded, built and taken, and what failed, was skipped or is empty."""
    sources = [r for r in results if r.kind == "source"]
    built = [r for r in results if r.kind in ("table", "view")]
    day = max((r.run_date for r in built), default=None)  # the run date; the day before comes first
    last = [r for r in built if r.run_date == day and not r.skipped]
    earlier = [r for r in built if r.run_date != day and r.incremental and not r.skipped]
    snapshots = [r for r in results if r.kind == "backup"]
    failed = [r for r in results if r.failed]
    skipped = [r for r in results if r.skipped]
    empty = [r.key if r.run_date == day else f"{r.key} (@run_date {r.run_date})" for r in built if r.empty]
    also = f" ({len(earlier)} incremental also on @run_date {earlier[0].run_date})" if earlier else ""
    line = (f"{len(sources)} source tables loaded ({sum(r.rows for r in sources)} fixture rows); "
            f"{sum(r.kind == 'table' for r in last)} tables and {sum(r.kind == 'view' for r in last)} views "
            f"built{also} and {sum(r.rows for r in snapshots)} snapshots taken in {seconds:.1f} s; ")
    if failed:
        line += (f"{len(skipped)} skipped (upstream failed), " if skipped else "") + f"{len(failed)} failed."
    else:
        line += "every contract OK."
    if empty:
        line += f" WARNING: {len(empty)} returned 0 rows: {', '.join(empty)}."
    return line


@click.command()
@click.option("--local", "local", is_flag=True, help="Run in a local BigQuery emulator (the only mode).")
@stack_option("Stack to plan and build locally")
@click.option("--run-date", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="The run's @run_date (default: tests/fixtures/_run.yaml); incremental queries also run "
                   "on the day before.")
@click.option("--show", "show_tables", multiple=True, metavar="DATASET.TABLE",
              help="After the run, print this table's rows (repeatable), named as SQL names it: "
                   "mart.revenue_mrr, amplitude.events.")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True,
              help="The most rows --show prints per table.")
@click.option("--select", "selectors", multiple=True, metavar="SELECTOR",
              help="Build only these tables and views and what they read (dbt's grammar, as `check --select`: NAME, "
                   "+NAME, NAME+, layer:L, folder:F, dataset:D, changed:REF[+]); no snapshots are taken.")
@click.pass_obj
def run(root: Path, local: bool, stack: str, run_date, show_tables: tuple[str, ...], limit: int,
        selectors: tuple[str, ...]) -> None:
    """Build the planned warehouse from fixtures in a local BigQuery emulator and check every contract."""
    from infra.local.emulator import Emulator, EmulatorUnavailable
    from infra.local.names import address_of, table_names
    from infra.local.runner import LocalRun, LocalRunError, read_run_date
    from infra.local.show import show_rows

    if not local:
        click.echo("run: only `--local` is supported (in the cloud, the Data Transfer Service runs the queries); "
                   "fix: add --local", err=True)
        sys.exit(2)
    warehouse, plan = load_and_plan(root, stack)
    chosen = None
    if selectors:
        from infra.checks.select import SelectorError, select

        try:
            chosen = select(warehouse, selectors, root)
        except SelectorError as exc:
            fail("run --local", str(exc))
        if not chosen:
            click.echo("run --local: the selection is empty (nothing it names changed): nothing to build")
            return
    names = table_names(warehouse)
    for name in show_tables:
        if name not in names:
            fail("run --local", f"--show {name}: no table or view of that name{suggest(name, names)}; fix: name "
                                f"one as SQL does, dataset.table (e.g. {names[0]})")
    try:
        day = run_date.date() if run_date else read_run_date(root)
    except LocalRunError as exc:
        fail("run --local", str(exc))
    width = max((len(q.spec.key) for q in warehouse.queries), default=20)
    shown_date = []

    def show(result) -> None:
        if result.run_date and result.run_date not in shown_date:
            shown_date.append(result.run_date)
            what = ("the selection and what it reads" if chosen is not None else "every query and view") \
                if result.run_date == day else "incremental queries (the day before)"
            click.echo(f"  -- @run_date {result.run_date}: {what}")
        kind = "snap" if result.kind == "backup" else result.kind
        rows, seconds = ("-", "-") if result.skipped else (result.rows, f"{result.seconds:.2f}")
        click.echo(f"  {result.key:<{width}}  {kind:<5}  {rows:>6}  {seconds:>7}  {status(result)}")

    started = time.monotonic()
    try:
        with Emulator(project=warehouse.stack.project) as emulator:
            click.echo(f"Local run of stack {stack!r}, @run_date {day}, BigQuery emulator at {emulator.url} "
                       f"(started in {time.monotonic() - started:.1f} s)")
            click.echo(f"  {'table':<{width}}  {'kind':<5}  {'rows':>6}  {'seconds':>7}  contract")
            client = emulator.client()
            results = LocalRun(root, warehouse, plan, client, day, progress=show, select=chosen).run()
            seconds = time.monotonic() - started
            tables = [show_rows(client, name, address_of(warehouse, name), limit) for name in show_tables]
    except (EmulatorUnavailable, LocalRunError) as exc:
        fail("run --local", str(exc))
    click.echo(summary(results, seconds))
    for table in tables:
        click.echo("")
        click.echo(table)
    if any(r.failed or r.skipped for r in results):
        sys.exit(1)
