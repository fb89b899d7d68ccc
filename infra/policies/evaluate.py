"""Running the rules on an offline plan (`check --policy`), with the stack's settings."""

from __future__ import annotations

from infra.declarations.roles import PROJECT_ROLE_ALLOW_LIST
from infra.model.warehouse import ADMIN_ROLE, Warehouse
from infra.plan.runtime import Plan
from infra.policies import RULES
from infra.policies.base import Resource, Settings, Violation


def settings_for(warehouse: Warehouse) -> Settings:
    """The rules' settings for a stack: from its stack file, and what the model knows beyond the
    plan (raw sources' grants, who restores)."""
    stack = warehouse.stack
    accounts = {r.name: r.service_account.principal.member for r in warehouse.roles if r.service_account}
    external = {f"{s.project}.{s.dataset_id}": {accounts[name]: "READER" for name in s.spec.readers if name in accounts}
                for s in warehouse.sources}
    admins = next((r.members for r in warehouse.roles if r.name == ADMIN_ROLE), ())
    return Settings(protected=stack.protect, advisory=frozenset(stack.policy_advisory),
                    allowed_project_roles=PROJECT_ROLE_ALLOW_LIST, external_grants=external,
                    restorers=tuple(p.member for p in admins), writer_domains=stack.writer_domains)


def resources_of(plan: Plan) -> list[Resource]:
    return [Resource(urn=r.urn, type=r.type, name=r.name, props=r.inputs, protect=r.protect)
            for r in plan.resources if r.custom]


def evaluate(resources: list[Resource], settings: Settings) -> list[Violation]:
    return sorted(v for rule in RULES for v in rule.validate(resources, settings))
