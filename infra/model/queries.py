"""A scheduled query or view, resolved for one stack: what the program declares for it.

Built by the query rules (`infra.checks.query_rules`) once every check has passed: the spec from
the files, the SQL with the stack's fully qualified table names, and the tables it reads.

Deliberately not here: the checks themselves, and the Data Transfer Service config built from it
(`infra.resources.components.scheduled_query`).
"""

from __future__ import annotations

from dataclasses import dataclass

from infra.declarations.queries import QuerySpec

# An incremental query replaces the partition of the day before its run: the Data Transfer
# Service's destination template for it (`@run_time` - 24 h, as YYYYMMDD).
INCREMENTAL_PARTITION = 'run_time-24h|"%Y%m%d"'


@dataclass(frozen=True)
class ResolvedQuery:
    spec: QuerySpec
    sql: str  # the SQL with the stack's fully qualified table names
    reads: tuple[str, ...]  # dataset.table keys, sorted

    @property
    def destination_template(self) -> str:
        """The Data Transfer Service destination: the table, or for an incremental query the
        partition of the day before the run (`@run_date` - 1), which it replaces."""
        if self.spec.incremental:
            return f"{self.spec.name}${{{INCREMENTAL_PARTITION}}}"
        return self.spec.name
