"""Checking the scheduled queries and views as a whole, for one stack.

Given the loaded query specs, datasets and raw sources, this parses every SQL file once and
applies the rules `check` enforces (each problem names the SQL or YAML file and line):

- every file parses as one SELECT (after any `CREATE TEMP FUNCTION`; a script, `kind: script`:
  every statement, `scripts.py`, which writes only its own table), and names tables as
  `dataset.table` that are declared (a raw source's table, or another query's or view's destination);
- a query reads its own table only when it is incremental and reads strictly earlier partitions
  (`self_reads.py`); that read is no edge of the lineage;
- each destination is declared once, in a managed dataset of the folder's layer;
- the lineage is a DAG (a cycle is reported with its path);
- every scheduled query runs after the scheduled queries it reads from, with a margin;
- the cost guard: a partitioned source (or a table that requires a partition filter) is read
  with a filter on its partition column against `@run_date`/`@run_time`; a family of shards
  (`events_*`, written in backticks) with such a filter on `_TABLE_SUFFIX`;
- views read managed tables only (no run parameters, no raw sources);
- routines (`routine_rules.py`): their bodies, the calls of every query, its temporary functions;
- every column reference resolves against the contracts of the tables it reads (`columns.py`);
- the outer SELECT's columns (a `*` expanded from the contracts) are exactly the declared ones, in
  order, and each one's inferred type fits the declared type.

It returns the resolved queries (`infra.model.queries.ResolvedQuery`: SQL with the stack's table
and routine names) and routines, the lineage, and which datasets must authorize which consuming
datasets' views.
"""

from __future__ import annotations

from dataclasses import dataclass

from infra.checks.columns import ColumnAnalysis, analyze_columns, compatible, contract_schema
from infra.checks.lineage import Lineage, Node
from infra.checks.routine_rules import (
    add_to_lineage,
    authorized_datasets,
    check_calls,
    check_routine_specs,
    check_temp_functions,
    parse_bodies,
)
from infra.checks.routines import as_tables, resolve_body
from infra.checks.run_order import must_run_after
from infra.checks.scripts import ParsedScript, parse_script, script_problems
from infra.checks.self_reads import self_read_problem
from infra.checks.sql import ParsedQuery, SqlError, TableRef, parse, partition_filter_problems, resolve, resolve_parts
from infra.checks.sqlglot_log import problem_text
from infra.declarations.columns import Column
from infra.declarations.datasets import FAMILY_SUFFIX, DatasetSpec, SourceSpec, SourceTable
from infra.declarations.keys import suggest
from infra.declarations.queries import QuerySpec
from infra.declarations.routines import RoutineSpec
from infra.declarations.stack import StackConfig
from infra.model.queries import ResolvedQuery, ResolvedRoutine
from infra.problems import Problems

# The folder layer a query lives in -> the dataset layers it may write to.
LAYER_TARGETS = {"staging": ("staging",), "mart": ("mart",), "ml": ("ml",), "sync": ("sync",),
                 "reporting": ("reporting",)}
@dataclass(frozen=True)
class Analysis:
    queries: tuple[ResolvedQuery, ...]
    lineage: Lineage
    authorizations: dict[str, set[str]]  # source dataset name -> consuming dataset names (views)
    routines: tuple[ResolvedRoutine, ...] = ()


