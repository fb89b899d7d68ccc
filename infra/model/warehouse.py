"""The validated warehouse for one stack: frozen objects the Pulumi program turns into resources.

Built by `warehouse.load_warehouse` from the declaration specs (`datasets.py`, `roles.py`) and a
`StackConfig`. Everything here is already resolved for the stack: physical dataset ids, members,
service-account e-mails and each dataset's complete ACL. Nothing downstream reads YAML or
`pulumi.Config` again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from infra.checks.lineage import Lineage
from infra.declarations.backups import COPIES_FILE
from infra.declarations.datasets import DatasetSpec, SourceSpec
from infra.declarations.principals import Principal
from infra.declarations.roles import RoleSpec
from infra.declarations.stack import StackConfig
from infra.model.backups import Backups, SnapshotJob, SnapshotSource
from infra.model.queries import ResolvedQuery, ResolvedRoutine
from infra.vocabulary import BACKUP_LAYERS

RUNNER_ROLE = "runner"
BACKUP_ROLE = "backup"
ADMIN_ROLE = "admin"  # roles/admin.yaml: the platform admins, who own every dataset and restore tables


@dataclass(frozen=True, order=True)
class AccessEntry:
    """One entry of a dataset's authoritative ACL."""

    role: str | None  # OWNER / WRITER / READER; None for an authorized dataset
    principal: Principal | None = None
    special_group: str | None = None
    authorized_dataset: tuple[str, str] | None = None  # (project, dataset id) whose views may read

    def as_args(self) -> dict:
        """Keyword arguments of `gcp.bigquery.DatasetAccessArgs` (nested values as plain dicts)."""
        if self.authorized_dataset is not None:
            project, dataset_id = self.authorized_dataset
            return {"dataset": {"dataset": {"project_id": project, "dataset_id": dataset_id},
                                "target_types": ["VIEWS"]}}
        args: dict = {"role": self.role}
        if self.special_group:
            args["special_group"] = self.special_group
        else:
            args.update(self.principal.acl_entry())
        return args



@dataclass(frozen=True)
class ServiceAccount:
    role: str  # the role it belongs to
    account_id: str  # with the stack's prefix
    display_name: str
    email: str

    @property
    def principal(self) -> Principal:
        return Principal("serviceAccount", self.email)


@dataclass(frozen=True)
class Role:
    spec: RoleSpec
    members: tuple[Principal, ...]
    service_account: ServiceAccount | None

    @property
    def name(self) -> str:
        return self.spec.name


@dataclass(frozen=True)
class Dataset:
    spec: DatasetSpec
    project: str
    dataset_id: str
    location: str
    labels: Mapping[str, str]
    accesses: tuple[AccessEntry, ...]
    # Roles whose created service account appears in the ACL: the dataset must wait for them.
    service_account_roles: tuple[str, ...]

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def layer(self) -> str:
        return self.spec.layer



@dataclass(frozen=True)
class Source:
    spec: SourceSpec
    project: str
    location: str  # the file's, or the stack's

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def dataset_id(self) -> str:
        return self.spec.dataset_id



@dataclass(frozen=True)
class Warehouse:
    stack: StackConfig
    datasets: tuple[Dataset, ...]
    sources: tuple[Source, ...]
    roles: tuple[Role, ...]
    queries: tuple[ResolvedQuery, ...] = ()
    lineage: Lineage | None = None
    backups: Backups | None = None
    routines: tuple[ResolvedRoutine, ...] = ()

    @property
    def backup_account(self) -> ServiceAccount | None:
        """The service account the backup jobs run as (roles/backup.yaml)."""
        return self._account_of(BACKUP_ROLE)

    @property
    def runner(self) -> ServiceAccount | None:
        """The service account every scheduled query runs as (roles/runner.yaml)."""
        return self._account_of(RUNNER_ROLE)

    def _account_of(self, role_name: str) -> ServiceAccount | None:
        role = next((r for r in self.roles if r.name == role_name), None)
        return role.service_account if role else None

    def dataset(self, name: str) -> Dataset:
        return next(d for d in self.datasets if d.name == name)

    def snapshot_sources(self, job: SnapshotJob) -> list[SnapshotSource]:
        """What a snapshot job snapshots: its managed datasets and raw sources (possibly in another
        project), with the tables of a history policy."""
        by_name = {d.name: d for d in self.datasets}
        by_source = {s.name: s for s in self.sources}
        tables = job.tables if job.tables is not None else {}
        pick = (lambda name: tables.get(name, ())) if job.tables is not None else (lambda name: None)
        return ([SnapshotSource(by_name[n].project, by_name[n].dataset_id, pick(n)) for n in job.datasets]
                + [SnapshotSource(by_source[n].project, by_source[n].dataset_id, pick(n)) for n in job.sources])

    def query(self, key: str) -> ResolvedQuery | None:
        """The scheduled query or view that builds `key` (`dataset.table`), if one does."""
        return next((q for q in self.queries if q.spec.key == key), None)

    def routine(self, key: str) -> ResolvedRoutine | None:
        """The routine `key` (`dataset.name`), if one is declared."""
        return next((r for r in self.routines if r.spec.key == key), None)

    def declaration_file(self, kind: str, name: str) -> str | None:
        """The file that declares `name`, a `kind` of declaration: `dataset` (a dataset's name),
        `role`, `query` (`dataset.table`), `backup_policy` or `one_off_copy`. None when no file
        declares it: an unknown name, or a backup dataset (made by the backup policies)."""
        if kind == "dataset":
            dataset = next((d for d in self.datasets if d.name == name), None)
            return dataset.spec.file if dataset is not None and dataset.layer not in BACKUP_LAYERS else None
        if kind == "role":
            return next((r.spec.file for r in self.roles if r.name == name), None)
        if kind == "query":
            query = self.query(name)
            return query.spec.file if query is not None else None
        if kind == "routine":
            routine = self.routine(name)
            return routine.spec.file if routine is not None else None
        declarations = self.backups.declarations if self.backups is not None else None
        if kind == "backup_policy" and declarations is not None:
            policy = declarations.policies.get(name)
            return policy.file if policy is not None else None
        if kind == "one_off_copy" and declarations is not None:
            return COPIES_FILE if any(c.name == name for c in declarations.copies) else None
        return None

