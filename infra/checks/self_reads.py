"""Self-reading incremental tables: when a query may read its own table.

A "last seen" bit pattern shifts yesterday's row; a deduplication keeps only what earlier days did
not send. Both read earlier partitions of the table they write. That is no cycle when every such
read stops strictly before the partition the run writes: the build of an incremental query
replaces the partition of `DATE_SUB(@run_date, INTERVAL 1 DAY)` (`infra/resources/write_sql.py`,
`INCREMENTAL_DAY`), so its own table may be read only on days up to `@run_date - 2`.

`self_read_problem` accepts a read of the query's own table when the query is incremental and the
WHERE of the SELECT that reads it (or its JOIN's ON) has a conjunct bounding the partition column
(bare, or under `DATE()`, `TIMESTAMP()`, `DATETIME()`, a CAST) from above, strictly before that day:

- `col < DATE_SUB(@run_date, INTERVAL 1 DAY)`, `col < TIMESTAMP(DATE_SUB(@run_date, INTERVAL 1 DAY))`;
- `col <= DATE_SUB(@run_date, INTERVAL 2 DAY)`, `col = DATE_SUB(@run_date, INTERVAL 2 DAY)`,
  `col BETWEEN ... AND DATE_SUB(@run_date, INTERVAL 2 DAY)`.

The bound is evaluated in hours from midnight of `@run_date`: `@run_date` is 0 (midnight),
`@run_time` somewhere in [0, 24) (the scheduled time of that day: docs/real-world.md, `run-params`),
`DATE_SUB`/`DATE_ADD`/`TIMESTAMP_SUB`/`TIMESTAMP_ADD`/`DATETIME_SUB`/`DATETIME_ADD`, `+`/`-` of an
INTERVAL or a number of days move it by DAY, WEEK or HOUR, and `DATE()` truncates it to its day.
`col < @run_date` is refused: it reads the day the run writes.

Deliberately not here: which tables exist (`query_rules.py`); the lineage keeps no self-edge
(`lineage.py` would call it a cycle, and a table's own earlier rows are no dependency on another
query), and the local run keeps the day before's partition for the run date (`infra/local/runner.py`).
"""

from __future__ import annotations

from sqlglot import exp

from infra.checks.sql import RUN_PARAMETERS, TableRef, read_conjuncts
from infra.declarations.queries import QuerySpec

# Hours from midnight of @run_date to the start of the partition an incremental build writes
# (`write_sql.INCREMENTAL_DAY`, @run_date - 1; tests/test_self_reads.py ties the two).
WRITTEN_PARTITION_START = -24
_UNIT_HOURS = {"DAY": 24, "WEEK": 168, "HOUR": 1}
_SHIFTS = {exp.DateSub: -1, exp.DateAdd: 1, exp.TimestampSub: -1, exp.TimestampAdd: 1, exp.DatetimeSub: -1,
           exp.DatetimeAdd: 1}
_SAME_MOMENT = (exp.Timestamp, exp.Paren)


def self_read_problem(query: QuerySpec, ref: TableRef) -> tuple[str, str] | None:
    """None when `query` may read its own table at `ref`, else (what, fix)."""
    if not query.incremental or query.partitioning is None:
        return (f"the query reads its own table {ref.key}, and is not incremental: a rebuild that reads "
                "itself is a cycle",
                "read the upstream tables instead; only an incremental query may read its own earlier partitions")
    column = query.partitioning.field
    if any(_before_written_partition(c, column, ref.node.alias_or_name) for c in read_conjuncts(ref.node)):
        return None
    alias = ref.node.alias_or_name
    return (f"the query reads its own table {ref.key} without bounding {column} strictly before the partition "
            "it writes (@run_date - 1): that is a cycle",
            f"add `{alias}.{column} < DATE_SUB(@run_date, INTERVAL 1 DAY)` (or `= DATE_SUB(@run_date, INTERVAL 2 "
            "DAY)`) to the WHERE of the SELECT that reads it")