def analyze(specs: tuple[QuerySpec, ...], datasets: tuple[DatasetSpec, ...], sources: tuple[SourceSpec, ...],
            stack: StackConfig, problems: Problems, unloaded: set[str] = frozenset(),
            routine_specs: tuple[RoutineSpec, ...] = ()) -> Analysis:
    """`unloaded` names the dataset and query files that exist but failed to load (their
    problems are already reported): references to them are not reported again."""
    by_dataset = {d.name: d for d in datasets}
    by_source = {s.name: s for s in sources}
    specs = _check_destinations(specs, by_dataset, by_source, unloaded, problems)
    by_key = {q.key: q for q in specs}
    source_tables = {f"{s.name}.{t}": table for s in sources for t, table in s.tables.items() if table}

    lineage = Lineage()
    for key in source_tables:
        lineage.add(Node(key, "source", "source"))
    routines = check_routine_specs(routine_specs, by_dataset, by_source, unloaded, problems)
    bodies = parse_bodies(routines, problems)
    add_to_lineage(routines, bodies, by_dataset, lambda r, p: _check_references(
        r, p, by_key, source_tables, by_dataset, by_source, unloaded, problems),
        lambda k: {c.name.lower() for c in (source_tables[k].columns if k in source_tables else by_key[k].columns)},
        unloaded, lineage, problems)
    parsed: dict[str, ParsedQuery] = {}
    complete: set[str] = set()  # queries whose every table is declared: their columns can be resolved
    for q in specs:
        try:
            parsed[q.key] = parse_script(q.sql) if q.is_script else parse(q.sql)
        except SqlError as exc:
            problems.add(q.sql_file, exc.line, "", exc.what, "fix the SQL (it is parsed with BigQuery's dialect)")
            continue
        p = parsed[q.key]
        for message in getattr(p, "warnings", ()):
            problems.add(q.sql_file, None, "", *problem_text(message))
        reads = _check_references(q, p, by_key, source_tables, by_dataset, by_source, unloaded, problems)
        calls: set[str] = set()
        if not q.is_script:  # a script's columns and calls: scripts.py
            calls = check_calls(q.sql_file, p, routines, unloaded, problems)
            check_temp_functions(q.sql_file, q.is_view, p, problems)
            if reads == {r.key for r in p.refs} and calls == {r.key for r in p.routine_refs}:
                complete.add(q.key)
        for problem in script_problems(q.key, p) if q.is_script else ():
            problems.add(q.sql_file, problem.line, "", problem.what, problem.fix)
        # A read of its own earlier rows is no edge: it depends on no other query (self_reads.py).
        lineage.add(Node(q.key, by_dataset[q.dataset].layer, "view" if q.is_view else "table"),
                    (reads | calls) - {q.key})

    for cycle in lineage.cycles():
        first = by_key.get(cycle[0]) or routines[cycle[0]]
        problems.add(first.sql_file, None, "", f"the queries read each other in a cycle: {' -> '.join(cycle)}",
                     "break the cycle: one of these queries must not read the other")
    schema = contract_schema({**{k: _readable_columns(t) for k, t in source_tables.items()},
                              **{q.key: q.columns for q in specs},
                              **{k: r.columns for k, r in routines.items() if r.is_table_function}})
    authorizations: dict[str, set[str]] = {}
    resolved = []
    for q in specs:
        p = parsed.get(q.key)
        if p is None:
            continue
        columns = None
        if q.key in complete:
            tree = as_tables(p.tree) if any(r.table_function for r in p.routine_refs) else p.tree
            columns = analyze_columns(tree, schema)
        for c in columns.problems if columns else ():
            problems.add(q.sql_file, c.line, "", c.what, c.fix)
        _check_query(q, p, by_key, source_tables, lineage, problems)
        _check_contract(q, p, columns, problems)
        _check_locations(q, p, by_dataset, by_source, stack, problems)
        for name in sorted(p.table_functions - set(stack.allowed_table_functions)):
            problems.add(q.sql_file, None, "", f"reads through the table function {name}, whose source the lineage "
                                               "cannot see (nor the grants, nor the backups)",
                         "read a declared table or raw source instead; a function the platform team allows is listed "
                         "under allowed_table_functions in platform/stacks.yaml")
        if q.is_view:
            for ref in p.refs:
                if ref.dataset in by_dataset and ref.dataset != q.dataset:
                    authorizations.setdefault(ref.dataset, set()).add(q.dataset)
            called = {r.key for r in p.routine_refs} & routines.keys()
            for dataset in authorized_datasets(q.dataset, called, lineage, by_dataset):
                authorizations.setdefault(dataset, set()).add(q.dataset)
        if isinstance(p, ParsedScript):  # every statement, the tables it writes too
            temps, select = "", resolve(p.all_refs, _qualifier(stack, by_source))
        else:
            temps, select = resolve_parts(p, _qualifier(stack, by_source))
        resolved.append(ResolvedQuery(q, temps + select, tuple(sorted(lineage.upstream[q.key])),
                                      columns.lineage if columns else {}, columns.reads if columns else frozenset(),
                                      temp_functions=temps))
    resolved_routines = tuple(
        ResolvedRoutine(r, resolve_body(r, resolve(bodies[k], _qualifier(stack, by_source))) if k in bodies else r.body,
                        tuple(sorted(lineage.upstream.get(k, ()))))
        for k, r in sorted(routines.items()))
    return Analysis(tuple(resolved), lineage, authorizations, resolved_routines)


def _readable_columns(table: SourceTable) -> tuple[Column, ...]:
    """A source table's columns as SQL reads them: a family adds the `_TABLE_SUFFIX` pseudo column
    (left out of a `*`, as in BigQuery: docs/real-world.md, "wildcard-tables")."""
    if not table.family:
        return table.columns
    return (*table.columns, Column(FAMILY_SUFFIX, "STRING", "REQUIRED", "What the family's `*` matched."))


def _qualifier(stack: StackConfig, by_source: dict[str, SourceSpec]):
    def qualify(ref: TableRef) -> str:
        if ref.dataset in by_source:
            source = by_source[ref.dataset]
            return f"`{stack.project_of_source(source.name, source.project)}.{source.dataset_id}.{ref.table}`"
        return f"`{stack.project}.{stack.dataset_prefix}{ref.dataset}.{ref.table}`"
    return qualify


