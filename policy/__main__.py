"""The CrossGuard policy pack `warehouse-security` (see policies.py); constructing it serves it."""

from pulumi_policy import EnforcementLevel, PolicyPack

from policies import POLICIES

PolicyPack(name="warehouse-security", enforcement_level=EnforcementLevel.MANDATORY, policies=POLICIES)
