"""`warehouse:query:ScheduledQuery`: a declared destination table and the scheduled query that fills it.

The table is declared (schema = the contract, partitioning, clustering, description) so that it
exists before the first run and is reviewed like any other change. Every run writes into it by DML
(`write_sql.py`), which keeps the declared schema, modes and descriptions; a query job's
WRITE_TRUNCATE would replace them with the query's. The schema stays under `ignore_changes`:
some schema edits make the provider recreate the table (data loss, PITFALLS.md), so a contract
change is applied by migration, not by replacement. In protected stacks the table is protected
and has deletion protection on.

The Data Transfer Service config always names its location (the dataset's; the default US would
force a replacement), the runner service account (without it, configs created by a service
account fail to find credentials), a failure e-mail and a Pub/Sub topic (the e-mail goes to the
config's owner, a service account nobody reads). A DML script has no destination table, so the
config names none.

Values known when the program runs (the dataset id, the topic) are passed as plain strings and
the resources they come from as `depends_on`: the same order for the engine, without an Output
per input for the SDK to await (see benchmarks/README.md).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from infra.model.queries import ResolvedQuery
from infra.resources.components.transfer import transfer_config
from infra.resources.write_sql import write_script

TYPE = "warehouse:query:ScheduledQuery"


@dataclass(frozen=True)
class ScheduledQueryArgs:
    query: ResolvedQuery
    project: str
    dataset: gcp.bigquery.Dataset  # the destination dataset's resource
    dataset_id: str
    location: str
    labels: dict
    protect: bool
    runner_email: str
    notification_topic: str
    # Resources the transfer needs before its first run (the topic, the runner's token-creator grant).
    # Deliberately not the upstream tables: a table or transfer can be created before the
    # tables it reads, and chaining them would make the graph as deep as the lineage.
    depends_on: Sequence[pulumi.Resource] = ()


class ScheduledQuery(pulumi.ComponentResource):
    def __init__(self, name: str, args: ScheduledQueryArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(TYPE, name, None, opts)
        spec = args.query.spec
        partitioning = spec.partitioning
        self.table = gcp.bigquery.Table(
            f"{name}-table",
            project=args.project,
            dataset_id=args.dataset_id,
            table_id=spec.name,
            description=spec.description,
            labels={**args.labels, "folder": spec.folder},
            schema=json.dumps([c.as_bigquery_json() for c in spec.columns]),
            time_partitioning=({"type": partitioning.type, "field": partitioning.field,
                                "expiration_ms": partitioning.expiration_days * 86_400_000
                                if partitioning.expiration_days else None} if partitioning else None),
            require_partition_filter=partitioning.require_filter if partitioning else None,
            clusterings=list(spec.clustering) or None,
            deletion_protection=args.protect,
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect, ignore_changes=["schema"],
                                        depends_on=[args.dataset]),
        )
        self.transfer = transfer_config(
            f"{name}-transfer", parent=self, project=args.project,
            display_name=args.query.transfer_display_name, data_source_id="scheduled_query",
            location=args.location, schedule=spec.schedule.text, service_account=args.runner_email,
            notification_topic=args.notification_topic,
            params={"query": write_script(args.query, f"{args.project}.{args.dataset_id}.{spec.name}")},
            depends_on=[self.table, *args.depends_on])
        self.register_outputs({"table": f"{args.dataset_id}.{spec.name}", "schedule": spec.schedule.text})
