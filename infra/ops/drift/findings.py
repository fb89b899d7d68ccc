"""What each difference of a preview means, in plain words, and what to do about it.

Each difference becomes a `Finding` that says what differs, on which resource, the value in
BigQuery and the value in the files, and what to do: re-apply (the stack's `up`, which writes
the files' value back) or adopt the change into the files, whose path the model gives
(`Warehouse.declaration_file`). The refresh step tells whether a difference was made outside the
code (BigQuery changed since the last `up`) or is a change of the files that was never applied
(the state still matches BigQuery). A replacement or deletion of a dataset or table is called
out as data loss.

Deliberately not here: reading the document (`preview.py`) and the report (`report.py`).
"""

from __future__ import annotations

import builtins
import difflib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from infra.ops.drift.preview import MISSING, QUIET_OPS, REPLACE_OPS, StepsOf, parse_path, state_value, urn_parts
from infra.resources.program import declaration_of
from infra.vocabulary import DATASET_TYPE, RESERVED_LABELS, STACK_TYPE, TABLE_TYPE, TRANSFER_TYPE, acl_entry_text

if TYPE_CHECKING:
    from infra.model.warehouse import Warehouse

# Label maps the provider derives from `labels` (and the stack's default labels): a difference in
# them is the difference in `labels`, reported once.
DERIVED_PROPERTIES = frozenset({"effectiveLabels", "pulumiLabels", "terraformLabels"})
VALUE_LIMIT = 160  # characters of a value shown inline


@dataclass(frozen=True)
class Finding:
    """One difference between BigQuery and the files, in plain words, with what to do about it."""

    category: str  # acl_entry_added, sql_edited, resource_deleted, not_applied, ... (see docs/drift.md)
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


@dataclass(frozen=True)
class Context:
    """What every finding of one report is told in: the stack, whether the preview was refreshed,
    and the stack's model (where each resource is declared; None when the files have problems)."""

    stack: str
    refreshed: bool
    warehouse: Warehouse | None = None

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
    sql_file: str | None  # a query's or view's SQL file


def _target(resource: StepsOf, ctx: Context) -> _Target:
    step = resource.preview[-1] if resource.preview else resource.refresh
    type_, name = urn_parts(resource.urn)
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
    component_type, component_name = urn_parts(parent) if parent else (None, None)
    if component_type == STACK_TYPE:
        component_type = component_name = None
    is_view = bool(value("view"))
    # Where it is declared, from the model: the program says which declaration a component comes from.
    declaration = declaration_of(component_type, component_name) if component_type else None
    file = sql_file = None
    if declaration is not None and ctx.warehouse is not None:
        file = ctx.warehouse.declaration_file(*declaration)
        query = ctx.warehouse.query(declaration[1]) if declaration[0] == "query" else None
        sql_file = query.spec.sql_file if query is not None else None
    if type_ == DATASET_TYPE:
        subject = value("datasetId") or name
    elif type_ == TABLE_TYPE:
        subject = f"{value('datasetId')}.{value('tableId')}" if value("tableId") else name
    elif type_ == TRANSFER_TYPE:
        display = value("displayName") or name
        if value("dataSourceId") == "cross_region_copy":
            subject = f"cross-region copy {display}"
        elif str(display).startswith("backup/"):
            subject = f"snapshot policy {display.split('/', 1)[1]}"
        else:
            subject = f"scheduled query {display}"
    else:
        subject = f"{type_.split(':')[-1]} {name}" if type_ else name
    return _Target(subject=subject, resource=name, type=type_, urn=resource.urn,
                   component=f"{component_type} {component_name}" if component_type else None,
                   component_type=component_type, component_name=component_name, is_view=is_view, file=file,
                   sql_file=sql_file)


def findings_of(resource: StepsOf, ctx: Context) -> tuple[list[Finding], list[str]]:
    """The findings of one resource's steps, and notes on what needs no action."""
    if not resource.preview:
        refresh_op = (resource.refresh or {}).get("op")
        notes = []
        if refresh_op == "delete":
            target = _target(resource, ctx)
            notes.append(f"{target.subject} ({target.resource}) was deleted outside the code and the files no "
                         "longer declare it: the next `up` drops it from the state; nothing to do.")
        elif refresh_op == "update":
            target = _target(resource, ctx)
            notes.append(f"{target.subject} ({target.resource}) changed outside the code in values the files "
                         "do not manage (e.g. a schema under ignore_changes, a computed field): no action.")
        return [], notes
    ops = [s.get("op") for s in resource.preview]
    changing = [s for s in resource.preview if s.get("op") not in QUIET_OPS]
    if not changing:
        return [], []
    target = _target(resource, ctx)
    step = next((s for s in changing if s.get("op") == "replace"), changing[-1])
    op = "replace" if any(o in REPLACE_OPS for o in ops) else step.get("op")
    if op == "create":
        return [_created(target, resource, ctx)], []
    if op == "delete":
        return [_removed_from_files(target, step, ctx)], []
    findings = _property_findings(target, resource, step, ctx, replace=(op == "replace"))
    reasons = (", ".join(str(r) for r in step.get("replaceReasons") or step.get("diffReasons") or [])
               or "no reason given")
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
    return findings, []


def _holds_data(target: _Target) -> bool:
    return target.type == DATASET_TYPE or (target.type == TABLE_TYPE and not target.is_view)


