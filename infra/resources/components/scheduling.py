"""`warehouse:scheduling:Scheduling`: what every scheduled query shares.

- the Data Transfer Service agent (`service-<number>@gcp-sa-bigquerydatatransfer...`), made to
  exist before anything is granted to it: the service creates it only when its API is first
  used, so on a new project's first `up` every grant below would fail on an unknown member.
  `gcp.projects.ServiceIdentity` creates it (and is a no-op when it exists); created that way it
  does not get its service agent role by itself, so the role is granted here too
  (docs/real-world.md);
- the Pub/Sub topic the Data Transfer Service notifies on every run (failures included), which
  alerting subscribes to;
- `roles/pubsub.publisher` on it for the Data Transfer Service agent, which publishes;
- `roles/iam.serviceAccountTokenCreator` on each service account scheduled jobs run as (the
  query runner, the backup runner) for that agent, which mints their tokens to run the jobs
  (without it every run fails on credentials).

Deliberately not here: the subscription that routes notifications to people (an alerting
concern), and the deployer's own `iam.serviceAccountUser` on the runner (granted with the
deployer's identity, outside this program).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

TYPE = "warehouse:scheduling:Scheduling"
TOPIC_NAME = "warehouse-scheduled-queries"
TRANSFER_SERVICE = "bigquerydatatransfer.googleapis.com"
TRANSFER_AGENT_ROLE = "roles/bigquerydatatransfer.serviceAgent"


@dataclass(frozen=True)
class SchedulingArgs:
    project: str
    project_number: str
    # The service accounts scheduled jobs run as, by role name (the query runner, the backups).
    accounts: dict[str, gcp.serviceaccount.Account]
    labels: dict


def transfer_service_agent(project_number: str) -> str:
    return f"serviceAccount:service-{project_number}@gcp-sa-bigquerydatatransfer.iam.gserviceaccount.com"


class Scheduling(pulumi.ComponentResource):
    def __init__(self, name: str, args: SchedulingArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(TYPE, name, None, opts)
        agent = transfer_service_agent(args.project_number)
        self.agent = gcp.projects.ServiceIdentity(
            f"{name}-transfer-agent", project=args.project, service=TRANSFER_SERVICE,
            opts=pulumi.ResourceOptions(parent=self))
        self.agent_role = gcp.projects.IAMMember(
            f"{name}-transfer-agent-role", project=args.project, role=TRANSFER_AGENT_ROLE, member=agent,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.agent]))
        self.topic = gcp.pubsub.Topic(
            f"{name}-topic", project=args.project, name=TOPIC_NAME, labels=args.labels,
            opts=pulumi.ResourceOptions(parent=self))
        self.publisher = gcp.pubsub.TopicIAMMember(
            f"{name}-agent-publisher", project=args.project, topic=self.topic.name,
            role="roles/pubsub.publisher", member=agent,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.agent]))
        self.token_creators = {
            role: gcp.serviceaccount.IAMMember(
                f"{name}-{role}-token-creator", service_account_id=account.name,
                role="roles/iam.serviceAccountTokenCreator", member=agent,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.agent]))
            for role, account in sorted(args.accounts.items())}
        # The topic's id as the provider reports it, known before it exists (scheduled jobs name
        # it as a plain string and depend on `self.topic`).
        self.topic_id = f"projects/{args.project}/topics/{TOPIC_NAME}"
        self.register_outputs({"topic": self.topic_id})
