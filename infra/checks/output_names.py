"""BigQuery's names for the columns of a SELECT list, and the fields of a star on a struct value.

Each item of a SELECT list is named (docs/real-world.md, "implicit-alias" and "anonymous-column"):

- by its explicit alias (`expr AS name`);
- else by its implicit alias: an identifier or a path names the column after its last name
  (`t.user_id` -> `user_id`), a field access after the field (`(f()).x` -> `x`);
- else it is anonymous: no query can read it by name, not even the query around it, and a result
  (a query's output, a destination table) labels it `f0_`, `f1_`, ... counting the anonymous
  columns from the left.

`expr.*` on a struct-valued expression (`IF(c, STRUCT(a, b), NULL).*`, `(SELECT AS STRUCT ...).*`)
produces one column per field of the struct. `struct_fields` reads the field names from the
constructor when the types are unknown; the column analysis (`columns.py`) reads them, with their
types, from the inferred STRUCT type first.

Deliberately not here: the star on a table (`*`, `t.*`), which sqlglot's optimizer expands from
the contracts.
"""

from __future__ import annotations

import re

from sqlglot import exp

# The label BigQuery gives an anonymous column of a result.
ANONYMOUS_LABEL = re.compile(r"^f\d+_$")


def anonymous_label(index: int) -> str:
    """The label of the `index`-th (from 0) anonymous column of a result."""
    return f"f{index}_"


def implicit_name(item: exp.Expression) -> str | None:
    """The item's explicit or implicit alias; None when it is anonymous."""
    if isinstance(item, exp.Alias):
        return item.alias or None
    if isinstance(item, exp.Column) and not item.is_star:
        return item.name
    if isinstance(item, exp.Dot) and not item.is_star:
        return item.name or None
    return None


def is_struct_star(item: exp.Expression) -> bool:
    """`expr.*` on an expression (not a table's `t.*`, which is a star column)."""
    return isinstance(item, exp.Dot) and isinstance(item.expression, exp.Star)


def struct_fields(value: exp.Expression) -> list[str] | None:
    """The field names of a struct-valued expression, read from its constructor (`STRUCT(...)`,
    `SELECT AS STRUCT`, either branch of IF, CASE or COALESCE); None when they cannot be read."""
    if isinstance(value, exp.Paren):
        return struct_fields(value.this)
    if isinstance(value, exp.Struct):
        names = [item.this.name if isinstance(item, exp.PropertyEQ) else implicit_name(item)
                 for item in value.expressions]
        return None if None in names else names
    if isinstance(value, exp.Subquery) and isinstance(value.this, exp.Select) and \
            value.this.args.get("kind") == "STRUCT":
        names = [implicit_name(item) for item in value.this.expressions]
        return None if None in names else names
    for branch in _branches(value):
        found = struct_fields(branch)
        if found is not None:
            return found
    return None


def _branches(value: exp.Expression) -> list[exp.Expression]:
    if isinstance(value, exp.If):
        return [b for b in (value.args.get("true"), value.args.get("false")) if b is not None]
    if isinstance(value, exp.Case):
        return [i.args["true"] for i in value.args.get("ifs") or []] + \
            ([value.args["default"]] if value.args.get("default") is not None else [])
    if isinstance(value, exp.Coalesce):
        return [value.this, *(value.expressions or [])]
    return []


def star_modifiers(star: exp.Star, fields: list[tuple[str, object]]) -> list[tuple[str, object]]:
    """The fields a star keeps after its `EXCEPT (...)`, with the `REPLACE (... AS name)` values:
    (name, value) pairs, where a replaced field's value becomes the replacing expression."""
    dropped = {c.name.lower() for c in star.args.get("except_") or []}
    replaced = {a.alias.lower(): a.this for a in star.args.get("replace") or [] if isinstance(a, exp.Alias)}
    return [(name, replaced.get(name.lower(), value)) for name, value in fields if name.lower() not in dropped]


def output_names(items: list[exp.Expression]) -> list[str] | None:
    """The names BigQuery gives the columns of these SELECT-list items (anonymous ones labelled
    `f0_`, ...); None when a struct star's fields cannot be read without the types."""
    names: list[str] = []
    anonymous = 0
    for item in items:
        if is_struct_star(item):
            fields = struct_fields(item.this)
            if fields is None:
                return None
            names.extend(name for name, _ in star_modifiers(item.expression, [(f, None) for f in fields]))
            continue
        name = implicit_name(item)
        if name is None:
            name = anonymous_label(anonymous)
            anonymous += 1
        names.append(name)
    return names
