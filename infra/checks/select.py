"""Selecting tables: which `dataset.table` keys a selector names, in the grammar of dbt's node
selection (docs.getdbt.com, "Syntax overview" and "Graph operators"); our own implementation.

Selectors given as several strings, or separated by spaces in one, are a union; atoms joined by a
comma are an intersection (`layer:mart,changed:main`). An atom is a method and its value, with
optional graph operators around it:

- `mart.revenue_mrr` (a key) or `revenue_mrr` (a table name, when one dataset only has it);
  `*` and `?` match as in file names (`stg_external.stg_stripe_*`);
- `layer:mart`, `dataset:stg_external`, `folder:revenue` (a folder of scheduled_queries, any
  layer's) or `folder:mart/revenue`;
- `changed:REF`: the tables whose declaration files changed since the git commit REF, uncommitted
  and untracked changes included (`changed.py`): a query's .sql and .yaml, a `_defaults.yaml`
  (the queries of its folder), `datasets/<name>.yaml` (its tables), `datasets/sources/<name>.yaml`
  (its raw tables);
- `+atom` adds everything upstream, `atom+` everything downstream, `2+atom` / `atom+1` only that
  many steps (`changed:main+`: what changed and everything it feeds).

`select` is what a command calls. An atom that names nothing (an unknown table, layer, folder or
dataset, with a did-you-mean), a term whose atoms share no table, or a ref git does not know raise
`SelectorError`, one line. `changed:REF` may select nothing: nothing changed is an answer.

A table's files are what it is declared by (the files `changed:` looks for): `check --select`
shows the problems of the selected tables' files, and of changed files that declare no table.

Deliberately not here: running git (`changed.py`), drawing (`lineage.py`), and reporting
(`infra/cli/check_report.py`).
"""

from __future__ import annotations

import dataclasses
import fnmatch
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from infra.checks.changed import GitError, changed_files
from infra.checks.lineage import Lineage
from infra.declarations.datasets import DatasetSpec, SourceSpec
from infra.declarations.keys import suggest
from infra.declarations.queries import DEFAULTS_FILE, QuerySpec
from infra.declarations.routines import RoutineSpec

METHODS = ("layer", "folder", "dataset", "changed")
# [N]+ before the value, +[N] after it; the value in between (a name, or method:value).
_ATOM = re.compile(r"^(?:(?P<up>\d*)\+)?(?P<body>.*?)(?:\+(?P<down>\d*))?$")
_GLOB = re.compile(r"[*?\[]")


class SelectorError(ValueError):
    """A selector that cannot be used; `str()` is one line: `selector 'x': what; fix: how`."""

    def __init__(self, selector: str, what: str, fix: str):
        super().__init__(f"selector {selector!r}: {what}; fix: {fix}")


@dataclass(frozen=True)
class Declared:
    """What selection reads: the lineage (None when no stack file loaded, so no SQL was read), the
    specs of the queries, datasets and raw sources, as loaded, and the query files that failed to
    load (`layer/folder/name` paths without suffix; only when the load found problems, see
    `ProblemsError.declared`: their problems are what `check --select` must still show)."""

    lineage: Lineage | None
    queries: tuple[QuerySpec, ...]
    datasets: tuple[DatasetSpec, ...]
    sources: tuple[SourceSpec, ...]
    unloaded: tuple[str, ...] = ()
    routines: tuple[RoutineSpec, ...] = ()

    @classmethod
    def of(cls, warehouse) -> Declared:
        """From a loaded `infra.model.warehouse.Warehouse`."""
        return cls(warehouse.lineage, tuple(q.spec for q in warehouse.queries),
                   tuple(d.spec for d in warehouse.datasets), tuple(s.spec for s in warehouse.sources),
                   routines=tuple(r.spec for r in warehouse.routines))

    @classmethod
    def after_problems(cls, root: Path, lineage: Lineage | None, queries: tuple[QuerySpec, ...],
                       datasets: tuple[DatasetSpec, ...], sources: tuple[SourceSpec, ...]) -> Declared:
        """From a load that found problems: also the query files under `root` that did not load."""
        base = root / "scheduled_queries"
        found = {p.with_suffix("").relative_to(base).as_posix() for p in base.glob("*/*/*")
                 if p.suffix in (".sql", ".yaml") and p.name != DEFAULTS_FILE and p.is_file()}
        loaded = {PurePosixPath(q.file).with_suffix("").relative_to("scheduled_queries").as_posix() for q in queries}
        return cls(lineage, queries, datasets, sources, tuple(sorted(found - loaded)))


@dataclass(frozen=True)
class Selection:
    keys: frozenset[str]  # the selected `dataset.table` keys
    files: frozenset[str]  # the files declaring them, and changed files that declare no table
    changed: frozenset[str]  # the keys a `changed:` atom found changed (before `+`), to highlight
    unloaded: frozenset[str] = frozenset()  # selected query files that failed to load (`Declared.unloaded`)


