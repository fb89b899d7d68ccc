"""`run --local --show TABLE`: a table's rows after the local run, as an aligned text table.

The rows are read whole (fixture-sized tables), sorted on every column so that two runs print
the same rows in the same order, and cut at a limit; the header says how many there are. A value
prints as SQL would show it: NULL, dates and timestamps in ISO form, JSON and arrays as JSON, long
text cut with an ellipsis. `rich` aligns the columns (numbers to the right).

Deliberately not here: finding the table (`names.py`) and choosing which to show (the CLI).
"""

from __future__ import annotations

import datetime as dt
import decimal
import io
import json
from dataclasses import dataclass
from typing import Any

from infra.local.runner import query_job

WIDEST = 40  # characters of one value; longer ones end with an ellipsis


@dataclass(frozen=True)
class Rows:
    name: str  # dataset.table, as SQL names it
    address: str  # project.dataset_id.table
    columns: tuple[str, ...]
    numeric: tuple[bool, ...]  # per column: right-aligned
    rows: tuple[tuple[Any, ...], ...]  # sorted, at most the limit
    total: int


def show_rows(client: Any, name: str, address: str, limit: int) -> str:
    """The rendered rows of a table, or one line saying why they cannot be read."""
    try:
        return render(read_rows(client, name, address, limit))
    except Exception as exc:  # a table whose build failed before it was created, for one
        first = (getattr(exc, "message", None) or str(exc)).strip().splitlines() or [type(exc).__name__]
        return f"{name} ({address}): could not read its rows: {first[0][:300]}"


def read_rows(client: Any, name: str, address: str, limit: int) -> Rows:
    """The first `limit` rows of `address` in sorted order, and how many it holds."""
    job = query_job(client, f"SELECT * FROM `{address}`")
    result = job.result()
    fields = list(result.schema)
    rows = sorted((tuple(row.values()) for row in result), key=lambda row: tuple(_sort_key(v) for v in row))
    numeric = tuple(f.field_type in ("INTEGER", "INT64", "FLOAT", "FLOAT64", "NUMERIC", "BIGNUMERIC")
                    and f.mode != "REPEATED" for f in fields)
    return Rows(name, address, tuple(f.name for f in fields), numeric, tuple(rows[:limit]), len(rows))


def render(table: Rows) -> str:
    """The header line and the aligned rows."""
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    shown = len(table.rows)
    count = f"{table.total} row{'s' if table.total != 1 else ''}"
    if shown < table.total:
        count += f", the first {shown} shown (sorted; --limit shows more)"
    header = f"{table.name} ({table.address}): {count}"
    if not table.columns or not table.rows:
        return header
    grid = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, highlight=False)
    for name, numeric in zip(table.columns, table.numeric, strict=True):
        grid.add_column(Text(name), justify="right" if numeric else "left", no_wrap=True)
    for row in table.rows:
        grid.add_row(*(Text(text(value)) for value in row))
    out = io.StringIO()
    # As wide as the table needs: a terminal wraps long lines, a file or a pipe keeps them whole.
    Console(file=out, width=100_000, color_system=None, highlight=False, emoji=False).print(grid)
    lines = [line.rstrip() for line in out.getvalue().splitlines() if line.strip()]
    return "\n".join([header, *("  " + line for line in lines)])


def text(value: Any) -> str:
    """One value as the table prints it."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):  # a TIMESTAMP (in UTC) as BigQuery prints it; a DATETIME plain
        utc = value.tzinfo is not None and value.utcoffset() == dt.timedelta(0)
        out = value.replace(tzinfo=None).isoformat(sep=" ") + (" UTC" if utc else "")
    elif isinstance(value, (dt.date, dt.time, decimal.Decimal, int, float)):
        out = str(value)
    elif isinstance(value, (dict, list)):
        out = json.dumps(value, default=str, separators=(",", ":"), ensure_ascii=False)
    else:
        out = str(value)
    out = " ".join(out.split()) if "\n" in out or "\t" in out else out
    return out if len(out) <= WIDEST else out[:WIDEST - 1] + "…"


def _sort_key(value: Any) -> tuple:
    """NULLs first; values of one kind compare as themselves (a JSON column mixes kinds), the
    rest as JSON text."""
    for rank, kinds in enumerate(((bool, int, float, decimal.Decimal), (str,), (dt.datetime,), (dt.date,),
                                  (dt.time,)), start=1):
        if isinstance(value, kinds):
            return (rank, value)
    if value is None:
        return (0, "")
    return (9, json.dumps(value, default=str, sort_keys=True))
