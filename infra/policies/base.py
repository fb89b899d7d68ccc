"""What every rule works on: resources as the engine describes them, settings, violations."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from infra.vocabulary import DATASET_TYPE


@dataclass(frozen=True)
class Resource:
    urn: str
    type: str
    name: str
    props: Mapping[str, Any]
    protect: bool = False


@dataclass(frozen=True)
class Settings:
    """Per-stack settings, from the stack file (`warehouse:protect`, `warehouse:policyAdvisory`)."""

    protected: bool
    advisory: frozenset[str] = frozenset()
    allowed_project_roles: tuple[str, ...] = ()
    # Grants no resource of the plan holds: raw sources' owners' (dataset `project.id` -> principal
    # -> READER/WRITER/OWNER), from their declarations.
    external_grants: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    # Who restores tables (the admin role's members): the permission preflight checks their grants.
    restorers: tuple[str, ...] = ()
    # Domains whose groups may write or own datasets (platform/stacks.yaml, not the stack file).
    writer_domains: tuple[str, ...] = ()


@dataclass(frozen=True, order=True)
class Violation:
    rule: str
    urn: str
    message: str
    fix: str
    advisory: bool = False

    def __str__(self) -> str:
        level = "advisory" if self.advisory else "mandatory"
        return f"{self.urn}: [{self.rule}, {level}] {self.message}; fix: {self.fix}"


@dataclass(frozen=True)
class Rule:
    name: str
    description: str
    # A resource rule: (resource, settings) -> messages (each (message, fix)).
    check_resource: Callable[[Resource, Settings], Iterable[tuple[str, str]]] | None = None
    # A stack rule: (resources, settings) -> (urn, message, fix).
    check_stack: Callable[[list[Resource], Settings], Iterable[tuple[str, str, str]]] | None = None
    tags: tuple[str, ...] = field(default=())

    def validate(self, resources: list[Resource], settings: Settings) -> list[Violation]:
        advisory = self.name in settings.advisory
        out = []
        if self.check_resource is not None:
            for r in resources:
                out += [Violation(self.name, r.urn, m, f, advisory) for m, f in self.check_resource(r, settings)]
        if self.check_stack is not None:
            out += [Violation(self.name, u, m, f, advisory) for u, m, f in self.check_stack(resources, settings)]
        return out


def accesses(r: Resource) -> list[Mapping[str, Any]]:
    return list(r.props.get("accesses") or []) if r.type == DATASET_TYPE else []