def select(warehouse, selectors: Iterable[str], root: Path | None = None) -> frozenset[str]:
    """The `dataset.table` keys of a loaded warehouse that `selectors` select. `root` is the
    project's checkout, needed by `changed:` only. Raises `SelectorError`."""
    return selection(Declared.of(warehouse), selectors, root).keys


def changed_keys(declared: Declared, root: Path, ref: str) -> frozenset[str]:
    """The keys whose declaration files changed since the commit `ref` (`graph --changed`)."""
    graph = _Graph(declared, root)
    return frozenset(k for k in graph.changed(f"changed:{ref}", ref)[0] if graph.nodes[k].loaded)


def selection(declared: Declared, selectors: Iterable[str], root: Path | None = None) -> Selection:
    """The keys, their files and the changed keys that `selectors` select. Raises `SelectorError`."""
    terms = [term for s in selectors for term in s.split()]
    if not terms:
        raise SelectorError("", "selects nothing", "name a table, or use layer:, folder:, dataset: or changed:")
    graph = _Graph(declared, root)
    ids: set[str] = set()
    for term in terms:
        atoms = term.split(",")
        found = [graph.atom(a) for a in atoms]
        chosen = set.intersection(*(set(f) for f in found))
        if not chosen and not any(a.lstrip("0123456789+").startswith("changed:") for a in atoms):
            raise SelectorError(term, "no table is selected by all of " + ", ".join(atoms),
                                "separate them with a space to select what any of them selects")
        ids |= chosen
    files = set(graph.loose)
    for node_id in ids:
        files |= graph.nodes[node_id].files
    loaded = {i for i in ids if graph.nodes[i].loaded}
    return Selection(frozenset(loaded), frozenset(files),
                     frozenset(k for k in graph.changed_found if graph.nodes[k].loaded), frozenset(ids - loaded))


@dataclass(frozen=True)
class _Node:
    key: str  # `dataset.table`; for a query file that did not load, its path `layer/folder/name`
    layer: str
    folder: str | None  # `layer/folder` of its query's files; None for a raw source's table
    dataset: str | None  # None for a query file that did not load (its dataset is unknown)
    table: str
    files: frozenset[str]

    @property
    def loaded(self) -> bool:
        return self.dataset is not None


