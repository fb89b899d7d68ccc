"""Emulator gaps worked around in the local run, never in the SQL production runs.

The local run executes the SQL of the plan. Where the emulator computes a valid BigQuery
construct wrongly, this module rewrites that construct, and only it, into an equivalent the
emulator gets right; SQL without such a construct runs byte for byte. Each rewrite names the gap
it covers, and docs/local-bigquery.md lists them.

`DATE_TRUNC` on a DATE returns a DATE in BigQuery, truncated to DAY, WEEK (= WEEK(SUNDAY)),
WEEK(<day>), ISOWEEK (= the Monday), MONTH, QUARTER, YEAR or ISOYEAR (docs/real-world.md,
`date-trunc-date`). The emulator (bqemulator 1.4.0) gets it right only for a DATE literal (or
`CAST(... AS DATE)`, `CURRENT_DATE()`); on a DATE column, a query parameter or any other DATE
expression it returns a DATETIME for every unit but WEEK(<day>) other than MONDAY, and plain WEEK
starts on the Monday. WEEK(MONDAY) of a literal is the Sunday; ISOWEEK is refused everywhere.
Where the operand is a DATE (its type is inferred by sqlglot from `schema`, the declared columns
of every table the run builds or loads, with `@run_date` a DATE and `@run_time` a TIMESTAMP):

- a week (`WEEK`, `WEEK(<day>)`, `ISOWEEK`) is rewritten as
  `DATE_SUB(DATE(d), INTERVAL MOD(EXTRACT(DAYOFWEEK FROM d) - <day number> + 7, 7) DAY)`, BigQuery's
  definition of the week start (DAYOFWEEK: Sunday = 1 ... Saturday = 7);
- any other unit is wrapped in `CAST(... AS DATE)`: the emulator truncates right, in the wrong type.

An operand of unknown type (no schema, or a column the schema does not hold) gets the week rewrite
only (sqlglot reads `WEEK` as `WEEK(SUNDAY)`), as before the types were known; a TIMESTAMP or
DATETIME operand is left to the emulator.

A multi-statement query gets no query parameters in the emulator ("Values were not provided for
the following prepared statement parameters"), and its variables (DECLARE, SET) and temporary
tables live only inside one job: a scheduled script (`kind: script`) therefore runs as one job
with `@run_date` and `@run_time` written as literals of the run's values (`inline_parameters`), and
each of its statements adapted as above (`adapt_script`). The emulator keeps a temporary table after
the job that made it, where no listing shows it, so the next run's `CREATE TEMP TABLE` of the same
name fails ("Already Exists"): the local run creates it with `CREATE OR REPLACE TEMP TABLE`.
`ASSERT` does not parse in the emulator.

Not a gap of the emulator but of the local run's clock: the fixtures are for one logical run
(`tests/fixtures/_run.yaml`), while the emulator's `CURRENT_DATE()` is today's. In production a
scheduled query runs on its run day, so `CURRENT_DATE()`, `CURRENT_TIMESTAMP()` and
`CURRENT_DATETIME()` (without a time zone) are replaced by the run's moment (`clock`): a query or
view that reads "the past 7 days" reads the fixtures' days whatever day the local run happens on.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Mapping

import sqlglot
from sqlglot import exp

_DAY_NUMBER = {"SUNDAY": 1, "MONDAY": 2, "TUESDAY": 3, "WEDNESDAY": 4, "THURSDAY": 5, "FRIDAY": 6, "SATURDAY": 7}
# The query parameters a scheduled query gets, with their types (docs/real-world.md, `run-params`).
PARAMETER_TYPES = {"run_date": "DATE", "run_time": "TIMESTAMP"}
_MARK = "emulator_gap"  # meta key tying a DATE_TRUNC to its copy in the typed tree

# project -> dataset -> table -> column -> BigQuery type, as `sqlglot.optimizer.qualify` takes it.
Schema = Mapping[str, Mapping[str, Mapping[str, Mapping[str, str]]]]


def adapt_for_emulator(sql: str, clock: dt.datetime | None = None, schema: Schema | None = None) -> str:
    """`sql` as the emulator must run it; `clock` (UTC): the run's moment, for the current-time
    functions; `schema`: the columns of the tables it reads, to know which operands are DATEs."""
    tree = sqlglot.parse_one(sql, read="bigquery")
    operand_types = _date_trunc_operand_types(tree, schema)
    changed = False

    def now(node: exp.Expression) -> exp.Expression:
        nonlocal changed
        moment = _at(node, clock)
        changed = changed or moment is not None
        return moment if moment is not None else node

    def date_trunc(node: exp.Expression) -> exp.Expression:
        nonlocal changed
        if not isinstance(node, exp.DateTrunc):
            return node
        adapted = _date_trunc(node, operand_types.get(node.meta.get(_MARK)))
        changed = changed or adapted is not node
        return adapted

    # The clock first: a rewritten DATE_TRUNC is not walked again, and may hold CURRENT_DATE().
    adapted = tree.transform(now) if clock is not None else tree
    adapted = adapted.transform(date_trunc)
    return adapted.sql("bigquery") if changed else sql


def inline_parameters(script: str, values: Mapping[str, dt.date | dt.datetime]) -> str:
    """`script` with each `@name` of `values` replaced by its literal (`DATE '2026-11-02'`,
    `TIMESTAMP '2026-11-02 04:40:00+00'`), comments and strings untouched."""
    from sqlglot.dialects.bigquery import BigQuery
    from sqlglot.tokens import TokenType

    spans = []
    tokens = BigQuery().tokenize(script)
    for before, after in itertools.pairwise(tokens):
        value = values.get(after.text.lower())
        if before.token_type == TokenType.PARAMETER and value is not None and after.start == before.end + 1:
            literal = (f"TIMESTAMP '{value.astimezone(dt.UTC).strftime('%Y-%m-%d %H:%M:%S')}+00'"
                       if isinstance(value, dt.datetime) else f"DATE '{value.isoformat()}'")
            spans.append((before.start, after.end + 1, literal))
    for start, end, literal in reversed(spans):
        script = script[:start] + literal + script[end:]
    return script


def adapt_script(statements: list[str], clock: dt.datetime | None = None, schema: Schema | None = None) -> str:
    """The statements of a script, each adapted (`adapt_for_emulator`) where sqlglot reads it as one
    statement, joined into one script again (procedural lines such as `END IF` are left as they are)."""
    import logging

    out = []
    quiet = logging.getLogger("sqlglot")
    level, quiet.level = quiet.level, logging.ERROR  # procedural statements fall back to a Command: no news
    try:
        for statement in statements:
            try:
                tree = sqlglot.parse_one(statement, read="bigquery")
                props = tree.args.get("properties") if isinstance(tree, exp.Create) else None
                if props is not None and any(isinstance(p, exp.TemporaryProperty) for p in props.expressions) \
                        and not tree.args.get("replace"):
                    tree.set("replace", True)
                    statement = tree.sql("bigquery")
                out.append(adapt_for_emulator(statement, clock, schema))
            except sqlglot.errors.SqlglotError:
                out.append(statement)
    finally:
        quiet.level = level
    return ";\n".join(out) + ";\n"


def _week_start(node: exp.DateTrunc) -> str | None:
    """The weekday a week truncation starts on (`WEEK` is Sunday's, `ISOWEEK` Monday's); None
    for the other units."""
    unit = node.args.get("unit")
    if isinstance(unit, exp.WeekStart):
        return unit.this.name.upper()
    name = unit.name.upper() if isinstance(unit, (exp.Literal, exp.Var)) else ""
    return {"WEEK": "SUNDAY", "ISOWEEK": "MONDAY"}.get(name)


def _date_trunc(node: exp.DateTrunc, operand_type: str | None) -> exp.Expression:
    """The emulator's equivalent of a DATE_TRUNC whose operand has `operand_type` (None: unknown)."""
    day = _week_start(node)
    if operand_type == "DATE" or (operand_type is None and day is not None):
        if day is None:
            return exp.cast(node.copy(), "DATE")
        value = node.this.sql("bigquery")
        return sqlglot.parse_one(
            f"DATE_SUB(DATE({value}), INTERVAL MOD(EXTRACT(DAYOFWEEK FROM {value}) - {_DAY_NUMBER[day]} + 7, 7) DAY)",
            read="bigquery")
    return node


