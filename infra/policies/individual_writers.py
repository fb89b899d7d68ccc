"""No individual user as OWNER or WRITER of a dataset: people write through groups, tools through
service accounts, so access is granted and removed in one place."""

from __future__ import annotations

from infra.policies.base import Resource, Rule, Settings, accesses
from infra.vocabulary import acl_entry_text


def check(r: Resource, settings: Settings):
    for e in accesses(r):
        if e.get("role") not in ("OWNER", "WRITER"):
            continue
        user = e.get("userByEmail")
        if user and not str(user).endswith(".gserviceaccount.com"):
            yield (f"the ACL entry {acl_entry_text(e)} makes a person {e['role']} of the dataset",
                   "add the person to a group of the role (admin or data_analyst) and grant the group")
        if e.get("domain"):
            yield (f"the ACL entry {acl_entry_text(e)} makes a whole domain {e['role']} of the dataset",
                   "grant a group instead of a whole domain")


RULE = Rule("no-individual-writers", "Only groups and service accounts are OWNER or WRITER of a dataset.", check)