class _Graph:
    """The tables, their files, and the lineage's edges between them, indexed for selection."""

    def __init__(self, declared: Declared, root: Path | None):
        self.root = root
        self.nodes: dict[str, _Node] = {}
        lineage = declared.lineage
        dataset_layer = {d.name: d.layer for d in declared.datasets}
        dataset_file = {d.name: d.file for d in declared.datasets}
        for source in declared.sources:
            for table in source.tables:
                self._add(_Node(f"{source.name}.{table}", "source", None, source.name, table,
                                frozenset({source.file})))
        for q in declared.queries:
            known = lineage.nodes.get(q.key) if lineage is not None else None
            layer = known.layer if known is not None else dataset_layer.get(q.dataset, q.layer)
            files = _query_files(q.file, q.sql_file) | {dataset_file.get(q.dataset, f"datasets/{q.dataset}.yaml")}
            self._add(_Node(q.key, layer, f"{q.layer}/{q.folder}", q.dataset, q.name, files))
        for r in declared.routines:  # a routine: its dataset's layer, no folder
            self._add(_Node(r.key, dataset_layer.get(r.dataset, "mart"), None, r.dataset, r.name,
                            frozenset({r.file, r.body_file})))
        for path in declared.unloaded:
            layer, folder, name = path.split("/")
            base = f"scheduled_queries/{path}"
            self._add(_Node(path, layer, f"{layer}/{folder}", None, name, _query_files(base + ".yaml", base + ".sql")))
        self.up: dict[str, set[str]] = {k: set() for k in self.nodes}
        self.down: dict[str, set[str]] = {k: set() for k in self.nodes}
        for key, reads in (lineage.upstream.items() if lineage is not None else ()):
            for read in reads:
                if key in self.nodes and read in self.nodes:
                    self.up[key].add(read)
                    self.down[read].add(key)
        self.by_file: dict[str, set[str]] = {}
        for node in self.nodes.values():
            for file in node.files:
                self.by_file.setdefault(file, set()).add(node.key)
        self.loose: set[str] = set()  # changed files that declare no table
        self.changed_found: set[str] = set()
        self._changed_files: dict[str, frozenset[str]] = {}

    def _add(self, node: _Node) -> None:
        before = self.nodes.get(node.key)  # a destination declared twice (a problem): both files
        self.nodes[node.key] = node if before is None else dataclasses.replace(node, files=before.files | node.files)

    def atom(self, atom: str) -> set[str]:
        m = _ATOM.match(atom)
        body = m.group("body") if m else ""
        if not body:
            raise SelectorError(atom, "names nothing", "write a table name, or layer:, folder:, dataset: or changed:")
        method, colon, value = body.partition(":")
        if not colon:
            method, value = "", body
        elif method not in METHODS:
            raise SelectorError(atom, f"unknown method {method!r}{suggest(method, METHODS)}",
                                f"use one of {', '.join(m + ':' for m in METHODS)} or a table name")
        if not value:
            raise SelectorError(atom, f"{method}: needs a value", f"write {method}:<value>, e.g. {_EXAMPLES[method]}")
        keys = self._match(atom, method, value)
        up, down = m.group("up"), m.group("down")
        out = set(keys)
        if up is not None:
            out |= self._walk(keys, self.up, int(up) if up else None)
        if down is not None:
            out |= self._walk(keys, self.down, int(down) if down else None)
        return out

    def _match(self, atom: str, method: str, value: str) -> set[str]:
        if method == "changed":
            keys, loose = self.changed(atom, value)
            self.loose |= loose
            self.changed_found |= keys
            return set(keys)
        if method == "":
            return self._names(atom, value)
        values = {"layer": lambda n: {n.layer}, "dataset": lambda n: {n.dataset} if n.dataset else set(),
                  "folder": lambda n: {n.folder, n.folder.split("/")[1]} if n.folder else set()}[method]
        keys = {k for k, n in self.nodes.items() if value in values(n)}
        if not keys:
            known = sorted(set().union(*(values(n) for n in self.nodes.values())))
            raise SelectorError(atom, f"no table has {method} {value!r}{suggest(value, known)}",
                                f"use one of: {', '.join(known)}")
        return keys

    def _names(self, atom: str, name: str) -> set[str]:
        if _GLOB.search(name):
            keys = {k for k, n in self.nodes.items()
                    if fnmatch.fnmatchcase(k, name) or fnmatch.fnmatchcase(n.table, name)}
            if not keys:
                raise SelectorError(atom, "matches no table", "check the pattern against `graph`'s names")
            return keys
        if name in self.nodes and self.nodes[name].loaded:
            return {name}
        tables: dict[str, list[str]] = {}
        for key, node in self.nodes.items():
            tables.setdefault(node.table, []).append(key)
        _, dot, table = name.rpartition(".")
        unloaded = [k for k in tables.get(table, ()) if not self.nodes[k].loaded]
        if dot and unloaded:  # `mart.core_users` whose YAML did not load: its dataset is unknown
            return set(unloaded)
        if not dot and table in tables:
            if len(tables[table]) > 1:
                raise SelectorError(atom, f"is a table of several datasets: {', '.join(sorted(tables[table]))}",
                                    "write dataset.table")
            return set(tables[table])
        options = sorted(k for k, n in self.nodes.items() if n.loaded) if dot else sorted(tables)
        raise SelectorError(atom, f"there is no table {name!r}{suggest(name, options)}",
                            "write dataset.table or a table name that `graph` shows")

    def changed(self, atom: str, ref: str) -> tuple[frozenset[str], frozenset[str]]:
        """(the keys whose files changed since `ref`, the changed files that declare no table)."""
        if self.root is None:
            raise SelectorError(atom, "changed: needs the project's git checkout", "select without changed:")
        if ref not in self._changed_files:
            try:
                self._changed_files[ref] = changed_files(self.root, ref)
            except GitError as exc:
                raise SelectorError(atom, exc.what, exc.fix) from None
        files = self._changed_files[ref]
        keys = frozenset(k for f in files for k in self.by_file.get(f, ()))
        return keys, frozenset(f for f in files if f not in self.by_file)

    @staticmethod
    def _walk(start: set[str], edges: dict[str, set[str]], depth: int | None) -> set[str]:
        """What `start` reaches along `edges` in at most `depth` steps (None: any number)."""
        seen: set[str] = set()
        frontier = set(start)
        step = 0
        while frontier and (depth is None or step < depth):
            frontier = {n for k in frontier for n in edges[k]} - seen - start
            seen |= frontier
            step += 1
        return seen


def _query_files(yaml_file: str, sql_file: str) -> frozenset[str]:
    """A query's files: its YAML and SQL, and the defaults of its folder and of its layer."""
    folder = PurePosixPath(yaml_file).parent
    return frozenset({yaml_file, sql_file, str(folder / DEFAULTS_FILE), str(folder.parent / DEFAULTS_FILE)})


_EXAMPLES = {"layer": "layer:mart", "folder": "folder:revenue", "dataset": "dataset:stg_external",
             "changed": "changed:main"}
