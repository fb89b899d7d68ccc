"""Drift review: what changed in BigQuery behind the code's back, read from `pulumi preview --refresh --json`.

The input is the document `pulumi preview --json` prints (Pulumi's `display.PreviewDigest`):
`steps` (each with `op`, `urn`, `oldState`/`newState` holding `inputs` and `outputs`,
`diffReasons`, `replaceReasons`, `detailedDiff` mapping property paths such as `accesses[3]`,
`params.query` or `labels["managed-by"]` to `{kind: add|delete|update|*-replace, inputDiff}`),
`diagnostics` (`severity` debug/info/info#err/warning/error), `changeSummary` and `duration`.
With `--refresh` a resource shows up to twice: first its refresh step (op `refresh`, or `update`
/`delete` when the refresh found BigQuery different from the state), then the preview's step,
whose old state is what BigQuery has now and whose new state is what the files declare (the CLI
rewrites a refresh step that found a difference into `update` or `delete`: pulumi/pulumi#16146,
#16851; a `refresh` step means the refresh found BigQuery as the state says). Exit codes
of the CLI are not trusted (255 is both "changes" and "error" on older CLIs, PITFALLS.md): every
decision here comes from the parsed steps and diagnostics.

Each difference becomes a `Finding` that says in plain words what differs, on which resource,
the value in BigQuery and the value in the files, and what to do: re-apply (the stack's `up`,
which writes the files' value back) or adopt the change into the files. The refresh step tells
whether a difference was made outside the code (BigQuery changed since the last `up`) or is a
change of the files that was never applied (the state still matches BigQuery). A replacement or
deletion of a dataset or table is called out as data loss.

Deliberately not here: running the CLI (`drift_cli.py`), and what a refresh cannot see (objects
created by hand that no resource tracks: `unmanaged.py`).
"""

from __future__ import annotations

import builtins
import dataclasses
import difflib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT_STACK = "pulumi:pulumi:Stack"
DATASET = "gcp:bigquery/dataset:Dataset"
TABLE = "gcp:bigquery/table:Table"
TRANSFER = "gcp:bigquery/dataTransferConfig:DataTransferConfig"

# Preview ops that change nothing in the cloud.
QUIET_OPS = frozenset({"same", "read", "refresh", "diff", "discard", "read-replacement", "discard-replaced"})
REPLACE_OPS = frozenset({"replace", "create-replacement", "delete-replaced", "import-replacement"})
# Label maps the provider derives from `labels` (and the stack's default labels): a difference in
# them is the difference in `labels`, reported once.
DERIVED_PROPERTIES = frozenset({"effectiveLabels", "pulumiLabels", "terraformLabels"})
# Labels the program always sets: they can only be put back, not adopted.
RESERVED_LABELS = frozenset({"environment", "layer", "managed-by", "folder"})
NO_CHANGES_EXPECTED = "no changes were expected"

VALUE_LIMIT = 160  # characters of a value shown inline
DIFF_LINES = 40  # lines of a SQL diff shown in Markdown
_MISSING = object()


class PreviewError(ValueError):
    """The text is not a preview document."""


# --- findings and the report --------------------------------------------------------------------------

@dataclass(frozen=True)
class Finding:
    category: str  # acl_entry_added, sql_edited, resource_deleted, not_applied, ... (see README)
    origin: str  # outside (changed behind the code's back), files (not applied yet), unknown
    subject: str  # what a person calls it: production_mart, production_mart.revenue_mrr, scheduled query ...
    what: str  # the plain sentence, without the subject
    action: str  # the suggested action
    resource: str  # the logical name in the stack (the URN's last part)
    type: str  # the resource type token
    urn: str
    component: str | None = None  # the warehouse component it belongs to, "warehouse:dataset:Dataset mart"
    property: str | None = None  # the property path, e.g. accesses[3], params.query
    in_bigquery: Any = None  # the value BigQuery has now (None: absent)
    in_files: Any = None  # the value the files declare (None: absent)
    diff: str | None = None  # a short unified diff (SQL), BigQuery -> files
    data_loss: bool = False

    @builtins.property  # the field above is named `property`
    def sentence(self) -> str:
        return f"{self.subject}: {self.what}. {self.action}"


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


