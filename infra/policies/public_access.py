"""No public access: no `allUsers`, `allAuthenticatedUsers` or public e-mail domain, anywhere
(dataset ACLs, project, topic and service-account IAM members)."""

from __future__ import annotations

from infra.policies.base import Resource, Rule, Settings, accesses
from infra.vocabulary import acl_entry_text

PUBLIC_MEMBERS = {"allusers", "allauthenticatedusers"}
PUBLIC_DOMAINS = {"gmail.com", "googlemail.com"}
FIX = "grant a group of named people (group:name@example.com) instead"


def _public(value: str) -> bool:
    v = value.lower()
    return v in PUBLIC_MEMBERS or v.split(":")[-1] in PUBLIC_MEMBERS or v.removeprefix("domain:") in PUBLIC_DOMAINS


def check(r: Resource, settings: Settings):
    for e in accesses(r):
        for key in ("specialGroup", "iamMember", "domain"):
            if e.get(key) and _public(str(e[key])):
                yield f"the ACL entry {acl_entry_text(e)} grants the public access to the dataset", FIX
    member = r.props.get("member")
    if isinstance(member, str) and _public(member):
        yield f"IAM member {member} is public", FIX
    for member in r.props.get("members") or []:
        if isinstance(member, str) and _public(member):
            yield f"IAM member {member} is public", FIX


RULE = Rule("no-public-access", "No allUsers, allAuthenticatedUsers or public-domain grants anywhere.", check)
