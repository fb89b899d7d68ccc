"""Comparing two plans (`plan --diff OLD.json`, `plan --base REF`): what a reviewer must read.

Resources are matched by URN, which is how the engine matches them: a resource whose logical
name changed shows as one removed and one added, which is exactly the replacement a reviewer
must see.

- An added resource shows every input, readable and whole (`diff_values.listed_sections`: the
  ACL entry by entry, the schema column by column, SQL whole).
- A removed resource shows its protection (the engine refuses to delete a protected one).
- A changed resource shows each differing input as a section (`diff_values.changed_sections`:
  `+ WRITER group:...`, `~ column z: type STRING -> INT64`, SQL as a unified diff, any other
  value whole) and each differing option (protect, parent, dependencies, ignoreChanges, ...).
  What its `ignoreChanges` covers is computed as the engine does (`ignore_changes.py`): the part
  Pulumi applies is old -> effective inputs, the part it ignores is effective -> new, in sections
  marked ignored. A resource whose only changes are ignored is not a change Pulumi makes.
- A change the provider cannot make in place (`replacements.py`) marks the resource `replace`
  or `refused`, and every resource that loses its protection is named.

Deliberately not here: laying it out (`diff_render.py`), reading plan files and refusing plans
of another stack (`infra/cli/plan.py`), building the earlier plan from git (`base_ref.py`).
"""

from __future__ import annotations

from dataclasses import dataclass

from infra.plan.diff_values import Section, changed_sections, listed_sections
from infra.plan.ignore_changes import effective_inputs
from infra.plan.replacements import NotInPlace, changes_not_in_place, weakened_protection

# The options compared besides the inputs, with the value a plan that lacks one means.
OPTIONS = {"protect": False, "parent": None, "dependencies": [], "ignoreChanges": [],
           "deleteBeforeReplace": False, "retainOnDelete": False}


@dataclass(frozen=True)
class ResourceDiff:
    kind: str  # "add", "remove" or "change"
    resource: dict  # as the new plan has it (the old plan, when removed)
    sections: tuple[Section, ...] = ()  # a change's ignored sections come last, marked
    mark: str | None = None  # "replace" or "refused": the provider cannot change it in place

    @property
    def applied(self) -> bool:
        """Pulumi would do something: create, delete, or change an input it does not ignore."""
        return self.kind != "change" or any(not s.ignored for s in self.sections)


@dataclass(frozen=True)
class PlanDiff:
    resources: tuple[ResourceDiff, ...]
    not_in_place: tuple[NotInPlace, ...] = ()
    unprotected: tuple[str, ...] = ()

    def of(self, kind: str) -> list[ResourceDiff]:
        return [r for r in self.resources if r.kind == kind]

    @property
    def changed(self) -> list[ResourceDiff]:
        """Changed resources Pulumi updates or replaces (not those whose changes it all ignores)."""
        return [r for r in self.of("change") if r.applied]

    @property
    def ignored_only(self) -> list[ResourceDiff]:
        return [r for r in self.of("change") if not r.applied]

    @property
    def empty(self) -> bool:
        """The two plans declare the same resources with the same inputs and options."""
        return not self.resources

    @property
    def has_changes(self) -> bool:
        """Pulumi would change something (what `--detailed-exitcode` exits 2 for)."""
        return any(r.applied for r in self.resources)


def diff_plans(old: dict, new: dict) -> PlanDiff:
    before = {r["urn"]: r for r in old.get("resources", [])}
    after = {r["urn"]: r for r in new.get("resources", [])}
    not_in_place = tuple(changes_not_in_place(old, new))
    marks = {n.urn: n.kind for n in not_in_place}
    out = [ResourceDiff("add", after[u], tuple(listed_sections(after[u]["type"], after[u].get("inputs") or {})))
           for u in sorted(after.keys() - before.keys())]
    out += [ResourceDiff("remove", before[u]) for u in sorted(before.keys() - after.keys())]
    for urn in sorted(before.keys() & after.keys()):
        sections = resource_changes(before[urn], after[urn])
        if sections:
            out.append(ResourceDiff("change", after[urn], tuple(sections), marks.get(urn)))
    return PlanDiff(tuple(out), not_in_place, tuple(weakened_protection(old, new)))


def resource_changes(old: dict, new: dict) -> list[Section]:
    """The sections of one resource's changes: inputs Pulumi applies, options, then the inputs
    its `ignoreChanges` keeps as they were (marked ignored)."""
    rtype = new.get("type")
    old_inputs, new_inputs = old.get("inputs") or {}, new.get("inputs") or {}
    effective = effective_inputs(old_inputs, new_inputs, new.get("ignoreChanges") or [])
    applied = changed_sections(rtype, old_inputs, effective)
    for key, default in OPTIONS.items():
        applied += changed_sections(None, old.get(key, default), new.get(key, default), f"option {key}")
    ignored = [Section(s.title, s.lines, ignored=True) for s in changed_sections(rtype, effective, new_inputs)]
    return applied + ignored

