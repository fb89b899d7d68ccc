"""The declaration commands: `check` (validate every stack, `--policy` for the security rules,
`--format text|json|github`, `--select` to narrow the report, `--base REF` for breaking changes),
`graph` (the lineage, or a selection of it, changed tables highlighted), `impact` (what reads a table
or a column downstream) and `policy-config` (the policy pack's config for a stack).

The report's formats are `check_report.py`; the selection grammar is `infra/checks/select.py`."""

from __future__ import annotations

import json
import sys
from contextlib import ExitStack
from pathlib import Path

import click

from infra.checks.select import Declared, Selection, SelectorError, changed_keys, selection
from infra.cli.check_report import FORMATS, CheckReport
from infra.cli.preflight import fail, load, stack_option, stacks
from infra.model.load import load_for_stack
from infra.model.warehouse import Warehouse
from infra.problems import Problem, ProblemsError

SELECT_HELP = ("Report only these tables' problems (dbt's grammar: NAME, +NAME, NAME+, 2+NAME, layer:L, folder:F, "
               "dataset:D, changed:REF[+]; a space or a repeat is a union, a comma an intersection).")


@click.command()
@stack_option("Stack to check against (validation covers every stack)", every_by_default=True)
@click.option("--policy", is_flag=True, help="Also evaluate the security rules on each stack's offline plan.")
@click.option("--against", "against", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              help="An earlier plan (`plan --json`, e.g. of main): refuse changes the provider cannot make in place "
                   "to a protected dataset or table.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True,
              help="text: one line per problem; json: one document on stdout; github: GitHub Actions annotations.")
@click.option("--select", "selectors", multiple=True, metavar="SELECTOR", help=SELECT_HELP + " Every problem "
              "still counts for the exit code.")
@click.option("--base", "base", metavar="REF", default=None,
              help="A git ref (e.g. origin/main): refuse removing, renaming or retyping a column, or removing a "
                   "table, that a table, a view or a tool read there.")
@click.pass_obj
def check(root: Path, stack_names: tuple[str, ...], policy: bool, against: Path | None, fmt: str,
          selectors: tuple[str, ...], base: str | None) -> None:
    """Validate every declaration; exit 1 with one line per problem."""
    with ExitStack() as scope:
        base_root = _base_files(root, base, scope) if base is not None else None
        _check(root, stack_names, policy, against, fmt, selectors, base_root, base)


def _base_files(root: Path, ref: str, scope: ExitStack) -> Path:
    from infra.declarations.gitref import GitError, files_at

    try:
        return scope.enter_context(files_at(root, ref))
    except GitError as exc:
        fail("check --base", str(exc))


def _check(root: Path, stack_names: tuple[str, ...], policy: bool, against: Path | None, fmt: str,
           selectors: tuple[str, ...], base_root: Path | None, base: str | None) -> None:
    if against is not None:
        from infra.cli.plan import read_plan_file

        baseline = read_plan_file(against)
        if not isinstance(baseline.get("stack"), str):
            click.echo(f"{against}: the plan names no stack; fix: pass a file written by `plan --json`", err=True)
            sys.exit(1)
        stack_names = (baseline["stack"],)
    names = list(stack_names or stacks(root))
    loaded = {stack: _attempt(root, stack) for stack in names}
    report = CheckReport(fmt, _selection(root, loaded, selectors) if selectors else None, selectors)
    for stack in names:
        warehouse = loaded[stack]
        if isinstance(warehouse, ProblemsError):
            report.stack_failed(stack, warehouse.problems)
            if base_root is not None:
                report.problems(stack, _breaking(root, stack, base_root, base, None))
            continue
        report.stack_ok(stack, warehouse)
        if base_root is not None:
            report.problems(stack, _breaking(root, stack, base_root, base, warehouse))
        if policy:
            _check_policy(root, stack, warehouse, report)
        if against is not None:
            _check_against(root, stack, baseline, report)
    report.finish()


def _attempt(root: Path, stack: str) -> Warehouse | ProblemsError:
    try:
        return load_for_stack(root, stack)
    except ProblemsError as exc:
        return exc


