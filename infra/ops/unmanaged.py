"""The unmanaged scan: what exists in the stack's BigQuery project that no declaration owns.

A refresh only sees what is in the Pulumi state, so a dataset made by hand, a stray table or an
owner added in the console are invisible to the drift review of `drift.py`. This scan lists, with
google-cloud-bigquery, the datasets of the stack's project, the tables and views of every managed
dataset and every managed dataset's ACL, and compares them with the validated model
(`load_for_stack`). It reports:

- datasets that are neither managed (`datasets/`, the backup datasets) nor a declared raw source;
- tables and views of a managed dataset that no scheduled query or view declares, except what
  the backup system owns: snapshots in the snapshot datasets named
  `<source dataset id>__<table>__<policy>__<YYYYMMDDTHHMM>` (the source a managed dataset or a raw
  source; the policy a declared one, or `prerestore`),
  every table of a disaster-recovery dataset (`dr_<dataset>`, a copy of its source, stray tables
  included), and the declared one-off copies. Tables named `<declared table>_restored_<stamp>` or
  `<declared table>_restoring_<stamp>` are reported apart, as restore leftovers;
- ACL entries of managed datasets that the declared ACL does not have, compared as BigQuery
  returns them (role + entity type + id, e-mails lower-case, the IAM names of the three basic
  dataset roles mapped to READER/WRITER/OWNER); entries of a deleted principal (`deleted:...`) are
  flagged as such.

Deliberately not here: raw source datasets and their tables and ACLs (the loaders own them),
hidden datasets (`_...`, BigQuery's own), routines and models, and the other direction (a
declared object that is missing: the refresh reports it). Only the stack's own project is listed.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from infra.model.backups import PRE_RESTORE_POLICY, SNAPSHOT_TIME_FORMAT
from infra.model.warehouse import AccessEntry, Warehouse
from infra.ops.restore_points import RESTORED_INFIX, STAGING_INFIX
from infra.vocabulary import acl_entry_text

# What BigQuery answers for the basic dataset roles when they were granted with their IAM names.
ROLE_ALIASES = {"roles/bigquery.dataviewer": "READER", "roles/bigquery.dataeditor": "WRITER",
                "roles/bigquery.dataowner": "OWNER"}
_MEMBER_TYPES = {"user": "userByEmail", "serviceaccount": "userByEmail", "group": "groupByEmail", "domain": "domain"}
_STAMP = re.compile(r"^\d{8}T\d{4}$")


@dataclass(frozen=True)
class Unmanaged:
    category: str  # dataset | table | view | snapshot | acl_entry | deleted_principal | restore_leftover
    subject: str  # the dataset id, `dataset.table`, or the dataset of an ACL entry
    what: str
    action: str
    detail: dict = field(default_factory=dict)

    @property
    def sentence(self) -> str:
        return f"{self.subject}: {self.what}. {self.action}"


@dataclass
class UnmanagedReport:
    stack: str
    project: str
    findings: list[Unmanaged] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    scanned: dict = field(default_factory=lambda: {"datasets": 0, "tables": 0, "acl_entries": 0})

    @property
    def status(self) -> str:
        if self.errors:
            return "error"
        return "unmanaged" if self.findings else "clean"

    @property
    def exit_code(self) -> int:
        """0 nothing unmanaged, 2 something found, 1 error."""
        return {"clean": 0, "unmanaged": 2, "error": 1}[self.status]

    def as_json(self) -> dict:
        counts: dict[str, int] = {}
        for f in self.findings:
            counts[f.category] = counts.get(f.category, 0) + 1
        return {"stack": self.stack, "project": self.project, "status": self.status, "exit_code": self.exit_code,
                "scanned": self.scanned, "counts": counts,
                "findings": [{**asdict(f), "sentence": f.sentence} for f in self.findings], "errors": self.errors}


# --- comparing ACL entries ------------------------------------------------------------------------------

def entry_key(role: str | None, entity_type: str | None, entity_id: Any) -> tuple[str, str, str]:
    """An ACL entry as (role, entity type, id), the way both sides are compared."""
    role = str(role or "")
    role = ROLE_ALIASES.get(role.lower(), role.upper() if role and not role.startswith("roles/") else role)
    entity_type = str(entity_type or "")
    if entity_type == "iamMember" and isinstance(entity_id, str) and ":" in entity_id \
            and not entity_id.startswith("deleted:"):
        kind, _, ident = entity_id.partition(":")
        if kind.lower() in _MEMBER_TYPES:
            entity_type, entity_id = _MEMBER_TYPES[kind.lower()], ident
    if entity_type in ("view", "routine") and isinstance(entity_id, dict):
        last = entity_id.get("tableId") or entity_id.get("routineId") or ""
        ident = f"{entity_id.get('projectId', '')}.{entity_id.get('datasetId', '')}.{last}"
    elif entity_type == "dataset" and isinstance(entity_id, dict):
        inner = entity_id.get("dataset") if isinstance(entity_id.get("dataset"), dict) else entity_id
        ident = f"{inner.get('projectId', '')}.{inner.get('datasetId', '')}"
        role = ""  # an authorized dataset has no role
    elif entity_type in ("userByEmail", "groupByEmail", "domain", "iamMember"):
        ident = str(entity_id or "").lower()
    else:
        ident = str(entity_id or "")
    return role, entity_type, ident


def declared_key(entry: AccessEntry) -> tuple[str, str, str]:
    if entry.authorized_dataset is not None:
        project, dataset_id = entry.authorized_dataset
        return entry_key(None, "dataset", {"dataset": {"projectId": project, "datasetId": dataset_id}})
    if entry.special_group:
        return entry_key(entry.role, "specialGroup", entry.special_group)
    principal = entry.principal
    return entry_key(entry.role, _MEMBER_TYPES[principal.kind.lower()], principal.identifier)


def describe_key(key: tuple[str, str, str]) -> str:
    """An ACL entry's key as people write it (`infra.vocabulary.acl_entry_text`)."""
    role, entity_type, ident = key
    if entity_type == "dataset":
        project, _, dataset_id = ident.partition(".")
        return acl_entry_text({"dataset": {"dataset": {"projectId": project, "datasetId": dataset_id}}})
    if entity_type in ("view", "routine"):
        project, dataset_id, last = (ident.split(".", 2) + ["", ""])[:3]
        leaf = "tableId" if entity_type == "view" else "routineId"
        return acl_entry_text({entity_type: {"projectId": project, "datasetId": dataset_id, leaf: last}})
    return acl_entry_text({"role": role, entity_type or "iamMember": ident})