def _date_trunc_operand_types(tree: exp.Expression, schema: Schema | None) -> dict[int, str | None]:
    """The type of each DATE_TRUNC's operand (by the mark this sets on the node), inferred by
    sqlglot on a copy of `tree` with the parameters typed; empty when there is no DATE_TRUNC."""
    from sqlglot.optimizer.annotate_types import annotate_types
    from sqlglot.optimizer.qualify import qualify

    truncs = list(tree.find_all(exp.DateTrunc))
    if not truncs:
        return {}
    for number, node in enumerate(truncs):
        node.meta[_MARK] = number
    typed = tree.copy()
    for parameter in list(typed.find_all(exp.Parameter)):
        kind = PARAMETER_TYPES.get(parameter.name.lower())
        if kind:
            parameter.replace(exp.cast(exp.null(), kind))
    try:
        if schema:
            # Column types need qualified columns; a column it cannot resolve stays untyped.
            typed = qualify(typed, schema=dict(schema), dialect="bigquery", validate_qualify_columns=False)
        annotate_types(typed, schema=dict(schema or {}), dialect="bigquery")
    except Exception:  # SQL sqlglot cannot type is left as it is (the emulator decides)
        return {}
    found: dict[int, str | None] = {}
    for node in typed.find_all(exp.DateTrunc):
        operand = node.this.type
        known = operand is not None and not operand.is_type(exp.DataType.Type.UNKNOWN)
        found[node.meta.get(_MARK)] = operand.sql("bigquery").upper() if known else None
    return found


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