# --- reading the document -------------------------------------------------------------------------------

def parse_preview(text: str) -> dict:
    """The preview document in `text` (the CLI's stdout). Anything printed before the JSON object
    (a CLI warning on stdout) is skipped; no JSON object at all raises `PreviewError`."""
    start = text.find("{")
    if start < 0:
        raise PreviewError("the output holds no JSON document" + (f": {_first_line(text)}" if text.strip() else
                                                                   " (it is empty)"))
    try:
        document, _ = json.JSONDecoder().raw_decode(text[start:])
    except ValueError as exc:
        raise PreviewError(f"the output is not a preview JSON document ({exc})") from None
    if not isinstance(document, dict) or not isinstance(document.get("steps", []), list):
        raise PreviewError("the JSON is not a preview document (no `steps` list)")
    return document


_SEGMENT = re.compile(r'\[(\d+)\]|\["((?:[^"\\]|\\.)*)"\]|\.?([^.\[\]"]+)')


def parse_path(path: str) -> tuple:
    """`accesses[3].role` -> ("accesses", 3, "role"); `labels["managed-by"]` -> ("labels", "managed-by")."""
    out: list = []
    pos = 0
    while pos < len(path):
        m = _SEGMENT.match(path, pos)
        if m is None or m.end() == pos:
            return (path,)
        index, quoted, key = m.groups()
        if index is not None:
            out.append(int(index))
        elif quoted is not None:
            out.append(json.loads(f'"{quoted}"'))
        else:
            out.append(key)
        pos = m.end()
    return tuple(out)


def lookup(value: Any, segments: tuple) -> Any:
    for segment in segments:
        if isinstance(segment, int) and isinstance(value, list) and 0 <= segment < len(value):
            value = value[segment]
        elif isinstance(segment, str) and isinstance(value, dict) and segment in value:
            value = value[segment]
        else:
            return _MISSING
    return value


def _state_value(state: dict | None, segments: tuple, prefer: str) -> Any:
    """A value of a resource state, from `outputs` or `inputs` (`prefer` first)."""
    if not state:
        return _MISSING
    for key in (prefer, "inputs" if prefer == "outputs" else "outputs"):
        found = lookup(state.get(key) or {}, segments)
        if found is not _MISSING:
            return found
    return _MISSING


def _urn_parts(urn: str) -> tuple[str, str]:
    """(resource type, logical name) of a URN."""
    parts = urn.split("::")
    if len(parts) < 4:
        return "", urn
    return parts[2].split("$")[-1], parts[-1]


@dataclass
class _Resource:
    urn: str
    refresh: dict | None = None  # the refresh step (what the refresh found)
    preview: list[dict] = field(default_factory=list)  # the preview's steps (what `up` would do)


def _group(steps: list[dict], refreshed: bool) -> dict[str, _Resource]:
    """Steps by URN, split into the refresh's step and the preview's.

    A resource's first step is its refresh step when the document was refreshed and that step is
    `refresh`, or is followed by more steps for the same URN, or is an `update`/`delete` alone
    (the refresh found a difference and the preview's `same` step is not shown)."""
    grouped: dict[str, list[dict]] = {}
    for step in steps:
        if isinstance(step, dict) and step.get("urn"):
            grouped.setdefault(step["urn"], []).append(step)
    out = {}
    for urn, items in grouped.items():
        resource = _Resource(urn)
        first = items[0]
        if refreshed and (first.get("op") == "refresh" or len(items) > 1 or first.get("op") in ("update", "delete")):
            resource.refresh, items = first, items[1:]
        resource.preview = items
        out[urn] = resource
    return out


