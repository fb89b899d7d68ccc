"""`run --local`: build the planned warehouse from fixtures in a local BigQuery emulator and check
every table and view against its contract (the work is in `infra.local.runner`)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from infra.cli.preflight import load_and_plan, stack_option


@click.command()
@click.option("--local", "local", is_flag=True, help="Run in a local BigQuery emulator (the only mode).")
@stack_option("Stack to plan and build locally")
@click.option("--run-date", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="The run's @run_date (default: tests/fixtures/_run.yaml).")
@click.pass_obj
def run(root: Path, local: bool, stack: str, run_date) -> None:
    """Build the planned warehouse from fixtures in a local BigQuery emulator and check every contract."""
    from infra.local.emulator import Emulator, EmulatorUnavailable
    from infra.local.runner import LocalRun, LocalRunError, read_run_date

    if not local:
        click.echo("run: only `--local` is supported (in the cloud, the Data Transfer Service runs the queries); "
                   "fix: add --local", err=True)
        sys.exit(2)
    warehouse, plan = load_and_plan(root, stack)
    try:
        day = run_date.date() if run_date else read_run_date(root)
    except LocalRunError as exc:
        click.echo(f"run --local: {exc}", err=True)
        sys.exit(1)
    width = max((len(q.spec.key) for q in warehouse.queries), default=20)

    def show(result) -> None:
        if result.kind == "backup":
            status = "snapshots OK" if result.ok else "; ".join(result.problems)
            click.echo(f"  {result.key:<{width}}  {'snap':<5}  {result.rows:>6}  {result.seconds:>7.2f}  {status}")
            return
        status = "contract OK" if result.ok else "; ".join(result.problems)
        click.echo(f"  {result.key:<{width}}  {result.kind:<5}  {result.rows:>6}  {result.seconds:>7.2f}  {status}")

    started = time.monotonic()
    try:
        with Emulator(project=warehouse.stack.project) as emulator:
            click.echo(f"Local run of stack {stack!r}, @run_date {day}, BigQuery emulator at {emulator.url} "
                       f"(started in {time.monotonic() - started:.1f} s)")
            click.echo(f"  {'table':<{width}}  {'kind':<5}  {'rows':>6}  {'seconds':>7}  contract")
            results = LocalRun(root, warehouse, plan, emulator.client(), day, progress=show).run()
    except (EmulatorUnavailable, LocalRunError) as exc:
        click.echo(f"run --local: {exc}", err=True)
        sys.exit(1)
    built = [r for r in results if r.kind in ("table", "view")]
    snapshots = [r for r in results if r.kind == "backup"]
    failed = [r for r in built + snapshots if not r.ok]
    sources = [r for r in results if r.kind == "source"]
    click.echo(f"{len(sources)} source tables loaded ({sum(r.rows for r in sources)} fixture rows); "
               f"{sum(r.kind == 'table' for r in built)} tables and {sum(r.kind == 'view' for r in built)} views built "
               f"and {sum(r.rows for r in snapshots)} snapshots taken in {time.monotonic() - started:.1f} s; "
               + (f"{len(failed)} failed." if failed else "every contract OK."))
    if failed:
        sys.exit(1)
