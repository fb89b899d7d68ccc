"""Running the rules on an offline plan (`check --policy`), with the stack's settings."""

from __future__ import annotations

from infra.declarations.roles import PROJECT_ROLE_ALLOW_LIST
from infra.declarations.stack import StackConfig
from infra.plan.runtime import Plan
from infra.policies import RULES
from infra.policies.base import Resource, Settings, Violation


def settings_for(stack: StackConfig) -> Settings:
    return Settings(protected=stack.protect, advisory=frozenset(stack.policy_advisory),
                    allowed_project_roles=PROJECT_ROLE_ALLOW_LIST)


def resources_of(plan: Plan) -> list[Resource]:
    return [Resource(urn=r.urn, type=r.type, name=r.name, props=r.inputs, protect=r.protect)
            for r in plan.resources if r.custom]


def evaluate(resources: list[Resource], settings: Settings) -> list[Violation]:
    return sorted(v for rule in RULES for v in rule.validate(resources, settings))
