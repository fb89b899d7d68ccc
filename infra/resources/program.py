"""The Pulumi program: the validated warehouse of the current stack, as components.

Run by Pulumi's Python language host through `infra/__main__.py` (and by `plan`, which runs it
the same way under the mock runtime). It reads the stack's config once, loads and validates
every declaration before registering anything, and on bad input stops with `pulumi.RunError`
carrying one line per problem, which the language host prints without a traceback.
"""

from __future__ import annotations

import gc
from pathlib import Path

import pulumi

from infra.declarations.platform import apply_platform, check_stack_overlap
from infra.declarations.stack import from_runtime_strings
from infra.model.load import load_declarations, load_warehouse, repository_root
from infra.model.warehouse import BACKUP_ROLE, RUNNER_ROLE, Warehouse
from infra.problems import Problems, ProblemsError
from infra.resources.components.backup import (
    CROSS_REGION_COPY_TYPE,
    SNAPSHOT_POLICY_TYPE,
    CrossRegionCopy,
    CrossRegionCopyArgs,
    SnapshotPolicy,
    SnapshotPolicyArgs,
)
from infra.resources.components.dataset import TYPE as DATASET_COMPONENT
from infra.resources.components.dataset import DatasetArgs, WarehouseDataset
from infra.resources.components.role import TYPE as ROLE_COMPONENT
from infra.resources.components.role import RoleArgs, WarehouseRole
from infra.resources.components.routine import TYPE as ROUTINE_COMPONENT
from infra.resources.components.routine import Routine, RoutineArgs
from infra.resources.components.scheduled_query import TYPE as QUERY_COMPONENT
from infra.resources.components.scheduled_query import ScheduledQuery, ScheduledQueryArgs
from infra.resources.components.scheduling import Scheduling, SchedulingArgs
from infra.resources.components.view import TYPE as VIEW_COMPONENT
from infra.resources.components.view import View, ViewArgs
from infra.resources.snapshot_sql import snapshot_script
from infra.vocabulary import MANAGED_BY


def load_from_runtime(root: Path) -> Warehouse:
    # Imported here: the CLI imports this module (for `declaration_of`) and must start, and say in
    # one line what moved, even when a Pulumi upgrade moved the SDK's config store.
    from infra.plan.sdk import all_config

    problems = Problems()
    config = from_runtime_strings(pulumi.get_stack(), all_config(), problems)
    if config is not None:
        config = apply_platform(root, config, problems)
        check_stack_overlap(root, config, problems)
    if config is None:
        load_declarations(root, problems)  # report every problem in one run
        problems.raise_if_any()
    return load_warehouse(root, config, problems)


def declare(warehouse: Warehouse) -> None:
    stack = warehouse.stack
    project = stack.project
    roles = {r.name: WarehouseRole(r.name, RoleArgs(role=r, project=project)) for r in warehouse.roles}
    datasets = _declare_datasets(warehouse, roles)
    by_name = {d.name: d for d in warehouse.datasets}
    accounts = {name: roles[name].account for name in (RUNNER_ROLE, BACKUP_ROLE)
                if name in roles and roles[name].account is not None}
    scheduling = Scheduling("scheduling", SchedulingArgs(
        project=project, project_number=stack.project_number, accounts=accounts,
        labels={"environment": stack.environment, "managed-by": MANAGED_BY})) if accounts else None
    built: dict[str, pulumi.Resource] = {}
    queries = {q.spec.key: q for q in warehouse.queries}
    routines = {r.spec.key: r for r in warehouse.routines}
    for key in warehouse.lineage.order() if warehouse.lineage else ():
        if key in routines:
            routine = routines[key]
            built[key] = Routine(key, RoutineArgs(
                routine=routine, project=project, dataset=datasets[routine.spec.dataset].dataset,
                dataset_id=by_name[routine.spec.dataset].dataset_id,
                upstream=[built[k] for k in routine.reads if k in built])).routine
            continue
        query = queries.get(key)
        if query is None:
            continue
        spec = query.spec
        dataset = by_name[spec.dataset]
        labels = {**dataset.labels, **spec.labels}
        if spec.is_view:
            upstream = [built[k] for k in query.reads if k in built]
            upstream += [datasets[k.split(".")[0]].dataset for k in query.reads if k.split(".")[0] in datasets]
            built[key] = View(key, ViewArgs(query=query, project=project, dataset=datasets[spec.dataset].dataset,
                                            dataset_id=dataset.dataset_id, labels=labels, upstream=upstream)).table
        else:
            built[key] = ScheduledQuery(key, ScheduledQueryArgs(
                query=query, project=project, dataset=datasets[spec.dataset].dataset, dataset_id=dataset.dataset_id,
                location=dataset.location, labels=labels, protect=stack.protect,
                runner_email=warehouse.runner.email, notification_topic=scheduling.topic_id,
                # and the routines it calls: its first run may come right after the `up`
                depends_on=[scheduling.topic, scheduling.token_creators[RUNNER_ROLE],
                            *(built[k] for k in query.reads if k in routines)])).table
    if warehouse.backups is not None:
        _declare_backups(warehouse, datasets, scheduling)
    pulumi.export("datasets", {d.name: d.dataset_id for d in warehouse.datasets})


