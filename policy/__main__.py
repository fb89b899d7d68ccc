"""The CrossGuard policy pack `warehouse-security` (see policies.py); constructing it serves it."""

import sys
from pathlib import Path

# The pack's own directory, whichever way the policy host starts this file.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from policies import POLICIES
from pulumi_policy import EnforcementLevel, PolicyPack

PolicyPack(name="warehouse-security", enforcement_level=EnforcementLevel.MANDATORY, policies=POLICIES)
