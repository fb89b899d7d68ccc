"""`plan`: run the Pulumi program under the mock runtime, exactly as the language host would, and
show what it declares: a tree for people, JSON for machines, and what changes against an earlier
plan, read from a file (`--diff OLD.json`) or built from a git ref (`--base REF`), as text or as
Markdown for a pull-request comment (`--format markdown`). With `--detailed-exitcode` the exit
code says whether anything changes (0 no, 2 yes, 1 error, usage errors included)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from infra.cli.preflight import fail, load_and_plan, stack_option


class PlanCommand(click.Command):
    """With `--detailed-exitcode`, 2 means changes: a usage error then exits 1, not click's 2."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        given = list(args)  # the parser consumes `args`
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            if "--detailed-exitcode" in given:
                exc.exit_code = 1
            raise


@click.command(cls=PlanCommand)
@stack_option("Stack to plan")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write every resource as JSON to this file ('-' for stdout).")
@click.option("--diff", "diff_path", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="Compare with an earlier plan JSON (of the same stack) and show what changes.")
@click.option("--base", "base_ref", metavar="REF",
              help="Build the earlier plan from a git ref (its own code and files, in a temporary worktree) "
                   "and show what changes.")
@click.option("--format", "diff_format", type=click.Choice(["text", "markdown"]), default=None,
              help="With --diff or --base: the diff as text (default) or as Markdown for a pull-request "
                   "comment (then stdout holds the Markdown alone).")
@click.option("--detailed-exitcode", "detailed", is_flag=True,
              help="With --diff or --base: exit 0 when nothing changes, 2 when something does, 1 on error.")
@click.option("--quiet", is_flag=True, help="Print only the counts (and the diff).")
@click.pass_obj
def plan(root: Path, stack: str, json_path: Path | None, diff_path: Path | None, base_ref: str | None,
         diff_format: str | None, detailed: bool, quiet: bool) -> None:
    """Run the program under Pulumi's mock runtime and show the resources it declares."""
    from infra.plan.base_ref import BaseRefError, earlier_plan
    from infra.plan.diff import diff_plans
    from infra.plan.diff_render import render_markdown, render_text
    from infra.plan.render import render_counts, render_tree

    if diff_path is not None and base_ref is not None:
        raise _usage("--diff and --base both name the earlier plan; give one of them", detailed)
    if diff_path is None and base_ref is None:
        for given, name in ((diff_format, "--format"), (detailed, "--detailed-exitcode")):
            if given:
                raise _usage(f"{name} is about the diff: give --diff OLD.json or --base REF with it", detailed)
    old, against = None, ""
    if diff_path is not None:
        old, against = read_plan_file(diff_path), str(diff_path)
        same_stack(old, stack, str(diff_path))
    if base_ref is not None:
        try:
            old, against = earlier_plan(root, base_ref, stack)
        except BaseRefError as exc:
            fail("plan --base", str(exc))
    _, result = load_and_plan(root, stack)
    document = result.as_json()
    if old is not None and old.get("project") not in (None, document["project"]):
        fail("plan", f"{against} is a plan of project {old.get('project')!r}, not {document['project']!r}; "
                     "fix: compare plans of this project")
    if json_path is not None:
        text = json.dumps(document, indent=2, sort_keys=True) + "\n"
        if str(json_path) == "-":
            click.echo(text, nl=False)
        else:
            json_path.write_text(text, encoding="utf-8")
    out = click.echo if str(json_path) != "-" else (lambda s: click.echo(s, err=True))
    if old is None:
        if not quiet:
            out(render_tree(result) + "\n")
        out(render_counts(result))
        return
    diff = diff_plans(old, document)
    if diff_format == "markdown":
        again = f"--base {base_ref}" if base_ref is not None else f"--diff {diff_path}"
        out(render_markdown(diff, stack, f"`{against}`", f"python -m infra plan --stack {stack} {again}").rstrip("\n"))
    else:
        if not quiet:
            out(render_tree(result) + "\n")
        out(render_counts(result) + "\n")
        out(render_text(diff, f"the earlier plan ({against})"))
    if detailed:
        sys.exit(2 if diff.has_changes else 0)


def _usage(message: str, detailed: bool) -> click.UsageError:
    error = click.UsageError(message)
    error.exit_code = 1 if detailed else error.exit_code  # 2 would read as "changes"
    return error


def same_stack(old: dict, stack: str, where: str) -> None:
    """Refuse to compare a plan of another stack: every resource would differ by its URN."""
    if old.get("stack") != stack:
        named = f"stack {old['stack']!r}" if isinstance(old.get("stack"), str) else "no named stack"
        fail("plan", f"{where} is a plan of {named}, not of stack {stack!r}: plans of different stacks are not "
                     f"compared; fix: write the earlier plan with `plan --stack {stack} --json FILE`")


MAX_DEPTH = 64  # a plan's values nest a few levels; a deeper file is not one (and would exhaust the stack)


def _depth(value: object) -> int:
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        if level <= MAX_DEPTH:
            children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
            stack += [(child, level + 1) for child in children]
    return deepest


def read_plan_file(path: Path) -> dict:
    """A plan JSON file (`plan --json`), or one line and exit 1 (also used by `check --against`)."""
    document, reason = _plan_document(path)
    if document is None:
        click.echo(f"{path}: not a plan JSON file ({reason}); fix: pass a file written by `plan --json`", err=True)
        sys.exit(1)
    return document


def _plan_document(path: Path) -> tuple[dict | None, str]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except RecursionError:
        return None, "nested too deeply"
    except (ValueError, UnicodeDecodeError) as exc:
        return None, str(exc)
    resources = document.get("resources") if isinstance(document, dict) else None
    if not isinstance(resources, list):
        return None, "it has no `resources` list"
    if _depth(document) > MAX_DEPTH:
        return None, f"nested deeper than {MAX_DEPTH} levels"
    bad = next((i for i, r in enumerate(resources) if not (
        isinstance(r, dict) and isinstance(r.get("urn"), str) and isinstance(r.get("type"), str)
        and isinstance(r.get("inputs", {}), dict))), None)
    if bad is not None:
        return None, f"resource {bad} is not a resource with a `urn`, a `type` and `inputs`"
    return document, ""