def _is_refreshed(steps: list[dict]) -> bool:
    urns = [s.get("urn") for s in steps if isinstance(s, dict)]
    return any(isinstance(s, dict) and s.get("op") == "refresh" for s in steps) or len(urns) != len(set(urns))


# --- building the report --------------------------------------------------------------------------------

def build_report(document: dict, stack: str, cli_exit_code: int | None = None,
                 refreshed: bool | None = None) -> DriftReport:
    """The drift report of one preview document. `refreshed`: whether the preview ran with
    `--refresh` (None: tell from the document: refresh steps, or a URN with several steps)."""
    steps = [s for s in document.get("steps") or [] if isinstance(s, dict)]
    refreshed = _is_refreshed(steps) if refreshed is None else refreshed
    report = DriftReport(stack=stack, cli_exit_code=cli_exit_code, refreshed=refreshed,
                         change_summary=dict(document.get("changeSummary") or {}))
    if isinstance(document.get("duration"), (int, float)):
        report.duration_seconds = round(document["duration"] / 1e9, 1)  # a Go time.Duration: nanoseconds
    for diagnostic in document.get("diagnostics") or []:
        severity = diagnostic.get("severity")
        message = " ".join(str(diagnostic.get("message") or "").split())
        if severity == "error" and NO_CHANGES_EXPECTED not in message:
            report.errors.append(message or "the preview reported an error without a message")
        elif severity == "warning" and message:
            report.warnings.append(message)
    if not steps and not report.errors:
        report.errors.append("the preview has no steps at all: it did not run the program (a real preview always "
                             "has the stack's own step); see the CLI's error output")
    if document.get("maybeCorrupt"):
        report.warnings.append("Pulumi says one or more resources may be corrupt (maybeCorrupt): run "
                               "`pulumi stack export` and check the state before anything else.")
    if not refreshed:
        report.notes.append("The preview was not refreshed: differences made outside the code since the last `up` "
                            "are invisible, and the origin of each difference is unknown.")
    context = _Context(stack, refreshed)
    for resource in _group(steps, refreshed).values():
        report.findings.extend(_findings(resource, context, report))
    report.warnings[:0] = [f"Data loss: {f.subject}: {f.what}. Do not re-apply before reading the finding below."
                           for f in report.findings if f.data_loss]
    return report


@dataclass(frozen=True)
class _Context:
    stack: str
    refreshed: bool

    @property
    def stack_file(self) -> str:
        return f"Pulumi.{self.stack}.yaml"


@dataclass(frozen=True)
class _Target:
    """Who a step is about, in the words of the warehouse."""

    subject: str
    resource: str
    type: str
    urn: str
    component: str | None
    component_type: str | None
    component_name: str | None
    is_view: bool
    file: str | None  # the declaration to adopt a change into


def _target(resource: _Resource) -> _Target:
    step = resource.preview[-1] if resource.preview else resource.refresh
    type_, name = _urn_parts(resource.urn)
    states = [s for s in (step.get("newState"), step.get("oldState"),
                          (resource.refresh or {}).get("oldState")) if isinstance(s, dict)]

    def value(key: str) -> Any:
        for state in states:
            for part in ("inputs", "outputs"):
                found = (state.get(part) or {}).get(key)
                if found not in (None, ""):
                    return found
        return None

    parent = next((s.get("parent") for s in states if s.get("parent")), None)
    component_type, component_name = _urn_parts(parent) if parent else (None, None)
    if component_type == ROOT_STACK:
        component_type = component_name = None
    is_view = bool(value("view"))
    file = None
    if type_ == DATASET:
        subject = value("datasetId") or name
        if component_name and not component_name.startswith(("backup_", "dr_")):
            file = f"datasets/{component_name}.yaml"
    elif type_ == TABLE:
        subject = f"{value('datasetId')}.{value('tableId')}" if value("tableId") else name
        labels = value("labels") or {}
        if labels.get("layer") and labels.get("folder") and value("tableId"):
            file = f"scheduled_queries/{labels['layer']}/{labels['folder']}/{value('tableId')}.yaml"
    elif type_ == TRANSFER:
        display = value("displayName") or name
        if value("dataSourceId") == "cross_region_copy":
            subject = f"cross-region copy {display}"
        elif str(display).startswith("backup/"):
            subject = f"snapshot policy {display.split('/', 1)[1]}"
            file = f"backups/policies/{display.split('/', 1)[1]}.yaml"
        else:
            subject = f"scheduled query {display}"
            if str(display).count("/") == 2:
                file = f"scheduled_queries/{display}.yaml"
    else:
        subject = f"{type_.split(':')[-1]} {name}" if type_ else name
    return _Target(subject=subject, resource=name, type=type_, urn=resource.urn,
                   component=f"{component_type} {component_name}" if component_type else None,
                   component_type=component_type, component_name=component_name, is_view=is_view, file=file)


