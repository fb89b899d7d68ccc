"""What `check` reports, in its three formats, and which of it a selection shows.

- `text` (the default): each problem one line on stderr as it is found, `file:line: key: what;
  fix: how`; each stack's summary on stdout; the count of problems last.
- `github`: the same, but each problem, security-rule violation and refusal is a GitHub Actions
  workflow command on stdout (`::error file=F,line=L,title=T::message`; `::warning` for an
  advisory rule), its properties and message escaped as the runner unescapes them
  (docs/real-world.md, `gha-escaping`, `gha-annotations`).
- `json`: one document on stdout once every stack is checked: each stack and its status, each
  problem once with the stacks it was found in, each violation, refusal and error, the selection.

A selection (`check --select`) narrows the report, never the check: every problem still counts
for the exit code, and the problems outside the selection's files are counted in one line.

Deliberately not here: loading and checking (`check.py`), the selection grammar
(`infra/checks/select.py`).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from typing import Any

import click

from infra.checks.select import Selection
from infra.problems import Problem

FORMATS = ("text", "json", "github")


def escape_data(text: str) -> str:
    """A workflow command's message, as the runner unescapes it (`%` first, so it stays itself)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A workflow command's property value: also `:` and `,`, which end the value."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(level: str, message: str, title: str, file: str | None = None, line: int | None = None) -> str:
    """One GitHub Actions annotation (`error`, `warning` or `notice`); no `line=` when unknown."""
    props = [f"file={escape_property(file)}"] if file else []
    props += [f"line={line}"] if file and line else []
    props.append(f"title={escape_property(title)}")
    return f"::{level} {','.join(props)}::{escape_data(message)}"


@dataclass
class CheckReport:
    fmt: str
    selection: Selection | None = None
    selectors: tuple[str, ...] = ()
    failed: int = 0  # what the exit code counts: problems, mandatory violations, refusals, errors
    hidden: int = 0  # problems outside the selection
    stacks: list[dict] = field(default_factory=list)
    found: dict[str, tuple[Problem, list[str]]] = field(default_factory=dict)  # str(problem) -> (it, stacks)
    violations: list[dict] = field(default_factory=list)
    refusals: list[dict] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)

    def problems(self, stack: str, problems: tuple[Problem, ...] | list[Problem]) -> int:
        """Record problems found against `stack`; one found against an earlier stack is told once.
        The number of new ones."""
        new = []
        for p in problems:
            if str(p) in self.found:
                stacks = self.found[str(p)][1]
                if stack not in stacks:
                    stacks.append(stack)
                continue
            self.found[str(p)] = (p, [stack])
            new.append(p)
        shown = [p for p in new if self.shows(p)]
        self.hidden += len(new) - len(shown)
        self.failed += len(new)
        if new:
            self._mark(stack)
        for p in shown:
            self._problem_line(p)
        return len(new)

    def shows(self, p: Problem) -> bool:
        return self.selection is None or p.file in self.selection.files

    def stack_failed(self, stack: str, problems: tuple[Problem, ...]) -> None:
        """The stack's declarations did not load: its problems."""
        self.stacks.append({"stack": stack, "status": "problems", "problems": len(problems)})
        self.problems(stack, problems)

    def stack_ok(self, stack: str, warehouse) -> None:
        counts = {"datasets": len(warehouse.datasets), "sources": len(warehouse.sources),
                  "roles": len(warehouse.roles), "queries": len(warehouse.queries)}
        self.stacks.append({"stack": stack, "status": "ok", **counts})
        self._out(f"{stack}: OK ({counts['datasets']} datasets, {counts['sources']} raw sources, "
                  f"{counts['roles']} roles, {counts['queries']} queries and views)")

    def violation(self, stack: str, v) -> None:
        self.violations.append({"stack": stack, "rule": v.rule, "resource": v.urn, "message": v.message,
                                "fix": v.fix, "advisory": v.advisory})
        if not v.advisory:
            self.failed += 1
            self._mark(stack)
        if self.fmt == "github":
            level = "warning" if v.advisory else "error"
            click.echo(annotation(level, f"{v.urn}: {v.message}; fix: {v.fix}",
                                  f"policy {v.rule} ({'advisory' if v.advisory else 'mandatory'})"))
        elif self.fmt == "text":
            click.echo(str(v), err=True)

    def refusal(self, stack: str, resource: str, message: str, fix: str) -> None:
        self.refusals.append({"stack": stack, "resource": resource, "message": message, "fix": fix})
        self.failed += 1
        self._mark(stack)
        self._line(f"{resource}: {message}; fix: {fix}", "check --against")

    def error(self, stack: str, message: str) -> None:
        """The program stopped on the stack (a one-line `ProgramError`)."""
        self.errors.append({"stack": stack, "message": message})
        self.failed += 1
        self._mark(stack)
        self._line(message, f"stack {stack}")

    def summary(self, line: str, **facts: Any) -> None:
        """A stack's summary line (stdout in text); its `facts` go into the stack's JSON entry."""
        self.stacks[-1].update(facts)
        self._out(line)

    def finish(self) -> None:
        """The last lines, or the JSON document; exit 1 when anything failed."""
        if self.fmt == "json":
            click.echo(json.dumps(self._document(), indent=2))
        else:
            if self.hidden:
                message = (f"{self.hidden} other problem(s), outside the selection, not shown "
                           "(run check without --select to see them)")
                if self.fmt == "github":
                    click.echo(annotation("notice", message, "check --select"))
                else:
                    click.echo(message + ".", err=True)
            if self.failed:
                click.echo(f"{self.failed} problem(s) found.", err=True)
        if self.failed:
            sys.exit(1)

    def _document(self) -> dict:
        problems = [{"file": p.file, "line": p.line, "key": p.key, "what": p.what, "fix": p.fix, "stacks": stacks}
                    for p, stacks in self.found.values() if self.shows(p)]
        selected = None
        if self.selection is not None:
            selected = {"selectors": list(self.selectors), "tables": sorted(self.selection.keys),
                        "queries_not_loaded": sorted(self.selection.unloaded), "problems_not_shown": self.hidden}
        return {"stacks": self.stacks, "problems": problems, "violations": self.violations,
                "refusals": self.refusals, "errors": self.errors, "selection": selected,
                "failed": self.failed, "exit_code": 1 if self.failed else 0}

    def _mark(self, stack: str) -> None:
        """Something counted against `stack`: its status is `problems`."""
        for entry in self.stacks:
            if entry["stack"] == stack:
                entry["status"] = "problems"

    def _problem_line(self, p: Problem) -> None:
        if self.fmt == "github":
            click.echo(annotation("error", f"{p.what}; fix: {p.fix}", f"check {p.key}".strip(), p.file, p.line))
        elif self.fmt == "text":
            click.echo(str(p), err=True)

    def _line(self, text: str, title: str) -> None:
        if self.fmt == "github":
            click.echo(annotation("error", text, title))
        elif self.fmt == "text":
            click.echo(text, err=True)

    def _out(self, line: str) -> None:
        if self.fmt != "json":
            click.echo(line)
