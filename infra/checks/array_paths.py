"""Array paths in a FROM clause (BigQuery's implicit UNNEST), told apart from table names.

In BigQuery a FROM item may be a path into a row of an earlier FROM item instead of a table:
`FROM mart.users AS u, u.tags AS tag`, `LEFT JOIN u.tags AS tag`, or, in a correlated subquery,
`(SELECT COUNT(*) FROM u.tags AS tag WHERE ...)`. A path of more than one name whose first name is
a range variable in reach (an alias of an earlier item of the same FROM, or of the FROM of an
enclosing query) is a field path, unnested, not a table (docs/real-world.md, "array-path").
sqlglot rewrites the simple case (a comma or JOIN without ON in one FROM) to `UNNEST(...)` when it
parses; `unnest_array_paths` does the same for the rest, so that neither the table references nor
the column analysis read `u.tags` as the table `tags` of a dataset `u`.

Deliberately not here: whether the path really ends in an array (the contracts say so when the
column analysis resolves `u.tags`).
"""

from __future__ import annotations

from sqlglot import exp


def unnest_array_paths(tree: exp.Expression) -> None:
    """Rewrite, in place, every FROM or JOIN item of `tree` that is an array path to `UNNEST(path)`."""
    for table in list(tree.find_all(exp.Table)):
        if isinstance(table.this, exp.Func) or len(table.parts) < 2:
            continue
        if table.parts[0].name in _range_variables(table):
            _to_unnest(table)


def _range_variables(table: exp.Table) -> set[str]:
    """The aliases visible to a FROM item: the items before it in its own FROM, and every item of
    the FROM of each query it is nested in (a correlated reference)."""
    names: set[str] = set()
    node: exp.Expression = table
    select = table.find_ancestor(exp.Select)
    while select is not None:
        items = _from_items(select)
        position = next((i for i, item in enumerate(items) if item is node), None)
        if position is not None and node is not table:
            break  # a subquery in a FROM sees no alias of that FROM, nor of the queries around it
        names |= {item.alias_or_name for item in items[:position]}
        if isinstance(select.find_ancestor(exp.CTE, exp.Select), exp.CTE):
            break  # a WITH query is not correlated with the query that reads it
        node = select.parent if isinstance(select.parent, exp.Subquery) else select
        select = select.find_ancestor(exp.Select)
    return names


def _from_items(select: exp.Select) -> list[exp.Expression]:
    items = []
    if select.args.get("from_") is not None:
        items.append(select.args["from_"].this)
    items.extend(join.this for join in select.args.get("joins") or [])
    return items


def _to_unnest(table: exp.Table) -> None:
    """`u.tags AS tag` -> `UNNEST(u.tags) AS tag`, as sqlglot's own parser writes it."""
    alias = table.args.get("alias")
    column = table.copy()
    column.set("alias", None)
    path = column.to_column()
    unnest = exp.Unnest(expressions=[path])
    if isinstance(alias, exp.TableAlias) and alias.this is not None:
        unnest.set("alias", exp.TableAlias(columns=[alias.this.copy()]))
    table.replace(unnest)
