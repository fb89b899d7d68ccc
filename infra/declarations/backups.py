"""Backup policies: `backups/policies/<name>.yaml`, and which datasets each covers (`backups/coverage.yaml`).

A policy is one of:
- `snapshot`: a scheduled scripting query that snapshots the base tables of the covered datasets
  at one point in time into the stack's backup dataset of the policy's location and retention
  (snapshots must stay in their source's region; each expires with that dataset's default table
  expiration). `tables: all` (the default) snapshots every base table found at run time;
  `tables: history` only the tables that cannot be rebuilt from their inputs: raw source tables,
  and incremental or appending tables;
- `cross_region_copy`: a daily Data Transfer Service copy of each covered dataset into a
  disaster-recovery dataset in another location.

`coverage.yaml` maps every managed dataset (`datasets:`) and every raw source (`sources:`) to its
policies, or to `exempt: <reason>` (a view-only dataset, a re-loadable raw copy); in a protected
stack a dataset or raw source with neither fails `check`.

Deliberately not here: what the policies make for a stack (backup datasets, jobs, names:
`infra.model.backups`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from infra.declarations.files import declaration_files, load_declaration, load_file
from infra.declarations.keys import Field, read_mapping, suggest
from infra.declarations.schedule import Schedule, ScheduleError, parse_schedule
from infra.problems import Problems
from infra.vocabulary import LOCATION, LOCATION_HELP

KINDS = ("snapshot", "cross_region_copy")
COVERAGE_FILE = "backups/coverage.yaml"
COPIES_FILE = "backups/one_off_copies.yaml"
MAX_RETENTION_DAYS = 3650  # ten years: beyond that a "backup" is an archive, and costs like one

POLICY_FIELDS = (
    Field("description", str, required=True, example="'Daily snapshots of every table, kept 35 days.'"),
    Field("kind", str, required=True, choices=KINDS, example="snapshot"),
    Field("schedule", str, required=True, example="'every day 06:10'"),
    Field("retention_days", int, example="35"),
    Field("location", str, example="US"),
    Field("destination_location", str, example="EU"),
    Field("tables", str, default="all", choices=("all", "history"), example="history"),
)


@dataclass(frozen=True)
class Policy:
    name: str
    file: str
    description: str
    kind: str
    schedule: Schedule
    retention_days: int | None  # snapshots: how long each is kept
    location: str | None  # snapshots: the region of the backup dataset (the sources' region)
    destination_location: str | None  # cross-region copies: where the copy goes
    tables: str = "all"  # snapshots: every base table (all), or those that cannot be rebuilt (history)


@dataclass(frozen=True)
class Coverage:
    dataset: str  # managed dataset name, or raw source name
    policies: tuple[str, ...]
    exempt: str | None  # the written reason, when exempt
    line: int | None


@dataclass(frozen=True)
class OneOffCopySpec:
    name: str
    description: str
    source: str  # dataset.table, managed names
    destination: str
    line: int | None


@dataclass(frozen=True)
class BackupDeclarations:
    policies: Mapping[str, Policy]
    coverage: Mapping[str, Coverage]  # by managed dataset name
    copies: tuple[OneOffCopySpec, ...] = ()
    source_coverage: Mapping[str, Coverage] = field(default_factory=lambda: MappingProxyType({}))  # by raw source


def load_backups(root: Path, problems: Problems) -> BackupDeclarations:
    policies = {}
    for path in declaration_files(root / "backups" / "policies", root, problems):
        policy = _load_policy(root, path, problems)
        if policy is not None:
            policies[policy.name] = policy
    coverage, sources = _load_coverage(root, set(policies) | _stems(root / "backups" / "policies"), problems)
    return BackupDeclarations(MappingProxyType(policies), MappingProxyType(coverage), _load_copies(root, problems),
                              MappingProxyType(sources))


COPY_FIELDS = (
    Field("description", str, required=True, example="'MRR before the currency change (DATA-231).'"),
    Field("source", str, required=True, example="mart.revenue_mrr"),
    Field("destination", str, required=True, example="backup_us_400d.revenue_mrr_before_fx"),
)
_TABLE_REF = re.compile(r"^[a-z][a-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*$")


def _load_copies(root: Path, problems: Problems) -> tuple[OneOffCopySpec, ...]:
    path = root / COPIES_FILE
    if not path.is_file():
        return ()
    doc = load_file(path, COPIES_FILE, problems)
    if doc is None:
        return ()
    if not isinstance(doc.data, dict) or set(doc.data) != {"copies"} or not isinstance(doc.data["copies"], dict):
        problems.add(COPIES_FILE, doc.line(), "copies", "the file holds one `copies:` mapping",
                     "write `copies:` then "
                     "`<name>: {description: ..., source: dataset.table, destination: dataset.table}`")
        return ()
    out = []
    for name, raw in doc.data["copies"].items():
        v = read_mapping(doc, ("copies", name), raw, COPY_FIELDS, problems, "a one-off copy")
        if not v or len(v) < 3 or any(v.get(k) is None for k in ("description", "source", "destination")):
            continue
        bad = [k for k in ("source", "destination") if not _TABLE_REF.match(v[k])]
        for k in bad:
            problems.add(COPIES_FILE, doc.line(("copies", name, k)), f"copies.{name}.{k}",
                         f"{v[k]!r} is not `dataset.table`", "write the managed dataset's name and the table")
        if not bad:
            out.append(OneOffCopySpec(name, v["description"], v["source"], v["destination"],
                                      doc.line(("copies", name))))
    return tuple(out)


def _stems(folder: Path) -> set[str]:
    return {p.stem for p in folder.glob("*.yaml")}


def _load_policy(root: Path, path: Path, problems: Problems) -> Policy | None:
    doc = load_declaration(root, path, problems, "policy")
    if doc is None:
        return None
    file = doc.file
    before = len(problems)
    v = read_mapping(doc, (), doc.data, POLICY_FIELDS, problems, "a backup policy")
    if v is None:
        return None
    schedule = None
    if "schedule" not in v.rejected and v["schedule"] is not None:
        try:
            schedule = parse_schedule(v["schedule"])
        except ScheduleError as exc:
            problems.add(file, doc.line(("schedule",)), "schedule", exc.what, exc.fix)
    kind = v.get("kind")
    retention = v.get("retention_days")
    if kind == "snapshot":
        if retention is None:
            problems.add(file, doc.line(), "retention_days", "a snapshot policy needs a retention",
                         "add `retention_days: 35` (how long each snapshot is kept)")
        elif not 1 <= retention <= MAX_RETENTION_DAYS:
            problems.add(file, doc.line(("retention_days",)), "retention_days",
                         f"retention of {retention} days is out of range",
                         f"use 1 to {MAX_RETENTION_DAYS} days")
        if v.get("location") is None:
            problems.add(file, doc.line(), "location", "a snapshot policy needs the location of its backup dataset",
                         "add `location: US` (snapshots stay in their source's region)")
        if v.get("destination_location") is not None:
            problems.add(file, doc.line(("destination_location",)), "destination_location",
                         "snapshots cannot leave their source's region", "remove it (use a cross_region_copy policy)")
    elif kind == "cross_region_copy":
        if "tables" in (doc.data or {}):
            problems.add(file, doc.line(("tables",)), "tables", "a cross-region copy copies whole datasets",
                         "remove `tables:` (it chooses the tables of a snapshot policy)")
        if v.get("destination_location") is None:
            problems.add(file, doc.line(), "destination_location", "a copy needs the location it copies to",
                         "add `destination_location: EU`")
        for key in ("retention_days", "location"):
            if v.get(key) is not None:
                problems.add(file, doc.line((key,)), key, f"a cross-region copy has no {key}",
                             f"remove `{key}:` (the copy mirrors its source)")
    for key in ("location", "destination_location"):
        if v.get(key) is not None and not LOCATION.match(v[key]):
            problems.add(file, doc.line((key,)), key, f"{v[key]!r} is not a BigQuery location",
                         LOCATION_HELP)
    if len(problems) > before:
        return None
    return Policy(name=path.stem, file=file, description=v["description"].strip(), kind=kind, schedule=schedule,
                  retention_days=retention, location=v.get("location"),
                  destination_location=v.get("destination_location"), tables=v["tables"])


def _load_coverage(root: Path, policy_files: set[str], problems: Problems
                   ) -> tuple[dict[str, Coverage], dict[str, Coverage]]:
    """(managed datasets' coverage, raw sources' coverage)."""
    path = root / COVERAGE_FILE
    if not path.is_file():
        return {}, {}
    doc = load_file(path, COVERAGE_FILE, problems)
    if doc is None:
        return {}, {}
    data = doc.data
    sections = ("datasets", "sources")
    if not isinstance(data, dict) or not isinstance(data.get("datasets"), dict) or not set(data) <= set(sections) \
            or not isinstance(data.get("sources", {}), dict):
        problems.add(doc.file, doc.line(), "datasets", "coverage.yaml holds a `datasets:` and a `sources:` mapping",
                     "write `datasets:` then `<dataset>: [<policy>, ...]` or `<dataset>: {exempt: <reason>}`, "
                     "and the same for raw sources under `sources:`")
        return {}, {}
    return tuple(_coverage_section(doc, section, data.get(section) or {}, policy_files, problems)
                 for section in sections)


def _coverage_section(doc, section: str, entries: dict, policy_files: set[str], problems: Problems
                      ) -> dict[str, Coverage]:
    out = {}
    noun = "dataset" if section == "datasets" else "raw source"
    for name, value in entries.items():
        key = f"{section}.{name}"
        line = doc.line((section, name))
        if isinstance(value, dict):
            reason = value.get("exempt")
            if set(value) != {"exempt"} or not isinstance(reason, str) or len(reason.strip()) < 10:
                problems.add(doc.file, line, key, "an exemption needs a written reason",
                             f"write `{{exempt: <why this {noun} needs no backup, in a sentence>}}`")
                continue
            out[name] = Coverage(name, (), reason.strip(), line)
            continue
        if not isinstance(value, list) or not value or not all(isinstance(p, str) for p in value):
            problems.add(doc.file, line, key, f"must list the {noun}'s policies, or be an exemption",
                         "write `[daily_snapshots]` or `{exempt: <reason>}`")
            continue
        unknown = [p for p in value if p not in policy_files]
        for p in unknown:
            problems.add(doc.file, line, key, f"unknown policy {p!r}{suggest(p, sorted(policy_files))}",
                         f"use one of: {', '.join(sorted(policy_files))} (backups/policies/<name>.yaml)")
        if not unknown:
            out[name] = Coverage(name, tuple(value), None, line)
    return out
