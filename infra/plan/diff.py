"""Comparing two plans (`plan --diff OLD.json`): added, removed and changed resources.

Resources are matched by URN, which is how the engine matches them: a resource whose logical
name changed shows as one removed and one added, which is exactly the replacement a reviewer
must see. For changed resources every differing input is listed by path with old and new value;
a dataset's ACL (`accesses`) is compared as a set of entries, each added or removed entry shown
as people write it (`+ WRITER group:analysts@acme.com`, see `infra.vocabulary.acl_entry_text`).
A change the provider cannot make in place (`replacements.py`) is marked `replace` (with a
data-loss warning on a dataset or table) or `refused`; a resource that loses its protection is
called out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from infra.plan.replacements import NotInPlace, changes_not_in_place, weakened_protection
from infra.vocabulary import acl_entry_text

_COMPARED = ("inputs", "protect", "parent", "ignoreChanges", "dependencies")
_ACL = "accesses"  # the input holding a dataset's ACL


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
    not_in_place: tuple[NotInPlace, ...] = ()
    unprotected: tuple[str, ...] = ()

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
            old_value, new_value = before[urn].get(key), after[urn].get(key)
            if key == "inputs":
                old_value, new_value, acl = _without_acl(old_value, new_value)
                changes += acl
            _walk(old_value, new_value, key, changes)
        if changes:
            changed.append((after[urn], changes))
    return PlanDiff(added, removed, changed, tuple(changes_not_in_place(old, new)),
                    tuple(weakened_protection(old, new)))


def _without_acl(old: Any, new: Any) -> tuple[Any, Any, list[Change]]:
    """The inputs without `accesses`, and the ACL entries removed (old only) and added (new only)."""
    if not (isinstance(old, dict) and isinstance(new, dict)) or not ({_ACL} & (old.keys() | new.keys())):
        return old, new, []
    before = {acl_entry_text(e) for e in old.get(_ACL) or [] if isinstance(e, dict)}
    after = {acl_entry_text(e) for e in new.get(_ACL) or [] if isinstance(e, dict)}
    path = f"inputs.{_ACL}"
    changes = [Change(path, text, None) for text in sorted(before - after)]
    changes += [Change(path, None, text) for text in sorted(after - before)]
    rest = ({k: v for k, v in old.items() if k != _ACL}, {k: v for k, v in new.items() if k != _ACL})
    return rest[0], rest[1], changes


def _walk(old: Any, new: Any, path: str, out: list[Change]) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(old.keys() | new.keys()):
            _walk(old.get(key), new.get(key), f"{path}.{key}", out)
    elif isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            _walk(a, b, f"{path}[{i}]", out)
    elif old != new:
        out.append(Change(path, old, new))


def render_diff(d: PlanDiff) -> str:
    if d.empty:
        return "No changes against the earlier plan."
    lines = [f"Against the earlier plan: {len(d.added)} to add, {len(d.changed)} to change, "
             f"{len(d.removed)} to remove."]
    for n in d.not_in_place:
        flag = "DATA LOSS" if n.kind == "replace" and n.stateful else ("REFUSED" if n.kind == "refused" else "REPLACE")
        lines.append(f"!! {flag}: {n.sentence}" + ("; it is protected, so the `up` stops" if n.protected else ""))
    for text in d.unprotected:
        lines.append(f"!! PROTECTION WEAKENED: {text}")
    for r in d.added:
        lines.append(f"+ {r['type']} {r['name']}  ({r['urn']})")
    for r in d.removed:
        protected = "  [protected: the engine will refuse]" if r.get("protect") else ""
        lines.append(f"- {r['type']} {r['name']}  ({r['urn']}){protected}")
    marks = {n.urn: n.kind for n in d.not_in_place}
    for r, changes in d.changed:
        mark = {"replace": "+-", "refused": "!~"}.get(marks.get(r["urn"]), "~ ")
        lines.append(f"{mark.strip() if mark != '~ ' else '~'} {r['type']} {r['name']}  ({r['urn']})"
                     + ("  [replace]" if mark == "+-" else "  [refused in place]" if mark == "!~" else ""))
        for c in changes:
            if c.path == f"inputs.{_ACL}":
                lines.append(f"    {c.path}: {'+ ' + c.new if c.new is not None else '- ' + c.old}")
            else:
                lines.append(f"    {c.path}: {_short(c.old)} -> {_short(c.new)}")
    return "\n".join(lines)


def _short(value: Any) -> str:
    text = "(absent)" if value is None else repr(value)
    return text if len(text) <= 120 else text[:117] + "..."
