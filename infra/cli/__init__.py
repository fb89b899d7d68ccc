"""The command-line interface: `python -m infra <command>` (installed as `warehouse`).

One module per command group, all sharing `preflight.py` (loading, one-line failures, the
BigQuery client, the error guard):

- `check.py`: `check` (validate; `--policy` adds the security rules; `--base REF` the breaking
  changes; its report in text, JSON or GitHub annotations, narrowed by `--select`:
  `check_report.py`), `graph`, `impact` (what reads a table or column downstream), `policy-config`;
- `plan.py`: `plan` (the offline plan: tree, JSON, diff against an earlier plan file or git ref,
  as text or Markdown);
- `review.py`: `review --base REF` (the pull request's one comment: plan diffs and changed lineage);
- `run.py`: `run --local` (build the warehouse from fixtures in the local BigQuery emulator);
- `backups.py`: `backups coverage`, `backups list`, `restore`;
- `drift.py`: `drift` (the drift review) and `drift --unmanaged`;
- `adopt.py`: `adopt` (the import file and migration report that take over what exists).

Every command that works on a stack takes `--stack` (default `dev`, or `WAREHOUSE_STACK`;
`check`: every stack unless given one); `--version` prints the versions of this project and its main
dependencies.

Every command but `restore`, `backups list`, `backups copy`, `backups coverage --sizes`, `adopt`,
`drift` (without `--from-json`) and `drift --unmanaged` works offline: no credentials, no Pulumi
CLI, no network. Exit codes: 0 fine, 1 problems in the declarations or a refusal (one line each on
stderr), 2 wrong usage (`drift`, `adopt` and `plan --detailed-exitcode`: 2 is a finding, usage
errors are 1). Bad input never produces a traceback.
"""

from __future__ import annotations

from pathlib import Path

import click

from infra.cli import adopt, backups, check, drift, plan, review, run
from infra.model.load import repository_root

# The distribution `make setup` installs this package as: pyproject.toml's [project] name.
DISTRIBUTION = "warehouse-infra"
# What a bug report needs besides the project's own version: the engine, the provider, the SQL parser.
DEPENDENCIES = ("pulumi", "pulumi-gcp", "sqlglot")


def versions() -> str:
    """The project's version and its main dependencies', as installed (importlib.metadata)."""
    from importlib.metadata import PackageNotFoundError, version

    def of(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "not installed (fix: make setup)"

    return f"{DISTRIBUTION} {of(DISTRIBUTION)}\n" + ", ".join(f"{name} {of(name)}" for name in DEPENDENCIES)


def _print_versions(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(versions())
        ctx.exit()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--version", is_flag=True, is_eager=True, expose_value=False, callback=_print_versions,
              help="Print the versions of this project, Pulumi, pulumi-gcp and sqlglot, and exit.")
@click.option("--root", type=click.Path(file_okay=False, exists=True, path_type=Path), default=None,
              help="Project root (default: the checkout this package is in).")
@click.pass_context
def main_group(ctx: click.Context, root: Path | None) -> None:
    """Warehouse as code: check and plan the BigQuery warehouse offline."""
    ctx.obj = (root or repository_root()).resolve()


for command in (check.check, plan.plan, check.graph, check.impact, run.run, backups.backups, check.policy_config,
                backups.restore, drift.drift, adopt.adopt, review.review):
    main_group.add_command(command)


def main(argv: list[str] | None = None) -> int:
    from infra.plan.sdk import SdkMoved

    try:
        main_group.main(args=argv, prog_name="warehouse", standalone_mode=True)
    except SystemExit as exc:
        return int(exc.code or 0)
    except SdkMoved as exc:  # a Pulumi upgrade moved an internal the offline plan needs
        click.echo(f"warehouse: {exc}", err=True)
        return 1
    return 0
