"""What each difference of a preview means, in plain words, and what to do about it.

Each difference becomes a `Finding` that says what differs, on which resource, the value in
BigQuery and the value in the files, and what to do: re-apply (the stack's `up`, which writes
the files' value back) or adopt the change into the files, whose path the model gives
(`Warehouse.declaration_file`). Where a difference comes from is read from the states
(`preview.py`): if the state the last `up` left (the refresh step's) differs from what BigQuery
holds now (the program step's `oldState`) at that property, it was changed outside the code;
if they agree, the files changed and were never applied. A replacement or deletion of a dataset
or table is called out as data loss; a replacement that protection refuses says so.

Deliberately not here: reading the document (`preview.py`), whom a step is about (`subjects.py`),
a dataset's ACL (`acl.py`) and the report (`report.py`).
"""

from __future__ import annotations

import dataclasses
import difflib
from typing import Any

from infra.ops.drift.acl import acl_findings
from infra.ops.drift.preview import (
    MISSING,
    QUIET_OPS,
    REPLACE_OPS,
    SECRET,
    STACK,
    StepsOf,
    parse_path,
    state_value,
    urn_parts,
)
from infra.ops.drift.subjects import (
    DERIVED_PROPERTIES,
    Context,
    Finding,
    Target,
    finding,
    holds_data,
    noun,
    show,
    target_of,
)
from infra.vocabulary import DATASET_TYPE, RESERVED_LABELS, TABLE_TYPE, TRANSFER_TYPE

__all__ = ["DERIVED_PROPERTIES", "Context", "Finding", "findings_of", "show", "sql_diff"]


def findings_of(resource: StepsOf, ctx: Context) -> tuple[list[Finding], list[str]]:
    """The findings of one resource's steps, and notes on what needs no action."""
    states = [s for step in [resource.refresh, *resource.preview] if step
              for s in (step.get("oldState"), step.get("newState")) if isinstance(s, dict)]
    if urn_parts(resource.urn)[0] == STACK or (states and not any(s.get("custom") for s in states)):
        return [], []  # the stack and the components hold nothing: their resources' steps say it all
    if not resource.preview:
        if resource.refresh is not None and ctx.shows_sames:
            target = target_of(resource, ctx)
            return [], [f"{target.subject} ({target.resource}) is in the state but neither in BigQuery nor in the "
                        "files any more (deleted outside the code, and no longer declared): the next `up` drops it "
                        "from the state; nothing to do."]
        return [], []
    ops = [s.get("op") for s in resource.preview]
    changing = [s for s in resource.preview if s.get("op") not in QUIET_OPS]
    if not changing:
        return [], _unmanaged_drift(resource, ctx)
    target = target_of(resource, ctx)
    step = next((s for s in changing if s.get("op") == "replace"), changing[-1])
    op = "replace" if any(o in REPLACE_OPS for o in ops) else step.get("op")
    if op == "import":
        return [_imported(target, step, ctx)], []
    if op == "create":
        return [_created(target, resource, ctx)], []
    if op == "delete":
        return [_removed_from_files(target, step, ctx)], []
    findings = _property_findings(target, resource, step, ctx, replace=(op == "replace"))
    reasons = (", ".join(str(r) for r in step.get("replaceReasons") or step.get("diffReasons") or [])
               or "no reason given")
    if op == "replace" and holds_data(target) and not any(f.data_loss for f in findings):
        findings.append(finding(
            target, "replace", _origin_of(resource, ()),
            f"re-applying would replace {noun(target)} (because of {reasons}): its data would be lost",
            "Do not re-apply: adopt the change in the files if it was intended, or plan it as a migration.",
            data_loss=True))
    if not findings:
        verb = {"replace": "replaced", "update": "updated"}.get(op, f"changed ({op})")
        findings = [finding(target, "setting_changed", _origin_of(resource, ()),
                             f"would be {verb} by the next `up` ({reasons})",
                             "Run `pulumi preview --diff` to see why; re-apply if the files are right.")]
    if resource.urn in ctx.protected:
        findings = [dataclasses.replace(f, what=f.what + "; protection stops the `up` until it is resolved")
                    if f.category == "replace" else f for f in findings]
    return findings, []