def _finding(target: _Target, category: str, origin: str, what: str, action: str, **kw: Any) -> Finding:
    return Finding(category=category, origin=origin, subject=target.subject, what=what, action=action,
                   resource=target.resource, type=target.type, urn=target.urn, component=target.component, **kw)


def _noun(target: _Target) -> str:
    if target.type == TABLE_TYPE:
        return "the view" if target.is_view else "the table"
    return {DATASET_TYPE: "the dataset", TRANSFER_TYPE: "the scheduled job"}.get(target.type, "the resource")


def _created(target: _Target, resource: StepsOf, ctx: Context) -> Finding:
    refresh_op = (resource.refresh or {}).get("op")
    up = f"the `up` of stack {ctx.stack}"
    created = _inputs(resource.preview[-1].get("newState"))
    if refresh_op == "delete":
        if target.type == TABLE_TYPE and not target.is_view:
            table = target.component_name or target.subject
            action = (f"Its data went with it. Restore it under its own name from its newest snapshot "
                      f"(`python -m infra restore {table} --stack {ctx.stack} --in-place --yes`: there is nothing "
                      f"left to replace), then re-apply ({up}) to put its settings back; re-applying alone "
                      "recreates it empty.")
        elif target.type == TABLE_TYPE:
            action = f"Re-apply ({up}) to recreate it: a view holds no data."
        elif target.type == DATASET_TYPE:
            action = (f"Re-apply ({up}) to recreate it empty, then restore its tables from their snapshots "
                      f"(`python -m infra backups list <dataset>.<table> --stack {ctx.stack}`, then `restore`).")
        elif target.type == TRANSFER_TYPE:
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


def _removed_from_files(target: _Target, step: dict, ctx: Context) -> Finding:
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


def _origin_of(resource: StepsOf, segments: tuple) -> str:
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
    before = state_value(refresh.get("oldState"), prefix, "outputs")
    after = state_value(refresh.get("newState"), prefix, "outputs")
    return "outside" if before != after else "files"


def _changed_paths(step: dict) -> list[tuple[str, str]]:
    detailed = step.get("detailedDiff")
    if isinstance(detailed, dict) and detailed:
        return sorted((path, str((diff or {}).get("kind") or "update")) for path, diff in detailed.items())
    kind = "update-replace" if step.get("op") == "replace" else "update"
    return [(str(key), kind) for key in step.get("diffReasons") or step.get("replaceReasons") or []]


def _property_findings(target: _Target, resource: StepsOf, step: dict, ctx: Context,
                       replace: bool) -> list[Finding]:
    old, new = step.get("oldState"), step.get("newState")
    findings: list[Finding] = []
    acl_done = False
    for path, kind in _changed_paths(step):
        segments = parse_path(path)
        top = segments[0] if segments else path
        if top in DERIVED_PROPERTIES or str(top).startswith("__"):
            continue
        if target.type == DATASET_TYPE and top == "accesses":
            if not acl_done:
                findings.extend(_acl_findings(target, resource, old, new, ctx))
                acl_done = True
            continue
        cloud = state_value(old, segments, "outputs")
        files = state_value(new, segments, "inputs")
        origin = _origin_of(resource, segments)
        findings.append(_property_finding(target, path, segments, kind, cloud, files, origin, ctx, replace))
    return findings


def _acl_list(state: dict | None, prefer: str) -> list[dict] | None:
    value = state_value(state, ("accesses",), prefer)
    if not isinstance(value, list):
        return None
    return [e for e in value if isinstance(e, dict)]


def _who(description: str) -> str:
    return description.split(" ", 1)[1] if " " in description else description


def _acl_findings(target: _Target, resource: StepsOf, old: dict | None, new: dict | None,
                  ctx: Context) -> list[Finding]:
    cloud = {acl_entry_text(e): e for e in _acl_list(old, "outputs") or []}
    files = {acl_entry_text(e): e for e in _acl_list(new, "inputs") or []}
    extra = [d for d in cloud if d not in files]
    missing = [d for d in files if d not in cloud]
    refresh = resource.refresh
    if refresh is not None and refresh.get("op") == "update":
        before = {acl_entry_text(e) for e in _acl_list(refresh.get("oldState"), "outputs") or []}
        after = {acl_entry_text(e) for e in _acl_list(refresh.get("newState"), "outputs") or []}
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


def _extra_acl_words(description: str, target: _Target, ctx: Context) -> tuple[str, str, str]:
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


def show(value: Any, limit: int = VALUE_LIMIT) -> str:
    """A value in one line, cut at `limit` characters."""
    if value is MISSING or value is None:
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
                      ctx: Context, replace: bool) -> Finding:
    top = segments[0] if segments else path
    base_kind = kind.replace("-replace", "")
    in_cloud = None if cloud is MISSING else cloud
    in_files = None if files is MISSING else files
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
    if target.type == TRANSFER_TYPE and segments == ("params", "query"):
        sql_file = target.sql_file
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
    if target.type == TRANSFER_TYPE and top == "disabled":
        return _finding(target, "disabled", origin,
                        "it was disabled (paused) outside the code" if in_cloud else "it was enabled outside the code",
                        f"Re-apply to {'enable' if in_cloud else 'disable'} it again, or remove the query from the "
                        "files if it should stay off.", **common)
    if target.type == TRANSFER_TYPE and top == "schedule":
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
