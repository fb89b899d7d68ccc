"""Project-level roles only from the allow-list (running jobs, the Storage API): anything broader
(owner, editor, bigquery.admin, dataEditor) would bypass the dataset ACLs."""

from __future__ import annotations

from infra.policies.base import Resource, Rule, Settings
from infra.vocabulary import PROJECT_IAM_MEMBER_TYPE


def check(r: Resource, settings: Settings):
    if r.type != PROJECT_IAM_MEMBER_TYPE:
        return
    role = r.props.get("role")
    if role not in settings.allowed_project_roles:
        yield (f"project role {role} for {r.props.get('member')} is not in the allow-list",
               f"use one of {', '.join(settings.allowed_project_roles)}, or grant dataset access through roles/")


RULE = Rule("project-roles-allow-list", "Project-level roles come only from the allow-list.", check)
