"""`warehouse:role:Role`: a role's project-level grants and, for tool roles, its service account.

Dataset access is not granted here: it is part of each dataset's authoritative ACL
(`components/dataset.py`). What a role needs at project level (running jobs, reading through the
Storage API) is granted per member with `gcp.projects.IAMMember`, never the authoritative
`IAMBinding`/`IAMPolicy`, which would remove members that other stacks or teams added.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from infra.model.warehouse import Role
from infra.vocabulary import member_slug

TYPE = "warehouse:role:Role"


@dataclass(frozen=True)
class RoleArgs:
    role: Role
    project: str


class WarehouseRole(pulumi.ComponentResource):
    def __init__(self, name: str, args: RoleArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(TYPE, name, None, opts)
        role = args.role
        self.account = None
        depends_on = None
        if role.service_account is not None:
            sa = role.service_account
            self.account = gcp.serviceaccount.Account(
                f"{name}-sa",
                project=args.project,
                account_id=sa.account_id,
                display_name=sa.display_name,
                description=f"{role.spec.title}: {role.spec.description}"[:256],
                opts=pulumi.ResourceOptions(parent=self),
            )
            depends_on = [self.account]
        for project_role in role.spec.project_roles:
            short = project_role.rsplit(".", 1)[-1]
            for principal in role.members:
                gcp.projects.IAMMember(
                    f"{name}-{short}-{member_slug(principal.member)}",
                    project=args.project,
                    role=project_role,
                    member=principal.member,
                    opts=pulumi.ResourceOptions(parent=self, depends_on=depends_on),
                )
        self.register_outputs({"members": [p.member for p in role.members]})