def _declare_backups(warehouse: Warehouse, datasets: dict[str, WarehouseDataset], scheduling: Scheduling) -> None:
    """The snapshot policies and cross-region copies. One-off copies are not resources: a
    `gcp.bigquery.Job` never reports a failed copy (docs/real-world.md); `backups copy` runs them."""
    stack, backups = warehouse.stack, warehouse.backups
    by_name = {d.name: d for d in warehouse.datasets}
    account = warehouse.backup_account
    for job in backups.snapshots:
        sources = warehouse.snapshot_sources(job)
        if not any(s.tables is None or s.tables for s in sources):
            continue  # a history policy over datasets without history: nothing to snapshot
        backup = by_name[job.backup_dataset]
        script = snapshot_script(job.policy.name, job.policy.retention_days, f"{backup.project}.{backup.dataset_id}",
                                 sources)
        SnapshotPolicy(job.policy.name, SnapshotPolicyArgs(
            project=stack.project, location=job.location, schedule=job.policy.schedule.text, script=script,
            service_account=account.email, notification_topic=scheduling.topic_id,
            depends_on=[datasets[job.backup_dataset].dataset, scheduling.topic,
                        scheduling.token_creators[BACKUP_ROLE]]))
    for job in backups.copies:
        CrossRegionCopy(f"{job.policy.name}.{job.dataset}", CrossRegionCopyArgs(
            project=stack.project, source_dataset_id=by_name[job.dataset].dataset_id,
            destination=datasets[job.destination_dataset].dataset,
            destination_location=job.policy.destination_location, schedule=job.policy.schedule.text,
            service_account=account.email, notification_topic=scheduling.topic_id,
            depends_on=[datasets[job.dataset].dataset, datasets[job.destination_dataset].dataset, scheduling.topic,
                        scheduling.token_creators[BACKUP_ROLE]]))


def _declare_datasets(warehouse: Warehouse, roles: dict[str, WarehouseRole]) -> dict[str, WarehouseDataset]:
    """Datasets, consumers first: a dataset whose ACL authorizes another dataset's views needs
    that dataset to exist (BigQuery rejects an ACL naming a missing dataset)."""
    out: dict[str, WarehouseDataset] = {}
    by_id = {d.dataset_id: d for d in warehouse.datasets}
    declaring: set[str] = set()  # on the way down: the model refuses authorization cycles; never recurse on one

    def declare_one(d) -> WarehouseDataset:
        if d.name in out:
            return out[d.name]
        declaring.add(d.name)
        consumers = [declare_one(by_id[e.authorized_dataset[1]]).dataset for e in d.accesses
                     if e.authorized_dataset and e.authorized_dataset[1] in by_id
                     and by_id[e.authorized_dataset[1]].name not in declaring]
        accounts = [roles[name].account for name in d.service_account_roles]
        out[d.name] = WarehouseDataset(d.name, DatasetArgs(dataset=d, protect=warehouse.stack.protect,
                                                           depends_on=[*accounts, *consumers]))
        declaring.discard(d.name)
        return out[d.name]

    for d in warehouse.datasets:
        declare_one(d)
    return out


# The component types `declare` uses -> the kind of declaration (`Warehouse.declaration_file`).
_DECLARED_AS = {DATASET_COMPONENT: "dataset", ROLE_COMPONENT: "role", QUERY_COMPONENT: "query", VIEW_COMPONENT: "query",
                ROUTINE_COMPONENT: "routine",
                SNAPSHOT_POLICY_TYPE: "backup_policy", CROSS_REGION_COPY_TYPE: "backup_policy"}


def declaration_of(component_type: str, component_name: str) -> tuple[str, str] | None:
    """Which declaration a component of this program comes from, as (kind, name) for
    `Warehouse.declaration_file`: the inverse of the names `declare` gives its components."""
    kind = _DECLARED_AS.get(component_type)
    if kind is None:
        return None
    if component_type == CROSS_REGION_COPY_TYPE:
        return kind, component_name.partition(".")[0]  # named <policy>.<dataset>
    return kind, component_name


def main(root: Path | None = None) -> Warehouse:
    """Load the stack's warehouse and declare it; the model it declared is returned, so that the
    offline plan can hand it on (`infra/__main__.py` binds it, `infra/plan/runtime.py` reads it)."""
    try:
        warehouse = load_from_runtime(root or repository_root())
    except ProblemsError as exc:
        raise pulumi.RunError(f"the declarations have {len(exc.problems)} problem(s):\n{exc}") from None
    # From here to the end of the run the garbage collector only costs time: what is loaded and
    # the SDK's objects (hundreds per resource: Outputs, their tasks and futures) all live until
    # the run ends, and each full pass rescans them every time they have grown by a quarter.
    # Measured at 1,000 tables: half of the plan's time, to free 72,000 objects against a
    # million alive at the end (docs/performance.md). So collect the analysis' garbage (SQL
    # trees are cyclic) now, then switch the collector off; the language host's process ends
    # with the run, and the offline runtime (infra/plan/runtime.py) switches it back on after.
    gc.collect()
    gc.disable()
    declare(warehouse)
    return warehouse



