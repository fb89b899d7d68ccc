"""The command-line interface: `python -m infra <command>` (installed as `warehouse`).

Commands work offline: no credentials, no Pulumi CLI, no network.
- `check [--stack S]`: validate every declaration against one stack (or every stack).
- `plan --stack S [--json FILE] [--diff OLD.json]`: run the Pulumi program under the mock runtime
  exactly as the language host would, and show what it declares.

Exit codes: 0 fine, 1 problems in the declarations (one line each on stderr), 2 wrong usage.
Bad input never produces a traceback.
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from pathlib import Path

import click

# Google's client libraries warn on import about future Python support: not something a user of
# these commands can act on, and it would break the one-line-per-problem output.
warnings.filterwarnings("ignore", category=FutureWarning, module=r"google\.")

from infra.problems import ProblemsError
from infra.model.load import load_for_stack, repository_root


def _stacks(root: Path) -> list[str]:
    return sorted(p.name[len("Pulumi."):-len(".yaml")] for p in root.glob("Pulumi.*.yaml"))


def _report(problems_text: str, count: int) -> None:
    click.echo(problems_text, err=True)
    click.echo(f"{count} problem(s) found.", err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--root", type=click.Path(file_okay=False, exists=True, path_type=Path), default=None,
              help="Project root (default: the checkout this package is in).")
@click.pass_context
def main_group(ctx: click.Context, root: Path | None) -> None:
    """Warehouse as code: check and plan the BigQuery warehouse offline."""
    ctx.obj = (root or repository_root()).resolve()


@main_group.command()
@click.option("--stack", "stacks", multiple=True, help="Stack to check against (default: every Pulumi.<stack>.yaml).")
@click.option("--policy", is_flag=True, help="Also evaluate the security rules on each stack's offline plan.")
@click.pass_obj
def check(root: Path, stacks: tuple[str, ...], policy: bool) -> None:
    """Validate every declaration; exit 1 with one line per problem."""
    failed = 0
    seen: set[str] = set()
    for stack in stacks or _stacks(root):
        try:
            warehouse = load_for_stack(root, stack)
        except ProblemsError as exc:
            new = [str(p) for p in exc.problems if str(p) not in seen]
            seen.update(new)
            if new:
                click.echo("\n".join(new), err=True)
            failed += len(new)
            continue
        click.echo(f"{stack}: OK ({len(warehouse.datasets)} datasets, {len(warehouse.sources)} raw sources, "
                   f"{len(warehouse.roles)} roles, {len(warehouse.queries)} queries and views)")
        if policy:
            failed += _check_policy(root, stack, warehouse)
    if failed:
        click.echo(f"{failed} problem(s) found.", err=True)
        sys.exit(1)


@main_group.command()
@click.option("--stack", required=True, help="Stack to plan (its Pulumi.<stack>.yaml).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write every resource as JSON to this file ('-' for stdout).")
@click.option("--diff", "diff_path", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="Compare with an earlier plan JSON and show what changes.")
@click.option("--quiet", is_flag=True, help="Print only the counts (and the diff).")
@click.pass_obj
def plan(root: Path, stack: str, json_path: Path | None, diff_path: Path | None, quiet: bool) -> None:
    """Run the program under Pulumi's mock runtime and show the resources it declares."""
    from infra.plan.diff import diff_plans, render_diff
    from infra.plan.render import render_counts, render_tree

    old = _read_plan_file(diff_path) if diff_path is not None else None
    _, result = _load_and_plan(root, stack)
    document = result.as_json()
    if json_path is not None:
        text = json.dumps(document, indent=2, sort_keys=True) + "\n"
        if str(json_path) == "-":
            click.echo(text, nl=False)
        else:
            json_path.write_text(text, encoding="utf-8")
    out = click.echo if str(json_path) != "-" else (lambda s: click.echo(s, err=True))
    if not quiet:
        out(render_tree(result))
        out("")
    out(render_counts(result))
    if old is not None:
        out("")
        out(render_diff(diff_plans(old, document)))


@main_group.command()
@click.option("--stack", default="prod", show_default=True, help="Stack whose declarations to read.")
@click.option("--format", "fmt", type=click.Choice(["mermaid", "dot"]), default="mermaid", show_default=True)
@click.pass_obj
def graph(root: Path, stack: str, fmt: str) -> None:
    """Print the lineage: sources -> staging -> marts -> views -> sync/reporting."""
    warehouse = _load(root, stack)
    click.echo(warehouse.lineage.to_mermaid() if fmt == "mermaid" else warehouse.lineage.to_dot())