# --- the scan -------------------------------------------------------------------------------------------

def _is_stamp(text: str) -> bool:
    if not _STAMP.match(text):
        return False
    try:
        dt.datetime.strptime(text, SNAPSHOT_TIME_FORMAT)
    except ValueError:
        return False
    return True


def _restore_leftover(name: str, declared: set[str]) -> tuple[str, str] | None:
    """(infix, table) when `name` is `<declared table>_restored_<stamp>` or `..._restoring_<stamp>`."""
    for infix in (RESTORED_INFIX, STAGING_INFIX):
        table, sep, stamp = name.rpartition(infix)
        if sep and table in declared and _is_stamp(stamp):
            return infix, table
    return None


class Scanner:
    """Compares one stack's project with its declarations through a `google.cloud.bigquery.Client`."""

    def __init__(self, client: Any, warehouse: Warehouse):
        self.client = client
        self.warehouse = warehouse
        stack = warehouse.stack
        self.project = stack.project
        self.managed = {d.dataset_id: d for d in warehouse.datasets if d.project == self.project}
        self.sources = {s.dataset_id for s in warehouse.sources if s.project == self.project}
        tables: dict[str, set[str]] = {}
        for q in warehouse.queries:
            tables.setdefault(q.spec.dataset, set()).add(q.spec.name)
        backups = warehouse.backups
        self.snapshot_datasets: set[str] = set()
        self.copy_datasets: set[str] = set()
        self.policies = {PRE_RESTORE_POLICY}
        if backups is not None:
            self.snapshot_datasets = {job.backup_dataset for job in backups.snapshots}
            self.copy_datasets = {job.destination_dataset for job in backups.copies}
            self.policies |= set(backups.declarations.policies)
            for copy in backups.declarations.copies:
                dataset, _, table = copy.destination.partition(".")
                tables.setdefault(dataset, set()).add(table)
        self.tables = tables
        # What snapshot names start with: a managed dataset's id, or a raw source's (any project).
        self.snapshotted_ids = sorted(set(self.managed) | {s.dataset_id for s in warehouse.sources},
                                      key=len, reverse=True)

    def scan(self) -> UnmanagedReport:
        report = UnmanagedReport(stack=self.warehouse.stack.stack, project=self.project)
        listed = sorted(d.dataset_id for d in self.client.list_datasets(project=self.project))
        report.scanned["datasets"] = len(listed)
        for dataset_id in listed:
            if dataset_id in self.managed:
                self._scan_dataset(dataset_id, report)
            elif dataset_id not in self.sources:
                report.findings.append(self._dataset_finding(dataset_id))
        return report

    def _dataset_finding(self, dataset_id: str) -> Unmanaged:
        tables = sum(1 for _ in self.client.list_tables(f"{self.project}.{dataset_id}"))
        prefix = self.warehouse.stack.dataset_prefix
        declare = (f"declare it as datasets/{dataset_id[len(prefix):]}.yaml and `pulumi import` it"
                   if dataset_id.startswith(prefix) else "declare it (a managed dataset's id is the stack's prefix "
                                                         f"{prefix!r} plus its file name) or a raw source")
        return Unmanaged(
            "dataset", dataset_id, f"a dataset that no declaration owns ({tables} table{'s' if tables != 1 else ''})",
            f"If it must stay, {declare}; otherwise delete it once nobody uses it "
            f"(`bq rm -r -d {self.project}:{dataset_id}`).", {"project": self.project, "tables": tables})

    def _scan_dataset(self, dataset_id: str, report: UnmanagedReport) -> None:
        dataset = self.managed[dataset_id]
        declared = self.tables.get(dataset.name, set())
        for item in self.client.list_tables(f"{self.project}.{dataset_id}"):
            report.scanned["tables"] += 1
            finding = self._table_finding(dataset, item.table_id, str(item.table_type or "TABLE"), declared)
            if finding is not None:
                report.findings.append(finding)
        fetched = self.client.get_dataset(f"{self.project}.{dataset_id}")
        expected = {declared_key(e) for e in dataset.accesses}
        by_principal = {(k[1], k[2]): k[0] for k in expected}
        for entry in fetched.access_entries:
            report.scanned["acl_entries"] += 1
            key = entry_key(entry.role, entry.entity_type, entry.entity_id)
            if key in expected:
                continue
            report.findings.append(self._acl_finding(dataset, key, by_principal.get((key[1], key[2]))))

    def _table_finding(self, dataset: Any, table: str, table_type: str, declared: set[str]) -> Unmanaged | None:
        name = dataset.name
        if table in declared:
            return None
        if name in self.copy_datasets:
            return None  # a cross-region copy holds whatever its source holds
        if name in self.snapshot_datasets and self._is_backup_snapshot(table):
            return None
        subject = f"{dataset.dataset_id}.{table}"
        address = f"{self.project}:{dataset.dataset_id}.{table}"
        leftover = _restore_leftover(table, declared)
        if leftover is not None:
            infix, source = leftover
            if infix == RESTORED_INFIX:
                what = f"a restore result of {name}.{source} (left by `restore`)"
                action = ("Once its data is checked and copied where it belongs, delete it "
                          f"(`bq rm -t {address}`).")
            else:
                what = f"the staging table of an in-place restore of {name}.{source} that did not finish"
                action = (f"Check that {name}.{source} is whole (`python -m infra backups list {name}.{source} "
                          f"--stack {self.warehouse.stack.stack}`), then delete it (`bq rm -t {address}`).")
            return Unmanaged("restore_leftover", subject, what, action,
                             {"dataset": dataset.dataset_id, "table": table, "table_type": table_type,
                              "restored_table": f"{name}.{source}"})
        kind = {"VIEW": "view", "SNAPSHOT": "snapshot", "MATERIALIZED_VIEW": "view"}.get(table_type, "table")
        noun = {"view": "a view", "snapshot": "a table snapshot"}.get(kind, "a table")
        if name in self.snapshot_datasets:
            what = f"{noun} in the snapshot dataset that no backup policy named"
            action = (f"Delete it once nobody needs it (`bq rm -t {address}`); a copy to keep belongs in "
                      "backups/one_off_copies.yaml.")
        else:
            what = f"{noun} that no scheduled query or view declares"
            action = (f"If it must stay, declare it under scheduled_queries/ (a scheduled query or a view of "
                      f"{name}) and `pulumi import` it; otherwise delete it (`bq rm -t {address}`).")
        return Unmanaged(kind, subject, what, action,
                         {"dataset": dataset.dataset_id, "table": table, "table_type": table_type})

    def _is_backup_snapshot(self, table: str) -> bool:
        """`<source dataset id>__<table>__<policy>__<YYYYMMDDTHHMM>`, as the snapshot script names them
        (the source a managed dataset or a raw source)."""
        for dataset_id in self.snapshotted_ids:
            if not table.startswith(dataset_id + "__"):
                continue
            rest, _, stamp = table[len(dataset_id) + 2:].rpartition("__")
            source, _, policy = rest.rpartition("__")
            if source and policy in self.policies and _is_stamp(stamp):
                return True
        return False

    def _acl_finding(self, dataset: Any, key: tuple[str, str, str], declared_role: str | None) -> Unmanaged:
        description = describe_key(key)
        role, entity_type, ident = key
        stack_file = f"Pulumi.{self.warehouse.stack.stack}.yaml"
        detail = {"dataset": dataset.dataset_id, "role": role, "entity_type": entity_type, "entity_id": ident}
        remove = ("Remove it in the dataset's sharing settings, or re-apply the stack (its `up` writes the whole "
                  "ACL)")
        if "deleted:" in ident:
            return Unmanaged("deleted_principal", dataset.dataset_id,
                             f"an ACL entry names an account that was deleted ({description})",
                             f"{remove}; if the account is listed under warehouse:members in {stack_file}, remove it "
                             "there too.", detail)
        if declared_role is not None:
            return Unmanaged("acl_entry", dataset.dataset_id,
                             f"an ACL entry the files do not grant ({description}; the files grant {declared_role})",
                             f"{remove}, or change the role's grants in roles/ to adopt it.",
                             {**detail, "declared_role": declared_role})
        if entity_type in ("userByEmail", "domain") and role in ("WRITER", "OWNER") and \
                not ident.endswith(".gserviceaccount.com"):
            adopt = (f"to keep the access, add the person to a group that a role grants {role} "
                     "(individuals and domains are never WRITER or OWNER in the files)")
        elif entity_type in ("userByEmail", "groupByEmail", "domain"):
            adopt = f"or add the principal to a role under warehouse:members in {stack_file} to adopt it"
        else:
            adopt = "authorizations come from the files (a view that reads the dataset authorizes its dataset)"
        return Unmanaged("acl_entry", dataset.dataset_id, f"an ACL entry that no declaration owns ({description})",
                         f"{remove}; {adopt}.", detail)


