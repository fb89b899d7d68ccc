"""Per-environment values: one `Pulumi.<stack>.yaml` per stack, parsed once into `StackConfig`.

A stack file holds only what differs between environments: the GCP project, the BigQuery
location, the dataset-name prefix (prod is `production_`, so prod ids are exactly the existing
ones), the service-account prefix, whether stateful resources are protected, and who belongs to
each role. Everything else lives in the declaration files.

The same parser serves both ways the values arrive: from the YAML file itself (`check`, `plan`;
with line numbers) and from Pulumi's runtime config inside `pulumi preview`/`up`, where the
language host hands over strings (objects JSON-encoded, booleans as "true"/"false").

Deliberately not here: checking members against roles (which roles exist is only known once
`roles/` is loaded; see `warehouse.py`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from infra.declarations.files import Doc, load_file
from infra.declarations.keys import describe, suggest, type_ok
from infra.declarations.principals import Principal, PrincipalError, parse_principal
from infra.problems import Problems
from infra.vocabulary import LABEL_KEY, LOCATION, PROJECT_ID, PROJECT_ID_HELP

NAMESPACE = "warehouse"


@dataclass(frozen=True)
class Key:
    name: str
    kind: type
    required: bool
    pattern: str | None
    example: str
    help: str


KEYS: tuple[Key, ...] = (
    Key("environment", str, True, LABEL_KEY.pattern, "prod",
        "the environment label put on every resource"),
    Key("location", str, True, LOCATION.pattern, "US",
        "the BigQuery location of the warehouse datasets (US, EU or a region such as europe-west1)"),
    Key("datasetPrefix", str, True, r"^[a-z][a-z0-9_]{0,29}$", "production_",
        "prefix of every managed dataset id (prod: production_)"),
    Key("serviceAccountPrefix", str, False, r"^$|^[a-z][a-z0-9-]{0,9}$", "wh-",
        "prefix of the service accounts this project creates (at most 10 characters)"),
    Key("protect", bool, True, None, "true",
        "protect stateful resources (datasets, tables) against deletion"),
    Key("members", dict, True, None, "{data_analyst: [group:analysts@acme.com]}",
        "who belongs to each role (role file name -> list of principals)"),
    Key("projectNumber", str, True, r"^[0-9]{6,20}$", "'123456789012'",
        "the project's number (quoted), which names the Data Transfer Service agent"),
    Key("policyAdvisory", list, False, None, "[emails-lowercase]",
        "security rules that only warn in this stack (see docs/security.md)"),
    Key("sourceProject", str, False, PROJECT_ID.pattern, "acme-warehouse-prod",
        "the project holding the raw source datasets, when not the stack's own"),
    Key("sourceProjects", dict, False, None, "{stripe: acme-billing-prod}",
        "the project of each raw source whose project differs per stack (source name -> project id)"),
)
KEYS_BY_NAME = {k.name: k for k in KEYS}


@dataclass(frozen=True)
class StackConfig:
    stack: str
    file: str
    project: str
    environment: str
    location: str
    dataset_prefix: str
    service_account_prefix: str
    protect: bool
    source_project: str
    project_number: str
    policy_advisory: tuple[str, ...]
    # role name -> principals, with the line of each principal in the stack file (0 if unknown)
    members: Mapping[str, tuple[tuple[Principal, int], ...]]
    # From platform/stacks.yaml (infra.declarations.platform), never from the stack file:
    writer_domains: tuple[str, ...] = ()  # whose groups may be WRITER or OWNER
    allowed_table_functions: tuple[str, ...] = ()  # EXTERNAL_QUERY and the like, allowed in SQL
    # raw source name -> (its project in this stack, the line in the stack file): `sourceProjects`
    source_projects: Mapping[str, tuple[str, int]] = field(default_factory=lambda: MappingProxyType({}))

    def project_of_source(self, name: str, declared: str | None = None) -> str:
        """The project holding raw source `name` in this stack: the stack file's
        `sourceProjects.<name>`, else the source file's `project:` (`declared`), else the stack's
        `sourceProject`, else the stack's own project."""
        if name in self.source_projects:
            return self.source_projects[name][0]
        return declared or self.source_project


def stack_file_name(stack: str) -> str:
    return f"Pulumi.{stack}.yaml"


def load_stack_file(root: Path, stack: str, problems: Problems) -> StackConfig | None:
    """Read `Pulumi.<stack>.yaml` from the project root."""
    name = stack_file_name(stack)
    path = root / name
    if not path.is_file():
        known = sorted(p.name[len("Pulumi."):-len(".yaml")] for p in root.glob("Pulumi.*.yaml"))
        problems.add(name, None, "", f"no stack file for stack {stack!r}",
                     f"use one of the stacks {', '.join(known) or '(none)'} or create {name} "
                     "(see docs/stacks.md, 'Add a stack')")
        return None
    doc = load_file(path, name, problems)
    if doc is None:
        return None
    data = doc.data
    if not isinstance(data, dict) or not isinstance(data.get("config", {}), dict):
        problems.add(name, doc.line(), "config", "the stack file must have a `config:` mapping",
                     "write `config:` followed by `warehouse:<key>: value` lines")
        return None
    extra = [k for k in data if k not in ("config", "environment", "secretsprovider", "encryptedkey")]
    for k in extra:
        problems.add(name, doc.line((k,)), k, "unknown top-level key in a stack file",
                     "put per-environment values under `config:`")
    config = data.get("config") or {}
    lines = {k: doc.line(("config", k)) or 0 for k in config}
    return parse(stack, name, config, lines, problems, doc=doc)


