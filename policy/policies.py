"""The pack's policies: each rule of `infra/policies/` wrapped for CrossGuard.

Kept apart from `__main__.py` because constructing the `PolicyPack` starts serving it (and
blocks); tests import this module and call each policy's validate function with arguments built
the way the engine builds them. The stack's settings (protected or not) come from its
`Pulumi.<stack>.yaml`, found from the resource URN's stack name; which rules are advisory comes
from the policy config (`python -m infra policy-config --stack <stack>`).
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from infra.declarations.platform import apply_platform  # noqa: E402
from infra.declarations.roles import PROJECT_ROLE_ALLOW_LIST  # noqa: E402
from infra.declarations.stack import load_stack_file  # noqa: E402
from infra.model.load import load_for_stack  # noqa: E402
from infra.policies import RULES, Resource, Rule, Settings  # noqa: E402
from infra.policies.evaluate import settings_for  # noqa: E402
from infra.problems import Problems, ProblemsError  # noqa: E402


@functools.cache
def settings_for_stack(stack: str) -> Settings:
    try:
        return settings_for(load_for_stack(ROOT, stack))
    except ProblemsError:
        # Declarations with problems cannot lower the bar: the stack is then treated as protected.
        problems = Problems()
        config = load_stack_file(ROOT, stack, problems)
        config = apply_platform(ROOT, config, problems) if config is not None else None
        return Settings(protected=True if config is None else config.protect,
                        allowed_project_roles=PROJECT_ROLE_ALLOW_LIST)


def stack_of(urn: str) -> str:
    return urn.split("::")[0].removeprefix("urn:pulumi:")


def _resource_validator(rule: Rule):
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        resource = Resource(urn=args.urn, type=args.resource_type, name=args.name, props=args.props,
                            protect=bool(getattr(args.opts, "protect", False)))
        for message, fix in rule.check_resource(resource, settings_for_stack(stack_of(args.urn))):
            report_violation(f"{message}; fix: {fix}", None)
    return validate


def _stack_validator(rule: Rule):
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        resources = [Resource(urn=r.urn, type=r.resource_type, name=r.name, props=r.props,
                              protect=bool(getattr(r.opts, "protect", False))) for r in args.resources]
        if not resources:
            return
        for urn, message, fix in rule.check_stack(resources, settings_for_stack(stack_of(resources[0].urn))):
            report_violation(f"{message}; fix: {fix}", urn)
    return validate


def build(rule: Rule):
    if rule.check_resource is not None:
        return ResourceValidationPolicy(name=rule.name, description=rule.description,
                                        enforcement_level=EnforcementLevel.MANDATORY,
                                        validate=_resource_validator(rule))
    return StackValidationPolicy(name=rule.name, description=rule.description,
                                 enforcement_level=EnforcementLevel.MANDATORY, validate=_stack_validator(rule))


POLICIES = [build(rule) for rule in RULES]
