"""Who reads a table or a column downstream, and which changes of a contract break them.

`downstream()` walks the column lineage the query rules keep on every resolved query
(`ResolvedQuery.column_reads` and `.column_lineage`): the tables and views that read a column,
then those that read the columns computed from it, and so on. Outside the warehouse, a dataset is
read by the tools whose roles grant it READER by name (a sync tool's account, the BI tools of
`reporting_reader`) and by a sync dataset's `sync_tool`: they read every column of every table in
it, so they are readers of whatever reaches it.

`breaking_changes()` compares the contracts of an earlier version of the declarations (a git ref)
with the current ones: a column removed, renamed or retyped, or a table removed, that something
read in the earlier version is a problem naming each reader. A column the earlier version marked
`deprecated:` may go: that is how a tool is told first and the column removed later.

Deliberately not here: resolving columns (`infra.checks.columns`) and reading a git ref (the CLI).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from infra.declarations.columns import Column
from infra.model.warehouse import Warehouse
from infra.problems import Problem


@dataclass(frozen=True, order=True)
class Reader:
    depth: int  # 1: reads the table itself; 2: reads what a direct reader computes from it; ...
    name: str  # dataset.table, or the tool
    kind: str  # table, view or tool
    columns: tuple[str, ...] = ()  # the columns of what it reads that it reads (empty: every column)
    via: str = ""  # the table or view it reads

    def __str__(self) -> str:
        what = f"{self.via}.{', '.join(self.columns)}" if self.columns else self.via
        return f"{self.kind} {self.name} (reads {what})"


def external_readers(warehouse: Warehouse, dataset_name: str) -> list[str]:
    """The tools that read a dataset from outside the warehouse: its sync tool, and each role that
    grants it READER by name (not by layer: those are people, who read everything of a layer)."""
    dataset = next((d for d in warehouse.datasets if d.name == dataset_name), None)
    out = [f"sync tool {dataset.spec.sync_tool}"] if dataset is not None and dataset.spec.sync_tool else []
    for role in warehouse.roles:
        if any(g.role == "READER" and dataset_name in g.datasets for g in role.spec.grants):
            out.append(f"role {role.name} ({role.spec.title})")
    return out


def downstream(warehouse: Warehouse, table: str, column: str | None = None) -> list[Reader]:
    """Every reader of `table` (or of one of its columns), direct or through what it computes."""
    readers: dict[tuple[str, str], Reader] = {}
    queue: deque[tuple[str, str | None, int]] = deque([(table, column, 1)])
    seen: set[tuple[str, str | None]] = set()
    while queue:
        key, col, depth = queue.popleft()
        if (key, col) in seen:
            continue
        seen.add((key, col))
        for tool in external_readers(warehouse, key.partition(".")[0]):
            _keep(readers, Reader(depth, tool, "tool", (col,) if col else (), key))
        for q in warehouse.queries:
            if key not in q.reads:
                continue
            if col is None:
                _keep(readers, Reader(depth, q.spec.key, q.spec.kind, (), key))
                queue.append((q.spec.key, None, depth + 1))
                continue
            if q.column_reads and not _names(q.column_reads, key, col):
                continue
            _keep(readers, Reader(depth, q.spec.key, q.spec.kind, (col,), key))
            derived = [o for o, sources in q.column_lineage.items() if _names(sources, key, col)]
            for output in derived if q.column_reads else [None]:
                queue.append((q.spec.key, output, depth + 1))
    return sorted(readers.values())


def _names(pairs, key: str, column: str) -> bool:
    """Whether `(key, column)` is among the (table, column) pairs, the column's case aside: BigQuery
    column names are case-insensitive and the lineage has them as sqlglot normalizes them."""
    return (key, column) in pairs or any(k == key and c.lower() == column.lower() for k, c in pairs)


def _keep(readers: dict[tuple[str, str], Reader], reader: Reader) -> None:
    """One entry per reader and table read, at its shortest depth, with every column it reads."""
    old = readers.get((reader.name, reader.via))
    if old is None:
        readers[(reader.name, reader.via)] = reader
    elif old.columns and reader.columns:
        readers[(reader.name, reader.via)] = Reader(min(old.depth, reader.depth), old.name, old.kind,
                                                    tuple(sorted(set(old.columns) | set(reader.columns))), old.via)


@dataclass(frozen=True)
class ContractChange:
    table: str
    file: str  # the current YAML of the table (or the earlier one, when the table is gone)
    column: str | None  # None: the whole table is gone
    what: str


def contract_changes(before: Warehouse, after_columns: dict[str, tuple[str, tuple[Column, ...]]]
                     ) -> list[ContractChange]:
    """What changed between the earlier contracts and `after_columns` ({table: (file, columns)})
    that can break a reader: columns removed, renamed or retyped, tables removed."""
    out = []
    for q in before.queries:
        key = q.spec.key
        if key not in after_columns:
            out.append(ContractChange(key, q.spec.file, None, f"{key} is no longer built"))
            continue
        file, columns = after_columns[key]
        now = {c.name.lower(): c for c in columns}
        old = list(q.spec.columns)
        added = [c for c in columns if c.name.lower() not in {o.name.lower() for o in old}]
        for position, column in enumerate(old):
            new = now.get(column.name.lower())
            if new is None:
                if column.deprecated:
                    continue
                renamed = next((c for c in added if c.type == column.type and
                                list(columns).index(c) == position), None)
                how = f"renamed to {renamed.name}" if renamed else "removed"
                out.append(ContractChange(key, file, column.name, f"column {column.name} of {key} is {how}"))
            elif new.sql_type.lower() != column.sql_type.lower():  # the type, array-ness and STRUCT fields
                out.append(ContractChange(key, file, column.name, f"column {column.name} of {key} changes from "
                                          f"{column.sql_type} {column.mode} to {new.sql_type} {new.mode}"))
    return out


def breaking_changes(before: Warehouse, after: Warehouse | None,
                     after_columns: dict[str, tuple[str, tuple[Column, ...]]]) -> list[Problem]:
    """One problem per contract change that something read in `before` and still reads in `after`
    (None when the current declarations did not load: every earlier reader is assumed to remain)."""
    out = []
    for change in contract_changes(before, after_columns):
        readers = [r for r in downstream(before, change.table, change.column) if r.depth == 1]
        readers = [r for r in readers if _still_reads(after, r, change)]
        if not readers:
            continue
        names = "; ".join(str(r) for r in readers)
        out.append(Problem(change.file, None, "columns", f"breaking change: {change.what}, and it is read by {names}",
                           "keep the column (add the new one beside it) until every reader has moved; for a tool, "
                           "mark it `deprecated: <why, what replaces it>` in one change and remove it in a later one"))
    return out


def _still_reads(after: Warehouse | None, reader: Reader, change: ContractChange) -> bool:
    if after is None or reader.kind == "tool":
        return True
    query = after.query(reader.name)
    if query is None:
        return False  # the reader is gone too
    if change.column is None or not query.column_reads:
        return change.table in query.reads
    return (change.table, change.column) in query.column_reads
