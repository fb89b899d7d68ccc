"""The declaration commands: `check` (validate every stack, `--policy` for the security rules),
`graph` (the lineage) and `policy-config` (the policy pack's config for a stack)."""

from __future__ import annotations

import json
import sys
from contextlib import ExitStack
from pathlib import Path

import click

from infra.cli.preflight import load, stacks
from infra.model.load import load_for_stack
from infra.problems import ProblemsError


@click.command()
@click.option("--stack", "stack_names", multiple=True,
              help="Stack to check against (default: every Pulumi.<stack>.yaml).")
@click.option("--policy", is_flag=True, help="Also evaluate the security rules on each stack's offline plan.")
@click.option("--against", "against", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              help="An earlier plan (`plan --json`, e.g. of main): refuse changes the provider cannot make in place "
                   "to a protected dataset or table.")
@click.option("--base", "base", metavar="REF", default=None,
              help="A git ref (e.g. origin/main): refuse removing, renaming or retyping a column, or removing a "
                   "table, that a table, a view or a tool read there.")
@click.pass_obj
def check(root: Path, stack_names: tuple[str, ...], policy: bool, against: Path | None, base: str | None) -> None:
    """Validate every declaration; exit 1 with one line per problem."""
    with ExitStack() as scope:
        base_root = _base_files(root, base, scope) if base is not None else None
        _check(root, stack_names, policy, against, base_root, base)


def _base_files(root: Path, ref: str, scope: ExitStack) -> Path:
    from infra.cli.gitref import RefError, files_at

    try:
        return scope.enter_context(files_at(root, ref))
    except RefError as exc:
        click.echo(f"check --base: {exc}; fix: pass a branch, tag or commit of this repository "
                   "(e.g. origin/main after `git fetch`)", err=True)
        sys.exit(1)


def _check(root: Path, stack_names: tuple[str, ...], policy: bool, against: Path | None, base_root: Path | None,
           base: str | None) -> None:
    failed = 0
    if against is not None:
        from infra.cli.plan import read_plan_file

        baseline = read_plan_file(against)
        if not isinstance(baseline.get("stack"), str):
            click.echo(f"{against}: the plan names no stack; fix: pass a file written by `plan --json`", err=True)
            sys.exit(1)
        stack_names = (baseline["stack"],)
    seen: set[str] = set()

    def tell(problems) -> int:
        # The same file's problem, found against each stack, is told once.
        new = [str(p) for p in problems if str(p) not in seen]
        seen.update(new)
        if new:
            click.echo("\n".join(new), err=True)
        return len(new)

    for stack in stack_names or stacks(root):
        try:
            warehouse = load_for_stack(root, stack)
        except ProblemsError as exc:
            failed += tell(exc.problems)
            if base_root is not None:
                failed += tell(_breaking(root, stack, base_root, base, None))
            continue
        if base_root is not None:
            failed += tell(_breaking(root, stack, base_root, base, warehouse))
        click.echo(f"{stack}: OK ({len(warehouse.datasets)} datasets, {len(warehouse.sources)} raw sources, "
                   f"{len(warehouse.roles)} roles, {len(warehouse.queries)} queries and views)")
        if policy:
            failed += _check_policy(root, stack, warehouse)
        if against is not None:
            failed += _check_against(root, stack, baseline)
    if failed:
        click.echo(f"{failed} problem(s) found.", err=True)
        sys.exit(1)


def _breaking(root: Path, stack: str, base_root: Path, base: str | None, warehouse) -> list:
    """The breaking changes against the declarations at the base ref, as problems."""
    from infra.declarations.queries import load_queries
    from infra.model.impact import breaking_changes
    from infra.problems import Problem, Problems

    try:
        before = load_for_stack(base_root, stack)
    except ProblemsError:
        return [Problem(f"Pulumi.{stack}.yaml", None, "", f"the declarations at {base} do not load for stack {stack}, "
                        "so no column change can be compared with them", "compare with a ref that passes `check`")]
    problems = Problems()
    specs = load_queries(root, problems)
    broken = {Path(p.file).stem for p in problems}  # files with problems of their own: not "removed"
    after = {q.key: (q.file, q.columns) for q in specs}
    after.update({q.spec.key: (q.spec.file, q.spec.columns) for q in before.queries
                  if q.spec.key not in after and q.spec.name in broken})
    return breaking_changes(before, warehouse, after)


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
        plan = run_program(root, stack)
    except ProgramError as exc:
        click.echo(str(exc), err=True)
        return 1
    violations = evaluate(resources_of(plan), settings_for(warehouse))
    for v in violations:
        click.echo(str(v), err=True)
    mandatory = sum(1 for v in violations if not v.advisory)
    click.echo(f"{stack}: {len(RULES)} security rules, {mandatory} mandatory and "
               f"{len(violations) - mandatory} advisory violation(s)")
    return mandatory + len(unknown)