def _findings(resource: _Resource, ctx: _Context, report: DriftReport) -> list[Finding]:
    if not resource.preview:
        refresh_op = (resource.refresh or {}).get("op")
        if refresh_op == "delete":
            target = _target(resource)
            report.notes.append(f"{target.subject} ({target.resource}) was deleted outside the code and the files no "
                                "longer declare it: the next `up` drops it from the state; nothing to do.")
        elif refresh_op == "update":
            target = _target(resource)
            report.notes.append(f"{target.subject} ({target.resource}) changed outside the code in values the files "
                                "do not manage (e.g. a schema under ignore_changes, a computed field): no action.")
        return []
    ops = [s.get("op") for s in resource.preview]
    changing = [s for s in resource.preview if s.get("op") not in QUIET_OPS]
    if not changing:
        return []
    target = _target(resource)
    step = next((s for s in changing if s.get("op") == "replace"), changing[-1])
    op = "replace" if any(o in REPLACE_OPS for o in ops) else step.get("op")
    if op == "create":
        return [_created(target, resource, ctx)]
    if op == "delete":
        return [_removed_from_files(target, step, ctx)]
    findings = _property_findings(target, resource, step, ctx, replace=(op == "replace"))
    reasons = ", ".join(str(r) for r in step.get("replaceReasons") or step.get("diffReasons") or []) or "no reason given"
    if op == "replace" and _holds_data(target) and not any(f.data_loss for f in findings):
        findings.append(_finding(
            target, "replace", _origin_of(resource, ()),
            f"re-applying would replace {_noun(target)} (because of {reasons}): its data would be lost",
            "Do not re-apply: adopt the change in the files if it was intended, or plan it as a migration.",
            data_loss=True))
    if not findings:
        verb = {"replace": "replaced", "update": "updated"}.get(op, f"changed ({op})")
        findings = [_finding(target, "setting_changed", _origin_of(resource, ()),
                             f"would be {verb} by the next `up` ({reasons})",
                             "Run `pulumi preview --diff` to see why; re-apply if the files are right.")]
    return findings


def _holds_data(target: _Target) -> bool:
    return target.type == DATASET or (target.type == TABLE and not target.is_view)


def _finding(target: _Target, category: str, origin: str, what: str, action: str, **kw: Any) -> Finding:
    return Finding(category=category, origin=origin, subject=target.subject, what=what, action=action,
                   resource=target.resource, type=target.type, urn=target.urn, component=target.component, **kw)


def _noun(target: _Target) -> str:
    if target.type == TABLE:
        return "the view" if target.is_view else "the table"
    return {DATASET: "the dataset", TRANSFER: "the scheduled job"}.get(target.type, "the resource")


