"""Backup jobs: `warehouse:backup:SnapshotPolicy`, `warehouse:backup:CrossRegionCopy`, `warehouse:backup:OneOffCopy`.

- A snapshot policy is a scheduled scripting query (`snapshot_sql.py`) run by the backup service
  account in the policy's location; a script has no destination table.
- A cross-region copy is a Data Transfer Service `cross_region_copy` of one dataset into its
  disaster-recovery dataset, configured in the destination's location.
- A one-off copy is a `gcp.bigquery.Job` with a job id derived from what it copies, so a
  re-run of `pulumi up` never starts a second copy, and `WRITE_EMPTY`, so it never overwrites.
All scheduled jobs notify the shared Pub/Sub topic and e-mail on failure, like the queries.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from infra.resources.components.transfer import transfer_config

SNAPSHOT_POLICY_TYPE = "warehouse:backup:SnapshotPolicy"
CROSS_REGION_COPY_TYPE = "warehouse:backup:CrossRegionCopy"
ONE_OFF_COPY_TYPE = "warehouse:backup:OneOffCopy"


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


@dataclass(frozen=True)
class OneOffCopyArgs:
    project: str
    location: str
    source: tuple[str, str]  # (dataset id, table)
    destination: tuple[str, str]
    depends_on: Sequence[pulumi.Resource] = ()


def copy_job_id(name: str, project: str, source: tuple[str, str], destination: tuple[str, str]) -> str:
    """Stable for the same copy, different for any other: a re-run reuses it, never collides."""
    digest = hashlib.sha256(f"{project}:{source}:{destination}".encode()).hexdigest()[:12]
    return f"warehouse_copy_{name}_{digest}"


class OneOffCopy(pulumi.ComponentResource):
    def __init__(self, name: str, args: OneOffCopyArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(ONE_OFF_COPY_TYPE, name, None, opts)
        job_id = copy_job_id(name, args.project, args.source, args.destination)
        self.job = gcp.bigquery.Job(
            f"{name}-job",
            project=args.project,
            location=args.location,
            job_id=job_id,
            copy={
                "source_tables": [{"project_id": args.project, "dataset_id": args.source[0],
                                   "table_id": args.source[1]}],
                "destination_table": {"project_id": args.project, "dataset_id": args.destination[0],
                                      "table_id": args.destination[1]},
                "write_disposition": "WRITE_EMPTY",
                "create_disposition": "CREATE_IF_NEEDED",
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on)),
        )
        self.register_outputs({"job_id": job_id})
