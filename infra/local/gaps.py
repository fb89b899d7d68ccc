"""Emulator gaps worked around in the local run, never in the SQL production runs.

The local run executes the SQL of the plan. Where the emulator computes a valid BigQuery
construct wrongly, this module rewrites that construct, and only it, into an equivalent the
emulator gets right; SQL without such a construct runs byte for byte. Each rewrite names the gap
it covers, and docs/local-bigquery.md lists them.

- `DATE_TRUNC(d, WEEK(<day>))` and `DATE_TRUNC(d, ISOWEEK)`: the emulator returns a DATETIME and
  ignores the weekday (always Sunday-based), or rejects ISOWEEK. Rewritten as
  `DATE_SUB(DATE(d), INTERVAL MOD(EXTRACT(DAYOFWEEK FROM d) - <day number> + 7, 7) DAY)`, which is
  BigQuery's definition of the week start (DAYOFWEEK: Sunday = 1 ... Saturday = 7).
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp

_DAY_NUMBER = {"SUNDAY": 1, "MONDAY": 2, "TUESDAY": 3, "WEDNESDAY": 4, "THURSDAY": 5, "FRIDAY": 6, "SATURDAY": 7}


def adapt_for_emulator(sql: str) -> str:
    tree = sqlglot.parse_one(sql, read="bigquery")
    changed = False

    def rewrite(node: exp.Expression) -> exp.Expression:
        nonlocal changed
        if not isinstance(node, exp.DateTrunc):
            return node
        unit = node.args.get("unit")
        if isinstance(unit, exp.WeekStart):
            day = unit.this.name.upper()
        elif isinstance(unit, (exp.Literal, exp.Var)) and unit.name.upper() == "ISOWEEK":
            day = "MONDAY"
        else:
            return node
        changed = True
        value = node.this
        return sqlglot.parse_one(
            f"DATE_SUB(DATE({value.sql('bigquery')}), INTERVAL MOD(EXTRACT(DAYOFWEEK FROM {value.sql('bigquery')}) "
            f"- {_DAY_NUMBER[day]} + 7, 7) DAY)", read="bigquery")

    adapted = tree.transform(rewrite)
    return adapted.sql("bigquery") if changed else sql