def _created(target: _Target, resource: _Resource, ctx: _Context) -> Finding:
    refresh_op = (resource.refresh or {}).get("op")
    up = f"the `up` of stack {ctx.stack}"
    created = _inputs(resource.preview[-1].get("newState"))
    if refresh_op == "delete":
        if target.type == TABLE and not target.is_view:
            table = target.component_name or target.subject
            action = (f"Its data went with it. Restore it under its own name from its newest snapshot "
                      f"(`python -m infra restore {table} --stack {ctx.stack} --in-place --yes`: there is nothing "
                      f"left to replace), then re-apply ({up}) to put its settings back; re-applying alone "
                      "recreates it empty.")
        elif target.type == TABLE:
            action = f"Re-apply ({up}) to recreate it: a view holds no data."
        elif target.type == DATASET:
            action = (f"Re-apply ({up}) to recreate it empty, then restore its tables from their snapshots "
                      f"(`python -m infra backups list <dataset>.<table> --stack {ctx.stack}`, then `restore`).")
        elif target.type == TRANSFER:
            action = f"Re-apply ({up}) to recreate it; the runs missed meanwhile are not made up."
        else:
            action = f"Re-apply ({up}) to recreate it."
        return _finding(target, "resource_deleted", "outside", f"{_noun(target)} was deleted outside the code", action,
                        in_files=created)
    if ctx.refreshed:
        return _finding(target, "not_applied", "files",
                        f"{_noun(target)} is declared in the files but not created yet (not applied)",
                        f"Run {up} (or approve its waiting deployment).", in_files=created)
    return _finding(target, "resource_deleted", "unknown",
                    f"{_noun(target)} is declared in the files but does not exist in BigQuery",
                    f"Re-apply ({up}) to create it.", in_files=created)


def _removed_from_files(target: _Target, step: dict, ctx: _Context) -> Finding:
    loss = _holds_data(target)
    what = f"{_noun(target)} is no longer declared in the files: the next `up` deletes it" + (
        " and its data" if loss else "")
    if loss:
        action = (f"If that is intended, check that its data is backed up before running the `up` of stack "
                  f"{ctx.stack} (a protected resource must be unprotected first); otherwise put its declaration back.")
    else:
        action = f"Run the `up` of stack {ctx.stack} if that is intended; otherwise put its declaration back."
    return _finding(target, "not_applied", "files", what, action, in_bigquery=_inputs(step.get("oldState")),
                    data_loss=loss)


def _inputs(state: dict | None) -> Any:
    return (state or {}).get("inputs") or None


def _origin_of(resource: _Resource, segments: tuple) -> str:
    """outside: the refresh found BigQuery different from the state at this property (made outside
    the code since the last `up`); files: the state matches BigQuery there (the files changed and
    were not applied); unknown: no refresh step to tell."""
    refresh = resource.refresh
    if refresh is None:
        return "unknown"
    if refresh.get("op") == "delete":
        return "outside"
    if refresh.get("op") != "update":
        return "files"
    # Compare the property up to its first list index: set-like lists (ACLs) reorder freely.
    prefix = tuple(segments[:next((i for i, s in enumerate(segments) if isinstance(s, int)), len(segments))])
    if not prefix:
        return "outside"
    before = _state_value(refresh.get("oldState"), prefix, "outputs")
    after = _state_value(refresh.get("newState"), prefix, "outputs")
    return "outside" if before != after else "files"


def _changed_paths(step: dict) -> list[tuple[str, str]]:
    detailed = step.get("detailedDiff")
    if isinstance(detailed, dict) and detailed:
        return sorted((path, str((diff or {}).get("kind") or "update")) for path, diff in detailed.items())
    kind = "update-replace" if step.get("op") == "replace" else "update"
    return [(str(key), kind) for key in step.get("diffReasons") or step.get("replaceReasons") or []]


def _property_findings(target: _Target, resource: _Resource, step: dict, ctx: _Context,
                       replace: bool) -> list[Finding]:
    old, new = step.get("oldState"), step.get("newState")
    findings: list[Finding] = []
    acl_done = False
    for path, kind in _changed_paths(step):
        segments = parse_path(path)
        top = segments[0] if segments else path
        if top in DERIVED_PROPERTIES or str(top).startswith("__"):
            continue
        if target.type == DATASET and top == "accesses":
            if not acl_done:
                findings.extend(_acl_findings(target, resource, old, new, ctx))
                acl_done = True
            continue
        cloud = _state_value(old, segments, "outputs")
        files = _state_value(new, segments, "inputs")
        origin = _origin_of(resource, segments)
        findings.append(_property_finding(target, path, segments, kind, cloud, files, origin, ctx, replace))
    return findings