def hours_from_run_date(node: exp.Expression) -> tuple[int, bool] | None:
    """The moment `node` stands for, in hours from midnight of @run_date, and whether it is exact
    (False for @run_time: some time in the 24 hours after); None when it is not of that form."""
    if isinstance(node, exp.Parameter) and node.name.lower() in RUN_PARAMETERS:
        return 0, node.name.lower() == "run_date"
    if isinstance(node, _SAME_MOMENT) or (isinstance(node, exp.Datetime) and not node.expression) or \
            (isinstance(node, exp.Cast) and node.to.this in _TIMESTAMPS):
        return hours_from_run_date(node.this)
    if isinstance(node, exp.Date) or (isinstance(node, exp.Cast) and node.to.this == exp.DataType.Type.DATE):
        inner = hours_from_run_date(node.this)
        if inner is None:
            return None
        hours, exact = inner
        # The day of the moment; of the latest moment it may be, when it is not exact.
        return ((hours if exact else hours + 23) // 24) * 24, True
    sign = _SHIFTS.get(type(node))
    if sign is not None:
        step = _hours(node.expression, node.unit)
        inner = hours_from_run_date(node.this)
        if step is None or inner is None:
            return None
        return inner[0] + sign * step, inner[1] and step % 24 == 0
    if isinstance(node, exp.Sub | exp.Add):
        inner = hours_from_run_date(node.this)
        right = node.expression
        step = _hours(right.this, right.unit) if isinstance(right, exp.Interval) else _hours(right, exp.var("DAY"))
        if step is None or inner is None:
            return None
        return inner[0] + (step if isinstance(node, exp.Add) else -step), inner[1] and step % 24 == 0
    return None


_TIMESTAMPS = (exp.DataType.Type.TIMESTAMP, exp.DataType.Type.TIMESTAMPTZ, exp.DataType.Type.DATETIME)


def _hours(amount: exp.Expression | None, unit: exp.Expression | None) -> int | None:
    if not isinstance(amount, exp.Literal) or unit is None:
        return None
    try:
        n = int(amount.this)
    except ValueError:
        return None
    per = _UNIT_HOURS.get(unit.name.upper())
    return None if per is None else n * per


def _is_bare(node: exp.Expression, column: str, alias: str) -> bool:
    """The partition column itself, or under DATE(), TIMESTAMP(), DATETIME() or a CAST."""
    while isinstance(node, exp.Date | exp.Timestamp | exp.Datetime | exp.Cast | exp.Paren) and \
            not node.args.get("expression"):
        node = node.this
    return isinstance(node, exp.Column) and node.name.lower() == column.lower() and node.table in ("", alias)


def _before_written_partition(conjunct: exp.Expression, column: str, alias: str) -> bool:
    """The conjunct keeps only rows strictly before the partition an incremental build writes."""
    if isinstance(conjunct, exp.Between):
        return _is_bare(conjunct.this, column, alias) and _ends_before(conjunct.args["high"], inclusive=True)
    pairs = {exp.LT: (False, False), exp.LTE: (True, False), exp.EQ: (True, False),
             exp.GT: (False, True), exp.GTE: (True, True)}
    if type(conjunct) not in pairs:
        return False
    inclusive, mirrored = pairs[type(conjunct)]
    column_side, bound = (conjunct.right, conjunct.left) if mirrored else (conjunct.left, conjunct.right)
    if isinstance(conjunct, exp.EQ) and not _is_bare(column_side, column, alias):
        column_side, bound = bound, column_side
    return _is_bare(column_side, column, alias) and _ends_before(bound, inclusive)


def _ends_before(bound: exp.Expression, inclusive: bool) -> bool:
    """Rows up to `bound` (inclusive or not) all lie before the written partition."""
    moment = hours_from_run_date(bound)
    if moment is None:
        return False
    hours, exact = moment
    if not exact:  # some time in the 24 hours after `hours`
        return hours + 24 <= WRITTEN_PARTITION_START
    return hours < WRITTEN_PARTITION_START if inclusive else hours <= WRITTEN_PARTITION_START
