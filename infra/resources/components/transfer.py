"""One Data Transfer Service config, as every scheduled job of the warehouse declares it.

Scheduled queries, snapshot scripts and cross-region copies all set the same things the same
way (PITFALLS.md): an explicit location (the default US would force a replacement), the service
account the job runs as (without it a config created by a service account fails on
credentials), the shared Pub/Sub topic and the failure e-mail (the e-mail alone goes to the
config's owner, a service account nobody reads).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pulumi
import pulumi_gcp as gcp


def transfer_config(name: str, *, parent: pulumi.Resource, project: str, display_name: str, data_source_id: str,
                    location: str, schedule: str, service_account: str, notification_topic: pulumi.Input[str],
                    params: Mapping[str, pulumi.Input[str]], destination_dataset_id: pulumi.Input[str] | None = None,
                    depends_on: Sequence[pulumi.Resource] = ()) -> gcp.bigquery.DataTransferConfig:
    return gcp.bigquery.DataTransferConfig(
        name,
        project=project,
        display_name=display_name,
        data_source_id=data_source_id,
        location=location,
        schedule=schedule,
        service_account_name=service_account,
        notification_pubsub_topic=notification_topic,
        email_preferences={"enable_failure_email": True},
        destination_dataset_id=destination_dataset_id,
        params=dict(params),
        opts=pulumi.ResourceOptions(parent=parent, depends_on=list(depends_on)),
    )