# --- ACL entries ----------------------------------------------------------------------------------------

def _one(value: Any) -> Any:
    return value[0] if isinstance(value, list) and value else value


def describe_access(entry: dict) -> str:
    """One ACL entry as people write it: `WRITER user:bob@acme.com`, `OWNER specialGroup:projectOwners`."""
    role = str(entry.get("role") or "").strip()
    who = ""
    if entry.get("specialGroup"):
        who = f"specialGroup:{entry['specialGroup']}"
    elif entry.get("groupByEmail"):
        who = f"group:{str(entry['groupByEmail']).lower()}"
    elif entry.get("userByEmail"):
        email = str(entry["userByEmail"]).lower()
        who = email if email.startswith("deleted:") else (
            ("serviceAccount:" if email.endswith(".gserviceaccount.com") else "user:") + email)
    elif entry.get("domain"):
        who = f"domain:{str(entry['domain']).lower()}"
    elif entry.get("iamMember"):
        who = str(entry["iamMember"])
    elif _one(entry.get("view")):
        v = _one(entry["view"])
        who = f"view {v.get('projectId')}.{v.get('datasetId')}.{v.get('tableId')}"
    elif _one(entry.get("dataset")):
        d = _one(_one(entry["dataset"]).get("dataset")) or {}
        who = f"views of dataset {d.get('projectId')}.{d.get('datasetId')}"
    elif _one(entry.get("routine")):
        r = _one(entry["routine"])
        who = f"routine {r.get('projectId')}.{r.get('datasetId')}.{r.get('routineId')}"
    return f"{role} {who}".strip() or json.dumps(entry, sort_keys=True)


def _acl_list(state: dict | None, prefer: str) -> list[dict] | None:
    value = _state_value(state, ("accesses",), prefer)
    if not isinstance(value, list):
        return None
    return [e for e in value if isinstance(e, dict)]


def _who(description: str) -> str:
    return description.split(" ", 1)[1] if " " in description else description


def _acl_findings(target: _Target, resource: _Resource, old: dict | None, new: dict | None,
                  ctx: _Context) -> list[Finding]:
    cloud = {describe_access(e): e for e in _acl_list(old, "outputs") or []}
    files = {describe_access(e): e for e in _acl_list(new, "inputs") or []}
    extra = [d for d in cloud if d not in files]
    missing = [d for d in files if d not in cloud]
    refresh = resource.refresh
    if refresh is not None and refresh.get("op") == "update":
        before = {describe_access(e) for e in _acl_list(refresh.get("oldState"), "outputs") or []}
        after = {describe_access(e) for e in _acl_list(refresh.get("newState"), "outputs") or []}
    else:
        before = after = None

    def origin(description: str, present_in_cloud: bool) -> str:
        if refresh is None:
            return "unknown"
        if before is None:
            return "files"
        changed = (description in after and description not in before) if present_in_cloud else (
            description in before and description not in after)
        return "outside" if changed else "files"

    findings = []

    def not_applied(change: str, detail: str, **where: str) -> None:
        # The files' side differs from BigQuery's because the files changed: the next `up` applies it.
        findings.append(_finding(target, "not_applied", "files", f"the files {change}, not applied yet ({detail})",
                                 f"Run the `up` of stack {ctx.stack}.", property="accesses", **where))

    changed_who = {_who(d) for d in extra} & {_who(d) for d in missing}
    for description in extra:
        who = _who(description)
        if who in changed_who:
            declared = next(d for d in missing if _who(d) == who)
            o = origin(description, True)
            if o == "files":
                not_applied("change an ACL entry", f"{description} in BigQuery, {declared} in the files",
                            in_bigquery=description, in_files=declared)
                continue
            findings.append(_finding(
                target, "acl_entry_changed", o,
                f"an ACL entry was changed outside the code ({description}; the files say {declared.split(' ')[0]})",
                f"Re-apply to put {declared.split(' ')[0]} back, or change the role's grant in roles/ "
                f"(or the member's role in {ctx.stack_file}) to adopt it.",
                property="accesses", in_bigquery=description, in_files=declared))
            continue
        o = origin(description, True)
        if o == "files":
            not_applied("remove an ACL entry", description, in_bigquery=description)
            continue
        category, what, action = _extra_acl_words(description, target, ctx)
        findings.append(_finding(target, category, o, what, action, property="accesses", in_bigquery=description))
    for description in missing:
        if _who(description) in changed_who:
            continue
        o = origin(description, False)
        if o == "files":
            not_applied("add an ACL entry", description, in_files=description)
            continue
        findings.append(_finding(
            target, "acl_entry_removed", o, f"an ACL entry of the files was removed outside the code ({description})",
            f"Re-apply to put it back, or, if the removal was intended, take the member out of its role in "
            f"{ctx.stack_file} (or the grant out of roles/).", property="accesses", in_files=description))
    return findings


