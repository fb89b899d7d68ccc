"""Column-level analysis of a query with sqlglot's optimizer, against the declared contracts.

The schema is built from the contracts (`columns:`) of every raw source table and of every table
and view a query builds, under the names SQL writes (`mart.core_users`, `stripe.invoices`). On it,
sqlglot's `qualify` resolves every column reference to the table it comes from and expands every
`*`, and `annotate_types` infers each output's type. From that, for one query:

- every column reference that resolves to nothing (a misspelt name, a column another query no
  longer builds, an alias of a table that is not in the FROM) is a problem with its line and the
  closest columns in reach; so is a name two tables of the FROM both have (BigQuery: ambiguous);
- the output columns, with the `*` expanded, and their inferred types (None where sqlglot cannot
  tell): `query_rules.py` compares them with the query's own contract; a STRUCT or ARRAY output is
  compared field by field (`compatible`), as far as sqlglot infers it;
- nested columns: a STRUCT column is `STRUCT<...>` and a REPEATED one `ARRAY<...>` in the schema, so
  `t.s.x`, `UNNEST(t.arr) AS x` and `x.field` resolve and are typed; a field a STRUCT does not
  have (`t.device.catgory`) is a problem when sqlglot knows the STRUCT's type;
- the column lineage: for each output column, the upstream `(table, column)` pairs it is computed
  from, and every `(table, column)` the query reads anywhere (WHERE, JOIN, GROUP BY included).
  `impact` and the breaking-change check walk it downstream.

Deliberately not here: which tables exist (the caller analyses a query only once every table it
names is known) and what a problem means for the query (`query_rules.py`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import Scope, traverse_scope
from sqlglot.schema import MappingSchema

from infra.checks.output_names import (
    ANONYMOUS_LABEL,
    anonymous_label,
    implicit_name,
    is_struct_star,
    star_modifiers,
    struct_fields,
)
from infra.checks.sql import SqlProblem, outer_projections
from infra.checks.sqlglot_log import captured, problem_text
from infra.declarations.columns import Column
from infra.declarations.keys import suggest

# Coercions BigQuery applies when a value is written to a column of another type (docs/real-world.md,
# "type-coercion"): an INT64 result fits a NUMERIC, BIGNUMERIC or FLOAT64 column, and so on.
COERCIONS = {"INT64": {"NUMERIC", "BIGNUMERIC", "FLOAT64"}, "NUMERIC": {"BIGNUMERIC", "FLOAT64"},
             "BIGNUMERIC": {"FLOAT64"}, "DATE": {"DATETIME"}}

Reads = frozenset[tuple[str, str]]  # (dataset.table, column)


@dataclass(frozen=True)
class ColumnAnalysis:
    outputs: tuple[tuple[str, str | None], ...] | None  # (name, inferred BigQuery type); None: not known
    lineage: Mapping[str, Reads] = field(default_factory=lambda: MappingProxyType({}))
    reads: Reads = frozenset()
    problems: tuple[SqlProblem, ...] = ()
    # Outputs with no alias, named by the label BigQuery gives them in a result (`f0_`, ...)
    anonymous: frozenset[str] = frozenset()


def contract_schema(contracts: Mapping[str, Iterable[Column]]) -> MappingSchema:
    """A sqlglot schema from `{"dataset.table": columns}`."""
    nested: dict[str, dict[str, dict[str, str]]] = {}
    for key, columns in contracts.items():
        dataset, _, table = key.partition(".")
        nested.setdefault(dataset, {})[table] = {
            c.name: c.sql_type for c in columns}
    return MappingSchema(nested, dialect="bigquery", normalize=True)


def analyze_columns(tree: exp.Expression, schema: MappingSchema) -> ColumnAnalysis:
    """Resolve every column of `tree` (a parsed query whose tables are all in `schema`)."""
    with captured() as messages:
        analysis = _analyze(tree, schema)
    told = tuple(SqlProblem(None, *problem_text(m)) for m in dict.fromkeys(messages))
    return dataclasses.replace(analysis, problems=analysis.problems + told)


def _analyze(tree: exp.Expression, schema: MappingSchema) -> ColumnAnalysis:
    alias_problems = _aliases_out_of_reach(tree, schema)
    tree, anonymous = _label_anonymous(tree.copy())
    try:
        # Partial qualification: `t.misspelt` stays as written instead of stopping the analysis,
        # so that every unknown column of the query is told in one run (`_unresolved`).
        qualified = qualify(_alias_field_paths(tree), schema=schema, dialect="bigquery",
                            validate_qualify_columns=False, allow_partial_qualification=True, identify=False,
                            quote_identifiers=False)
    except SqlglotError as exc:
        return ColumnAnalysis(None, problems=(SqlProblem(None, f"the columns cannot be resolved: "
                                                            f"{_first_line(exc)}", "fix the column references"),))
    scopes = traverse_scope(qualified)
    problems = alias_problems + _unresolved(scopes, schema)
    with contextlib.suppress(SqlglotError):  # the types stay unknown; the names are still checked
        annotate_types(qualified, schema=schema, dialect="bigquery")
        problems += _unknown_fields(qualified)
    root = scopes[-1] if scopes else None
    outputs = _outputs(qualified)
    return ColumnAnalysis(outputs=tuple((n, t) for n, t, _ in outputs) if outputs is not None else None,
                          lineage=_lineage(root, outputs) if root else MappingProxyType({}),
                          reads=_reads(scopes), problems=tuple(problems), anonymous=anonymous)


def _label_anonymous(tree: exp.Expression) -> tuple[exp.Expression, frozenset[str]]:
    """The outer SELECT's items with no alias, aliased with the label BigQuery gives them in a
    result (`f0_`, ...), and those labels. Only the outer query's: inside a query an anonymous
    column has no name at all (docs/real-world.md, "anonymous-column")."""
    items = outer_projections(tree) or []
    labels = []
    for item in items:
        if is_struct_star(item) or isinstance(item, exp.Star) or item.is_star or implicit_name(item) is not None:
            continue
        labels.append(anonymous_label(len(labels)))
        item.replace(exp.alias_(item.copy(), labels[-1]))
    return tree, frozenset(labels)


def _alias_field_paths(tree: exp.Expression) -> exp.Expression:
    """`SELECT e.device.category` as `SELECT e.device.category AS category`: BigQuery names a path's
    output after its last name, and GROUP BY or ORDER BY may use it; sqlglot's qualify expands that
    name only when the alias is written (a `t.col` gets the alias qualify would give it)."""
    for select in tree.find_all(exp.Select):
        for projection in list(select.expressions):
            if isinstance(projection, exp.Column) and projection.table and not isinstance(projection.this, exp.Star):
                projection.replace(exp.alias_(projection.copy(), projection.name))
    return tree


def compatible(inferred: str | None, declared: str) -> bool:
    """Whether a value of the inferred type can be written to a column of the declared type. A STRUCT
    or an ARRAY is compared element by element and field by field (the same field names, in the
    declared order: the table's fields are the contract); a part sqlglot could not infer fits."""
    if inferred is None or inferred == declared:
        return True
    try:
        got, want = (exp.DataType.build(t, dialect="bigquery") for t in (inferred, declared))
    except SqlglotError:
        return False
    return _fits(got, want)


def _fits(got: exp.DataType, want: exp.DataType) -> bool:
    if got.is_type(exp.DataType.Type.UNKNOWN, exp.DataType.Type.NULL):
        return True
    if want.is_type(exp.DataType.Type.ARRAY, exp.DataType.Type.STRUCT):
        if got.this != want.this:
            return False
        mine, theirs = _parts(got), _parts(want)
        return len(mine) == len(theirs) and all(
            (a is None or b is None or a.lower() == b.lower()) and _fits(x, y)
            for (a, x), (b, y) in zip(mine, theirs, strict=True))
    got_text, want_text = got.sql("bigquery").upper(), want.sql("bigquery").upper()
    return got_text == want_text or want_text in COERCIONS.get(got_text, ())


def _parts(kind: exp.DataType) -> list[tuple[str | None, exp.DataType]]:
    """An ARRAY's element type or a STRUCT's (field name, type) pairs."""
    out = []
    for part in kind.expressions:
        if isinstance(part, exp.ColumnDef):
            out.append((part.name or None, part.args.get("kind")))
        elif isinstance(part, exp.DataType):
            out.append((None, part))
    return out


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _table_key(table: exp.Table) -> str:
    return f"{table.db}.{table.name}"


def _unresolved(scopes: list[Scope], schema: MappingSchema) -> list[SqlProblem]:
    """Columns no table of their FROM (nor, in a subquery, of an enclosing FROM) has, and names that
    several tables of the FROM have. A subquery's unresolved column is also its enclosing scope's:
    each is told once."""
    out: list[SqlProblem] = []
    told: set[int] = set()
    for scope in scopes:
        if not isinstance(scope.expression, exp.Select):
            continue
        for column in scope.columns:
            pivoted = _pivot_columns(scope, column.table, schema) \
                if column.table and not column.find_ancestor(exp.Pivot) else None
            source = scope.sources.get(column.table) if column.table else None
            known = pivoted[1] if pivoted is not None else _source_columns(source, schema) if source is not None else []
            if pivoted is not None and column.name in known:
                told.add(id(column))  # a column of a PIVOT's or UNPIVOT's output
                continue
            if known and "*" not in known and column.name not in known and id(column) not in told:
                told.add(id(column))
                label = pivoted[0] if pivoted is not None else \
                    _table_key(source) if isinstance(source, exp.Table) else column.table
                written = column.name if _SYNTHETIC.match(column.table) else f"{column.table}.{column.name}"
                out.append(SqlProblem(_line(column), f"unknown column {written}: {label} has "
                                         f"no column {column.name!r}{_anonymous_hint(column.name, known)}",
                                         _ANONYMOUS_FIX if ANONYMOUS_LABEL.match(column.name) else
                                         f"use one of {label}'s columns, or declare {column.name} in its contract"))
        for column in scope.unqualified_columns + scope.external_columns:
            if id(column) in told:
                continue
            owners = sorted(a for a, s in scope.sources.items() if column.name in _source_columns(s, schema))
            if not column.table and len(owners) > 1:
                told.add(id(column))
                out.append(SqlProblem(_line(column), f"ambiguous column {column.name}: "
                                         f"{' and '.join(owners)} both have it",
                                         f"qualify it, e.g. `{owners[0]}.{column.name}`"))
            elif column in scope.external_columns and not _correlated(scope, column, schema):
                told.add(id(column))
                out.append(_unknown(scope, column, schema))
    return out


def _pivot_columns(scope: Scope, alias: str, schema: MappingSchema) -> tuple[str, list[str]] | None:
    """(a label, the columns) of the PIVOT or UNPIVOT of the scope's FROM named `alias` (sqlglot
    qualifies the operator's output columns with its alias); None when no operator has that alias."""
    for pivot in scope.pivots:
        if pivot.alias != alias or pivot.parent is None:
            continue
        source = scope.sources.get(pivot.parent.alias_or_name)
        columns: list[str] = _source_columns(source, schema) if source is not None else []
        for step in pivot.parent.args.get("pivots") or []:  # a chain of operators on one FROM item
            columns = list(step.output_columns(columns))
            if step is pivot:
                of = "" if _SYNTHETIC.match(pivot.parent.alias_or_name) else f" of {pivot.parent.alias_or_name}"
                return f"the {'UNPIVOT' if pivot.unpivot else 'PIVOT'}{of}", columns
    return None


def _unknown(scope: Scope, column: exp.Column, schema: MappingSchema) -> SqlProblem:
    if column.table:
        return SqlProblem(_line(column), f"unknown column {column.table}.{column.name}: no table or column "
                             f"{column.table!r} in its FROM{suggest(column.table, list(scope.sources))}",
                             "qualify the column with an alias of its FROM")
    in_reach, outer = _columns_in_reach(scope, schema), scope.parent if scope.can_be_correlated else None
    while outer is not None:  # a subquery may name its enclosing query's columns
        in_reach += _columns_in_reach(outer, schema)
        outer = outer.parent if outer.can_be_correlated else None
    return SqlProblem(_line(column), f"unknown column {column.name}: no table of its FROM has it"
                         f"{_anonymous_hint(column.name, in_reach)}",
                         _ANONYMOUS_FIX if ANONYMOUS_LABEL.match(column.name) else
                         "name a column of the tables it reads (their `columns:`), or declare it there")


def _unknown_fields(qualified: exp.Expression) -> list[SqlProblem]:
    """`x.field` where x is a STRUCT of a known type without that field (a misspelt or undeclared
    field). A STRUCT whose type sqlglot could not infer is not checked."""
    out = []
    for dot in qualified.find_all(exp.Dot):
        base = dot.this.type if isinstance(dot.this, exp.Expression) else None
        if base is None or not base.is_type(exp.DataType.Type.STRUCT) or not isinstance(dot.expression, exp.Identifier):
            continue
        names = [name for name, _ in _parts(base)]
        if not names or None in names or dot.name.lower() in {n.lower() for n in names}:
            continue
        what = _path(dot.this)
        out.append(SqlProblem(_line(dot.expression), f"unknown field {what}.{dot.name}: {what} is a STRUCT with "
                                 f"no field {dot.name!r}{suggest(dot.name, names)}",
                                 f"use one of its fields ({', '.join(names)}), or declare {dot.name} in its `fields:`"))
    return out


def _path(node: exp.Expression) -> str:
    """`device.os` for `t.device.os`: the column and its fields, without the table sqlglot qualified it with."""
    if isinstance(node, exp.Dot):
        return f"{_path(node.this)}.{node.name}"
    return node.name if isinstance(node, exp.Column) else node.sql("bigquery")


_ANONYMOUS_FIX = "alias the expression where it is computed (`COUNT(*) AS n`) and read it by that alias"


def _anonymous_hint(name: str, known: list[str]) -> str:
    """What follows an unknown column's name: why `f0_` cannot be read, else a "did you mean"."""
    if ANONYMOUS_LABEL.match(name):
        return (f" ({name} is the label BigQuery gives an unaliased expression in a result; inside a query such a "
                "column is anonymous and no query can read it by name)")
    return suggest(name, [k for k in known if not _SQLGLOT_LABEL.match(k)])


# sqlglot's own name for an unaliased expression of a subquery: not a name BigQuery knows.
_SQLGLOT_LABEL = re.compile(r"^_col_\d+$")
# sqlglot's name for an unaliased subquery or PIVOT in a FROM (`_0`, `_1`): not written by the author.
_SYNTHETIC = re.compile(r"^_\d+$")


def _aliases_out_of_reach(tree: exp.Expression, schema: MappingSchema) -> list[SqlProblem]:
    """A SELECT-list alias named in the same SELECT's WHERE or in a later item of its list: BigQuery
    refuses both unless an administrator turned reusable column aliases on (docs/real-world.md,
    "column-aliases"), and sqlglot would accept them. GROUP BY, HAVING, QUALIFY and ORDER BY may name them."""
    out = []
    for scope in traverse_scope(tree):  # reads the tree, changes nothing
        select = scope.expression
        if not isinstance(select, exp.Select):
            continue
        offered = set(_columns_in_reach(scope, schema))
        places = [(None, select.args.get("where"))] + [(i, p) for i, p in enumerate(select.expressions)]
        earlier = {i: {p.alias for p in select.expressions[:i] if isinstance(p, exp.Alias)}
                   for i in range(len(select.expressions))}
        aliases = {p.alias for p in select.expressions if isinstance(p, exp.Alias)} - offered
        for index, place in places:
            if place is None:
                continue
            visible = aliases if index is None else earlier[index] - offered
            for column in place.find_all(exp.Column):
                if not column.table and column.name in visible and column.find_ancestor(exp.Select) is select:
                    clause = "its WHERE" if index is None else "a later item of its SELECT list"
                    out.append(SqlProblem(_line(column), f"{column.name} is an alias of the SELECT list, named in "
                                             f"{clause}: BigQuery does not resolve it there",
                                             "repeat the expression, or compute it in a CTE first"))
    return out


def _correlated(scope: Scope, column: exp.Column, schema: MappingSchema) -> bool:
    """Whether a column a subquery does not resolve is one of an enclosing query's (correlated)."""
    if not scope.can_be_correlated:
        return False
    parent = scope.parent
    while parent is not None:
        if column.table and column.table in parent.sources:
            return True
        if not column.table and column.name in _columns_in_reach(parent, schema):
            return True
        parent = parent.parent if parent.can_be_correlated else None
    return False


def _source_columns(source: exp.Expression | Scope, schema: MappingSchema) -> list[str]:
    """The columns a FROM item offers; empty when they are not known (UNNEST and other functions)."""
    if isinstance(source, exp.Table):
        return list(schema.column_names(source))
    if isinstance(source, Scope) and not source.is_udtf and \
            isinstance(source.expression, (exp.Select, exp.SetOperation)):
        return list(source.expression.named_selects)
    return []


def _columns_in_reach(scope: Scope, schema: MappingSchema) -> list[str]:
    names: list[str] = []
    for source in scope.sources.values():
        names += _source_columns(source, schema)
    return sorted(set(names))


def _line(column: exp.Expression) -> int | None:
    for part in (column.this, column):
        line = part.meta.get("line") if isinstance(part, exp.Expression) and part.meta else None
        if line:
            return line
    return None


def _type_text(kind: exp.DataType | None) -> str | None:
    """A type as BigQuery writes it; nested types keep their fields' names as written."""
    if kind is None or kind.is_type(exp.DataType.Type.UNKNOWN, exp.DataType.Type.NULL):
        return None
    return kind.sql("bigquery") if kind.is_type(*exp.DataType.NESTED_TYPES) else kind.sql("bigquery").upper()


def _outputs(tree: exp.Expression) -> list[tuple[str, str | None, int]] | None:
    """Each output's name, inferred type and the position of the SELECT-list item it comes from;
    None when a `*` is left (sqlglot could not expand it) or a struct's fields are not known."""
    projections = outer_projections(tree)
    if projections is None:
        return None
    out = []
    for position, projection in enumerate(projections):
        if is_struct_star(projection):
            fields = _struct_star_fields(projection)
            if fields is None:
                return None
            out.extend((name, kind, position) for name, kind in fields)
            continue
        out.append((projection.alias_or_name, _type_text(projection.type), position))
    return out


def _struct_star_fields(item: exp.Dot) -> list[tuple[str, str | None]] | None:
    """The columns of `expr.*` on a struct value: its fields, from the inferred STRUCT type, else
    from the constructor (types unknown), after the star's EXCEPT and REPLACE."""
    kind = item.this.type
    if kind is not None and kind.is_type(exp.DataType.Type.STRUCT) and kind.expressions and \
            all(isinstance(f, exp.ColumnDef) and f.name for f in kind.expressions):
        fields = [(f.name, _type_text(f.args.get("kind"))) for f in kind.expressions]
    else:
        names = struct_fields(item.this)
        if names is None:
            return None
        fields = [(name, None) for name in names]
    kept = star_modifiers(item.expression, fields)
    return [(name, value if not isinstance(value, exp.Expression) else _type_text(value.type))
            for name, value in kept]


def _source_of(scope: Scope, column: exp.Column):
    """The FROM item a qualified column comes from. sqlglot leaves a bare `_TABLE_SUFFIX` (the
    pseudo column of a wildcard table) unqualified: it is the one table's of its FROM."""
    if column.table or column.name.upper() != "_TABLE_SUFFIX":
        return scope.sources.get(column.table)
    tables = [s for s in scope.sources.values() if isinstance(s, exp.Table)]
    return tables[0] if len(tables) == 1 else None


def _reads(scopes: list[Scope]) -> Reads:
    out = set()
    for scope in scopes:
        for column in scope.columns:
            source = _source_of(scope, column)
            if isinstance(source, exp.Table):
                out.add((_table_key(source), column.name))
    return frozenset(out)


def _lineage(root: Scope, outputs: list[tuple[str, str | None, int]] | None) -> Mapping[str, Reads]:
    memo: dict[tuple[int, str], Reads] = {}

    def origins(scope: Scope, position: int) -> Reads:
        """The upstream columns of the scope's output at `position` (set operations match by position)."""
        key = (id(scope), position)
        if key in memo:
            return memo[key]
        memo[key] = frozenset()  # a guard for recursive CTEs
        found: set[tuple[str, str]] = set()
        if scope.set_operation_scopes:
            for branch in scope.set_operation_scopes:
                found |= origins(branch, position)
        elif isinstance(scope.expression, exp.Select) and position < len(scope.expression.expressions):
            for column in scope.expression.expressions[position].find_all(exp.Column):
                source = _source_of(scope, column)
                if isinstance(source, exp.Table):
                    found.add((_table_key(source), column.name))
                elif isinstance(source, Scope) and source.is_udtf:  # UNNEST(t.arr) AS x: x comes from t.arr
                    found |= {(_table_key(scope.sources[c.table]), c.name)
                              for c in source.expression.find_all(exp.Column)
                              if isinstance(scope.sources.get(c.table), exp.Table)}
                elif isinstance(source, Scope):
                    found |= by_name(source, column.name)
        memo[key] = frozenset(found)
        return memo[key]

    def by_name(scope: Scope, name: str) -> Reads:
        names = scope.expression.named_selects if isinstance(scope.expression, (exp.Select, exp.SetOperation)) else []
        return origins(scope, names.index(name)) if name in names else frozenset()

    if outputs is not None:  # a struct star's fields all come from its one expression
        return MappingProxyType({name: origins(root, position) for name, _, position in outputs})
    select = root.expression
    names = select.named_selects if isinstance(select, (exp.Select, exp.SetOperation)) else []
    return MappingProxyType({name: origins(root, i) for i, name in enumerate(names)})