def scan(client: Any, warehouse: Warehouse) -> UnmanagedReport:
    """Scan the stack's project; BigQuery errors propagate (the CLI turns them into one line)."""
    return Scanner(client, warehouse).scan()


# --- output ---------------------------------------------------------------------------------------------

_TITLES = (("dataset", "Datasets no declaration owns"), ("table", "Tables no declaration owns"),
           ("view", "Views no declaration owns"), ("snapshot", "Table snapshots no declaration owns"),
           ("restore_leftover", "Restore leftovers"), ("acl_entry", "ACL entries no declaration owns"),
           ("deleted_principal", "ACL entries of deleted accounts"))


def render_markdown(report: UnmanagedReport) -> str:
    lines = [f"## Unmanaged objects: stack `{report.stack}` (project `{report.project}`)", ""]
    scanned = (f"{report.scanned['datasets']} datasets, {report.scanned['tables']} tables and views of the managed "
               f"datasets and {report.scanned['acl_entries']} of their ACL entries")
    if report.status == "clean":
        lines += [f"**Nothing unmanaged** (exit 0): every one of {scanned} is declared.", ""]
    elif report.status == "unmanaged":
        lines += [f"**{len(report.findings)} object{'s' if len(report.findings) != 1 else ''} no declaration owns** "
                  f"(exit 2), in {scanned}. A refresh cannot see these: they are in no Pulumi state.", ""]
    else:
        lines += ["**Error**: the scan did not complete (exit 1).", ""]
    if report.errors:
        lines += ["### Errors", ""] + [f"- {e}" for e in report.errors] + [""]
    for category, title in _TITLES:
        group = [f for f in report.findings if f.category == category]
        if group:
            lines += [f"### {title}", ""] + [f"- **{f.subject}**: {f.what}. {f.action}" for f in group] + [""]
    return "\n".join(lines).rstrip() + "\n"