def _check_destinations(specs, by_dataset, by_source, unloaded: set[str], problems: Problems) -> tuple[QuerySpec, ...]:
    kept, seen = [], {}
    for q in specs:
        dataset = by_dataset.get(q.dataset)
        if dataset is None and q.dataset in unloaded:
            continue  # the dataset's own file has problems, reported where it is
        if dataset is None:
            hint = " (a raw source is read-only)" if q.dataset in by_source else suggest(q.dataset, list(by_dataset))
            problems.add(q.file, None, "dataset", f"dataset {q.dataset!r} is not a managed dataset{hint}",
                         f"use one of: {', '.join(sorted(by_dataset))}")
            continue
        if dataset.layer not in LAYER_TARGETS[q.layer]:
            problems.add(q.file, None, "dataset",
                         f"a {q.layer} query writes to {q.dataset!r}, a {dataset.layer} dataset",
                         f"move the files under scheduled_queries/{dataset.layer}/ or write to a {q.layer} dataset")
            continue
        if q.kind == "view" and q.layer not in ("reporting", "sync", "mart", "ml"):
            problems.add(q.file, None, "kind", f"views belong to reporting, sync or mart folders, not {q.layer}",
                         "make it a table, or move it")
            continue
        if q.key in seen:
            problems.add(q.file, None, "", f"{q.key} is already built by {seen[q.key]}",
                         "each table is built by one query: rename one of the files")
            continue
        seen[q.key] = q.file
        kept.append(q)
    return tuple(kept)


def _check_references(q, p: ParsedQuery, by_key, source_tables, by_dataset, by_source, unloaded: set[str],
                      problems) -> set[str]:
    reads: set[str] = set()
    for ref in p.refs:
        if ref.project:
            problems.add(q.sql_file, ref.line, "", f"{ref.project}.{ref.key} names a project",
                         f"write `{ref.key}`: the project and dataset id come from the stack")
            continue
        if not ref.dataset:
            problems.add(q.sql_file, ref.line, "", f"table {ref.table!r} has no dataset",
                         f"write `<dataset>.{ref.table}` with a dataset or source name")
            continue
        if ref.key not in by_key and ref.key not in source_tables and {ref.table, ref.dataset} & unloaded:
            continue  # its own files have problems, reported where they are
        if ref.key not in by_key and ref.key not in source_tables:
            where = "dataset" if ref.dataset in by_dataset else "source" if ref.dataset in by_source else None
            why = (f"no query or view builds {ref.key}" if where == "dataset" else
                   f"source {ref.dataset!r} declares no table {ref.table!r}" if where == "source" else
                   f"{ref.dataset!r} is neither a dataset nor a raw source")
            known = sorted({*by_key, *source_tables})  # only here: once per query would be quadratic
            problems.add(q.sql_file, ref.line, "", f"unknown table {ref.key}: {why}{suggest(ref.key, known)}",
                         "read a declared table (datasets/sources/*.yaml, scheduled_queries/) or declare it")
            continue
        if ref.table.endswith("*") and not p.sql[ref.start:ref.end + 1].endswith("`"):
            problems.add(q.sql_file, ref.line, "", f"the table family {ref.key} is not in backticks: BigQuery "
                                                  "refuses a wildcard table name without them",
                         f"write `` `{ref.key}` ``")
            continue
        # A script writes its own table itself (a MERGE reads its target); an incremental query may
        # read its own partitions strictly before the one it writes.
        refused = self_read_problem(q, ref) if ref.key == q.key and not q.is_script else None
        if refused:
            problems.add(q.sql_file, ref.line, "", *refused)
            continue
        reads.add(ref.key)
    return reads


def _check_locations(q: QuerySpec, p: ParsedQuery, by_dataset, by_source, stack: StackConfig,
                     problems: Problems) -> None:
    """A query reads only datasets of its own location: BigQuery runs a query in one location
    (docs/real-world.md, "query-location"), so a view or a build reading another region fails, and
    so does everything that reads it once its dataset moves."""
    own = by_dataset.get(q.dataset)
    if own is None:
        return
    where = (own.location or stack.location).upper()
    for ref in p.refs:
        other = by_dataset.get(ref.dataset) or by_source.get(ref.dataset)
        if other is None:
            continue
        there = (other.location or stack.location).upper()
        if there != where:
            problems.add(q.sql_file, ref.line, "", f"reads {ref.key} in {there}, while {q.dataset} is in {where}: "
                                                  "BigQuery runs a query in one location",
                         "keep the datasets a query reads in its own dataset's location")


