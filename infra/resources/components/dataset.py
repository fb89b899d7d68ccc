"""`warehouse:dataset:Dataset`: one managed BigQuery dataset with its authoritative ACL.

The ACL is computed by `access.py` and written whole through `accesses` (never `DatasetIam*` or
`DatasetAccess`, which fight over the same list). In protected stacks the dataset carries
`protect`, and contents are never deleted on destroy in any stack: removing a dataset from the
files must be a deliberate, two-step act.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from infra.model.warehouse import Dataset

TYPE = "warehouse:dataset:Dataset"


@dataclass(frozen=True)
class DatasetArgs:
    dataset: Dataset
    protect: bool
    # The service accounts named in the ACL: BigQuery rejects an ACL naming an account that
    # does not exist yet, so the dataset waits for them.
    depends_on: Sequence[pulumi.Resource] = ()


class WarehouseDataset(pulumi.ComponentResource):
    def __init__(self, name: str, args: DatasetArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(TYPE, name, None, opts)
        d = args.dataset
        self.dataset = gcp.bigquery.Dataset(
            f"{name}-dataset",
            project=d.project,
            dataset_id=d.dataset_id,
            friendly_name=d.spec.friendly_name,
            description=d.spec.description,
            location=d.location,
            labels=dict(d.labels),
            accesses=[e.as_args() for e in d.accesses],
            max_time_travel_hours=str(d.spec.time_travel_days * 24),
            default_table_expiration_ms=(d.spec.default_table_expiration_days * 86_400_000
                                         if d.spec.default_table_expiration_days else None),
            # Never drop tables with the dataset: a destroy must fail on a non-empty dataset.
            delete_contents_on_destroy=False,
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect,
                                        depends_on=list(args.depends_on) or None),
        )
        self.register_outputs({"dataset_id": d.dataset_id})
