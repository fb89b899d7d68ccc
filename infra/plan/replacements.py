"""Changes the provider cannot make in place, between two plans: replacements and refusals.

`replacements.yaml` says, per resource type, which inputs force a replacement (ForceNew in the
provider's schema: delete and create, a dataset's or table's data lost with it) and which changes
BigQuery refuses in place (partitioning added to or removed from a table: the `up` fails
half-way). `changes_not_in_place(old, new)` finds them between two plans (`plan --json`
documents), matched by URN, and says whether the resource holds data (a dataset, a table that is
not a view) and whether the new plan protects it. `plan --diff` marks them; `check --against`
refuses them on protected stateful resources, with how to migrate instead.

A change under the resource's `ignoreChanges` is never one: the engine resets it before it asks
the provider (`ignore_changes.py`).

Deliberately not here: the rest of the diff (`diff.py`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from infra.plan.ignore_changes import effective_inputs

DATA = Path(__file__).with_name("replacements.yaml")
_CASE_INSENSITIVE = {("gcp:bigquery/dataset:Dataset", "location")}


@functools.cache
def rules() -> dict:
    return yaml.safe_load(DATA.read_text(encoding="utf-8"))


@dataclass(frozen=True)
class NotInPlace:
    urn: str
    type: str
    name: str
    kind: str  # "replace" or "refused"
    reasons: tuple[str, ...]  # the inputs, with old -> new
    stateful: bool  # holds data that a replacement loses
    protected: bool  # the new plan protects it
    migrate: str | None  # how to make the change without losing data

    @property
    def sentence(self) -> str:
        what = ("the provider would replace it (delete, then create)" if self.kind == "replace"
                else "BigQuery refuses the change in place: the `up` would fail")
        loss = "; its data would be lost" if self.kind == "replace" and self.stateful else ""
        return f"{self.type} {self.name}: {what} because of {', '.join(self.reasons)}{loss}"


def _value(inputs: Any, path: str) -> Any:
    node = inputs
    for part in path.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def changes_not_in_place(old: dict, new: dict) -> list[NotInPlace]:
    before = {r["urn"]: r for r in old.get("resources", []) if isinstance(r, dict) and "urn" in r}
    out = []
    for r in new.get("resources", []):
        if not isinstance(r, dict) or r.get("urn") not in before:
            continue
        rule = rules().get(r.get("type"))
        if not rule:
            continue
        old_inputs = before[r["urn"]].get("inputs") or {}
        # what the engine diffs: the new inputs with every ignoreChanges path kept as it was
        new_inputs = effective_inputs(old_inputs, r.get("inputs") or {}, r.get("ignoreChanges") or [])
        replaced, refused = [], []
        for path in rule.get("replace", []):
            a, b = _value(old_inputs, path), _value(new_inputs, path)
            same = (a.lower() == b.lower() if (r["type"], path) in _CASE_INSENSITIVE
                    and isinstance(a, str) and isinstance(b, str) else a == b)
            if not same:
                replaced.append(f"{path} {_show(a)} -> {_show(b)}")
        for key, why in (rule.get("refused") or {}).items():
            forced = any(reason.startswith(f"{key}.") for reason in replaced)  # already a replacement
            if not forced and (old_inputs.get(key) is None) != (new_inputs.get(key) is None):
                refused.append(f"{key}: {why}")
        stateful = bool(rule.get("stateful")) and not (r["type"].endswith(":Table") and "view" in new_inputs)
        for kind, reasons in (("replace", replaced), ("refused", refused)):
            if reasons:
                out.append(NotInPlace(r["urn"], r["type"], r.get("name", ""), kind, tuple(reasons), stateful,
                                      bool(r.get("protect")), rule.get("migrate")))
    return out


def _show(value: Any) -> str:
    text = "(absent)" if value is None else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def weakened_protection(old: dict, new: dict) -> list[str]:
    """Resources that the old plan protected and the new one does not (the stack's `protect`
    switched off, or a resource's), one sentence each."""
    before = {r["urn"]: r for r in old.get("resources", []) if isinstance(r, dict) and "urn" in r}
    return [f"{r.get('type')} {r.get('name')}: protected before, not any more"
            for r in new.get("resources", []) if isinstance(r, dict)
            and before.get(r.get("urn"), {}).get("protect") and not r.get("protect")]
