"""Emulator gaps worked around in the local run, never in the SQL production runs.

The local run executes the SQL of the plan. Where the emulator computes a valid BigQuery
construct wrongly, this module rewrites that construct, and only it, into an equivalent the
emulator gets right; SQL without such a construct runs byte for byte. Each rewrite names the gap
it covers, and docs/local-bigquery.md lists them.

- `DATE_TRUNC(d, WEEK(<day>))` and `DATE_TRUNC(d, ISOWEEK)`: the emulator returns a DATETIME and
  ignores the weekday (always Sunday-based), or rejects ISOWEEK. Rewritten as
  `DATE_SUB(DATE(d), INTERVAL MOD(EXTRACT(DAYOFWEEK FROM d) - <day number> + 7, 7) DAY)`, which is
  BigQuery's definition of the week start (DAYOFWEEK: Sunday = 1 ... Saturday = 7).

Not a gap of the emulator but of the local run's clock: the fixtures are for one logical run
(`tests/fixtures/_run.yaml`), while the emulator's `CURRENT_DATE()` is today's. In production a
scheduled query runs on its run day, so `CURRENT_DATE()`, `CURRENT_TIMESTAMP()` and
`CURRENT_DATETIME()` (without a time zone) are replaced by the run's moment (`clock`): a query or
view that reads "the past 7 days" reads the fixtures' days whatever day the local run happens on.
"""

from __future__ import annotations

import datetime as dt

import sqlglot
from sqlglot import exp

_DAY_NUMBER = {"SUNDAY": 1, "MONDAY": 2, "TUESDAY": 3, "WEDNESDAY": 4, "THURSDAY": 5, "FRIDAY": 6, "SATURDAY": 7}


def adapt_for_emulator(sql: str, clock: dt.datetime | None = None) -> str:
    """`sql` as the emulator must run it; `clock` (UTC): the run's moment, for the current-time
    functions."""
    tree = sqlglot.parse_one(sql, read="bigquery")
    changed = False

    def rewrite(node: exp.Expression) -> exp.Expression:
        nonlocal changed
        now = _at(node, clock) if clock is not None else None
        if now is not None:
            changed = True
            return now
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


def _at(node: exp.Expression, clock: dt.datetime) -> exp.Expression | None:
    """The literal of the run's moment for a current-time function without a time zone."""
    if node.args.get("this") is not None:
        return None  # CURRENT_DATE('America/Los_Angeles'): left to the emulator's clock
    utc = clock.astimezone(dt.UTC)
    if isinstance(node, exp.CurrentDate):
        return sqlglot.parse_one(f"DATE '{utc.date().isoformat()}'", read="bigquery")
    if isinstance(node, exp.CurrentTimestamp):
        return sqlglot.parse_one(f"TIMESTAMP '{utc.strftime('%Y-%m-%d %H:%M:%S')}+00'", read="bigquery")
    if isinstance(node, exp.CurrentDatetime):
        return sqlglot.parse_one(f"DATETIME '{utc.strftime('%Y-%m-%d %H:%M:%S')}'", read="bigquery")
    return None
