"""SQL analysis with sqlglot's BigQuery dialect: parse once, find references, resolve names.

Every `.sql` file is parsed once into a `ParsedQuery`: the statement tree, the tables it reads
(`dataset.table` as written, with their position), the routines it calls and the temporary
functions it declares first (`routines.py`), the query parameters it uses and the names of its
output columns when they are explicit. From that:

- `resolve()` turns the file's portable names (`mart.core_users`, `stripe.subscriptions`, a
  routine's `mart.normalize_email`) into the stack's fully qualified ones by replacing exactly
  those spans of the original text; the rest of the SQL reaches BigQuery byte for byte as the
  author wrote it (no re-rendering).
- `partition_filter_problems()` is the cost guard: every read of a partitioned source must
  bound its partition column from below by `@run_date`/`@run_time` (`=`, `>=`, `BETWEEN`) in
  the WHERE of the SELECT that reads it, or in its JOIN's ON; a family of shards (`events_*`)
  likewise bounds `_TABLE_SUFFIX`. An OR counts when each branch bounds it or is
  `@run_date IS NULL` (never true in a run). A filter applied later (on a CTE built from the
  table) is not recognized: BigQuery may not prune on it either.

Deliberately not here: which names exist (the caller passes a resolver) and the lineage graph
(`lineage.py`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import TokenType

from infra.checks.array_paths import unnest_array_paths
from infra.checks.output_names import output_names
from infra.checks.routines import FUNCTION_NAMESPACES, RoutineRef, TempFunction, routine_refs, temp_function
from infra.checks.sqlglot_log import captured, line_of, unsupported_statement

RUN_PARAMETERS = ("run_date", "run_time")


@dataclass(frozen=True)
class TableRef:
    dataset: str  # as written ('' when unqualified)
    table: str
    project: str  # as written ('' when absent)
    line: int
    start: int  # character span of the whole reference in the source text (inclusive)
    end: int
    node: exp.Table

    @property
    def key(self) -> str:
        return f"{self.dataset}.{self.table}"


@dataclass(frozen=True)
class ParsedQuery:
    sql: str
    tree: exp.Expression
    refs: tuple[TableRef, ...]
    parameters: frozenset[str]
    output_columns: tuple[str, ...] | None  # None when the outer SELECT has a `*`
    # Table-valued functions read (FROM f(...)), and EXTERNAL_QUERY wherever it is: what they read
    # is not a table reference, so the lineage cannot see it. UNNEST (of the row's own arrays) aside.
    table_functions: frozenset[str] = frozenset()
    # What sqlglot logged while parsing (infra/checks/sqlglot_log.py), the harmless left out.
    warnings: tuple[str, ...] = ()
    # Persistent routines called (`mart.f(x)`, `FROM mart.tf(x)`: `routines.py`), and the temporary
    # functions declared before the SELECT, which starts at `select_start` in the text.
    routine_refs: tuple[RoutineRef, ...] = ()
    temp_functions: tuple[TempFunction, ...] = ()
    select_start: int = 0


@dataclass(frozen=True)
class SqlProblem:
    """A problem the SQL checks found in a file's text: its line (when known), what, how to fix."""
    line: int | None
    what: str
    fix: str


class SqlError(ValueError):
    def __init__(self, line: int | None, what: str):
        super().__init__(what)
        self.line = line
        self.what = what


def parse(sql: str) -> ParsedQuery:
    """Parse one SELECT statement, after any `CREATE TEMP FUNCTION` statements; raise `SqlError`
    with the line of the first problem."""
    with captured() as messages:
        try:
            statements = [s for s in sqlglot.parse(sql, read="bigquery") if s is not None]
        except ParseError as exc:
            err = exc.errors[0] if exc.errors else {}
            raise SqlError(err.get("line"), f"SQL does not parse: {err.get('description') or exc}") from None
        except TokenError as exc:
            raise SqlError(None, f"SQL does not parse: {exc}") from None
    unreadable = unsupported_statement(messages)
    if unreadable is not None:
        raise SqlError(line_of(sql, unreadable), f"sqlglot, which reads the SQL for these checks, cannot read the "
                                                 f"statement starting `{unreadable[:60]}` (syntax it does not support)")
    temps = [temp_function(s) for s in statements[:-1]]
    if not statements or None in temps:
        raise SqlError(None, f"expected one SELECT statement (after any CREATE TEMP FUNCTION), "
                             f"found {len(statements)} statements")
    tree = statements[-1]
    if not isinstance(tree, exp.Query):
        raise SqlError(1, f"expected a SELECT, found {tree.key.upper()}")
    unnest_array_paths(tree)
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    refs = []
    functions = set()
    for part in (*(t.node for t in temps), tree):
        ctes = {cte.alias_or_name for cte in part.find_all(exp.CTE)}
        for table in part.find_all(exp.Table):
            if (not table.db and table.name in ctes) or isinstance(table.parent, exp.UserDefinedFunction):
                continue
            if isinstance(table.this, exp.Func):  # a table-valued function such as UNNEST
                if not table.db or table.db.upper() in FUNCTION_NAMESPACES:  # else a routine (routine_refs)
                    functions.add(_function_name(table.this))
                continue
            refs.append(_ref(table))
        functions |= {name for f in part.find_all(exp.Func) if (name := _function_name(f)) == "EXTERNAL_QUERY"}
    calls = [r for part in (*(t.node for t in temps), tree) for r in routine_refs(part, sql)]
    parameters = frozenset(p.name.lower() for p in tree.find_all(exp.Parameter))
    return ParsedQuery(sql=sql, tree=tree, refs=tuple(refs), parameters=parameters,
                       output_columns=_output_columns(tree), table_functions=frozenset(functions - {"UNNEST"}),
                       warnings=tuple(messages), routine_refs=tuple(calls), temp_functions=tuple(temps),
                       select_start=_after_statements(sql, len(temps)))


