"""Loading the whole warehouse for one stack: files + stack config -> a validated `Warehouse`.

This is the one entry point of the loading layer: `check`, `plan` and the Pulumi program all go
through `load_warehouse`. It loads every declaration file, then applies the rules that need
several files or the stack at once:

- every role's members are known (stack file, or the service account it creates), and every
  `warehouse:members.<role>` names an existing role;
- no individual (`user:`) and no domain is OWNER or WRITER of anything: people get write access
  through groups;
- a grant names only datasets that exist; dataset ids are unique across managed and raw datasets;
- service-account ids fit GCP's 6-30 character limit once the stack's prefix is added.

All problems are collected and raised together as `ProblemsError`.
"""

from __future__ import annotations

from pathlib import Path
from types import MappingProxyType

from infra.checks.query_rules import analyze
from infra.checks.select import Declared
from infra.declarations.backups import load_backups
from infra.declarations.datasets import DatasetSpec, load_datasets
from infra.declarations.folders import folder_routes
from infra.declarations.keys import closest, suggest
from infra.declarations.platform import apply_platform, check_stack_overlap
from infra.declarations.queries import load_queries
from infra.declarations.roles import RoleSpec, load_roles
from infra.declarations.routines import load_routines
from infra.declarations.stack import NAMESPACE, StackConfig, load_stack_file
from infra.model.access import dataset_acl
from infra.model.backups import resolve_backups
from infra.model.integrity import check_accounts, check_authorization_cycles, check_copies, check_resource_names
from infra.model.warehouse import BACKUP_ROLE, RUNNER_ROLE, Dataset, Role, ServiceAccount, Source, Warehouse
from infra.problems import Problems
from infra.vocabulary import MANAGED_BY


def repository_root() -> Path:
    """The project root (where Pulumi.yaml is), whatever the working directory."""
    return Path(__file__).resolve().parents[2]  # infra/model/load.py -> the checkout


def load_for_stack(root: Path, stack: str) -> Warehouse:
    problems = Problems()
    config = load_stack_file(root, stack, problems)
    if config is not None:
        config = apply_platform(root, config, problems)
        check_stack_overlap(root, config, problems)
    if config is None:
        # Still load the declarations so one run reports every problem.
        datasets, sources, _, queries = load_declarations(root, problems)
        problems.raise_if_any(declared=Declared.after_problems(root, None, queries, datasets, sources))
    return load_warehouse(root, config, problems)


def load_declarations(root: Path, problems: Problems):
    datasets, sources = load_datasets(root, problems)
    roles = load_roles(root, problems)
    queries = load_queries(root, problems, folder_routes(root, datasets, problems))
    return datasets, sources, roles, queries


def load_warehouse(root: Path, stack: StackConfig, problems: Problems | None = None) -> Warehouse:
    problems = problems if problems is not None else Problems()
    specs, source_specs, role_specs, query_specs = load_declarations(root, problems)
    # Cross-file references are checked against the files that exist, so a file that failed to
    # load is reported once, not again by everything that refers to it.
    dataset_files = _stems(root / "datasets")
    roles = _resolve_roles(role_specs, _stems(root / "roles"), stack, problems)
    _check_grant_targets(role_specs, dataset_files, problems)
    unloaded = ({p.stem for p in (root / "scheduled_queries").glob("*/*/*.yaml")} - {q.name for q in query_specs}) | \
               (dataset_files - {d.name for d in specs})
    check_resource_names(roles, stack, problems)
    check_accounts(roles, problems)
    routine_specs = load_routines(root, problems)
    unloaded |= {p.stem for p in (root / "routines").glob("*/*.yaml")} - {r.name for r in routine_specs}
    analysis = analyze(query_specs, specs, source_specs, stack, problems, unloaded, routine_specs)
    check_authorization_cycles(analysis.authorizations, query_specs, problems)
    backup_declarations = load_backups(root, problems)
    check_copies(backup_declarations.copies, query_specs, problems, unloaded)
    backup_specs, backups = resolve_backups(backup_declarations, specs, source_specs,
                                            tuple(q.spec for q in analysis.queries), stack, problems, unloaded)
    _check_source_readers(source_specs, roles, problems)
    if analysis.queries and not any(r.name == RUNNER_ROLE and r.service_account for r in roles):
        problems.add("roles", None, RUNNER_ROLE, "scheduled queries need the runner service account",
                     f"add roles/{RUNNER_ROLE}.yaml with `members: service_account`")
    consumers = {name: tuple((stack.project, stack.dataset_prefix + c) for c in sorted(names))
                 for name, names in analysis.authorizations.items()}
    datasets = tuple(_resolve_dataset(spec, roles, stack, consumers.get(spec.name, ()),
                                      backups.exemption_of(spec.name) is not None)
                     for spec in (*specs, *backup_specs))
    if (backups.snapshots or backups.copies) and not any(r.name == BACKUP_ROLE and r.service_account for r in roles):
        problems.add("roles", None, BACKUP_ROLE, "backup policies need the backup service account",
                     f"add roles/{BACKUP_ROLE}.yaml with `members: service_account`")
    sources = tuple(Source(spec=s, project=stack.project_of_source(s.name, s.project),
                           location=s.location or stack.location) for s in source_specs)
    _check_source_projects(stack, source_specs, _stems(root / "datasets" / "sources"), problems)
    _check_unique_ids(datasets, sources, problems)
    problems.raise_if_any(declared=Declared.after_problems(root, analysis.lineage, query_specs, specs, source_specs))
    return Warehouse(stack=stack, datasets=datasets, sources=sources, roles=roles,
                     queries=analysis.queries, lineage=analysis.lineage, backups=backups, routines=analysis.routines)