def _extra_acl_words(description: str, target: _Target, ctx: _Context) -> tuple[str, str, str]:
    """(category, what, action) of an ACL entry that is in BigQuery and not in the files."""
    role, _, who = description.partition(" ")
    if "deleted:" in who:
        return ("acl_deleted_principal", f"an ACL entry names an account that was deleted ({description})",
                f"Re-apply to remove it; if the account is listed under warehouse:members in {ctx.stack_file}, "
                "remove it there too.")
    what = f"an ACL entry was added outside the code ({description})"
    if who.startswith(("user:", "domain:")) and role in ("WRITER", "OWNER"):
        return ("acl_entry_added", what,
                f"Re-apply to remove it. To keep the access, add {who.split(':', 1)[1]} to a group that a role grants "
                f"{role} on {target.subject} (individuals and domains are never WRITER or OWNER in the files).")
    if who.startswith(("user:", "group:", "serviceAccount:", "domain:")):
        return ("acl_entry_added", what,
                f"Re-apply to remove it, or add the principal to a role in the files "
                f"(warehouse:members in {ctx.stack_file}).")
    return ("acl_entry_added", what, "Re-apply to remove it; an authorization belongs in the files (a view that "
                                     "reads the dataset authorizes its dataset).")


# --- other properties -----------------------------------------------------------------------------------

def show(value: Any, limit: int = VALUE_LIMIT) -> str:
    """A value in one line, cut at `limit` characters."""
    if value is _MISSING or value is None:
        return "(none)"
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + f"\u2026 ({len(text)} characters)"


def sql_diff(cloud: str, files: str, to_file: str, limit: int | None = None) -> str:
    lines = list(difflib.unified_diff(cloud.splitlines(), files.splitlines(), fromfile="BigQuery (now)",
                                      tofile=to_file, lineterm="", n=2))
    if limit is not None and len(lines) > limit:
        lines = lines[:limit] + [f"... {len(lines) - limit} more lines"]
    return "\n".join(lines)


