"""The drift review's command: `drift --stack S` (what changed behind the code's back) and
`drift --unmanaged --stack S` (what exists that no declaration owns).

    python -m infra drift --stack prod                         # runs pulumi preview --refresh --json
    python -m infra drift --stack prod --from-json preview.json  # a saved preview instead
    python -m infra drift --unmanaged --stack prod             # lists BigQuery (credentials needed)

Both write their report as Markdown (for an issue or a pull-request comment) and JSON (for
machines) into `--out` (default `drift-report/`): `<stack>.md`/`.json` and
`<stack>-unmanaged.md`/`.json`; a live preview's raw JSON is kept as `<stack>.preview.json`.
The Markdown is printed too. Exit codes: 0 nothing found, 2 drift (or unmanaged objects), 1 error,
whatever the Pulumi CLI's own exit code was (0, 7, 1 from 3.226; 255 for any error before). Bad
usage exits 1 too, so that 2 always means drift.

The preview is `pulumi preview --refresh --show-sames --expect-no-changes --json --non-interactive
--stack S --cwd <root>`: a preview never writes the state (`pulumi refresh` would, even when it
fails). Its exit code is only read for what the JSON cannot say (`infra.ops.drift.report`).

`--emulator-url URL` (hidden) points the unmanaged scan at a local BigQuery emulator with
anonymous credentials; the tests use it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import click

from infra.cli.preflight import Refused, UsageExitsOne, client, fail, guarded, known_stack, stack_option
from infra.model.load import load_for_stack
from infra.ops.drift.preview import PreviewError, parse_preview
from infra.ops.drift.report import build_report, error_report, render_markdown, write_report
from infra.problems import ProblemsError

PREVIEW_TIMEOUT = 3600  # seconds; a refresh of every resource of a large stack takes minutes, not an hour
INSTALL_URL = "https://www.pulumi.com/docs/iac/download-install/"
SCAN_REFUSED_FIX = "the scanning identity needs roles/bigquery.metadataViewer on the project"
COMMAND = "drift"


def preview_command(pulumi: str, root: Path, stack: str) -> list[str]:
    # --show-sames: without it an unchanged resource and one deleted outside that the files no longer
    # declare look alike (a refresh step and nothing after it), and drift the files do not manage
    # (ignore_changes) is not shown at all (docs/real-world.md, "preview-show-sames").
    return [pulumi, "preview", "--refresh", "--show-sames", "--expect-no-changes", "--json", "--non-interactive",
            "--stack", stack, "--cwd", str(root)]


def run_preview(root: Path, stack: str) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of the preview; exits 1 in one line when the CLI is missing."""
    pulumi = shutil.which("pulumi")
    if pulumi is None:
        fail(COMMAND, "the Pulumi CLI is not installed (no `pulumi` on PATH); fix: install it "
                      f"({INSTALL_URL}), or pass --from-json with the output of `pulumi preview --refresh --json`")
    env = {**os.environ, "PULUMI_SKIP_UPDATE_CHECK": "true"}
    try:
        done = subprocess.run(preview_command(pulumi, root, stack), cwd=root, env=env, capture_output=True,
                              text=True, timeout=PREVIEW_TIMEOUT, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        fail(COMMAND, f"`pulumi preview` did not finish within {PREVIEW_TIMEOUT} s; fix: check the backend "
                      "and the network, then run it again")
    except OSError as exc:
        fail(COMMAND, f"`{pulumi}` could not be run: {exc}")
    return done.returncode, done.stdout, done.stderr


@click.command(cls=UsageExitsOne)
@stack_option("The stack to review")
@click.option("--unmanaged", is_flag=True,
              help="List what exists in the stack's project that no declaration owns, instead of the preview's drift.")
@click.option("--from-json", "from_json", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="Read a saved `pulumi preview --refresh --json` instead of running the CLI.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("drift-report"),
              show_default=True, help="Where the Markdown and JSON reports go.")
@click.option("--emulator-url", hidden=True, default=None,
              help="Scan the local BigQuery emulator at this URL (anonymous credentials). For tests.")
@click.pass_obj
def drift(root: Path, stack: str, unmanaged: bool, from_json: Path | None, out_dir: Path,
          emulator_url: str | None) -> None:
    """What changed in BigQuery behind the code's back, in plain words, with what to do.

    Exit 0 no drift, 2 drift, 1 error.
    """
    known_stack(COMMAND, root, stack)
    if unmanaged:
        if from_json is not None:
            fail(COMMAND, "--from-json is a saved preview, and --unmanaged lists BigQuery itself; "
                          "fix: pass one of them")
        sys.exit(_unmanaged(root, stack, out_dir, emulator_url))
    if emulator_url:
        fail(COMMAND, "--emulator-url is for --unmanaged only")
    sys.exit(_preview_drift(root, stack, from_json, out_dir))


def _preview_drift(root: Path, stack: str, from_json: Path | None, out_dir: Path) -> int:
    raw: str | None = None
    if from_json is not None:
        cli_exit, stdout, stderr = None, from_json.read_text(encoding="utf-8", errors="replace"), ""
        source = f"{from_json}"
    else:
        cli_exit, stdout, stderr = run_preview(root, stack)
        raw = stdout
        source = "pulumi preview --refresh --show-sames --expect-no-changes --json"
    try:
        document = parse_preview(stdout)
    except PreviewError as exc:
        detail = _tail(stderr)
        where = f"{from_json}" if from_json is not None else f"`pulumi preview` (exit code {cli_exit})"
        report = error_report(stack, f"{where}: {exc}" + (f"; it said: {detail}" if detail else ""), cli_exit)
    else:
        warehouse, problems = _model(root, stack)
        report = build_report(document, stack, cli_exit, refreshed=True if from_json is None else None,
                              warehouse=warehouse)
        if problems:
            report.warnings.append(f"The declarations of stack {stack} have {problems} problem(s) "
                                   "(`python -m infra check`): this report names no declaration files.")
        if report.errors and stderr.strip() and cli_exit:
            report.errors.append(f"`pulumi preview` exited {cli_exit}; its last words: {_tail(stderr)}")
    report.source = source
    markdown = render_markdown(report)
    out = out_dir if out_dir.is_absolute() else Path.cwd() / out_dir
    md, js = write_report(out, stack, markdown, report.as_json())
    if raw is not None and raw.strip():
        (out / f"{stack}.preview.json").write_text(raw, encoding="utf-8")
    click.echo(markdown, nl=False)
    click.echo(f"\nReport: {md} and {js}")
    if report.errors:
        click.echo(f"drift: {report.errors[0]}", err=True)
    return report.exit_code


def _model(root: Path, stack: str):
    """(the stack's model, 0), or (None, the number of problems) when the declarations have some."""
    try:
        return load_for_stack(root, stack), 0
    except ProblemsError as exc:
        return None, len(exc.problems)


def _unmanaged(root: Path, stack: str, out_dir: Path, emulator_url: str | None) -> int:
    from infra.ops.unmanaged import UnmanagedReport, scan
    from infra.ops.unmanaged import render_markdown as render_unmanaged

    try:
        warehouse = load_for_stack(root, stack)
    except ProblemsError as exc:
        click.echo(str(exc), err=True)
        fail(COMMAND, f"{len(exc.problems)} problem(s) in the declarations; fix them first (`python -m infra check`)")
    bigquery = client(COMMAND, warehouse, emulator_url)
    try:
        report = guarded(lambda: scan(bigquery, warehouse), SCAN_REFUSED_FIX)
    except Refused as exc:
        report = UnmanagedReport(stack=stack, project=warehouse.stack.project, errors=[str(exc)])
    markdown = render_unmanaged(report)
    out = out_dir if out_dir.is_absolute() else Path.cwd() / out_dir
    md, js = write_report(out, f"{stack}-unmanaged", markdown, report.as_json())
    click.echo(markdown, nl=False)
    click.echo(f"\nReport: {md} and {js}")
    if report.errors:
        click.echo(f"drift --unmanaged: {report.errors[0]}", err=True)
    return report.exit_code


def _tail(text: str, lines: int = 3) -> str:
    kept = [line.strip() for line in (text or "").splitlines() if line.strip()][-lines:]
    return " / ".join(kept)[:600]
