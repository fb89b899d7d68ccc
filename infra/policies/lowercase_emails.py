"""E-mails are lower-case everywhere (BigQuery and IAM store them lower-case, so anything else
shows as drift forever). The member kind (`serviceAccount:`) keeps its own spelling."""

from __future__ import annotations

from infra.policies.base import Resource, Rule, Settings, accesses


def check(r: Resource, settings: Settings):
    values = [e.get(k) for e in accesses(r) for k in ("userByEmail", "groupByEmail")]
    values.append(r.props.get("serviceAccountName"))
    member = r.props.get("member")
    if isinstance(member, str):
        values.append(member.partition(":")[2] or member)
    for v in values:
        if isinstance(v, str) and v != v.lower():
            yield f"{v} has upper-case letters", f"write it as {v.lower()}"


RULE = Rule("emails-lowercase", "E-mails are lower-case.", check)
