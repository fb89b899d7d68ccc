"""Folder routing: which dataset the queries of a folder write to, from the datasets' `folders:`.

`scheduled_queries/<layer>/<folder>/` holds one folder's queries. The dataset of that layer whose
file lists the folder (`folders: [campaigns]` in a mart dataset) receives them: a query whose own
file and whose folder's `_defaults.yaml` name no `dataset:` writes to it, before the layer's
`_defaults.yaml`. Each problem is reported where it is written:

- two datasets of one layer list the same folder (both listings);
- a listed folder has no directory under `scheduled_queries/<layer>/` (with a did-you-mean);
- a query or a folder's `_defaults.yaml` names another dataset of the layer than the one that lists
  the folder, and a `_defaults.yaml` names a dataset that has no file (`queries.py` reads those
  files and reports both, with what is found here). A dataset of another layer, or no dataset at
  all, named in a query's file is the query rules' to report (with the layer, or a did-you-mean).

Deliberately not here: whether a query's dataset is of its layer, and everything else about
destinations (`checks/query_rules.py`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from infra.declarations.datasets import DatasetSpec
from infra.declarations.keys import suggest
from infra.problems import Problems

QUERIES = "scheduled_queries"


@dataclass(frozen=True)
class Route:
    """The dataset that lists a folder, and where it lists it."""

    dataset: str
    file: str
    line: int | None

    def conflict(self, folder: str, named: str) -> tuple[str, str]:
        """(what, fix) for a `dataset:` that names another dataset than this route's."""
        return (f"{named!r} here, but {self.file} lists folder {folder!r} under `folders:`, so its queries write "
                f"to {self.dataset!r}",
                f"remove `dataset:` (or remove {folder!r} from the `folders:` of {self.file})")


@dataclass(frozen=True)
class Folders:
    """What loading the queries needs to know about the datasets."""

    routes: Mapping[tuple[str, str], Route] = field(default_factory=lambda: MappingProxyType({}))  # (layer, folder)
    datasets: frozenset[str] = frozenset()  # every managed dataset's name (its file's), loaded or not
    layers: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))  # loaded dataset -> its layer

    def conflict(self, route: Route | None, named: str | None) -> bool:
        """Whether `named`, written in a folder's files, is another dataset of the layer than the
        one that lists the folder."""
        return (route is not None and named is not None and named != route.dataset
                and self.layers.get(named) == self.layers.get(route.dataset))


def folder_routes(root: Path, datasets: tuple[DatasetSpec, ...], problems: Problems) -> Folders:
    """The route of every folder that exactly one dataset lists and that exists."""
    listings: dict[tuple[str, str], list[tuple[Route, str]]] = {}
    for d in datasets:
        for i, folder in enumerate(d.folders):
            line = d.folder_lines[i] if i < len(d.folder_lines) else None
            listings.setdefault((d.layer, folder), []).append((Route(d.name, d.file, line), f"folders[{i}]"))
    routes = {}
    for (layer, folder), found in sorted(listings.items()):
        if len(found) > 1:
            for route, key in found:
                others = ", ".join(_where(o) for o, _ in found if o is not route)
                problems.add(route.file, route.line, key,
                             f"folder {folder!r} is also listed by {others}: the queries of "
                             f"{QUERIES}/{layer}/{folder}/ write to one dataset",
                             "keep the folder in the `folders:` of one dataset only")
            continue
        (route, key), = found
        layer_dir = root / QUERIES / layer
        if not (layer_dir / folder).is_dir():
            existing = sorted(p.name for p in layer_dir.iterdir() if p.is_dir()) if layer_dir.is_dir() else []
            problems.add(route.file, route.line, key,
                         f"folder {folder!r} has no directory {QUERIES}/{layer}/{folder}/{suggest(folder, existing)}",
                         f"add its queries under {QUERIES}/{layer}/{folder}/, or remove it from `folders:`")
            continue
        routes[(layer, folder)] = route
    names = frozenset(p.stem for p in (root / "datasets").glob("*.yaml"))
    return Folders(routes=MappingProxyType(routes), datasets=names,
                   layers=MappingProxyType({d.name: d.layer for d in datasets}))


def _where(route: Route) -> str:
    return f"{route.file}:{route.line}" if route.line else route.file