def _selection(root: Path, loaded: dict[str, Warehouse | ProblemsError],
               selectors: tuple[str, ...]) -> Selection | None:
    """The selection, on the first stack whose lineage is known (every stack's lineage is the
    same: it comes from the files, not the stack); one line and exit 1 for a bad selector. None,
    said on stderr, when no stack file loaded: without the lineage the report shows everything."""
    for result in loaded.values():
        declared = result.declared if isinstance(result, ProblemsError) else Declared.of(result)
        if isinstance(declared, Declared) and declared.lineage is not None:
            try:
                return selection(declared, selectors, root)
            except SelectorError as exc:
                fail("check", str(exc))
    click.echo("check: --select is ignored: no stack file loaded, so the lineage is unknown; every problem is shown",
               err=True)
    return None


def _breaking(root: Path, stack: str, base_root: Path, base: str | None, warehouse) -> list:
    """The breaking changes against the declarations at the base ref, as problems."""
    from infra.declarations.queries import load_queries
    from infra.model.impact import breaking_changes
    from infra.problems import Problems

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


def _check_policy(root: Path, stack: str, warehouse: Warehouse, report: CheckReport) -> None:
    """Evaluate the security rules on the stack's plan, into the report."""
    from infra.plan.runtime import ProgramError, run_program
    from infra.policies import RULES
    from infra.policies.evaluate import evaluate, resources_of, settings_for

    unknown = sorted(set(warehouse.stack.policy_advisory) - {r.name for r in RULES})
    report.problems(stack, [Problem(warehouse.stack.file, None, "warehouse:policyAdvisory", f"unknown rule {name!r}",
                                    f"use one of {', '.join(r.name for r in RULES)}") for name in unknown])
    try:
        plan = run_program(root, stack)
    except ProgramError as exc:
        report.error(stack, str(exc))
        return
    violations = evaluate(resources_of(plan), settings_for(warehouse))
    for v in violations:
        report.violation(stack, v)
    mandatory = sum(1 for v in violations if not v.advisory)
    report.summary(f"{stack}: {len(RULES)} security rules, {mandatory} mandatory and "
                   f"{len(violations) - mandatory} advisory violation(s)",
                   policy={"rules": len(RULES), "mandatory": mandatory, "advisory": len(violations) - mandatory})


def _check_against(root: Path, stack: str, baseline: dict, report: CheckReport) -> None:
    """The changes from `baseline` that the provider cannot make in place to a protected dataset or
    table, one refusal each with how to migrate, into the report."""
    from infra.plan.replacements import changes_not_in_place
    from infra.plan.runtime import ProgramError, run_program

    try:
        plan = run_program(root, stack)
    except ProgramError as exc:
        report.error(stack, str(exc))
        return
    refused = [n for n in changes_not_in_place(baseline, plan.as_json()) if n.stateful and n.protected]
    for n in refused:
        report.refusal(stack, n.urn, f"{n.sentence}, and stack {stack} protects it", n.migrate or "change it by hand")
    report.summary(f"{stack}: {len(refused)} change(s) against {baseline.get('stack')}'s earlier plan that cannot be "
                   "made in place to protected data", against={"refused": len(refused)})


@click.command()
@stack_option("Stack whose declarations to read")
@click.option("--format", "fmt", type=click.Choice(["mermaid", "dot"]), default="mermaid", show_default=True)
@click.option("--select", "selectors", multiple=True, metavar="SELECTOR",
              help=SELECT_HELP.replace("Report only these tables' problems", "Draw only these tables")
              + " The edges among them are drawn.")
@click.option("--changed", "changed_ref", metavar="REF", default=None,
              help="Highlight the tables whose files changed since the git commit REF (a changed: selector does too).")
@click.pass_obj
def graph(root: Path, stack: str, fmt: str, selectors: tuple[str, ...], changed_ref: str | None) -> None:
    """Print the lineage: sources -> staging -> marts -> views -> sync/reporting."""
    warehouse = load(root, stack)
    declared = Declared.of(warehouse)
    try:
        chosen = selection(declared, selectors, root) if selectors else None
        highlight = set(chosen.changed) if chosen is not None else set()
        if changed_ref is not None:
            highlight |= changed_keys(declared, root, changed_ref)
    except SelectorError as exc:
        fail("graph", str(exc))
    keys = chosen.keys if chosen is not None else None
    draw = warehouse.lineage.to_mermaid if fmt == "mermaid" else warehouse.lineage.to_dot
    click.echo(draw(keys, highlight))
    if keys is not None and not keys:
        click.echo("graph: the selection is empty (nothing it names changed)", err=True)


@click.command("policy-config")
@stack_option("Stack whose advisory rules to write")
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
@stack_option("Stack whose declarations to read")
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