def _check_contract(q: QuerySpec, p: ParsedQuery, columns: ColumnAnalysis | None, problems: Problems) -> None:
    """The SELECT's columns (a `*` expanded from the contracts when the columns were analysed) are
    the declared ones, in order, and each inferred type fits the declared one."""
    outputs = columns.outputs if columns is not None and columns.outputs is not None else (
        tuple((name, None) for name in p.output_columns) if p.output_columns is not None else None)
    if outputs is None:
        return
    declared = tuple(c.name for c in q.columns)
    names = tuple(name for name, _ in outputs)
    if tuple(n.lower() for n in names) != tuple(d.lower() for d in declared):
        missing = [c for c in declared if c.lower() not in {o.lower() for o in names}]
        extra = [c for c in names if c.lower() not in {d.lower() for d in declared}]
        detail = (f"missing {', '.join(missing)}" if missing else "") + \
                 ("; " if missing and extra else "") + (f"not declared {', '.join(extra)}" if extra else "")
        problems.add(q.sql_file, None, "", f"the SELECT's columns differ from {q.file}'s columns: "
                     f"{detail or 'same columns in another order'}",
                     "make the SELECT list and `columns:` match (names and order): the columns are the contract")
        return
    anonymous = columns.anonymous if columns is not None else frozenset()
    for (name, inferred), column in zip(outputs, q.columns, strict=True):
        if name in anonymous and not q.is_view:
            problems.add(q.sql_file, None, "", f"column {name} of the SELECT has no alias: BigQuery labels it {name} "
                         "in a result, but the build reads the SELECT's columns by name and an unaliased column has "
                         "none", f"alias it in the SELECT (`... AS {name}`, or a clearer name in both files)")
        elif not compatible(inferred, column.sql_type):
            fix = ("build it with the declared fields, names and types in order (`STRUCT(... AS field, ...)`), or "
                   "declare the type it has") if column.sql_type != column.type else (
                f"CAST it in the SELECT (`CAST(... AS {column.type}) AS {name}`) or declare the type it has")
            problems.add(q.sql_file, None, "", f"column {name} is {inferred} in the SELECT, but {q.file} declares "
                         f"{column.sql_type}", fix)


def _check_query(q: QuerySpec, p: ParsedQuery, by_key, source_tables, lineage: Lineage, problems: Problems) -> None:
    run_params = p.parameters & {"run_date", "run_time"}
    if q.is_view:
        if p.parameters:
            problems.add(q.sql_file, None, "", "a view cannot use query parameters (@run_date, @run_time)",
                         "filter in the query that reads the view, or make it a scheduled table")
        for ref in p.refs:
            if ref.key in source_tables:
                problems.add(q.sql_file, ref.line, "", f"a view reads the raw source {ref.key}",
                             "read the staging table built from it")
    elif q.incremental and not run_params:
        problems.add(q.sql_file, None, "", "an incremental query must select one day with @run_date or @run_time",
                     "filter e.g. `WHERE DATE(event_time) = DATE_SUB(@run_date, INTERVAL 1 DAY)`")

    def partition_column(ref: TableRef) -> str | None:
        if ref.key in source_tables:
            table = source_tables[ref.key]
            return FAMILY_SUFFIX if table.family else table.partition_column
        target = by_key.get(ref.key)
        if target is not None and target.partitioning is not None and target.partitioning.require_filter:
            return target.partitioning.field
        return None

    if not q.is_view:
        for ref, column in partition_filter_problems(p, partition_column):
            if column == FAMILY_SUFFIX:
                problems.add(q.sql_file, ref.line, "",
                             f"reads every shard of the table family {ref.key}: no filter on {FAMILY_SUFFIX} "
                             "against @run_date/@run_time",
                             f"add e.g. `WHERE {FAMILY_SUFFIX} = FORMAT_DATE('%Y%m%d', DATE_SUB(@run_date, "
                             "INTERVAL 1 DAY))` in the SELECT that reads it")
                continue
            problems.add(q.sql_file, ref.line, "",
                         f"full scan of partitioned {ref.key}: no filter on its partition column {column} "
                         "against @run_date/@run_time",
                         f"add e.g. `WHERE DATE({ref.node.alias_or_name}.{column}) = "
                         "DATE_SUB(@run_date, INTERVAL 1 DAY)` "
                         "in the SELECT that reads it")
    if q.schedule is not None:
        for up_key in sorted(lineage.upstream_queries(q.key)):
            up = by_key[up_key]
            if up.schedule is None:
                continue
            why = must_run_after(q.schedule, up.schedule, q.after_margin_minutes)
            if why:
                what, _, fix = why.partition(": ")
                problems.add(q.file, q.schedule_line, "schedule",
                             f"{q.sql_file} runs too early for its input {up_key}: {what}",
                             fix or f"schedule it at least {q.after_margin_minutes} minutes after {up_key}")
