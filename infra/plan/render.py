"""Rendering a plan for people: a tree of components and resources with their key inputs.

Reviewers read this in a pull request, so each line says what matters for that resource type:
a dataset's id, location and protection followed by its whole ACL; an IAM member's role and
member; otherwise the first few scalar inputs. A count by type closes the report.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Callable

from infra.plan.runtime import Plan, Registration
from infra.vocabulary import (
    DATASET_TYPE,
    PROJECT_IAM_MEMBER_TYPE,
    SERVICE_ACCOUNT_TYPE,
    STACK_TYPE,
    TABLE_TYPE,
    TRANSFER_TYPE,
    acl_entry_text,
)

_MAX_SCALARS = 4
_WRITES = re.compile(r"^INSERT INTO `([^`]+)`", re.M)  # a scheduled build's table (resources/write_sql.py)


def _dataset(r: Registration) -> tuple[str, list[str]]:
    i = r.inputs
    head = f"{i.get('datasetId')} location={i.get('location')} time-travel={i.get('maxTimeTravelHours')}h"
    return head, [acl_entry_text(a) for a in i.get("accesses", [])]


def _iam_member(r: Registration) -> tuple[str, list[str]]:
    return f"{r.inputs.get('role')} -> {r.inputs.get('member')}", []


def _account(r: Registration) -> tuple[str, list[str]]:
    return f"{r.inputs.get('accountId')} ({r.inputs.get('displayName')})", []


def _table(r: Registration) -> tuple[str, list[str]]:
    i = r.inputs
    name = f"{i.get('datasetId')}.{i.get('tableId')}"
    if "view" in i:
        legacy = i["view"].get("useLegacySql")
        return f"{name} view (legacy SQL: {str(legacy).lower()})", []
    parts = [name]
    tp = i.get("timePartitioning")
    if tp:
        parts.append(f"partitioned by {tp.get('field')} ({tp.get('type')})")
    if i.get("requirePartitionFilter"):
        parts.append("requires a partition filter")
    if i.get("clusterings"):
        parts.append(f"clustered by {', '.join(i['clusterings'])}")
    columns = json.loads(i["schema"]) if isinstance(i.get("schema"), str) else []
    parts.append(f"{len(columns)} columns")
    parts.append(f"deletion protection {'on' if i.get('deletionProtection') else 'off'}")
    return ", ".join(parts), []


def _transfer(r: Registration) -> tuple[str, list[str]]:
    i = r.inputs
    params = i.get("params") or {}
    head = f"{i.get('dataSourceId')} '{i.get('schedule')}' in {i.get('location')} as {i.get('serviceAccountName')}"
    if i.get("dataSourceId") == "cross_region_copy":
        return f"{head}: {params.get('source_dataset_id')} -> {i.get('destinationDatasetId')}", []
    writes = _WRITES.search(params.get("query") or "")
    return (f"{head}: writes {writes.group(1)} by DML" if writes else f"{head}: script"), []


def _default(r: Registration) -> tuple[str, list[str]]:
    scalars = [f"{k}={v}" for k, v in r.inputs.items() if isinstance(v, (str, int, float, bool))]
    return " ".join(scalars[:_MAX_SCALARS]), []


DESCRIBERS: dict[str, Callable[[Registration], tuple[str, list[str]]]] = {
    DATASET_TYPE: _dataset,
    PROJECT_IAM_MEMBER_TYPE: _iam_member,
    SERVICE_ACCOUNT_TYPE: _account,
    TABLE_TYPE: _table,
    TRANSFER_TYPE: _transfer,
}


def render_tree(plan: Plan) -> str:
    children: dict[str, list[Registration]] = defaultdict(list)
    roots = []
    for r in plan.resources:
        (children[r.parent] if r.parent else roots).append(r)
    lines: list[str] = []

    def walk(r: Registration, prefix: str, last: bool, top: bool) -> None:
        branch = "" if top else ("└─ " if last else "├─ ")
        summary, details = ("", []) if r.type == STACK_TYPE else DESCRIBERS.get(r.type, _default)(r)
        flags = " [protect]" if r.protect else ""
        lines.append(f"{prefix}{branch}{r.type} {r.name}{flags}  {summary}".rstrip())
        inner = prefix + ("" if top else ("   " if last else "│  "))
        kids = sorted(children.get(r.urn, []), key=lambda k: (k.type, k.name))
        for d in details:
            lines.append(f"{inner}{'│  ' if kids else '   '}  · {d}")
        for n, kid in enumerate(kids):
            walk(kid, inner, n == len(kids) - 1, False)

    for r in roots:
        walk(r, "", True, True)
    return "\n".join(lines)


def render_counts(plan: Plan) -> str:
    counts = Counter(r.type for r in plan.resources if r.type != STACK_TYPE)
    width = max((len(t) for t in counts), default=0)
    rows = [f"  {t:<{width}}  {n:>5}" for t, n in sorted(counts.items())]
    rows.append(f"  {'total':<{width}}  {sum(counts.values()):>5}")
    return "Resources by type:\n" + "\n".join(rows)