def _check_against(root: Path, stack: str, baseline: dict) -> int:
    """The changes from `baseline` that the provider cannot make in place to a protected dataset or
    table, one problem line each with how to migrate; their number."""
    from infra.plan.replacements import changes_not_in_place
    from infra.plan.runtime import ProgramError, run_program

    try:
        plan = run_program(root, stack)
    except ProgramError as exc:
        click.echo(str(exc), err=True)
        return 1
    refused = [n for n in changes_not_in_place(baseline, plan.as_json()) if n.stateful and n.protected]
    for n in refused:
        click.echo(f"{n.urn}: {n.sentence}, and stack {stack} protects it; fix: {n.migrate or 'change it by hand'}",
                   err=True)
    click.echo(f"{stack}: {len(refused)} change(s) against {baseline.get('stack')}'s earlier plan that cannot be made "
               "in place to protected data")
    return len(refused)


@click.command()
@click.option("--stack", default="prod", show_default=True, help="Stack whose declarations to read.")
@click.option("--format", "fmt", type=click.Choice(["mermaid", "dot"]), default="mermaid", show_default=True)
@click.pass_obj
def graph(root: Path, stack: str, fmt: str) -> None:
    """Print the lineage: sources -> staging -> marts -> views -> sync/reporting."""
    warehouse = load(root, stack)
    click.echo(warehouse.lineage.to_mermaid() if fmt == "mermaid" else warehouse.lineage.to_dot())


@click.command("policy-config")
@click.option("--stack", required=True, help="Stack whose advisory rules to write.")
@click.pass_obj
def policy_config(root: Path, stack: str) -> None:
    """Print the policy pack's config for a stack (`pulumi preview --policy-pack-config`)."""
    from infra.policies import RULES

    warehouse = load(root, stack)
    advisory = set(warehouse.stack.policy_advisory)
    click.echo(json.dumps({r.name: {"enforcementLevel": "advisory" if r.name in advisory else "mandatory"}
                           for r in RULES}, indent=2, sort_keys=True))


@click.command()
@click.argument("target", metavar="TABLE[.COLUMN]")
@click.option("--stack", default="prod", show_default=True, help="Stack whose declarations to read.")
@click.pass_obj
def impact(root: Path, target: str, stack: str) -> None:
    """List what reads a table or a column downstream: tables, views and the tools outside."""
    from infra.declarations.keys import suggest
    from infra.model.impact import downstream

    warehouse = load(root, stack)
    tables = {q.spec.key: q.spec.columns for q in warehouse.queries}
    tables.update({f"{s.name}.{t}": table.columns for s in warehouse.sources for t, table in s.spec.tables.items()
                   if table})
    parts = target.split(".")
    table, column = ".".join(parts[:2]), (parts[2] if len(parts) == 3 else None)
    if len(parts) not in (2, 3) or table not in tables:
        click.echo(f"impact: unknown table {table!r}{suggest(table, sorted(tables))}; fix: name a table as SQL does, "
                   "`dataset.table` or `dataset.table.column`", err=True)
        sys.exit(1)
    names = [c.name for c in tables[table]]
    if column is not None and column not in names:
        click.echo(f"impact: {table} has no column {column!r}{suggest(column, names)}; fix: use one of "
                   f"{', '.join(names)}", err=True)
        sys.exit(1)
    readers = downstream(warehouse, table, column)
    click.echo(f"{target}: {len(readers)} reader(s) downstream" + (":" if readers else ""))
    for r in readers:
        click.echo(f"{'  ' * r.depth}{r}")
