"""Backup jobs: `warehouse:backup:SnapshotPolicy` and `warehouse:backup:CrossRegionCopy`.

- A snapshot policy is a scheduled scripting query (`snapshot_sql.py`) run by the backup service
  account in the policy's location; a script has no destination table.
- A cross-region copy is a Data Transfer Service `cross_region_copy` of one dataset into its
  disaster-recovery dataset, configured in the destination's location.

Both notify the shared Pub/Sub topic and e-mail on failure, like the scheduled queries.

Deliberately not here: one-off copies. As a `gcp.bigquery.Job` a copy ran before its source table
existed on a fresh stack, and a failed copy still showed a green `up` (the provider only polls
that the job exists, docs/real-world.md): `backups copy` runs them and reports how they ended
(`infra/ops/copies.py`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from infra.resources.components.transfer import transfer_config

SNAPSHOT_POLICY_TYPE = "warehouse:backup:SnapshotPolicy"
CROSS_REGION_COPY_TYPE = "warehouse:backup:CrossRegionCopy"


@dataclass(frozen=True)
class SnapshotPolicyArgs:
    project: str
    location: str
    schedule: str
    script: str
    service_account: str
    notification_topic: pulumi.Input[str]
    depends_on: Sequence[pulumi.Resource] = ()


class SnapshotPolicy(pulumi.ComponentResource):
    def __init__(self, name: str, args: SnapshotPolicyArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(SNAPSHOT_POLICY_TYPE, name, None, opts)
        self.transfer = transfer_config(
            f"{name}-snapshots", parent=self, project=args.project, display_name=f"backup/{name}",
            data_source_id="scheduled_query", location=args.location, schedule=args.schedule,
            service_account=args.service_account, notification_topic=args.notification_topic,
            params={"query": args.script}, depends_on=args.depends_on)
        self.register_outputs({"transfer": self.transfer.name})


@dataclass(frozen=True)
class CrossRegionCopyArgs:
    project: str
    source_dataset_id: str
    destination: gcp.bigquery.Dataset
    destination_location: str
    schedule: str
    service_account: str
    notification_topic: pulumi.Input[str]
    depends_on: Sequence[pulumi.Resource] = ()


class CrossRegionCopy(pulumi.ComponentResource):
    def __init__(self, name: str, args: CrossRegionCopyArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(CROSS_REGION_COPY_TYPE, name, None, opts)
        self.transfer = transfer_config(
            f"{name}-copy", parent=self, project=args.project, display_name=f"backup/{name}",
            data_source_id="cross_region_copy", location=args.destination_location, schedule=args.schedule,
            service_account=args.service_account, notification_topic=args.notification_topic,
            destination_dataset_id=args.destination.dataset_id,
            params={"source_project_id": args.project, "source_dataset_id": args.source_dataset_id,
                    "overwrite_destination_table": "true"},
            depends_on=args.depends_on)
        self.register_outputs({"transfer": self.transfer.name})
