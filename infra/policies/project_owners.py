"""Every dataset lists `specialGroup: projectOwners` as OWNER: an ACL without an owner fails, and
without it the deploying service account would be the dataset's only owner."""

from __future__ import annotations

from infra.policies.base import Resource, Rule, Settings
from infra.vocabulary import DATASET_TYPE


def check(r: Resource, settings: Settings):
    if r.type != DATASET_TYPE:
        return
    if not any(e.get("role") == "OWNER" and e.get("specialGroup") == "projectOwners"
               for e in r.props.get("accesses") or []):
        yield ("the dataset's ACL has no `specialGroup: projectOwners` OWNER",
               "declare datasets through datasets/*.yaml: the program always adds it")


RULE = Rule("project-owners-own-every-dataset", "projectOwners is OWNER of every dataset.", check)
