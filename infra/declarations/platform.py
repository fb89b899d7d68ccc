"""The platform team's decisions about each stack: `platform/stacks.yaml`.

Which stacks are protected, and which security rules a stack may make advisory, must not be
decided by the stack file under review: one pull request could then switch the rules off and
break them. So they come from the stack's name and from `platform/stacks.yaml`, which
`.github/CODEOWNERS` gives to the platform team. `apply_platform` takes a stack's config as its
file says it and:

- protects the stack when its name says production (`prod`, `production`, `prod-...`), when the
  platform file protects it, or when the platform file does not list it at all; a stack file that
  says `warehouse:protect: false` for such a stack is a problem, not silently obeyed;
- refuses each rule under `warehouse:policyAdvisory` that the platform file does not allow for
  that stack;
- hands on the repository-wide lists: the domains whose groups may write (`writer_domains`, for
  the security rules) and the table functions allowed in SQL (`allowed_table_functions`).

`check_stack_overlap` refuses two stacks that would manage the same datasets (one project and one
dataset prefix): each `up` would take the other's datasets for its own.

Deliberately not here: what protection and advisory rules do (the model, `infra/policies/`).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from infra.declarations.files import load_file
from infra.declarations.keys import Field, read_mapping
from infra.declarations.stack import NAMESPACE, StackConfig, load_stack_file
from infra.problems import Problems

PLATFORM_FILE = "platform/stacks.yaml"
PRODUCTION_NAME = re.compile(r"^(prod|production)([-_].+)?$")
STACK_FIELDS = (
    Field("protect", bool, required=True, example="true"),
    Field("advisory_allowed", list, default=[], item=str, unique=True, example="[emails-lowercase]"),
)


@dataclass(frozen=True)
class PlatformRules:
    protect: bool
    advisory_allowed: frozenset[str]
    listed: bool  # the platform file names the stack


TOP_FIELDS = (
    Field("writer_domains", list, default=[], item=str, unique=True, example="[acme.com]"),
    Field("allowed_table_functions", list, default=[], item=str, unique=True, example="[EXTERNAL_QUERY]"),
    Field("stacks", dict, required=True, example="{prod: {protect: true, advisory_allowed: []}}"),
)


@dataclass(frozen=True)
class Platform:
    stacks: Mapping[str, PlatformRules]
    writer_domains: tuple[str, ...]
    allowed_table_functions: tuple[str, ...]


def load_platform(root: Path, problems: Problems) -> Platform:
    empty = Platform({}, (), ())
    path = root / PLATFORM_FILE
    if not path.is_file():
        problems.add(PLATFORM_FILE, None, "", "the platform file is missing",
                     "restore platform/stacks.yaml (the platform team's list of protected stacks)")
        return empty
    doc = load_file(path, PLATFORM_FILE, problems)
    if doc is None:
        return empty
    top = read_mapping(doc, (), doc.data, TOP_FIELDS, problems, "the platform file")
    if top is None or top.rejected:
        return empty
    stacks = top["stacks"]
    out = {}
    for name, raw in stacks.items():
        v = read_mapping(doc, ("stacks", name), raw, STACK_FIELDS, problems, "a stack's rules")
        if v is not None and not v.rejected:
            out[name] = PlatformRules(v["protect"], frozenset(v["advisory_allowed"]), True)
    return Platform(out, tuple(str(d).lower() for d in top["writer_domains"]),
                    tuple(str(f).upper() for f in top["allowed_table_functions"]))


def apply_platform(root: Path, config: StackConfig, problems: Problems,
                   lines: Mapping[str, int | None] | None = None) -> StackConfig:
    """`config` with the protection the platform decides; a problem for each thing the stack file
    tried to lower."""
    lines = lines or {}
    platform = load_platform(root, problems)
    rules = platform.stacks.get(config.stack) or PlatformRules(protect=True, advisory_allowed=frozenset(), listed=False)
    by_name = bool(PRODUCTION_NAME.match(config.stack))
    protect = rules.protect or by_name
    if protect and not config.protect:
        why = ("its name says production" if by_name else
               f"{PLATFORM_FILE} protects it" if rules.listed else f"{PLATFORM_FILE} does not list it")
        problems.add(config.file, lines.get(f"{NAMESPACE}:protect"), f"{NAMESPACE}:protect",
                     f"stack {config.stack} is protected ({why}); its stack file cannot switch that off",
                     f"set `{NAMESPACE}:protect: true` (the platform team decides in {PLATFORM_FILE})")
    for rule in config.policy_advisory:
        if rule not in rules.advisory_allowed:
            allowed = ", ".join(sorted(rules.advisory_allowed)) or "none"
            problems.add(config.file, lines.get(f"{NAMESPACE}:policyAdvisory"), f"{NAMESPACE}:policyAdvisory",
                         f"rule {rule!r} may not be advisory in stack {config.stack} (allowed: {allowed})",
                         f"remove it; the platform team decides in {PLATFORM_FILE}")
    return dataclasses.replace(config, protect=protect or config.protect, writer_domains=platform.writer_domains,
                               allowed_table_functions=platform.allowed_table_functions)


def check_stack_overlap(root: Path, config: StackConfig, problems: Problems) -> None:
    for path in sorted(root.glob("Pulumi.*.yaml")):
        other = path.name[len("Pulumi."):-len(".yaml")]
        if other == config.stack:
            continue
        theirs = load_stack_file(root, other, Problems())  # its own problems are its own check's
        if theirs is not None and (theirs.project, theirs.dataset_prefix) == (config.project, config.dataset_prefix):
            problems.add(config.file, None, f"{NAMESPACE}:datasetPrefix",
                         f"stack {other} manages the same datasets (project {config.project}, prefix "
                         f"{config.dataset_prefix!r}): each `up` would take the other's datasets",
                         "give each stack its own project, or at least its own dataset prefix")
