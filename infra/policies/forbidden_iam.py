"""No `DatasetIam*`/`DatasetAccess` resources (they fight the authoritative ACL and strip
authorized views) and no authoritative project IAM (`IAMBinding`/`IAMPolicy` remove members
other stacks and teams added)."""

from __future__ import annotations

from infra.policies.base import Resource, Rule, Settings

FORBIDDEN_PREFIXES = ("gcp:bigquery/datasetIam", "gcp:bigquery/datasetAccess:", "gcp:bigquery/iamBinding:",
                      "gcp:bigquery/iamPolicy:", "gcp:projects/iAMBinding:", "gcp:projects/iAMPolicy:",
                      "gcp:organizations/iAMBinding:", "gcp:organizations/iAMPolicy:")


def check(r: Resource, settings: Settings):
    if r.type.startswith(FORBIDDEN_PREFIXES):
        yield (f"{r.type} is not allowed",
               "declare dataset access in roles/ (it becomes the dataset's authoritative ACL) and project roles "
               "with per-member gcp.projects.IAMMember")


RULE = Rule("no-dataset-iam-or-authoritative-project-iam",
            "No DatasetIam*/DatasetAccess resources and no authoritative project IAM.", check)