@main_group.command()
@click.option("--local", "local", is_flag=True, help="Run in a local BigQuery emulator (the only mode).")
@click.option("--stack", default="dev", show_default=True, help="Stack to plan and build locally.")
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
    warehouse, plan_ = _load_and_plan(root, stack)
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
            results = LocalRun(root, warehouse, plan_, emulator.client(), day, progress=show).run()
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


@main_group.group()
def backups() -> None:
    """Backups: coverage of a stack, the snapshots of a table."""


@backups.command()
@click.option("--stack", default="prod", show_default=True)
@click.pass_obj
def coverage(root: Path, stack: str) -> None:
    """Every dataset and table with its policies, recovery points and retention."""
    from infra.ops.coverage import coverage_rows, render_coverage

    warehouse = _load(root, stack)
    click.echo(render_coverage(warehouse, coverage_rows(warehouse)))


@main_group.command("policy-config")
@click.option("--stack", required=True, help="Stack whose advisory rules to write.")
@click.pass_obj
def policy_config(root: Path, stack: str) -> None:
    """Print the policy pack's config for a stack (`pulumi preview --policy-pack-config`)."""
    from infra.policies import RULES

    warehouse = _load(root, stack)
    advisory = set(warehouse.stack.policy_advisory)
    click.echo(json.dumps({r.name: {"enforcementLevel": "advisory" if r.name in advisory else "mandatory"}
                           for r in RULES}, indent=2, sort_keys=True))


def _check_policy(root: Path, stack: str, warehouse) -> int:
    """Evaluate the security rules on the stack's plan; the number of mandatory violations."""
    from infra.plan.runtime import ProgramError, run_program
    from infra.policies import RULES
    from infra.policies.evaluate import evaluate, resources_of, settings_for

    unknown = sorted(set(warehouse.stack.policy_advisory) - {r.name for r in RULES})
    for name in unknown:
        click.echo(f"{warehouse.stack.file}: warehouse:policyAdvisory: unknown rule {name!r}; "
                   f"fix: use one of {', '.join(r.name for r in RULES)}", err=True)
    try:
        plan_ = run_program(root, stack)
    except ProgramError as exc:
        click.echo(str(exc), err=True)
        return 1
    violations = evaluate(resources_of(plan_), settings_for(warehouse.stack))
    for v in violations:
        click.echo(str(v), err=True)
    mandatory = sum(1 for v in violations if not v.advisory)
    click.echo(f"{stack}: {len(RULES)} security rules, {mandatory} mandatory and "
               f"{len(violations) - mandatory} advisory violation(s)")
    return mandatory + len(unknown)


def _load(root: Path, stack: str):
    """The validated warehouse of a stack; exit 1 with one line per problem on bad input."""
    try:
        return load_for_stack(root, stack)
    except ProblemsError as exc:
        _report(str(exc), len(exc.problems))
        sys.exit(1)


def _load_and_plan(root: Path, stack: str):
    """The validated warehouse and its plan, loaded once (by the program); exit 1 with one line
    per problem on bad input, with the stack file's line numbers, which the program's runtime
    config does not carry."""
    from infra.plan.runtime import ProgramError, run_program
    from infra.resources.program import last_declared

    try:
        plan_ = run_program(root, stack)
        return last_declared(), plan_
    except ProblemsError as exc:
        _report(str(exc), len(exc.problems))
    except ProgramError as exc:
        try:
            load_for_stack(root, stack)
        except ProblemsError as located:
            _report(str(located), len(located.problems))
        else:
            click.echo(str(exc), err=True)
    sys.exit(1)


def _read_plan_file(path: Path) -> dict:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        document, reason = None, str(exc)
    else:
        reason = "it has no `resources` list"
    if not isinstance(document, dict) or not isinstance(document.get("resources"), list):
        click.echo(f"{path}: not a plan JSON file ({reason}); fix: pass a file written by `plan --json`", err=True)
        sys.exit(1)
    return document


def main(argv: list[str] | None = None) -> int:
    try:
        main_group.main(args=argv, prog_name="warehouse", standalone_mode=True)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


from infra.cli.backups import register; register(main_group)  # noqa: E402 - `restore`, `backups list`
from infra.cli.drift import register as register_drift; register_drift(main_group)  # noqa: E402
