"""Routines in SQL: the persistent functions a query calls, and the temporary ones it declares.

- `routine_refs(tree, text)`: every call of a persistent routine, named `dataset.name` as tables
  are (`mart.normalize_email(email)`; a table function `FROM mart.user_sessions(@run_date)`), with
  the span of its name in the text, so that `sql.resolve` replaces the name with the stack's fully
  qualified one exactly as it does a table's.
- `temp_function(statement)`: a leading `CREATE TEMP FUNCTION` of a query file. BigQuery runs a
  request of CREATE TEMP FUNCTION statements followed by one SELECT as one query, not as a script
  (docs/real-world.md, "temp-functions"); `sql.parse` accepts them there and nowhere else.
- `as_tables(tree)`: a copy of the tree in which each table-function call reads as the table of its
  name, so that the column analysis resolves its columns against the function's declared return
  table (`columns:`) instead of calling them unknown.
- `check_routines`: each routine's own body, parsed and checked like a query's SQL (its tables
  and the routines it calls declared, a table function's SELECT returning its declared columns),
  and the lineage nodes of the routines.

Deliberately not here: the routine files (`declarations/routines.py`), and the rules on the calls of
a query (`query_rules.py`: unknown routines, authorizations).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from sqlglot import exp

from infra.declarations.routines import RoutineSpec

# The prefixes of BigQuery's own dotted functions (`NET.HOST(url)`, `HLL_COUNT.EXTRACT(h)`,
# `SAFE.PARSE_DATE(...)`, `FROM ML.PREDICT(...)`): never a dataset's routine (docs/real-world.md,
# "function-namespaces").
FUNCTION_NAMESPACES = frozenset({"AEAD", "AI", "HLL_COUNT", "KEYS", "KLL_QUANTILES", "ML", "NET", "OBJ", "SAFE"})


@dataclass(frozen=True)
class RoutineRef:
    dataset: str  # as written ('' when unqualified)
    name: str
    project: str  # as written ('' when absent)
    line: int
    start: int  # span of the routine's name in the text (inclusive), as TableRef's
    end: int
    table_function: bool  # called in a FROM

    @property
    def key(self) -> str:
        return f"{self.dataset}.{self.name}"

    @property
    def table(self) -> str:
        """The name, under the attribute `sql.resolve`'s callers read a table's name from."""
        return self.name


@dataclass(frozen=True)
class TempFunction:
    name: str
    line: int | None
    node: exp.Create


def temp_function(statement: exp.Expression) -> TempFunction | None:
    """The temporary function a `CREATE TEMP[ORARY] FUNCTION` statement declares, else None."""
    if not isinstance(statement, exp.Create) or str(statement.args.get("kind", "")).upper() != "FUNCTION":
        return None
    properties = statement.args.get("properties")
    if properties is None or not any(isinstance(p, exp.TemporaryProperty) for p in properties.expressions):
        return None
    udf = statement.this
    table = udf.this if isinstance(udf, exp.UserDefinedFunction) else udf
    name = table.name if isinstance(table, exp.Table) else str(table)
    meta = table.this.meta if isinstance(table, exp.Table) and isinstance(table.this, exp.Expression) else {}
    return TempFunction(name=name, line=meta.get("line"), node=statement)


def routine_refs(tree: exp.Expression, text: str) -> list[RoutineRef]:
    """Every `dataset.name(...)` call and every `FROM dataset.name(...)` in `tree`."""
    out = []
    for dot in tree.find_all(exp.Dot):
        if isinstance(dot.expression, exp.Func) and isinstance(dot.this, (exp.Identifier, exp.Dot)):
            out.append(_ref(dot.this, dot.expression, text, table_function=False))
    for table in tree.find_all(exp.Table):
        if isinstance(table.this, exp.Func) and table.args.get("db") is not None:
            project = table.args.get("catalog")
            qualifier = exp.Dot(this=project, expression=table.args["db"]) if project is not None else table.args["db"]
            out.append(_ref(qualifier, table.this, text, table_function=True))
    return [r for r in out if r is not None]


def _ref(qualifier: exp.Expression, call: exp.Func, text: str, table_function: bool) -> RoutineRef | None:
    parts = _parts(qualifier)
    if not parts or parts[0].name.upper() in FUNCTION_NAMESPACES:
        return None
    first = parts[0].meta
    name = _function_name(call)
    if "start" not in first:
        return None
    # The span ends with the function's name: `mart . f (` -> up to the `f`.
    pattern = re.compile(r"\s*\.\s*(`?)" + re.escape(name) + r"\1", re.IGNORECASE)
    match = pattern.match(text, parts[-1].meta["end"] + 1) if "end" in parts[-1].meta else None
    if match is None:
        return None
    dataset = parts[-1].name
    project = ".".join(p.name for p in parts[:-1])
    return RoutineRef(dataset=dataset, name=name, project=project, line=first.get("line", 1), start=first["start"],
                      end=match.end() - 1, table_function=table_function)


def _parts(node: exp.Expression) -> list[exp.Identifier]:
    if isinstance(node, exp.Identifier):
        return [node]
    if isinstance(node, exp.Dot):
        left, right = _parts(node.this), _parts(node.expression)
        return left + right if left and right else []
    return []


def _function_name(call: exp.Func) -> str:
    if isinstance(call, exp.Anonymous):
        return str(call.this)
    return call.sql_name().lower()


def as_tables(tree: exp.Expression) -> exp.Expression:
    """A copy of `tree` where `FROM dataset.f(args)` reads as `FROM dataset.f` (for the column analysis)."""
    copy = tree.copy()
    for table in list(copy.find_all(exp.Table)):
        if isinstance(table.this, exp.Func) and table.args.get("db") is not None:
            table.set("this", exp.to_identifier(_function_name(table.this)))
    return copy


def body_as_query(spec: RoutineSpec) -> str:
    """A SQL routine's body as a statement `sql.parse` reads: a table function's is its SELECT; a
    scalar function's expression is selected. Offsets into the body stay the body's own: the
    expression is put after `SELECT (` on the same line, so lines keep their numbers."""
    if spec.is_table_function:
        return spec.body
    return "SELECT (" + spec.body + "\n)"


def body_offset(spec: RoutineSpec) -> int:
    """How many characters `body_as_query` puts before the body."""
    return 0 if spec.is_table_function else len("SELECT (")


def resolve_body(spec: RoutineSpec, resolved_query: str) -> str:
    """The body, from the resolved text of `body_as_query`."""
    if spec.is_table_function:
        return resolved_query
    return resolved_query[len("SELECT ("):-len("\n)")]


def shadowing(temp: list[TempFunction], builtins: Callable[[str], bool]) -> list[tuple[TempFunction, str]]:
    """(function, why) for temporary functions that are declared twice or take a built-in's name."""
    out, seen = [], set()
    for f in temp:
        if f.name.lower() in seen:
            out.append((f, f"the temporary function {f.name} is declared twice"))
        elif builtins(f.name):
            out.append((f, f"the temporary function {f.name} has the name of a BigQuery function"))
        seen.add(f.name.lower())
    return out
