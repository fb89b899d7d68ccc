"""Comparing two plans (`plan --diff OLD.json`): added, removed and changed resources.

Resources are matched by URN, which is how the engine matches them: a resource whose logical
name changed shows as one removed and one added, which is exactly the replacement a reviewer
must see. For changed resources every differing input is listed by path with old and new value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

_COMPARED = ("inputs", "protect", "parent", "ignoreChanges", "dependencies")


@dataclass(frozen=True)
class Change:
    path: str
    old: Any
    new: Any


@dataclass(frozen=True)
class PlanDiff:
    added: list[dict]
    removed: list[dict]
    changed: list[tuple[dict, list[Change]]]

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)


def diff_plans(old: dict, new: dict) -> PlanDiff:
    before = {r["urn"]: r for r in old.get("resources", [])}
    after = {r["urn"]: r for r in new.get("resources", [])}
    added = [after[u] for u in sorted(after.keys() - before.keys())]
    removed = [before[u] for u in sorted(before.keys() - after.keys())]
    changed = []
    for urn in sorted(before.keys() & after.keys()):
        changes: list[Change] = []
        for key in _COMPARED:
            _walk(before[urn].get(key), after[urn].get(key), key, changes)
        if changes:
            changed.append((after[urn], changes))
    return PlanDiff(added, removed, changed)


def _walk(old: Any, new: Any, path: str, out: list[Change]) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(old.keys() | new.keys()):
            _walk(old.get(key), new.get(key), f"{path}.{key}", out)
    elif isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for i, (a, b) in enumerate(zip(old, new)):
            _walk(a, b, f"{path}[{i}]", out)
    elif old != new:
        out.append(Change(path, old, new))


def render_diff(d: PlanDiff) -> str:
    if d.empty:
        return "No changes against the earlier plan."
    lines = [f"Against the earlier plan: {len(d.added)} to add, {len(d.changed)} to change, "
             f"{len(d.removed)} to remove."]
    for r in d.added:
        lines.append(f"+ {r['type']} {r['name']}  ({r['urn']})")
    for r in d.removed:
        protected = "  [protected: the engine will refuse]" if r.get("protect") else ""
        lines.append(f"- {r['type']} {r['name']}  ({r['urn']}){protected}")
    for r, changes in d.changed:
        lines.append(f"~ {r['type']} {r['name']}  ({r['urn']})")
        for c in changes:
            lines.append(f"    {c.path}: {_short(c.old)} -> {_short(c.new)}")
    return "\n".join(lines)


def _short(value: Any) -> str:
    text = "(absent)" if value is None else repr(value)
    return text if len(text) <= 120 else text[:117] + "..."
