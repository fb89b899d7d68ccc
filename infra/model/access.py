"""The access model: each dataset's complete, authoritative ACL, computed from the roles.

One model, no exceptions (DESIGN.md, decision 1): every managed dataset's ACL is exactly what
this module returns and is written through `Dataset.accesses`, so a grant added in the console
shows up as drift. The rules:

- `specialGroup: projectOwners` is OWNER of every dataset (an ACL without an owner fails, and a
  dataset created without one would make the deploying service account its owner);
- a principal selected by several grants on one dataset gets one entry, with its strongest role
  (WRITER includes READER), so the ACL is as BigQuery stores it and refresh shows no diff;
- entries are sorted, so the order of files never shows up as a change.

Deliberately not here: `projectReaders`/`projectWriters`, which BigQuery adds to a dataset
created without an ACL; they would hand every project viewer the data.
"""

from __future__ import annotations

from infra.declarations.datasets import DatasetSpec
from infra.declarations.roles import DATASET_ROLES
from infra.model.warehouse import AccessEntry, Role

PROJECT_OWNERS = AccessEntry(role="OWNER", special_group="projectOwners")


def dataset_acl(spec: DatasetSpec, roles: tuple[Role, ...], authorized: tuple[tuple[str, str], ...] = ()
                ) -> tuple[tuple[AccessEntry, ...], tuple[str, ...]]:
    """The ACL of one dataset and the roles whose created service account it names.

    `authorized` lists the (project, dataset id) of datasets whose views read this one: the
    whole consuming dataset is authorized (`target_types: VIEWS`), so replacing a view never
    drops its grant (DESIGN.md, decision 2)."""
    strongest: dict = {}
    sa_roles: set[str] = set()
    for role in roles:
        for grant in role.spec.grants:
            if not grant.selects(spec.name, spec.layer):
                continue
            for principal in role.members:
                current = strongest.get(principal)
                if current is None or DATASET_ROLES.index(grant.role) > DATASET_ROLES.index(current):
                    strongest[principal] = grant.role
            if role.service_account is not None and role.members:
                sa_roles.add(role.name)
    entries = sorted(
        (AccessEntry(role=r, principal=p) for p, r in strongest.items()),
        key=lambda e: (-DATASET_ROLES.index(e.role), e.principal.kind, e.principal.identifier),
    )
    views = [AccessEntry(role=None, authorized_dataset=d) for d in sorted(set(authorized))]
    return (PROJECT_OWNERS, *entries, *views), tuple(sorted(sa_roles))