def from_runtime_strings(stack: str, values: Mapping[str, str], problems: Problems) -> StackConfig | None:
    """Build from Pulumi's runtime config (`namespace:key` -> string), as the language host sets it."""
    native: dict[str, Any] = {}
    for full, raw in values.items():
        ns, _, key = full.partition(":")
        spec = KEYS_BY_NAME.get(key) if ns == NAMESPACE else None
        native[full] = _decode(raw, spec.kind if spec else str)
    return parse(stack, stack_file_name(stack), native, {}, problems)


def _decode(raw: Any, kind: type) -> Any:
    if not isinstance(raw, str):
        return raw
    if kind is bool and raw in ("true", "false"):
        return raw == "true"
    if kind in (dict, list):
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    return raw


def parse(stack: str, file: str, config: Mapping[str, Any], lines: Mapping[str, int],
          problems: Problems, doc: Doc | None = None) -> StackConfig | None:
    values: dict[str, Any] = {}
    for full, value in config.items():
        ns, sep, key = str(full).partition(":")
        if not sep:
            problems.add(file, lines.get(full), str(full), "config key without a namespace",
                         f"write it as `{NAMESPACE}:{full}`")
            continue
        if ns != NAMESPACE:
            continue  # provider settings such as gcp:project or gcp:region
        spec = KEYS_BY_NAME.get(key)
        if spec is None:
            problems.add(file, lines.get(full), full, f"unknown config key{suggest(key, list(KEYS_BY_NAME))}",
                         f"remove it or use one of: {', '.join(NAMESPACE + ':' + k.name for k in KEYS)}")
            continue
        if not type_ok(value, spec.kind):
            problems.add(file, lines.get(full), full, f"must be {describe(spec.kind)}, got {value!r}",
                         f"write e.g. `{full}: {spec.example}` ({spec.help})")
            continue
        if spec.pattern and not re.match(spec.pattern, value):
            problems.add(file, lines.get(full), full, f"{value!r} is not a valid value ({spec.help})",
                         f"write e.g. `{full}: {spec.example}`")
            continue
        values[key] = value
    for spec in KEYS:
        if spec.required and f"{NAMESPACE}:{spec.name}" not in config:
            problems.add(file, None, f"{NAMESPACE}:{spec.name}", "missing required config key",
                         f"add `{NAMESPACE}:{spec.name}: {spec.example}` under `config:` ({spec.help})")
    project = config.get("gcp:project")
    if project is None:
        problems.add(file, None, "gcp:project", "missing the GCP project",
                     "add `gcp:project: <project-id>` under `config:`")
    elif not isinstance(project, str) or not PROJECT_ID.match(project):
        problems.add(file, lines.get("gcp:project"), "gcp:project", f"{project!r} is not a GCP project id",
                     PROJECT_ID_HELP)
    members = _parse_members(values.get("members"), file, lines.get(f"{NAMESPACE}:members"), doc, problems)
    source_projects = _parse_source_projects(values.get("sourceProjects"), file,
                                             lines.get(f"{NAMESPACE}:sourceProjects"), doc, problems)
    # Problems with single members are already reported; the rest of the config is still usable,
    # so the caller can go on and report problems elsewhere in the same run.
    scalars = [k.name for k in KEYS if k.required and k.name != "members"]
    if any(k not in values for k in scalars) or "members" not in values or not isinstance(project, str):
        return None
    return StackConfig(
        stack=stack, file=file, project=project, environment=values["environment"],
        location=values["location"], dataset_prefix=values["datasetPrefix"],
        service_account_prefix=values.get("serviceAccountPrefix", ""), protect=values["protect"],
        source_project=values.get("sourceProject", project), project_number=values["projectNumber"],
        policy_advisory=tuple(str(x) for x in values.get("policyAdvisory", ())),
        members=members, source_projects=source_projects,
    )


def _parse_source_projects(raw: Any, file: str, line: int | None, doc: Doc | None,
                           problems: Problems) -> Mapping[str, tuple[str, int]]:
    """`warehouse:sourceProjects`: raw source name -> project id (the names are checked against the
    sources by the loader, which knows them)."""
    out: dict[str, tuple[str, int]] = {}
    key = f"{NAMESPACE}:sourceProjects"
    for name, project in (raw or {}).items():
        item_line = (doc.line(("config", key, name)) if doc else line) or 0
        if not isinstance(project, str) or not PROJECT_ID.match(project):
            problems.add(file, item_line or None, f"{key}.{name}", f"{project!r} is not a GCP project id",
                         PROJECT_ID_HELP)
            continue
        out[str(name)] = (project, item_line)
    return MappingProxyType(out)


def _parse_members(raw: Any, file: str, line: int | None, doc: Doc | None,
                   problems: Problems) -> Mapping[str, tuple[tuple[Principal, int], ...]]:
    out: dict[str, tuple[tuple[Principal, int], ...]] = {}
    if raw is None:
        return MappingProxyType(out)
    base = ("config", f"{NAMESPACE}:members")
    for role, principals in raw.items():
        key = f"{NAMESPACE}:members.{role}"
        role_line = doc.line(base + (role,)) if doc else line
        if not isinstance(principals, list):
            problems.add(file, role_line, key, "must be a list of principals",
                         f"write `{role}: [group:name@example.com]` (an empty list [] is allowed)")
            continue
        parsed = []
        seen = set()
        for i, text in enumerate(principals):
            item_line = doc.line(base + (role, i)) if doc else line
            try:
                principal = parse_principal(text)
            except PrincipalError as exc:
                problems.add(file, item_line, f"{key}[{i}]", exc.what, exc.fix)
                continue
            if principal in seen:
                problems.add(file, item_line, f"{key}[{i}]", f"{principal} is listed twice",
                             "remove the duplicate")
                continue
            seen.add(principal)
            parsed.append((principal, item_line or 0))
        out[role] = tuple(parsed)
    return MappingProxyType(out)
