"""`review --base REF`: the one pull-request comment a reviewer reads, built offline.

For every stack (or those given), the offline plan diff against the plan the base ref's own code
builds (`infra.plan.base_ref`, rendered by `infra.plan.diff_render`), and the part of the lineage
that changed since the ref with everything downstream of it, the changed tables highlighted
(`changed:REF+`, `infra.checks.select`). The whole text stays within one GitHub comment: the
lineage first, then an equal share of what is left for each stack's diff, each cut with a note of
how to print it whole. The first line is a marker the pull-request workflow finds the comment by,
to update it instead of adding another (.github/workflows/pull-request.yml).

Exit 0 with the Markdown on stdout; 1 with one line when a stack does not load, the ref is
unknown or its plan fails (the `check` job reports the problems themselves).
"""

from __future__ import annotations

from pathlib import Path

import click

from infra.cli.preflight import fail, load, stack_option, stacks

MARKER = "<!-- warehouse-review -->"


@click.command()
@click.option("--base", "base_ref", required=True, metavar="REF",
              help="The git ref the pull request goes into (e.g. origin/main).")
@stack_option("Stack whose plan to diff", every_by_default=True)
@click.pass_obj
def review(root: Path, base_ref: str, stack_names: tuple[str, ...]) -> None:
    """Print the pull request's review as one Markdown comment: each stack's plan diff against REF,
    and the lineage of what changed, downstream included."""
    from infra.checks.select import Declared, SelectorError, selection
    from infra.plan.base_ref import BaseRefError, earlier_plan
    from infra.plan.diff import diff_plans
    from infra.plan.diff_render import COMMENT_LIMIT, render_markdown
    from infra.plan.runtime import ProgramError, run_program
    from infra.problems import ProblemsError

    names = list(stack_names or stacks(root))
    warehouse = load(root, names[0])
    try:
        chosen = selection(Declared.of(warehouse), (f"changed:{base_ref}+",), root)
    except SelectorError as exc:
        fail("review", str(exc))
    head = [MARKER, f"## Warehouse review against `{base_ref}`", ""]
    if chosen.keys:
        head += [f"### Lineage of what changed ({len(chosen.changed)} changed, {len(chosen.keys)} with what they "
                 "feed; changed ones highlighted)", "", "```mermaid",
                 warehouse.lineage.to_mermaid(chosen.keys, chosen.changed), "```", ""]
    else:
        head += ["No table, view or raw source changed: the lineage is as it was.", ""]
    text = "\n".join(head) + "\n"
    share = (COMMENT_LIMIT - len(text.encode("utf-8")) - 16) // len(names)
    for stack in names:
        try:
            old, against = earlier_plan(root, base_ref, stack)
            document = run_program(root, stack).as_json()
        except BaseRefError as exc:
            fail("review", str(exc))
        except (ProblemsError, ProgramError):
            fail("review", f"stack {stack} does not load; fix: run `python -m infra check --stack {stack}`")
        text += render_markdown(diff_plans(old, document), stack, f"`{against}`",
                                f"python -m infra plan --stack {stack} --base {base_ref}", limit=share).rstrip("\n")
        text += "\n\n"
    click.echo(text.rstrip("\n"))
