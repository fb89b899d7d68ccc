"""The drift report: findings, errors and notes of one preview, as Markdown and JSON.

`build_report` reads a preview document (`preview.py`) into findings (`findings.py`), decides the
status from the parsed steps and diagnostics, and `render_markdown` writes it for an issue or a
pull-request comment; `as_json` is the same report for machines. The CLI's exit code is read
only to tell what the JSON cannot: both generations are understood (docs/real-world.md,
"preview-exit-codes"): from 3.226, 0 no change, 7 changes proposed under `--expect-no-changes`,
1 a failed preview, 2/3/6/8 configuration, authentication, unknown stack, cancelled; before, 255
for every error, changes proposed included.

Deliberately not here: running the CLI (`infra.cli.drift`), and what a refresh cannot see
(objects created by hand that no resource tracks: `infra.ops.unmanaged`).
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from infra.ops.drift.findings import Context, Finding, findings_of, show
from infra.ops.drift.preview import MISSING, group_steps, is_refreshed, shows_sames

if TYPE_CHECKING:
    from infra.model.warehouse import Warehouse

NO_CHANGES_EXPECTED = "no changes were expected"
PROTECTED_REPLACE = re.compile(r'unable to replace resource "([^"]+)"\s+as it is currently marked for protection')
CLI_EXIT_CODES = {  # what the Pulumi CLI's exit code says (3.226 and later; 255: any error before)
    0: "no change proposed", 1: "the preview failed", 2: "a configuration or flag error", 3: "an authentication error",
    6: "the stack was not found", 7: "changes were proposed (--expect-no-changes)", 8: "the preview was cancelled",
    255: "an error, or changes proposed under --expect-no-changes (a CLI before 3.226)",
}
DIFF_LINES = 40  # lines of a SQL diff shown in Markdown


@dataclass
class DriftReport:
    stack: str
    findings: list[Finding] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # data loss, diagnostics of severity warning
    notes: list[str] = field(default_factory=list)  # what needs no action
    change_summary: dict = field(default_factory=dict)
    duration_seconds: float | None = None
    cli_exit_code: int | None = None
    refreshed: bool = False
    protected_replacements: list[str] = field(default_factory=list)  # URNs whose replacement protection refused
    source: str = "pulumi preview --refresh --json"

    @property
    def status(self) -> str:
        if self.errors:
            return "error"
        return "drift" if self.findings else "clean"

    @property
    def exit_code(self) -> int:
        """0 no drift, 2 drift, 1 error (whatever the CLI's own exit code was)."""
        return {"clean": 0, "drift": 2, "error": 1}[self.status]

    def as_json(self) -> dict:
        outside = [f for f in self.findings if f.origin != "files"]
        return {
            "stack": self.stack, "status": self.status, "exit_code": self.exit_code,
            "cli_exit_code": self.cli_exit_code, "source": self.source, "refreshed": self.refreshed,
            "summary": {"differences": len(self.findings), "outside_the_code": len(outside),
                        "not_applied": len(self.findings) - len(outside),
                        "resources": len({f.urn for f in self.findings}),
                        "data_loss": sum(f.data_loss for f in self.findings), "errors": len(self.errors)},
            "findings": [{**dataclasses.asdict(f), "sentence": f.sentence} for f in self.findings],
            "errors": self.errors, "warnings": self.warnings, "notes": self.notes,
            "change_summary": self.change_summary, "duration_seconds": self.duration_seconds,
        }


def error_report(stack: str, message: str, cli_exit_code: int | None = None) -> DriftReport:
    return DriftReport(stack=stack, errors=[message], cli_exit_code=cli_exit_code)


def build_report(document: dict, stack: str, cli_exit_code: int | None = None,
                 refreshed: bool | None = None, warehouse: Warehouse | None = None) -> DriftReport:
    """The drift report of one preview document. `refreshed`: whether the preview ran with
    `--refresh` (None: tell from the document: refresh steps, or a URN with several steps).
    `warehouse`: the stack's model, which says where each resource is declared (without it the
    findings name no file to adopt a change into)."""
    steps = [s for s in document.get("steps") or [] if isinstance(s, dict)]
    refreshed = is_refreshed(steps) if refreshed is None else refreshed
    report = DriftReport(stack=stack, cli_exit_code=cli_exit_code, refreshed=refreshed,
                         change_summary=dict(document.get("changeSummary") or {}))
    if isinstance(document.get("duration"), (int, float)):
        report.duration_seconds = round(document["duration"] / 1e9, 1)  # a Go time.Duration: nanoseconds
    protected: set[str] = set()
    for diagnostic in document.get("diagnostics") or []:
        if not isinstance(diagnostic, dict):
            continue
        severity = diagnostic.get("severity")
        raw = str(diagnostic.get("message") or "")
        message = " ".join(raw.split())
        refused = PROTECTED_REPLACE.search(raw)
        if refused:  # a replacement protection refuses: a finding of its own, not a failed review
            protected.add(refused.group(1))
        elif severity == "error" and NO_CHANGES_EXPECTED not in message:
            report.errors.append(message.removeprefix("error: ") or "the preview reported an error without a message")
        elif severity == "warning" and message:
            report.warnings.append(message.removeprefix("warning: "))
    if not steps and not report.errors:
        report.errors.append("the preview has no steps at all: it did not run the program (a real preview always "
                             "has the stack's own step); see the CLI's error output")
    if document.get("maybeCorrupt"):
        report.warnings.append("Pulumi says one or more resources may be corrupt (maybeCorrupt): run "
                               "`pulumi stack export` and check the state before anything else.")
    if steps and not refreshed:
        report.notes.append("The preview was not refreshed: differences made outside the code since the last `up` "
                            "are invisible, and the origin of each difference is unknown.")
    report.protected_replacements = sorted(protected)
    context = Context(stack, refreshed, warehouse, shows_sames(steps), frozenset(protected))
    for resource in group_steps(steps).values():
        findings, notes = findings_of(resource, context)
        report.findings.extend(findings)
        report.notes.extend(notes)
    _read_exit_code(report)
    report.warnings[:0] = [f"Data loss: {f.subject}: {f.what}. Do not re-apply before reading the finding below."
                           for f in report.findings if f.data_loss]
    return report


def _read_exit_code(report: DriftReport) -> None:
    """What the JSON cannot say: a CLI that failed without an error diagnostic, or that proposed
    changes the findings do not explain."""
    code = report.cli_exit_code
    if code in (None, 0) or report.errors:
        return
    meaning = CLI_EXIT_CODES.get(code, "an unknown exit code")
    changed = bool(report.findings) or any(op not in ("same", "refresh") for op in report.change_summary)
    if code in (7, 255) and changed:
        return  # changes were proposed: the findings are them
    if code in (1, 255) and report.protected_replacements:
        return  # the preview fails on a replacement protection refuses: its finding says so
    if code == 7:
        report.errors.append(f"`pulumi preview` exited 7 ({meaning}) but its JSON shows no change this review "
                             "understands: run `pulumi preview --diff` and read it")
        return
    report.errors.append(f"`pulumi preview` exited {code} ({meaning}) and its JSON says no more: the review did not "
                         "complete")


def _code(value: Any) -> str:
    if value is None or value is MISSING:
        return "none"
    text = show(value)
    return f"`{text}`" if "`" not in text else text


def render_markdown(report: DriftReport) -> str:
    """The report for an issue or a pull-request comment."""
    outside = [f for f in report.findings if f.origin != "files"]
    pending = [f for f in report.findings if f.origin == "files"]
    lines = [f"## Drift report: stack `{report.stack}`", ""]
    if report.status == "clean":
        head = "**No drift**: BigQuery matches the files"
    elif report.status == "drift":
        head = (f"**Drift**: {_count(len(outside), 'difference')} made outside the code, "
                f"{_count(len(pending), 'change')} of the files not applied yet, on "
                f"{_count(len({f.urn for f in report.findings}), 'resource')}")
    else:
        head = "**Error**: the preview did not complete" + (
            f"; {len(report.findings)} difference(s) found before it stopped" if report.findings else "")
    ran = ["`pulumi preview --refresh`" if report.refreshed else "`pulumi preview` (not refreshed)"]
    if report.duration_seconds is not None:
        ran.append(f"{report.duration_seconds:g} s")
    if report.cli_exit_code is not None:
        ran.append(f"CLI exit code {report.cli_exit_code}, read from the JSON, not the code")
    lines += [f"{head} (exit {report.exit_code}). From {', '.join(ran)}.", ""]
    for warning in report.warnings:
        lines += [f"> **Warning**: {warning}", ""]
    if report.errors:
        lines += ["### Errors", ""] + [f"- {e}" for e in report.errors] + [""]
    for title, group in (("Changed outside the code", outside), ("Not applied yet", pending)):
        if not group:
            continue
        lines += [f"### {title}", ""]
        for number, f in enumerate(group, 1):
            lines.append(f"{number}. **{f.subject}**: {f.what}. {f.action}")
            where = f"`{f.resource}` (`{f.type}`" + (f", in {f.component}" if f.component else "") + ")"
            if f.property:
                where += f", property `{f.property}`"
            lines.append(f"   - resource: {where}")
            if f.origin == "unknown":
                lines.append("   - origin unknown: the preview was not refreshed")
            if f.category not in ("resource_deleted", "not_applied") or f.property:
                if f.diff:
                    lines += ["   - SQL, BigQuery (-) against the files (+):", "", "     ```diff"]
                    lines += [f"     {line}" for line in sql_diff_lines(f.diff)] + ["     ```"]
                else:
                    lines.append(f"   - in BigQuery: {_code(f.in_bigquery)}; in the files: {_code(f.in_files)}")
        lines.append("")
    if report.notes:
        lines += ["### Notes", ""] + [f"- {n}" for n in report.notes] + [""]
    if report.findings:
        lines += ["Re-apply means running the `up` of the stack (the Deploy workflow, or `pulumi up --stack "
                  f"{report.stack}` with credentials): it writes the files' values back. Adopting means changing the "
                  "files in a pull request, whose preview must then show no change for it.", ""]
    return "\n".join(lines).rstrip() + "\n"


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


def sql_diff_lines(diff_text: str) -> list[str]:
    lines = diff_text.splitlines()
    if len(lines) > DIFF_LINES:
        more = len(lines) - DIFF_LINES
        lines = lines[:DIFF_LINES] + [f"... {more} more lines (the whole diff is in the JSON report)"]
    return lines


def write_report(out_dir: Path, base: str, markdown: str, document: dict) -> tuple[Path, Path]:
    """Write `<base>.md` and `<base>.json` into `out_dir` (created); return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    md, js = out_dir / f"{base}.md", out_dir / f"{base}.json"
    md.write_text(markdown, encoding="utf-8")
    js.write_text(json.dumps(document, indent=2, sort_keys=False, default=str) + "\n", encoding="utf-8")
    return md, js
