"""The IAM preflight: every job identity holds the permissions BigQuery checks for what it runs.

From the plan, each job and its identity:
- every scheduled build (a `scheduled_query` transfer whose script writes a table by DML) runs as
  its `serviceAccountName`: it reads the tables its script names, calls the routines it names (a
  name followed by `(`) and reads what their bodies read, and writes the table it inserts into;
- every snapshot script runs as its service account: it lists each covered dataset's
  `INFORMATION_SCHEMA.TABLES`, snapshots the tables into its backup dataset, and, if it sets
  `expiration_timestamp`, needs `bigquery.tables.deleteSnapshot` on each source;
- every cross-region copy runs as its service account, from its source dataset into its
  disaster-recovery dataset;
- the restorers (`Settings.restorers`: the admin role's members) count, clone, snapshot with an
  expiration, restore by copy job and drop a staging table in every dataset with tables.

The permissions each statement needs on each object, and the permissions of the dataset roles
(READER, WRITER, OWNER) and project roles, are data: `job_permissions.yaml`, each with its source.
What an identity holds comes from the plan: the ACL entries of each dataset, the project-level
IAM members; for a raw source, which this project never changes, the grants its declaration says
its owner made (`Settings.external_grants`). A missing permission is one violation naming the
job, the statement, the object, the permission, and the grant that would give it.

Deliberately not here: the deployer's own permissions (Pulumi fails loudly without them), and
row- or column-level security (the warehouse declares none).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from infra.policies.base import Resource, Rule, Settings
from infra.vocabulary import DATASET_TYPE, PROJECT_IAM_MEMBER_TYPE, ROUTINE_TYPE, TRANSFER_TYPE

DATA = Path(__file__).with_name("job_permissions.yaml")
ROLE_ORDER = ("READER", "WRITER", "OWNER")
# The table a DML statement writes: a build's INSERT, and a scheduled script's INSERT, MERGE, UPDATE,
# DELETE or TRUNCATE TABLE (`kind: script`, infra/checks/scripts.py).
_INSERT = re.compile(
    r"^\s*(?i:INSERT(?:\s+INTO)?|MERGE(?:\s+INTO)?|UPDATE|DELETE(?:\s+FROM)?|TRUNCATE\s+TABLE)\s+`([^`]+)`", re.M)
_TABLE = re.compile(r"`([a-z][a-z0-9-]*)\.([A-Za-z_][A-Za-z0-9_]*)\.([A-Za-z_][A-Za-z0-9_$]*)`")
_SCHEMA = re.compile(r"`([a-z][a-z0-9-]*)\.([A-Za-z_][A-Za-z0-9_]*)\.INFORMATION_SCHEMA\.TABLES`")
_CALL = re.compile(r"`([a-z][a-z0-9-]*)\.([A-Za-z_][A-Za-z0-9_]*)\.([A-Za-z_][A-Za-z0-9_]*)`\s*\(")
_SNAPSHOT_INTO = re.compile(r"CREATE SNAPSHOT TABLE `([a-z][a-z0-9-]*)\.([A-Za-z_][A-Za-z0-9_]*)\.")


@functools.cache
def permissions_data() -> dict:
    return yaml.safe_load(DATA.read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Use:
    """One statement a job runs on one object."""

    job: str  # what people call the job
    urn: str  # the resource the job is (its transfer), or the datasets' for the restorers
    principal: str  # `serviceAccount:...`, `group:...`
    statement: str  # a key of `statements`
    source: str | None = None  # `project.dataset`
    destination: str | None = None  # `project.dataset`


def principal_of_entry(entry: Mapping) -> str | None:
    if entry.get("groupByEmail"):
        return f"group:{str(entry['groupByEmail']).lower()}"
    if entry.get("userByEmail"):
        email = str(entry["userByEmail"]).lower()
        return ("serviceAccount:" if email.endswith(".gserviceaccount.com") else "user:") + email
    return None


def grants_of(resources: list[Resource], settings: Settings) -> tuple[dict[str, dict[str, str]], dict[str, set[str]]]:
    """(dataset `project.id` -> principal -> strongest role, principal -> project roles)."""
    datasets: dict[str, dict[str, str]] = {}
    for dataset, members in (settings.external_grants or {}).items():
        datasets[dataset] = dict(members)
    project_roles: dict[str, set[str]] = {}
    for r in resources:
        if r.type == DATASET_TYPE:
            key = f"{r.props.get('project')}.{r.props.get('datasetId')}"
            held = datasets.setdefault(key, {})
            for entry in r.props.get("accesses") or []:
                who, role = principal_of_entry(entry), entry.get("role")
                if who and role in ROLE_ORDER and ROLE_ORDER.index(role) >= ROLE_ORDER.index(held.get(who, "READER")):
                    held[who] = role
        elif r.type == PROJECT_IAM_MEMBER_TYPE:
            project_roles.setdefault(str(r.props.get("member")), set()).add(str(r.props.get("role")))
    return datasets, project_roles


def uses_of(resources: list[Resource], settings: Settings) -> list[Use]:
    out: list[Use] = []
    bodies = {f"{r.props.get('project')}.{r.props.get('datasetId')}.{r.props.get('routineId')}":
              str(r.props.get("definitionBody") or "") for r in resources if r.type == ROUTINE_TYPE}
    for r in resources:
        if r.type != TRANSFER_TYPE:
            continue
        account = f"serviceAccount:{str(r.props.get('serviceAccountName') or '').lower()}"
        params = r.props.get("params") or {}
        script = str(params.get("query") or "")
        job = f"{r.props.get('displayName') or r.name}"
        if r.props.get("dataSourceId") == "cross_region_copy":
            source = f"{params.get('source_project_id')}.{params.get('source_dataset_id')}"
            destination = f"{r.props.get('project')}.{r.props.get('destinationDatasetId')}"
            out.append(Use(f"cross-region copy {job}", r.urn, account, "dataset_copy", source, destination))
        elif _SNAPSHOT_INTO.search(script):
            into = ".".join(_SNAPSHOT_INTO.search(script).groups())
            statement = "create_snapshot_with_expiration" if "expiration_timestamp" in script else "create_snapshot"
            for project, dataset in sorted(set(_SCHEMA.findall(script))):
                source = f"{project}.{dataset}"
                out.append(Use(f"snapshot policy {job}", r.urn, account, "list_tables", source))
                out.append(Use(f"snapshot policy {job}", r.urn, account, statement, source, into))
        else:
            written = {m.group(1) for m in _INSERT.finditer(script)}
            for table in sorted(written):
                out.append(Use(f"scheduled query {job}", r.urn, account, "write_dml",
                               destination=table.rsplit(".", 1)[0]))
            routines = _called(script, bodies)
            texts = [script, *(bodies[name] for name in routines)]
            read = {".".join(m.groups()[:2]) for text in texts for m in _TABLE.finditer(text)
                    if ".".join(m.groups()) not in written and ".".join(m.groups()) not in routines}
            for dataset in sorted(read):
                out.append(Use(f"scheduled query {job}", r.urn, account, "read", dataset))
            for dataset in sorted({name.rsplit(".", 1)[0] for name in routines}):
                out.append(Use(f"scheduled query {job}", r.urn, account, "call_routine", dataset))
    out += _restorer_uses(resources, settings)
    return out


def _called(script: str, bodies: Mapping[str, str]) -> set[str]:
    """The planned routines (`project.dataset.name`) a script calls, and those their bodies call in
    turn (`INSERT INTO <table> (` looks the same: only the names of planned routines count)."""
    found: set[str] = set()
    todo = [".".join(m.groups()) for m in _CALL.finditer(script)]
    while todo:
        name = todo.pop()
        if name in found or name not in bodies:
            continue
        found.add(name)
        todo += [".".join(m.groups()) for m in _CALL.finditer(bodies.get(name, ""))]
    return found


def _restorer_uses(resources: list[Resource], settings: Settings) -> list[Use]:
    """What `restore` runs in each dataset that holds declared tables, as each restorer."""
    datasets = {f"{r.props.get('project')}.{r.props.get('datasetId')}": r for r in resources if r.type == DATASET_TYPE}
    with_tables = {f"{r.props.get('project')}.{r.props.get('datasetId')}" for r in resources
                   if r.type == "gcp:bigquery/table:Table" and "view" not in r.props}
    snapshot_sets: dict[str, list[str]] = {}
    for key, r in datasets.items():
        if (r.props.get("labels") or {}).get("layer") == "backup":  # the snapshot datasets (not `dr`)
            snapshot_sets.setdefault(str(r.props.get("location")), []).append(key)
    out = []
    for key in sorted(with_tables & datasets.keys()):
        backups = sorted(snapshot_sets.get(str(datasets[key].props.get("location")), []))
        urn = datasets[key].urn
        for principal in settings.restorers:
            job = f"restore of a table of {key}"
            out += [Use(job, urn, principal, "read", key), Use(job, urn, principal, "clone", key, key),
                    Use(job, urn, principal, "drop_table", destination=key)]
            for backup in backups:
                out += [Use(job, urn, principal, "create_snapshot_with_expiration", key, backup),
                        Use(job, urn, principal, "restore_copy", backup, key)]
    return out


def _least_role(missing: Iterable[str]) -> str | None:
    roles = permissions_data()["dataset_roles"]
    needed = set(missing)
    return next((name for name in ROLE_ORDER if needed <= set(roles[name]["permissions"])), None)


def check(resources: list[Resource], settings: Settings):
    data = permissions_data()
    datasets, project_roles = grants_of(resources, settings)
    role_permissions = {name: set(role["permissions"]) for name, role in data["dataset_roles"].items()}
    project_permissions = {name: set(role["permissions"]) for name, role in data["project_roles"].items()}
    seen: set[tuple] = set()
    for use in uses_of(resources, settings):
        statement = data["statements"][use.statement]
        for side, needed in statement["needs"].items():
            target = {"source": use.source, "destination": use.destination, "project": None}[side]
            if side == "project":
                held = set().union(*(project_permissions.get(role, set())
                                     for role in project_roles.get(use.principal, ())))
                place = "the project"
            else:
                role = datasets.get(target, {}).get(use.principal)
                held = role_permissions.get(role, set())
                place = target
            missing = [p for p in needed if p not in held]
            key = (use.principal, use.statement, side, target, tuple(missing))
            if not missing or key in seen:
                continue
            seen.add(key)
            yield (use.urn, _message(use, statement, side, place, missing),
                   _fix(use, side, target, missing, datasets, settings))


def _message(use: Use, statement: dict, side: str, place: str, missing: list[str]) -> str:
    return (f"{use.job} runs as {use.principal} and {statement['what']}, which needs {', '.join(missing)} on "
            f"{place} ({statement['source']}); {use.principal} does not have it there")


def _fix(use: Use, side: str, target: str | None, missing: list[str], datasets: dict, settings: Settings) -> str:
    if side == "project":
        return f"grant {use.principal} roles/bigquery.jobUser on the project (the role's `project_roles`)"
    role = _least_role(missing) or "OWNER"
    if target in (settings.external_grants or {}):
        return (f"ask the owner of {target} (a raw source) to make {use.principal} {role} of it, then list the role "
                "under `readers:` in its datasets/sources/ file")
    return f"grant {role} on {target} to {use.principal} (a grant of its role in roles/)"


RULE = Rule("job-permissions", "Every job identity holds the permissions its statements need.", check_stack=check)
