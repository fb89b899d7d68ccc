"""The declaration commands: `check` (validate every stack, `--policy` for the security rules),
`graph` (the lineage) and `policy-config` (the policy pack's config for a stack)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from infra.cli.preflight import load, stack_option, stacks
from infra.model.load import load_for_stack
from infra.problems import ProblemsError


@click.command()
@stack_option("Stack to check against", every_by_default=True)
@click.option("--policy", is_flag=True, help="Also evaluate the security rules on each stack's offline plan.")
@click.option("--against", "against", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              help="An earlier plan (`plan --json`, e.g. of main): refuse changes the provider cannot make in place "
                   "to a protected dataset or table.")
@click.pass_obj
def check(root: Path, stack_names: tuple[str, ...], policy: bool, against: Path | None) -> None:
    """Validate every declaration; exit 1 with one line per problem."""
    failed = 0
    if against is not None:
        from infra.cli.plan import read_plan_file

        baseline = read_plan_file(against)
        if not isinstance(baseline.get("stack"), str):
            click.echo(f"{against}: the plan names no stack; fix: pass a file written by `plan --json`", err=True)
            sys.exit(1)
        stack_names = (baseline["stack"],)
    seen: set[str] = set()
    for stack in stack_names or stacks(root):
        try:
            warehouse = load_for_stack(root, stack)
        except ProblemsError as exc:
            # The same file's problem, found against each stack, is told once.
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
        if against is not None:
            failed += _check_against(root, stack, baseline)
    if failed:
        click.echo(f"{failed} problem(s) found.", err=True)
        sys.exit(1)


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
@stack_option("Stack whose declarations to read")
@click.option("--format", "fmt", type=click.Choice(["mermaid", "dot"]), default="mermaid", show_default=True)
@click.pass_obj
def graph(root: Path, stack: str, fmt: str) -> None:
    """Print the lineage: sources -> staging -> marts -> views -> sync/reporting."""
    warehouse = load(root, stack)
    click.echo(warehouse.lineage.to_mermaid() if fmt == "mermaid" else warehouse.lineage.to_dot())


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
