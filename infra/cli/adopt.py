"""`adopt --stack S`: take over the warehouse that exists (docs/adoption.md).

    python -m infra adopt --stack prod                # reads BigQuery (credentials needed)
    python -m infra adopt --stack prod --out adopt/   # where the files go (default adopt/)

Reads the stack's project through google-cloud-bigquery and writes into `--out`:
- `<stack>-import.json`: the `pulumi import --file` file for every declared dataset, table and view
  that exists, giving exactly the URNs the program declares;
- `<stack>-migration.md` and `.json`: what the first `up` after the import changes in what exists.

The Markdown is printed too. Exit 0 when nothing that exists changes, 2 when something does (or
something exists undeclared), 1 on error: bad usage, problems in the declarations, an unknown
stack, no credentials, a refusal by BigQuery, or a project with no dataset at all (nothing to
adopt: the wrong project), each in one line.

`--emulator-url URL` (hidden) reads a local BigQuery emulator instead; the tests use it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from infra.cli.preflight import (
    EMULATOR_OPTION,
    UsageExitsOne,
    client,
    fail,
    known_stack,
    load_and_plan,
    run_guarded,
    stack_option,
)

COMMAND = "adopt"
READ_REFUSED_FIX = ("the identity needs roles/bigquery.metadataViewer on the project (to list datasets, tables and "
                    "ACLs) and on the raw sources' datasets")


@click.command(cls=UsageExitsOne)
@stack_option("The stack whose project to adopt")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("adopt"),
              show_default=True, help="Where the import file and the migration report go.")
@EMULATOR_OPTION
@click.pass_obj
def adopt(root: Path, stack: str, out_dir: Path, emulator_url: str | None) -> None:
    """Write the import file and the migration report for the warehouse that exists.

    Exit 0 nothing that exists changes, 2 something does, 1 error.
    """
    from infra.ops.adoption.import_file import build_import_file
    from infra.ops.adoption.live import read_live
    from infra.ops.adoption.migration import compare
    from infra.ops.adoption.report import as_json, exit_code, render_markdown
    from infra.ops.drift.report import write_report

    known_stack(COMMAND, root, stack)
    warehouse, plan = load_and_plan(root, stack)
    bigquery = client(COMMAND, warehouse, emulator_url)
    project = warehouse.stack.project
    live = run_guarded(COMMAND, lambda: read_live(bigquery, warehouse), READ_REFUSED_FIX)
    if not live.datasets:
        fail(COMMAND, f"project {project} has no dataset: there is nothing to adopt; fix: check `gcp:project` in "
                      f"Pulumi.{stack}.yaml (and that the identity may list the project's datasets)")
    migration = compare(warehouse, live)
    existing = {(d,) for d in live.datasets} | {(d, t) for d, ds in live.datasets.items() for t in ds.tables}
    document = build_import_file(plan.resources, existing)
    out = out_dir if out_dir.is_absolute() else Path.cwd() / out_dir
    out.mkdir(parents=True, exist_ok=True)
    import_path = out / f"{stack}-import.json"
    import_path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    shown = str(import_path.relative_to(Path.cwd())) if import_path.is_relative_to(Path.cwd()) else str(import_path)
    markdown = render_markdown(migration, shown)
    md, js = write_report(out, f"{stack}-migration", markdown, as_json(migration, shown))
    click.echo(markdown, nl=False)
    click.echo(f"\nImport file: {import_path}\nReport: {md} and {js}")
    sys.exit(exit_code(migration))
