"""sqlglot's own log messages, kept for the problem list instead of printed on stderr.

sqlglot writes to the `sqlglot` logger (the Python `logging` module) while it parses and
optimizes: `'...' contains unsupported syntax. Falling back to parsing as a 'Command'.` when it
cannot read a statement, `Failed to annotate badly formed binary expression` and `Cannot traverse
scope` from the optimizer. Printed, they come on stderr ahead of the problem list, with no file.
`captured()` collects them during the parsing and the column analysis of one file; each becomes a
problem line of that file, except the harmless ones (`HARMLESS`, each with its reason).

Deliberately not here: what a message means for the query (`sql.py`, `query_rules.py`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager

LOGGER = "sqlglot"
# Messages that change nothing the check decides, with the reason they are dropped.
HARMLESS = {
    # annotate_types leaves the expression's type unknown, and an unknown type is never refused
    # (columns.compatible): the check is the same as without the message.
    re.compile(r"^Failed to annotate badly formed binary expression"): "the type stays unknown",
    # Informational: BigQuery's 0-based OFFSET() read into sqlglot's own indexing.
    re.compile(r"^Applying array index offset"): "informational",
}
# The parser's fallback for a statement it cannot read: the statement is kept as an opaque command.
UNSUPPORTED = re.compile(r"^'(?P<sql>.*)' contains unsupported syntax\. Falling back to parsing as a 'Command'\.$",
                         re.DOTALL)


class _Keep(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextmanager
def captured() -> Iterator[list[str]]:
    """Within the block, sqlglot's warnings and errors are appended to the yielded list (the
    harmless ones left out) and not printed."""
    logger = logging.getLogger(LOGGER)
    keep = _Keep()
    propagate = logger.propagate
    logger.addHandler(keep)
    logger.propagate = False
    found: list[str] = []
    try:
        yield found
    finally:
        logger.removeHandler(keep)
        logger.propagate = propagate
        found.extend(m for m in keep.messages if not any(p.match(m) for p in HARMLESS))


def unsupported_statement(messages: list[str]) -> str | None:
    """The start of the statement sqlglot could not read, when one of `messages` says so."""
    for message in messages:
        match = UNSUPPORTED.match(message)
        if match:
            return " ".join(match["sql"].split())
    return None


def line_of(sql: str, snippet: str) -> int | None:
    """The line of `sql` where `snippet` (whitespace collapsed) starts, when it can be found."""
    words = snippet.split()
    if not words:
        return None
    pattern = r"\s+".join(re.escape(w) for w in words[:6])
    match = re.search(pattern, sql)
    return sql.count("\n", 0, match.start()) + 1 if match else None


def problem_text(message: str) -> tuple[str, str]:
    """(what, fix) of the problem line a kept message becomes."""
    first = " ".join(message.split())[:200]
    return (f"sqlglot, which reads the SQL for these checks, says: {first}",
            "rewrite that part of the query in plain BigQuery SQL that sqlglot reads; "
            "if it is valid BigQuery, report it (docs/known-limits.md)")
