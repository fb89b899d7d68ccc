"""The tables of the local run by the names SQL gives them, where they live, and their columns.

A table is named `dataset.table` as the warehouse's SQL writes it: a scheduled query's or view's
key (`mart.revenue_mrr`) or a raw source's table (`amplitude.events`). The stack decides where
it lives (`acme-warehouse-dev.dev_mart.revenue_mrr`); the declarations say its columns, which
the local run gives sqlglot to type the SQL it adapts for the emulator (`gaps.py`).

Deliberately not here: reading or writing the tables (`runner.py`, `show.py`).
"""

from __future__ import annotations

import json

from infra.declarations.columns import sql_type_of_json
from infra.model.warehouse import Warehouse
from infra.plan.runtime import Plan
from infra.vocabulary import TABLE_TYPE


def table_names(warehouse: Warehouse) -> list[str]:
    """Every table the local run builds or loads, sorted: queries and views, then raw sources."""
    built = sorted(q.spec.key for q in warehouse.queries)
    sources = sorted(f"{s.name}.{t}" for s in warehouse.sources for t in s.spec.tables)
    return built + sources


def address_of(warehouse: Warehouse, name: str) -> str:
    """`project.dataset_id.table` of a table named as in `table_names` (KeyError if unknown)."""
    dataset, _, table = name.partition(".")
    if warehouse.query(name) is not None:
        d = warehouse.dataset(dataset)
        return f"{d.project}.{d.dataset_id}.{table}"
    source = next((s for s in warehouse.sources if s.name == dataset and table in s.spec.tables), None)
    if source is None:
        raise KeyError(name)
    return f"{source.project}.{source.dataset_id}.{table}"


def local_schema(warehouse: Warehouse, plan: Plan) -> dict[str, dict[str, dict[str, dict[str, str]]]]:
    """project -> dataset id -> table -> column -> type, for every table the run reads: the plan's
    declared tables, the views' declared columns and the raw sources'."""
    schema: dict[str, dict[str, dict[str, dict[str, str]]]] = {}

    def add(address: str, fields: list[dict]) -> None:
        project, dataset, table = address.split(".")
        schema.setdefault(project, {}).setdefault(dataset, {})[table] = {f["name"]: sql_type_of_json(f) for f in fields}

    for r in plan.resources:
        if r.type == TABLE_TYPE and "schema" in r.inputs:
            i = r.inputs
            add(f"{i['project']}.{i['datasetId']}.{i['tableId']}", json.loads(i["schema"]))
    for query in warehouse.queries:
        if query.spec.is_view:
            add(address_of(warehouse, query.spec.key), [c.as_bigquery_json() for c in query.spec.columns])
    for source in warehouse.sources:
        for table, spec in source.spec.tables.items():
            add(f"{source.project}.{source.dataset_id}.{table}", [c.as_bigquery_json() for c in spec.columns])
    return schema