def _property_finding(target: _Target, path: str, segments: tuple, kind: str, cloud: Any, files: Any, origin: str,
                      ctx: _Context, replace: bool) -> Finding:
    top = segments[0] if segments else path
    base_kind = kind.replace("-replace", "")
    in_cloud = None if cloud is _MISSING else cloud
    in_files = None if files is _MISSING else files
    values = f"{show(cloud)} in BigQuery, {show(files)} in the files"
    common = dict(property=path, in_bigquery=in_cloud, in_files=in_files)
    loss = replace and kind.endswith("-replace") and _holds_data(target)
    up = f"the `up` of stack {ctx.stack}"
    if origin == "files":
        verb = {"add": "add", "delete": "remove"}.get(base_kind, "change")
        return _finding(target, "not_applied", origin, f"the files {verb} `{path}`, not applied yet ({values})",
                        f"Run {up} (or approve its waiting deployment).", data_loss=loss, **common)
    if kind.endswith("-replace"):
        what = (f"`{path}` differs ({values}) and re-applying would replace the "
                f"{'view' if target.is_view else target.type.split(':')[-1].lower()}")
        if loss:
            what += ": its data would be lost"
        adopt = f" in {target.file}" if target.file else " in the files"
        action = (f"Do not re-apply: adopt the change{adopt} if it was intended, or plan the change as a migration "
                  "(a new table, a copy, then a swap)." if loss else
                  f"Re-apply to put the files' value back, or adopt the change{adopt}.")
        return _finding(target, "replace", origin, what, action, data_loss=loss, **common)
    if target.type == TRANSFER and segments == ("params", "query"):
        sql_file = target.file[:-len(".yaml")] + ".sql" if target.file and target.file.startswith(
            "scheduled_queries/") else None
        diff_text = sql_diff(str(in_cloud or ""), str(in_files or ""), sql_file or "the files") if isinstance(
            in_cloud, str) and isinstance(in_files, str) else None
        changed = sum(1 for line in (diff_text or "").splitlines()
                      if line[:1] in "+-" and not line.startswith(("+++", "---")))
        if sql_file:
            action = (f"Re-apply to put back the SQL of {sql_file}, or copy BigQuery's SQL into {sql_file} "
                      "(with the dataset names, not the stack's ids), run `check` and open a pull request.")
        else:
            action = "Re-apply to put back the generated SQL (it is not edited by hand)."
        return _finding(target, "sql_edited", origin,
                        f"its SQL was edited outside the code ({changed} line{'s' if changed != 1 else ''} differ)",
                        action, diff=diff_text, **common)
    if target.type == TRANSFER and top == "disabled":
        return _finding(target, "disabled", origin,
                        "it was disabled (paused) outside the code" if in_cloud else "it was enabled outside the code",
                        f"Re-apply to {'enable' if in_cloud else 'disable'} it again, or remove the query from the "
                        "files if it should stay off.", **common)
    if target.type == TRANSFER and top == "schedule":
        where = f"`schedule:` in {target.file}" if target.file else "its schedule in the files"
        return _finding(target, "schedule_changed", origin, f"its schedule was changed outside the code ({values})",
                        f"Re-apply to put the files' schedule back, or set {where}.", **common)
    if top == "labels" and len(segments) == 2:
        label = segments[1]
        where = target.file or "the declaration"
        adopt = ("" if label in RESERVED_LABELS else f", or set it under `labels:` in {where}")
        if base_kind == "delete":
            return _finding(target, "label_added", origin,
                            f"label `{label}` was added outside the code ({show(cloud)})",
                            f"Re-apply to remove it{adopt.replace('set it', 'add it')}.", **common)
        if base_kind == "add":
            return _finding(target, "label_removed", origin,
                            f"label `{label}` was removed outside the code (the files say {show(files)})",
                            "Re-apply to put it back" + (", or remove it from the files" if label not in RESERVED_LABELS
                                                         else " (the program always sets it)") + ".", **common)
        return _finding(target, "label_changed", origin,
                        f"label `{label}` was changed outside the code ({values})",
                        "Re-apply to put the files' value back" + (
                            " (the program always sets this label)." if label in RESERVED_LABELS
                            else f"{adopt}."), **common)
    where = f" in {target.file}" if target.file else " in the files"
    verb = {"add": "removed", "delete": "added"}.get(base_kind, "changed")
    return _finding(target, "setting_changed", origin, f"`{path}` was {verb} outside the code ({values})",
                    f"Re-apply to put the files' value back, or adopt it{where}.", **common)


# --- output ---------------------------------------------------------------------------------------------

def _code(value: Any) -> str:
    if value is None or value is _MISSING:
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


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")[:300]
