"""The rules of `check` on routines, and on the routine calls and temporary functions of a query.

- every routine lives in a managed dataset, and its SQL body parses: a scalar function's as an
  expression, a table function's as one SELECT whose columns are its declared `columns:`, in order;
- what a body reads is declared, as for a query (the caller's reference check), and so is every
  routine a query or a body calls (`dataset.name`, no project), with the right kind (a table
  function in a FROM, a scalar function elsewhere) and the declared number of arguments; an unknown
  one is a problem with the closest declared name;
- a table function's argument is named like no column of the tables its body reads (BigQuery would
  read the column: docs/real-world.md, "table-functions");
- a query's temporary functions are declared once each and take no name of a BigQuery function,
  and a view has none (a view's body is one SELECT);
- each routine is a node of the lineage, reading what its body reads and the routines it calls.

Deliberately not here: the column analysis of a body (its arguments read as columns there), and
JavaScript bodies, which BigQuery alone checks when the routine is created.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp
from sqlglot.dialects.bigquery import BigQuery

from infra.checks.lineage import Lineage, Node
from infra.checks.routines import RoutineRef, body_as_query, shadowing
from infra.checks.sql import ParsedQuery, SqlError, parse
from infra.declarations.datasets import DatasetSpec, SourceSpec
from infra.declarations.keys import suggest
from infra.declarations.routines import RoutineSpec
from infra.problems import Problems

# (routine, parsed body) -> the table keys it reads (the same check a query's tables get).
CheckReferences = Callable[[RoutineSpec, ParsedQuery], set[str]]


def check_routine_specs(routines: tuple[RoutineSpec, ...], by_dataset: dict[str, DatasetSpec],
                        by_source: dict[str, SourceSpec], unloaded: set[str],
                        problems: Problems) -> dict[str, RoutineSpec]:
    """The routines in a managed dataset, by key."""
    kept: dict[str, RoutineSpec] = {}
    for r in routines:
        if r.dataset not in by_dataset:
            if r.dataset not in unloaded:
                hint = (" (a raw source is read-only)" if r.dataset in by_source
                        else suggest(r.dataset, list(by_dataset)))
                problems.add(r.file, None, "", f"routines/{r.dataset}/ is not a managed dataset's folder{hint}",
                             f"put the routine under routines/<dataset>/, one of: {', '.join(sorted(by_dataset))}")
            continue
        kept[r.key] = r
    return kept


def parse_bodies(routines: dict[str, RoutineSpec], problems: Problems) -> dict[str, ParsedQuery]:
    """Each SQL body, parsed; a table function's SELECT returns its declared columns."""
    parsed: dict[str, ParsedQuery] = {}
    for key, r in routines.items():
        if r.language != "SQL":
            continue
        try:
            p = parse(body_as_query(r))
        except SqlError as exc:
            what = exc.what if r.is_table_function else exc.what.replace("SELECT", "expression")
            problems.add(r.body_file, exc.line, "", what,
                         "write the SELECT that returns the declared columns" if r.is_table_function else
                         "write the expression the function returns, without SELECT or a trailing `;`")
            continue
        if p.temp_functions:
            problems.add(r.body_file, p.temp_functions[0].line, "", "a routine's body declares no temporary function",
                         "declare it as a routine of its own under routines/<dataset>/")
            continue
        if r.is_table_function and p.output_columns is not None:
            declared = [c.name.lower() for c in r.columns]
            if [c.lower() for c in p.output_columns] != declared:
                problems.add(r.body_file, None, "", f"the SELECT returns {', '.join(p.output_columns)}, but {r.file} "
                             f"declares {', '.join(c.name for c in r.columns)}",
                             "make the SELECT list and `columns:` match (names and order)")
        parsed[key] = p
    return parsed


