"""In a protected stack, every dataset and every declared table (not views) is protected, and
declared tables have deletion protection on: removing one must be a deliberate two-step act."""

from __future__ import annotations

from infra.policies.base import Resource, Rule, Settings
from infra.vocabulary import DATASET_TYPE, TABLE_TYPE


def check(r: Resource, settings: Settings):
    if not settings.protected or r.type not in (DATASET_TYPE, TABLE_TYPE):
        return
    if r.type == TABLE_TYPE and r.props.get("view"):
        return
    if not r.protect:
        yield "a stateful resource is not protected in a protected stack", \
            "set `warehouse:protect: true` for the stack (the program protects datasets and tables)"
    if r.type == TABLE_TYPE and r.props.get("deletionProtection") is not True:
        yield "the table's deletion protection is off in a protected stack", "turn deletion protection on"


RULE = Rule("stateful-resources-protected", "In protected stacks datasets and tables are protected.", check)
