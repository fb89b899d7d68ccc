"""What a drift finding is, and whom it is about, in the words of the warehouse.

`Finding` is one difference with what to do about it; `Context` is what every finding of one
report is told in; `target_of` says who a resource's steps are about (the dataset, table, view or
scheduled query a person names, its component, and the file that declares it, from the model).
Shared by `findings.py` (what each difference means) and `acl.py` (a dataset's ACL).
"""

from __future__ import annotations

import builtins
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from infra.ops.drift.preview import MISSING, SECRET, StepsOf, urn_parts
from infra.resources.program import declaration_of
from infra.vocabulary import DATASET_TYPE, STACK_TYPE, TABLE_TYPE, TRANSFER_TYPE

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
    shows_sames: bool = False  # the preview ran with --show-sames: a missing step means something
    protected: frozenset[str] = frozenset()  # URNs whose replacement protection refused (a diagnostic)

    @property
    def stack_file(self) -> str:
        return f"Pulumi.{self.stack}.yaml"


@dataclass(frozen=True)
class Target:
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


def target_of(resource: StepsOf, ctx: Context) -> Target:
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
    return Target(subject=subject, resource=name, type=type_, urn=resource.urn,
                   component=f"{component_type} {component_name}" if component_type else None,
                   component_type=component_type, component_name=component_name, is_view=is_view, file=file,
                   sql_file=sql_file)


def holds_data(target: Target) -> bool:
    return target.type == DATASET_TYPE or (target.type == TABLE_TYPE and not target.is_view)


def finding(target: Target, category: str, origin: str, what: str, action: str, **kw: Any) -> Finding:
    return Finding(category=category, origin=origin, subject=target.subject, what=what, action=action,
                   resource=target.resource, type=target.type, urn=target.urn, component=target.component, **kw)


def noun(target: Target) -> str:
    if target.type == TABLE_TYPE:
        return "the view" if target.is_view else "the table"
    return {DATASET_TYPE: "the dataset", TRANSFER_TYPE: "the scheduled job"}.get(target.type, "the resource")


def show(value: Any, limit: int = VALUE_LIMIT) -> str:
    """A value in one line, cut at `limit` characters."""
    if value is MISSING or value is None:
        return "(none)"
    if value == SECRET:
        return "(a secret: not shown)"
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + f"\u2026 ({len(text)} characters)"


