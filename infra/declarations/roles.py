"""Role declarations: `roles/<name>.yaml`, one file per role.

A role says which datasets its members get (by layer or by dataset name, with the legacy dataset
roles READER, WRITER, OWNER that BigQuery answers with) and which project-level roles they need
(running jobs). Its members are either people and tools listed per stack in the stack file
(`warehouse:members.<role>`), or one service account this project creates for it (a sync tool, the
scheduled-query runner).

Deliberately not here: the resulting ACL of each dataset (`access.py`), and checks that need the
stack (who the members are; `warehouse.py`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from infra.declarations.datasets import LAYERS
from infra.declarations.files import declaration_files, load_declaration
from infra.declarations.keys import Field, read_mapping
from infra.problems import Problems

DATASET_ROLES = ("READER", "WRITER", "OWNER")
ALL = "all"
# Project-level roles a declaration may grant. Anything broader (owner, editor, bigquery.admin,
# bigquery.dataEditor at project level) would bypass the dataset ACLs this project manages.
PROJECT_ROLE_ALLOW_LIST = (
    "roles/bigquery.jobUser",
    "roles/bigquery.readSessionUser",
)
_ACCOUNT_ID = re.compile(r"^[a-z][a-z0-9-]{2,}[a-z0-9]$")

ROLE_FIELDS = (
    Field("title", str, required=True, example="'Data Analyst'"),
    Field("description", str, required=True, example="'Reads staging and marts, edits marts.'"),
    Field("members", str, required=True, choices=("stack", "service_account"), example="stack"),
    Field("service_account", dict, example="{account_id: census-sync, display_name: Census}"),
    Field("grants", list, default=[], item=dict, example="[{role: READER, layers: [mart]}]"),
    Field("project_roles", list, default=[], item=str, choices=PROJECT_ROLE_ALLOW_LIST,
          example="[roles/bigquery.jobUser]", unique=True),
)
GRANT_FIELDS = (
    Field("role", str, required=True, choices=DATASET_ROLES, example="READER"),
    Field("layers", list, item=str, choices=LAYERS + (ALL,), example="[staging, mart]", unique=True),
    Field("datasets", list, item=str, example="[census]", unique=True),
)
SERVICE_ACCOUNT_FIELDS = (
    Field("account_id", str, required=True, example="census-sync"),
    Field("display_name", str, required=True, example="'Census reverse-ETL sync'"),
)


@dataclass(frozen=True)
class Grant:
    role: str
    layers: tuple[str, ...]
    datasets: tuple[str, ...]
    line: int | None

    def selects(self, dataset_name: str, layer: str) -> bool:
        return ALL in self.layers or layer in self.layers or dataset_name in self.datasets


@dataclass(frozen=True)
class ServiceAccountSpec:
    account_id: str  # without the stack's prefix
    display_name: str


@dataclass(frozen=True)
class RoleSpec:
    name: str
    file: str
    title: str
    description: str
    members_from: str  # "stack" or "service_account"
    service_account: ServiceAccountSpec | None
    grants: tuple[Grant, ...]
    project_roles: tuple[str, ...]

    @property
    def strongest(self) -> str | None:
        ranks = [DATASET_ROLES.index(g.role) for g in self.grants]
        return DATASET_ROLES[max(ranks)] if ranks else None


def load_roles(root: Path, problems: Problems) -> tuple[RoleSpec, ...]:
    files = declaration_files(root / "roles", root, problems)
    return tuple(r for r in (_load_role(root, p, problems) for p in files) if r)


def _load_role(root: Path, path: Path, problems: Problems) -> RoleSpec | None:
    doc = load_declaration(root, path, problems, "role")
    if doc is None:
        return None
    file = doc.file
    before = len(problems)
    v = read_mapping(doc, (), doc.data, ROLE_FIELDS, problems, "a role")
    if v is None:
        return None
    grants = []
    for i, raw in enumerate(v.get("grants") or []):
        g = read_mapping(doc, ("grants", i), raw, GRANT_FIELDS, problems, "a grant")
        if g is None:
            continue
        if not g["layers"] and not g["datasets"]:
            problems.add(file, doc.line(("grants", i)), f"grants[{i}]", "a grant selects no dataset",
                         "add `layers: [...]` or `datasets: [...]`")
            continue
        grants.append(Grant(g["role"], tuple(g["layers"] or ()), tuple(g["datasets"] or ()),
                            doc.line(("grants", i))))
    sa = None
    members_from = v.get("members")
    if members_from == "service_account":
        raw = v.get("service_account")
        if raw is None:
            problems.add(file, doc.line(("members",)), "service_account",
                         "`members: service_account` needs the account it creates",
                         "add `service_account: {account_id: <id>, display_name: <text>}`")
        else:
            s = read_mapping(doc, ("service_account",), raw, SERVICE_ACCOUNT_FIELDS, problems, "a service account")
            if s and not {"account_id", "display_name"} & s.rejected:
                if not _ACCOUNT_ID.match(s["account_id"]):
                    problems.add(file, doc.line(("service_account", "account_id")), "service_account.account_id",
                                 f"{s['account_id']!r} is not a service-account id",
                                 "use lower-case letters, digits and hyphens, starting with a letter")
                else:
                    sa = ServiceAccountSpec(s["account_id"], s["display_name"])
    elif members_from == "stack" and v.get("service_account") is not None:
        problems.add(file, doc.line(("service_account",)), "service_account",
                     "`service_account:` is only used with `members: service_account`",
                     "remove it, or set `members: service_account`")
    if len(problems) > before:
        return None
    return RoleSpec(name=path.stem, file=file, title=v["title"], description=v["description"].strip(),
                    members_from=members_from, service_account=sa, grants=tuple(grants),
                    project_roles=tuple(v["project_roles"]))