def _stems(folder: Path) -> set[str]:
    return {p.stem for p in folder.glob("*.yaml")}


def _resolve_roles(specs: tuple[RoleSpec, ...], role_files: set[str], stack: StackConfig,
                   problems: Problems) -> tuple[Role, ...]:
    by_name = {r.name: r for r in specs}
    for name, principals in stack.members.items():
        line = principals[0][1] if principals else None
        key = f"{NAMESPACE}:members.{name}"
        if name not in role_files:
            problems.add(stack.file, line, key,
                         f"there is no role {name!r} (no roles/{name}.yaml){suggest(name, sorted(role_files))}",
                         f"use one of: {', '.join(r for r in by_name if by_name[r].members_from == 'stack')}")
        elif name in by_name and by_name[name].members_from != "stack":
            problems.add(stack.file, line, key, f"role {name!r} has a service account as its only member",
                         f"remove `{name}` from warehouse:members")
    # A member key that is a near miss of a role name is reported once, as the misspelling.
    misspelled = {closest(name, sorted(role_files)) for name in stack.members if name not in role_files}
    roles = []
    for spec in specs:
        sa = None
        if spec.members_from == "service_account":
            account_id = stack.service_account_prefix + spec.service_account.account_id
            if not 6 <= len(account_id) <= 30:
                problems.add(spec.file, None, "service_account.account_id",
                             f"{account_id!r} (with the stack's prefix) has {len(account_id)} characters",
                             "service-account ids have 6 to 30 characters: shorten the id or the prefix")
            email = f"{account_id}@{stack.project}.iam.gserviceaccount.com"
            sa = ServiceAccount(role=spec.name, account_id=account_id,
                                display_name=spec.service_account.display_name, email=email)
            members = (sa.principal,)
        elif spec.name not in stack.members:
            if spec.name not in misspelled:
                problems.add(stack.file, None, f"{NAMESPACE}:members.{spec.name}",
                             f"{spec.file} takes its members from the stack, but the stack lists none",
                             f"add `{spec.name}: [group:name@example.com]` under warehouse:members (or `[]`)")
            members = ()
        else:
            members = tuple(p for p, _ in stack.members[spec.name])
            strongest = spec.strongest
            if strongest in ("OWNER", "WRITER"):
                for principal, line in stack.members[spec.name]:
                    if principal.kind in ("user", "domain"):
                        problems.add(stack.file, line or None, f"{NAMESPACE}:members.{spec.name}",
                                     f"{principal} would be {strongest} of datasets through role {spec.name!r}; "
                                     "individuals and domains are never OWNER or WRITER",
                                     "add the person to a group and list the group (group:name@example.com)")
        roles.append(Role(spec=spec, members=members, service_account=sa))
    return tuple(roles)


def _check_source_readers(sources, roles: tuple[Role, ...], problems: Problems) -> None:
    accounts = sorted(r.name for r in roles if r.service_account is not None)
    for source in sources:
        for name in source.readers:
            if name not in accounts:
                problems.add(source.file, source.readers_line, "readers",
                             f"{name!r} is not a role with a service account{suggest(name, accounts)}",
                             f"name the roles whose service account the owner made READER: {', '.join(accounts)}")


def _check_source_projects(stack: StackConfig, sources, source_files: set[str], problems: Problems) -> None:
    """Every `warehouse:sourceProjects` key names a raw source (a file that exists)."""
    for name, (_, line) in stack.source_projects.items():
        if name not in source_files:
            problems.add(stack.file, line or None, f"{NAMESPACE}:sourceProjects.{name}",
                         f"there is no raw source {name!r} (no datasets/sources/{name}.yaml)"
                         f"{suggest(name, sorted(source_files))}",
                         f"use one of: {', '.join(sorted(s.name for s in sources))}")


def _check_grant_targets(roles: tuple[RoleSpec, ...], names: set[str], problems: Problems) -> None:
    for role in roles:
        for i, grant in enumerate(role.grants):
            for name in grant.datasets:
                if name not in names:
                    problems.add(role.file, grant.line, f"grants[{i}].datasets",
                                 f"dataset {name!r} does not exist (no datasets/{name}.yaml)",
                                 f"use one of: {', '.join(sorted(names))}")


def _resolve_dataset(spec: DatasetSpec, roles: tuple[Role, ...], stack: StackConfig,
                     authorized: tuple[tuple[str, str], ...], exempt: bool = False) -> Dataset:
    accesses, sa_roles = dataset_acl(spec, roles, authorized)
    labels = {"environment": stack.environment, "layer": spec.layer, "managed-by": MANAGED_BY, **spec.labels}
    if spec.sync_tool:
        labels["sync-tool"] = spec.sync_tool  # the policy pack confines each sync account by it
    if exempt:
        labels["backup"] = "exempt"  # the exemption's reason is in backups/coverage.yaml
    return Dataset(
        spec=spec, project=stack.project, dataset_id=stack.dataset_prefix + spec.name,
        location=spec.location or stack.location, labels=MappingProxyType(dict(sorted(labels.items()))),
        accesses=accesses, service_account_roles=sa_roles,
    )


def _check_unique_ids(datasets: tuple[Dataset, ...], sources: tuple[Source, ...], problems: Problems) -> None:
    seen: dict[tuple[str, str], str] = {}
    owners = [((d.project, d.dataset_id.lower()), d.spec.file, "dataset_id") for d in datasets]
    owners += [((s.project, s.dataset_id.lower()), s.spec.file, "dataset_id") for s in sources]
    for key, file, field in owners:
        if key in seen:
            problems.add(file, None, field, f"dataset id {key[1]!r} is already declared by {seen[key]}",
                         "dataset ids are case-insensitively unique per project: rename one of the two")
        else:
            seen[key] = file

