"""`plan`: run the Pulumi program under the mock runtime, exactly as the language host would, and
show what it declares: a tree for people, JSON for machines, a diff against an earlier plan."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from infra.cli.preflight import load_and_plan, stack_option


@click.command()
@stack_option("Stack to plan")
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

    old = read_plan_file(diff_path) if diff_path is not None else None
    _, result = load_and_plan(root, stack)
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


def read_plan_file(path: Path) -> dict:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        document, reason = None, str(exc)
    else:
        reason = "it has no `resources` list"
        resources = document.get("resources") if isinstance(document, dict) else None
        if isinstance(resources, list):
            bad = next((i for i, r in enumerate(resources) if not (
                isinstance(r, dict) and isinstance(r.get("urn"), str) and isinstance(r.get("type"), str)
                and isinstance(r.get("inputs", {}), dict))), None)
            if bad is not None:
                document, reason = None, f"resource {bad} is not a resource with a `urn`, a `type` and `inputs`"
    if not isinstance(document, dict) or not isinstance(document.get("resources"), list):
        click.echo(f"{path}: not a plan JSON file ({reason}); fix: pass a file written by `plan --json`", err=True)
        sys.exit(1)
    return document
