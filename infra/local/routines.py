"""Routines and temporary functions in the local run.

A planned routine (`gcp:bigquery/routine:Routine`) is created in the emulator from its plan inputs
through the routines API, as the provider creates it: body, arguments, return type or return
table, language and determinism. The emulator runs SQL functions, table functions and, with the
`mini-racer` package installed beside it, JavaScript functions.

One emulator gap is worked around here (docs/local-bigquery.md): a request holding several
statements gets no query parameters, and a temporary function lives only in the request that
declares it (each statement of a build's script is a job of its own locally: `runner.run_script`).
So a statement that calls a query's temporary functions is sent with their declarations before it,
and its `@run_date` and `@run_time` written as literals of the same value and type.

Deliberately not here: checking routines (`infra.checks.routine_rules`); the build's script
(`infra.resources.write_sql`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from infra.local.gaps import inline_parameters

_TEMP_FUNCTION = re.compile(r"^\s*(?:--[^\n]*\n\s*)*CREATE\s+TEMP(?:ORARY)?\s+FUNCTION\s+`?(\w+)", re.IGNORECASE)


def create_routine(client: Any, inputs: dict) -> None:
    """The routine of a plan's `gcp:bigquery/routine:Routine` inputs, created (or replaced)."""
    from google.cloud import bigquery

    resource = {
        "routineReference": {"projectId": inputs["project"], "datasetId": inputs["datasetId"],
                             "routineId": inputs["routineId"]},
        "routineType": inputs["routineType"],
        "language": inputs.get("language", "SQL"),
        "definitionBody": inputs["definitionBody"],
        "arguments": [{"name": a["name"], "dataType": json.loads(a["dataType"])}
                      for a in inputs.get("arguments") or ()],
    }
    if inputs.get("description"):
        resource["description"] = inputs["description"]
    if inputs.get("returnType"):
        resource["returnType"] = json.loads(inputs["returnType"])
    if inputs.get("returnTableType"):
        resource["returnTableType"] = json.loads(inputs["returnTableType"])
    if inputs.get("determinismLevel"):
        resource["determinismLevel"] = inputs["determinismLevel"]
    routine = bigquery.Routine.from_api_repr(resource)
    client.delete_routine(routine.reference, not_found_ok=True)
    client.create_routine(routine)


def temp_function_name(statement: str) -> str | None:
    """The name a `CREATE TEMP FUNCTION` statement declares, else None."""
    match = _TEMP_FUNCTION.match(statement)
    return match.group(1) if match else None


def calls_any(statement: str, names: Sequence[str]) -> bool:
    return any(re.search(rf"(?<![\w.`]){re.escape(n)}\s*\(", statement, re.IGNORECASE) for n in names)


def with_temp_functions(declarations: Sequence[str], statement: str, parameters: Sequence[Any]) -> str:
    """One request: the temporary functions' declarations, then `statement` with its parameters
    written as literals (the emulator gives a request of several statements no parameters)."""
    return ";\n".join([*declarations, inline_query_parameters(statement, parameters)])


def inline_query_parameters(sql: str, parameters: Sequence[Any]) -> str:
    """`sql` with each `@name` of `parameters` (ScalarQueryParameter: the run's DATE and TIMESTAMP)
    replaced by its literal (`gaps.inline_parameters`)."""
    return inline_parameters(sql, {p.name.lower(): p.value for p in parameters})
