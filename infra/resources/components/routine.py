"""`warehouse:routine:Routine`: a persistent function or table function in its dataset.

One `gcp.bigquery.Routine`, its body the file's with the stack's fully qualified names. Every
argument and the return type are declared (`return_type`, a table function's
`return_table_type`): BigQuery then casts the result to them instead of inferring them in every
query that calls it. A routine holds no data: a change of its dataset, id or kind replaces it
(`plan/replacements.yaml`), and it is neither protected nor kept on destroy.

Deliberately not here: the checks on the body and the calls (`checks/routine_rules.py`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from infra.declarations.routines import ROUTINE_TYPES
from infra.model.queries import ResolvedRoutine

TYPE = "warehouse:routine:Routine"


def type_json(type_name: str) -> str:
    """A StandardSqlDataType as the provider takes it: JSON text."""
    return json.dumps({"typeKind": type_name})


def return_table_json(routine: ResolvedRoutine) -> str:
    """A table function's StandardSqlTableType: its declared columns, as JSON text."""
    return json.dumps({"columns": [{"name": c.name, "type": {"typeKind": c.type}} for c in routine.spec.columns]})


@dataclass(frozen=True)
class RoutineArgs:
    routine: ResolvedRoutine
    project: str
    dataset: gcp.bigquery.Dataset  # the resource of the dataset it is in
    dataset_id: str
    # What its body reads and calls: BigQuery checks a SQL body against them when it is created.
    upstream: Sequence[pulumi.Resource] = ()


class Routine(pulumi.ComponentResource):
    def __init__(self, name: str, args: RoutineArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(TYPE, name, None, opts)
        spec = args.routine.spec
        self.routine = gcp.bigquery.Routine(
            f"{name}-routine",
            project=args.project,
            dataset_id=args.dataset_id,
            routine_id=spec.name,
            routine_type=ROUTINE_TYPES[spec.kind],
            language=spec.language,
            description=spec.description,
            definition_body=args.routine.body,
            arguments=[{"name": a.name, "data_type": type_json(a.type)} for a in spec.arguments],
            return_type=type_json(spec.returns) if spec.returns else None,
            return_table_type=return_table_json(args.routine) if spec.is_table_function else None,
            determinism_level=spec.determinism.upper() if spec.determinism else None,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[args.dataset, *args.upstream]),
        )
        self.register_outputs({"routine": f"{args.dataset_id}.{spec.name}"})