def _after_statements(sql: str, count: int) -> int:
    """Where the text after the first `count` statements (each ended by `;`) starts."""
    if not count:
        return 0
    tokens = sqlglot.Dialect.get_or_raise("bigquery").tokenize(sql)
    semicolons = [t for t in tokens if t.token_type == TokenType.SEMICOLON]
    return semicolons[count - 1].end + 1


def _function_name(f: exp.Func) -> str:
    if isinstance(f, exp.Anonymous):
        return str(f.this).upper()
    return f.sql_name().upper()


def _ref(table: exp.Table) -> TableRef:
    parts = [p for p in (table.args.get("catalog"), table.args.get("db"), table.this) if p is not None]
    metas = [p.meta for p in parts if p.meta and "start" in p.meta]
    start = min(m["start"] for m in metas) if metas else -1
    end = max(m["end"] for m in metas) if metas else -1
    line = min(m["line"] for m in metas) if metas else 1
    return TableRef(dataset=table.db, table=table.name, project=table.catalog, line=line,
                    start=start, end=end, node=table)


def _output_columns(tree: exp.Query) -> tuple[str, ...] | None:
    """The names BigQuery gives the outer SELECT's columns; None when they are not known here."""
    projections = outer_projections(tree)
    names = output_names(projections) if projections is not None else None
    return tuple(names) if names is not None else None


def outer_projections(tree: exp.Expression) -> list[exp.Expression] | None:
    """The items of the SELECT list whose columns a query outputs (the first of a set operation's);
    None when it is no SELECT or has a `*` (left as written: unknown columns)."""
    select = tree
    while isinstance(select, exp.SetOperation):
        select = select.left
    if isinstance(select, exp.Subquery):
        select = select.unnest()
    if not isinstance(select, exp.Select):
        return None
    if any(isinstance(p, exp.Star) or (isinstance(p, exp.Column) and p.is_star) for p in select.expressions):
        return None
    return list(select.expressions)


def resolve(parsed: ParsedQuery, qualify: Callable[[TableRef | RoutineRef], str]) -> str:
    """The SQL with every table reference and routine name replaced by `qualify(ref)`, the rest untouched."""
    return "".join(resolve_parts(parsed, qualify))


def resolve_parts(parsed: ParsedQuery, qualify: Callable[[TableRef | RoutineRef], str]) -> tuple[str, str]:
    """`resolve`, split into the temporary functions' statements and the SELECT."""
    parts = []
    for low, high in ((0, parsed.select_start), (parsed.select_start, len(parsed.sql))):
        text = parsed.sql[low:high]
        inside = [r for r in (*parsed.refs, *parsed.routine_refs) if low <= r.start < high or r.start < 0]
        for ref in sorted(inside, key=lambda r: r.start, reverse=True):
            if ref.start < 0:
                raise SqlError(ref.line, f"cannot locate the reference to {ref.key} in the text")
            text = text[:ref.start - low] + qualify(ref) + text[ref.end + 1 - low:]
        parts.append(text)
    return parts[0], parts[1]


def partition_filter_problems(parsed: ParsedQuery, partition_column_of: Callable[[TableRef], str | None]
                              ) -> list[tuple[TableRef, str]]:
    """(reference, partition column) for every partitioned table read without a run filter."""
    out = []
    for ref in parsed.refs:
        column = partition_column_of(ref)
        if column is not None and not _filtered(ref.node, column):
            out.append((ref, column))
    return out