def _unmanaged_drift(resource: StepsOf, ctx: Context) -> list[str]:
    """A note when BigQuery changed where the files do not look (`ignore_changes`, e.g. a table's
    schema): the program's step is `same`, yet the refresh found other inputs."""
    before = (resource.checkpoint or {}).get("inputs")
    after = (resource.cloud or {}).get("inputs")
    if not isinstance(before, dict) or not isinstance(after, dict) or before == after:
        return []
    keys = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k) and k not in DERIVED_PROPERTIES)
    if not keys:
        return []
    target = target_of(resource, ctx)
    return [f"{target.subject} ({target.resource}) changed outside the code in {', '.join(f'`{k}`' for k in keys)}, "
            "which the files do not manage (`ignore_changes`): no `up` changes it back; check that it is intended."]


def _created(target: Target, resource: StepsOf, ctx: Context) -> Finding:
    up = f"the `up` of stack {ctx.stack}"
    created = _inputs(resource.preview[-1].get("newState"))
    if resource.deleted_outside:
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
        return finding(target, "resource_deleted", "outside", f"{noun(target)} was deleted outside the code", action,
                        in_files=created)
    if ctx.refreshed:
        return finding(target, "not_applied", "files",
                        f"{noun(target)} is declared in the files but not created yet (not applied)",
                        f"Run {up} (or approve its waiting deployment).", in_files=created)
    return finding(target, "resource_deleted", "unknown",
                    f"{noun(target)} is declared in the files but does not exist in BigQuery",
                    f"Re-apply ({up}) to create it.", in_files=created)


def _imported(target: Target, step: dict, ctx: Context) -> Finding:
    return finding(target, "not_applied", "files",
                    f"{noun(target)} exists in BigQuery, made outside the code, and the files now adopt it "
                    "(`import`): the next `up` takes it into the state",
                    f"Run the `up` of stack {ctx.stack}; afterwards its preview must show no change for it.",
                    in_files=_inputs(step.get("newState")))


def _removed_from_files(target: Target, step: dict, ctx: Context) -> Finding:
    loss = holds_data(target)
    what = f"{noun(target)} is no longer declared in the files: the next `up` deletes it" + (
        " and its data" if loss else "")
    if loss:
        action = (f"If that is intended, check that its data is backed up before running the `up` of stack "
                  f"{ctx.stack} (a protected resource must be unprotected first); otherwise put its declaration back.")
    else:
        action = f"Run the `up` of stack {ctx.stack} if that is intended; otherwise put its declaration back."
    return finding(target, "not_applied", "files", what, action, in_bigquery=_inputs(step.get("oldState")),
                    data_loss=loss)


def _inputs(state: dict | None) -> Any:
    return (state or {}).get("inputs") or None


def _origin_of(resource: StepsOf, segments: tuple) -> str:
    """outside: the state the last `up` left and BigQuery now differ at this property (changed
    outside the code since); files: they agree there (the files changed and were not applied);
    unknown: no refresh step to tell."""
    if resource.refresh is None:
        return "unknown"
    if resource.deleted_outside:
        return "outside"
    # Compare the property up to its first list index: set-like lists (ACLs) reorder freely.
    prefix = tuple(segments[:next((i for i, s in enumerate(segments) if isinstance(s, int)), len(segments))])
    if not prefix:
        before, after = resource.checkpoint, resource.cloud
        return "outside" if (before or {}).get("inputs") != (after or {}).get("inputs") else "files"
    before = state_value(resource.checkpoint, prefix, "inputs")
    after = state_value(resource.cloud, prefix, "inputs")
    if SECRET in (before, after):
        return "unknown"  # the document shows every secret as "[secret]": nothing to compare
    return "outside" if before != after else "files"


def _changed_paths(step: dict) -> list[tuple[str, str]]:
    detailed = step.get("detailedDiff")
    if isinstance(detailed, dict) and detailed:
        return sorted((path, str((diff or {}).get("kind") or "update")) for path, diff in detailed.items())
    kind = "update-replace" if step.get("op") == "replace" else "update"
    return [(str(key), kind) for key in step.get("diffReasons") or step.get("replaceReasons") or []]


