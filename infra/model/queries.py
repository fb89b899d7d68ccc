"""A scheduled query, view or routine, resolved for one stack: what the program declares for it.

Built by the query rules (`infra.checks.query_rules`) once every check has passed: the spec from
the files, the SQL (a routine's body) with the stack's fully qualified table and routine names,
and what it reads.

Deliberately not here: the checks themselves, and the Data Transfer Service config built from it
(`infra.resources.components.scheduled_query`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from infra.declarations.queries import QuerySpec
from infra.declarations.routines import RoutineSpec


@dataclass(frozen=True)
class ResolvedQuery:
    spec: QuerySpec
    sql: str  # the SQL with the stack's fully qualified table names
    reads: tuple[str, ...]  # dataset.table keys, sorted
    # The column lineage (`infra.checks.columns`): each output column's upstream (table, column)
    # pairs, and every (table, column) the SQL reads anywhere. Empty when the columns were not analysed.
    column_lineage: Mapping[str, frozenset[tuple[str, str]]] = field(default_factory=lambda: MappingProxyType({}))
    column_reads: frozenset[tuple[str, str]] = frozenset()
    # The resolved `CREATE TEMP FUNCTION` statements that `sql` starts with ('' when none).
    temp_functions: str = ""

    @property
    def select(self) -> str:
        """The query's SELECT, after its temporary functions."""
        return self.sql[len(self.temp_functions):]

    @property
    def transfer_display_name(self) -> str:
        """The display name of its Data Transfer Service config: `<layer>/<folder>/<table>`."""
        return f"{self.spec.layer}/{self.spec.folder}/{self.spec.name}"


@dataclass(frozen=True)
class ResolvedRoutine:
    spec: RoutineSpec
    body: str  # with the stack's fully qualified names (a JavaScript body as written)
    reads: tuple[str, ...]  # the dataset.table and dataset.routine keys its body reads and calls, sorted
