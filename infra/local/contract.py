"""The contract checks of the local run: a result (schema and rows) against the declared columns.

A scheduled query's or view's declared columns are its contract: the same names in the same
order, the same types, no NULL in a REQUIRED column; an incremental query's rows all fall in the
one partition its run replaces (the script would fail on any other, `infra/resources/write_sql.py`).

Deliberately not here: running the SQL (`runner.py`) and what the emulator gets wrong (`gaps.py`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from infra.declarations.columns import sql_type_of_json


def contract_problems(columns, schema, rows) -> list[str]:
    """Differences between the declared columns and a result (schema and rows)."""
    problems = []
    # Standard SQL types, nested ones whole (`ARRAY<STRUCT<key STRING, ...>>`), compared whatever the
    # case of their field names.
    got = [(f.name, sql_type_of_json(f.to_api_repr())) for f in schema]
    want = [(c.name, c.type) for c in columns]
    if [n.lower() for n, _ in got] != [n.lower() for n, _ in want]:
        problems.append(f"columns are {', '.join(n for n, _ in got)}; declared {', '.join(n for n, _ in want)}")
        return problems
    for (name, got_type), column in zip(got, columns, strict=True):
        if got_type.lower() != column.sql_type.lower():
            problems.append(f"{name} is {got_type}, declared {column.sql_type}")
        if column.mode == "REQUIRED":
            nulls = sum(1 for row in rows if row[name] is None)
            if nulls:
                problems.append(f"{name} is REQUIRED but {nulls} row(s) have NULL")
    return problems


def partition_problems(field_name: str, partition: dt.date, schema, rows) -> list[str]:
    """The rows of an incremental query outside the day its run replaces."""
    names = [f.name for f in schema]
    if field_name not in names:
        return []
    outside = {_as_date(row[field_name]) for row in rows} - {partition}
    if outside:
        days = ", ".join(sorted(str(d) for d in outside))
        return [f"rows outside the partition {partition} it replaces: {days}"]
    return []


def _as_date(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    return value