def _property_findings(target: Target, resource: StepsOf, step: dict, ctx: Context,
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
                findings.extend(acl_findings(target, resource, old, new, ctx))
                acl_done = True
            continue
        cloud = state_value(old, segments, "outputs")
        files = state_value(new, segments, "inputs")
        origin = _origin_of(resource, segments)
        findings.append(_propertyfinding(target, path, segments, kind, cloud, files, origin, ctx, replace))
    return findings


def sql_diff(cloud: str, files: str, to_file: str, limit: int | None = None) -> str:
    lines = list(difflib.unified_diff(cloud.splitlines(), files.splitlines(), fromfile="BigQuery (now)",
                                      tofile=to_file, lineterm="", n=2))
    if limit is not None and len(lines) > limit:
        lines = lines[:limit] + [f"... {len(lines) - limit} more lines"]
    return "\n".join(lines)


def _propertyfinding(target: Target, path: str, segments: tuple, kind: str, cloud: Any, files: Any, origin: str,
                      ctx: Context, replace: bool) -> Finding:
    top = segments[0] if segments else path
    base_kind = kind.replace("-replace", "")
    in_cloud = None if cloud is MISSING else cloud
    in_files = None if files is MISSING else files
    values = f"{show(cloud)} in BigQuery, {show(files)} in the files"
    common = dict(property=path, in_bigquery=in_cloud, in_files=in_files)
    loss = replace and kind.endswith("-replace") and holds_data(target)
    up = f"the `up` of stack {ctx.stack}"
    if origin == "files":
        verb = {"add": "add", "delete": "remove"}.get(base_kind, "change")
        return finding(target, "not_applied", origin, f"the files {verb} `{path}`, not applied yet ({values})",
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
        return finding(target, "replace", origin, what, action, data_loss=loss, **common)
    if target.type == TRANSFER_TYPE and segments == ("params", "query") and SECRET in (in_cloud, in_files):
        return finding(target, "sql_edited", origin, "its SQL differs from the files (a secret value: not shown)",
                        "Compare it in the console; re-apply to put the files' SQL back.", **common)
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
        return finding(target, "sql_edited", origin,
                        f"its SQL was edited outside the code ({changed} line{'s' if changed != 1 else ''} differ)",
                        action, diff=diff_text, **common)
    if target.type == TRANSFER_TYPE and top == "disabled":
        return finding(target, "disabled", origin,
                        "it was disabled (paused) outside the code" if in_cloud else "it was enabled outside the code",
                        f"Re-apply to {'enable' if in_cloud else 'disable'} it again, or remove the query from the "
                        "files if it should stay off.", **common)
    if target.type == TRANSFER_TYPE and top == "schedule":
        where = f"`schedule:` in {target.file}" if target.file else "its schedule in the files"
        return finding(target, "schedule_changed", origin, f"its schedule was changed outside the code ({values})",
                        f"Re-apply to put the files' schedule back, or set {where}.", **common)
    if top == "labels" and len(segments) == 2:
        label = segments[1]
        where = target.file or "the declaration"
        adopt = ("" if label in RESERVED_LABELS else f", or set it under `labels:` in {where}")
        if base_kind == "delete":
            return finding(target, "label_added", origin,
                            f"label `{label}` was added outside the code ({show(cloud)})",
                            f"Re-apply to remove it{adopt.replace('set it', 'add it')}.", **common)
        if base_kind == "add":
            return finding(target, "label_removed", origin,
                            f"label `{label}` was removed outside the code (the files say {show(files)})",
                            "Re-apply to put it back" + (", or remove it from the files" if label not in RESERVED_LABELS
                                                         else " (the program always sets it)") + ".", **common)
        return finding(target, "label_changed", origin,
                        f"label `{label}` was changed outside the code ({values})",
                        "Re-apply to put the files' value back" + (
                            " (the program always sets this label)." if label in RESERVED_LABELS
                            else f"{adopt}."), **common)
    where = f" in {target.file}" if target.file else " in the files"
    verb = {"add": "removed", "delete": "added"}.get(base_kind, "changed")
    return finding(target, "setting_changed", origin, f"`{path}` was {verb} outside the code ({values})",
                    f"Re-apply to put the files' value back, or adopt it{where}.", **common)
