"""`warehouse:view:View`: a standard-SQL view, authorized on the datasets it reads.

Always `use_legacy_sql = False` (the provider's default is legacy SQL, and a standard-SQL query
cannot reference a legacy view). The authorization is not made here: the datasets it reads
authorize the whole consuming dataset in their ACL (`access.py`), so replacing this view never
drops its grant. A view holds no data, so it is neither protected nor deletion-protected.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from infra.model.queries import ResolvedQuery

TYPE = "warehouse:view:View"


@dataclass(frozen=True)
class ViewArgs:
    query: ResolvedQuery
    project: str
    dataset: gcp.bigquery.Dataset  # the resource of the dataset it is in
    dataset_id: str
    labels: dict
    # The tables and views it reads, and the datasets that authorize it: they must exist first.
    upstream: Sequence[pulumi.Resource] = ()


class View(pulumi.ComponentResource):
    def __init__(self, name: str, args: ViewArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(TYPE, name, None, opts)
        spec = args.query.spec
        self.table = gcp.bigquery.Table(
            f"{name}-view",
            project=args.project,
            dataset_id=args.dataset_id,
            table_id=spec.name,
            description=spec.description,
            labels={**args.labels, "folder": spec.folder},
            view={"query": args.query.sql, "use_legacy_sql": False},
            deletion_protection=False,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[args.dataset, *args.upstream]),
        )
        self.register_outputs({"view": f"{args.dataset_id}.{spec.name}"})
