"""Problems found in the declarations, reported one line each.

Every loader and check reports what it rejects as a `Problem`: the file (and line where known),
the key, what is wrong and how to fix it. Loaders collect problems instead of stopping at the
first one, so a single `check` run lists everything a pull request must fix. When any problem is
found, `ProblemsError` carries all of them; nothing downstream (the Pulumi program, the plan)
runs on a model that has problems.

Deliberately not here: warnings. A declaration is either valid or it is not.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Problem:
    file: str
    line: int | None
    key: str
    what: str
    fix: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        key = f" {self.key}:" if self.key else ""
        return f"{where}:{key} {self.what}; fix: {self.fix}"


class ProblemsError(Exception):
    """Raised with every problem found; `str()` is one line per problem. `declared`, when the
    loader sets it, is what the files declared despite the problems (`infra.checks.select.Declared`),
    so that a report can still be narrowed to a selection of tables (`check --select`)."""

    def __init__(self, problems: Iterable[Problem], declared: object | None = None):
        self.problems = tuple(sorted(set(problems), key=_sort_key))
        self.declared = declared
        super().__init__("\n".join(str(p) for p in self.problems))


def _sort_key(p: Problem) -> tuple:
    return (p.file, p.line or 0, p.key, p.what)


class Problems:
    """A collector: `add` problems while loading, `raise_if_any` at the boundary."""

    def __init__(self) -> None:
        self._items: list[Problem] = []

    def add(self, file: str, line: int | None, key: str, what: str, fix: str) -> None:
        self._items.append(Problem(file, line, key, what, fix))

    def extend(self, problems: Iterable[Problem]) -> None:
        self._items.extend(problems)

    def __bool__(self) -> bool:
        return bool(self._items)

    def __iter__(self) -> Iterator[Problem]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def raise_if_any(self, declared: object | None = None) -> None:
        if self._items:
            raise ProblemsError(self._items, declared)