def _filtered(table: exp.Table, column: str) -> bool:
    """True when the SELECT that reads `table` has a condition (WHERE or the JOIN's ON) that
    compares `column` of that table with @run_date or @run_time (or the current date or time)."""
    alias = table.alias_or_name
    return any(_bounds(conjunct, column, alias) for conjunct in read_conjuncts(table))


def read_conjuncts(table: exp.Table) -> list[exp.Expression]:
    """The conditions ANDed on the rows read from `table`: the conjuncts of the WHERE of the
    SELECT that reads it and of its JOIN's ON (none when no SELECT reads it)."""
    select = table.find_ancestor(exp.Select)
    if select is None:
        return []
    conditions = []
    if select.args.get("where") is not None:
        conditions.append(select.args["where"].this)
    join = table.find_ancestor(exp.Join)
    if join is not None and join.args.get("on") is not None:
        conditions.append(join.args["on"])
    return [conjunct for condition in conditions
            for conjunct in (condition.flatten() if isinstance(condition, exp.And) else [condition])]


def _bounds(condition: exp.Expression, column: str, alias: str) -> bool:
    """True when `condition` holds only for rows whose partition column is bounded from below by the
    run's moment: a bounding predicate, an AND with one, or an OR each of whose branches bounds or
    is `@run_date IS NULL` / `@run_time IS NULL` (never true in a run: the Data Transfer Service
    always sets both; docs/real-world.md, "pruning-or"). An OR with any other branch
    (`col = @run_date OR f = 'x'`) reads every partition, as BigQuery's docs say."""
    if isinstance(condition, exp.Paren):
        return _bounds(condition.unnest(), column, alias)
    if isinstance(condition, exp.And):
        return any(_bounds(c, column, alias) for c in condition.flatten())
    if isinstance(condition, exp.Or):
        branches = list(condition.flatten())
        bounding = [_bounds(b, column, alias) for b in branches]
        return any(bounding) and all(ok or _unset_run_parameter(b) for ok, b in zip(bounding, branches, strict=True))
    return _bounds_partition(condition, column, alias)


def _unset_run_parameter(node: exp.Expression) -> bool:
    """`@run_date IS NULL` (or `@run_time`): false in every scheduled run."""
    node = node.unnest() if isinstance(node, exp.Paren) else node
    return isinstance(node, exp.Is) and isinstance(node.expression, exp.Null) and \
        isinstance(node.this, exp.Parameter) and node.this.name.lower() in RUN_PARAMETERS


def _is_partition_column(node: exp.Expression, column: str, alias: str) -> bool:
    """The partition column of the table, possibly wrapped: `e.event_time`, `DATE(event_time)`."""
    cols = list(node.find_all(exp.Column))
    return len(cols) == 1 and cols[0].name.lower() == column.lower() and cols[0].table in ("", alias)


# The current-time functions: constant for one query, so a filter on them prunes partitions as a
# literal does (docs/real-world.md, "partition pruning").
_CURRENT_TIME = (exp.CurrentDate, exp.CurrentTimestamp, exp.CurrentDatetime)


def _is_run_bound(node: exp.Expression) -> bool:
    """An expression of the run's moment: it uses @run_date/@run_time or a current-time function,
    and no column."""
    run = any(p.name.lower() in RUN_PARAMETERS for p in node.find_all(exp.Parameter)) or \
        any(True for _ in node.find_all(*_CURRENT_TIME))
    return run and not any(True for _ in node.find_all(exp.Column))


def _bounds_partition(conjunct: exp.Expression, column: str, alias: str) -> bool:
    """True for a predicate that limits the partition column from below by the run's moment:
    `col = f(@run)`, `col >= f(@run)` (or `f(@run) <= col`), `col BETWEEN f(@run) AND ...`, where
    f(@run) may also use CURRENT_DATE() and the like.
    An upper bound alone (`col <= @run_date`) still scans every older partition."""
    if isinstance(conjunct, exp.Between):
        return _is_partition_column(conjunct.this, column, alias) and _is_run_bound(conjunct.args["low"])
    if isinstance(conjunct, exp.EQ):
        left, right = conjunct.left, conjunct.right
        return (_is_partition_column(left, column, alias) and _is_run_bound(right)) or \
            (_is_partition_column(right, column, alias) and _is_run_bound(left))
    if isinstance(conjunct, (exp.GT, exp.GTE)):
        return _is_partition_column(conjunct.left, column, alias) and _is_run_bound(conjunct.right)
    if isinstance(conjunct, (exp.LT, exp.LTE)):
        return _is_partition_column(conjunct.right, column, alias) and _is_run_bound(conjunct.left)
    return False
