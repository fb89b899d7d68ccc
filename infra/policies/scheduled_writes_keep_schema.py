"""No scheduled query overwrites a table with WRITE_TRUNCATE: a query job that does "uses the
schema from the query result", so the declared modes (REQUIRED) and column descriptions are gone
after the first run (docs/real-world.md). Scheduled builds write by DML into the declared table
(`infra/resources/write_sql.py`); appending (WRITE_APPEND) keeps the table's schema."""

from __future__ import annotations

from infra.policies.base import Resource, Rule, Settings
from infra.vocabulary import TRANSFER_TYPE


def check(r: Resource, settings: Settings):
    if r.type != TRANSFER_TYPE or r.props.get("dataSourceId") != "scheduled_query":
        return
    params = r.props.get("params") or {}
    if params.get("destination_table_name_template") and params.get("write_disposition") != "WRITE_APPEND":
        yield (f"the scheduled query overwrites {params['destination_table_name_template']} with "
               f"{params.get('write_disposition') or 'the default write disposition'}, which replaces the declared "
               "schema with the query's", "declare it in scheduled_queries/ (its build writes by DML into the "
               "declared table)")


RULE = Rule("scheduled-writes-keep-schema", "Scheduled queries never overwrite a table's declared schema.", check)
