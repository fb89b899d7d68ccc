"""Who may write or own a dataset, by what the identity is, not by its name: the project's owners
(`specialGroup: projectOwners`), a group of a domain the platform team allows (`writer_domains` in
platform/stacks.yaml, which the stack under review cannot edit), or a service account of the
dataset's own project. A service account of another project made OWNER (admin of everything,
backups included), a group of another domain, a domain or a person never is."""

from __future__ import annotations

from infra.policies.base import Resource, Rule, Settings, accesses
from infra.vocabulary import acl_entry_text


def check(r: Resource, settings: Settings):
    project = str(r.props.get("project") or "")
    domains = set(settings.writer_domains)
    for e in accesses(r):
        role = e.get("role")
        if role not in ("WRITER", "OWNER"):
            continue
        if e.get("specialGroup") == "projectOwners":
            continue
        group = str(e.get("groupByEmail") or "").lower()
        user = str(e.get("userByEmail") or "").lower()
        if group and group.rpartition("@")[2] in domains:
            continue
        if user.endswith(f"@{project}.iam.gserviceaccount.com") and project:
            continue
        what = ("a service account of another project" if user.endswith(".gserviceaccount.com") else
                "a group of another domain" if group else "neither a group of an allowed domain nor a service "
                                                          "account of this project")
        yield (f"the ACL entry {acl_entry_text(e)} makes {what} {role} of {r.props.get('datasetId')}",
               f"grant {role} to a group of {', '.join(sorted(domains)) or '(no domain: see platform/stacks.yaml)'} "
               f"or to a service account this project creates (roles/)")


RULE = Rule("writers-from-allowed-domains",
            "Writers and owners are groups of the allowed domains or the project's own service accounts.", check)