def add_to_lineage(routines: dict[str, RoutineSpec], parsed: dict[str, ParsedQuery], by_dataset: dict[str, DatasetSpec],
                   check_references: CheckReferences, columns_of: Callable[[str], set[str]], unloaded: set[str],
                   lineage: Lineage, problems: Problems) -> None:
    """`columns_of(table key)`: the lower-case column names of a table the body reads."""
    for key, r in routines.items():
        p = parsed.get(key)
        reads = check_references(r, p) if p is not None else set()
        read_columns = {c for table in reads for c in columns_of(table)}
        for a in r.arguments if r.is_table_function else ():
            if a.name.lower() in read_columns:
                problems.add(r.file, None, "arguments", f"argument {a.name} has the name of a column the table "
                             "function reads: BigQuery reads the column, not the argument",
                             f"rename the argument (e.g. for_{a.name})")
        calls = check_calls(r.body_file, p, routines, unloaded, problems) if p is not None else set()
        lineage.add(Node(key, by_dataset[r.dataset].layer, "routine"), reads | calls)


def check_calls(file: str, p: ParsedQuery, routines: dict[str, RoutineSpec], unloaded: set[str],
                problems: Problems) -> set[str]:
    """The keys of the declared routines the SQL calls; a problem for each call that is not one."""
    called: set[str] = set()
    for ref in p.routine_refs:
        if ref.project:
            problems.add(file, ref.line, "", f"{ref.project}.{ref.key} names a project",
                         f"write `{ref.key}`: the project and dataset id come from the stack")
            continue
        routine = routines.get(ref.key)
        if routine is None:
            if ref.name in unloaded or ref.dataset in unloaded:
                continue  # its own files have problems, reported where they are
            known = sorted(routines)
            problems.add(file, ref.line, "", f"unknown routine {ref.key}: no routines/{ref.dataset}/{ref.name}.yaml"
                         f"{suggest(ref.key, known)}",
                         "call a declared routine (routines/<dataset>/<name>.yaml) or declare it")
            continue
        if routine.is_table_function != ref.table_function:
            problems.add(file, ref.line, "", f"{ref.key} is a {routine.kind.replace('_', ' ')}" +
                         (", called outside a FROM" if routine.is_table_function else ", read in a FROM"),
                         f"read it as a table, `FROM {ref.key}(...)`" if routine.is_table_function else
                         f"call it in an expression, `{ref.key}(...)`")
            continue
        count = _argument_count(p, ref)
        if count is not None and count != len(routine.arguments):
            names = ", ".join(a.name for a in routine.arguments)
            problems.add(file, ref.line, "", f"{ref.key} takes {len(routine.arguments)} argument(s), "
                         f"called with {count}", f"call it as {ref.key}({names})")
            continue
        called.add(ref.key)
    return called


def _argument_count(p: ParsedQuery, ref: RoutineRef) -> int | None:
    """How many arguments the call of `ref` passes (found by its position), None if not found."""
    for node in (*(t.node for t in p.temp_functions), p.tree):
        for call in node.find_all(exp.Anonymous):
            meta = call.meta or {}
            if meta.get("end") == ref.end:
                return len(call.expressions)
    return None


def check_temp_functions(file: str, is_view: bool, p: ParsedQuery, problems: Problems) -> None:
    if is_view and p.temp_functions:
        problems.add(file, p.temp_functions[0].line, "",
                     "a view's SQL is one SELECT: it declares no temporary function",
                     "declare the function as a routine (routines/<dataset>/<name>.yaml) and call it by name")
        return
    for f, why in shadowing(list(p.temp_functions), lambda name: name.upper() in BigQuery.Parser.FUNCTIONS):
        problems.add(file, f.line, "", why, "give the temporary function a name of its own")


def authorized_datasets(view_dataset: str, calls: set[str], lineage: Lineage,
                        by_dataset: dict[str, DatasetSpec]) -> set[str]:
    """The managed datasets a view reaches through the routines it calls: each routine's dataset and
    those of the tables its body reads, through the routines it calls in turn (the view's readers
    hold no grant on them: the view's dataset must be authorized there)."""
    out: set[str] = set()
    todo, seen = list(calls), set()
    while todo:
        key = todo.pop()
        if key in seen:
            continue
        seen.add(key)
        dataset = key.split(".", 1)[0]
        if dataset in by_dataset and dataset != view_dataset:
            out.add(dataset)
        node = lineage.nodes.get(key)
        if node is not None and node.kind == "routine":
            todo.extend(lineage.upstream.get(key, ()))
    return out
