"""Project-level roles only from the allow-list (running jobs, the Storage API): anything broader
(owner, editor, bigquery.admin, dataEditor) would bypass the dataset ACLs. The one exception is a
Google service agent's own role, and only for that agent: the Data Transfer Service agent gets
`roles/bigquerydatatransfer.serviceAgent` when the program creates it (it is then not granted by
itself: docs/real-world.md). The member decides, never a name or a flag of the change."""

from __future__ import annotations

import re

from infra.policies.base import Resource, Rule, Settings
from infra.vocabulary import PROJECT_IAM_MEMBER_TYPE

# A service agent's role -> the members (Google-managed service agents) that may hold it.
SERVICE_AGENT_ROLES = {
    "roles/bigquerydatatransfer.serviceAgent":
        re.compile(r"^serviceAccount:service-[0-9]+@gcp-sa-bigquerydatatransfer\.iam\.gserviceaccount\.com$"),
}


def check(r: Resource, settings: Settings):
    if r.type != PROJECT_IAM_MEMBER_TYPE:
        return
    role, member = r.props.get("role"), str(r.props.get("member") or "")
    if role in settings.allowed_project_roles:
        return
    agent = SERVICE_AGENT_ROLES.get(role)
    if agent is not None and agent.match(member):
        return
    yield (f"project role {role} for {member} is not in the allow-list",
           f"use one of {', '.join(settings.allowed_project_roles)}, or grant dataset access through roles/")


RULE = Rule("project-roles-allow-list", "Project-level roles come only from the allow-list.", check)
