"""The `pulumi import --file` file that adopts what exists, built from the plan itself.

For each resource of the plan whose cloud object exists (a dataset or a table or view, found by
`live.py`), one entry: its type, its logical name (`logicalName`), its id in the resource type's
import format, and its parent. Each component it sits under (a `warehouse:dataset:Dataset`, a
`warehouse:query:ScheduledQuery`, a `warehouse:view:View`) gets an entry with `component: true`,
so the import creates it empty and the program adopts it on its next run. The engine builds an
imported resource's URN from its parent's type chain, its type and its logical name, so entries
made from the plan's own registrations give the plan's URNs (docs/real-world.md, "import file").

Entry names are what entries use to name their parent; they are the logical names, made unique
with the type when two resources share one. `version` pins the provider plugin to the program's
pulumi-gcp, so the import reads with the same provider the program deploys with.

Deliberately not here: what the import would change (`migration.py`), and running `pulumi import`
(docs/adoption.md: the reviewer runs it).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from importlib import metadata
from typing import Protocol

from infra.vocabulary import DATASET_TYPE, STACK_TYPE, TABLE_TYPE


class Registration(Protocol):
    """A resource of the plan (`infra.plan.runtime.Registration`, which this layer does not import)."""

    urn: str
    type: str
    name: str
    parent: str
    custom: bool
    inputs: dict




def import_id(r: Registration) -> str | None:
    """The id `pulumi import` takes for a dataset or table of the plan (None for other types)."""
    inputs = r.inputs
    if r.type == DATASET_TYPE:
        return f"projects/{inputs['project']}/datasets/{inputs['datasetId']}"
    if r.type == TABLE_TYPE:
        return f"projects/{inputs['project']}/datasets/{inputs['datasetId']}/tables/{inputs['tableId']}"
    return None


def cloud_key(r: Registration) -> tuple[str, ...] | None:
    """What identifies the resource's cloud object: (dataset id,) or (dataset id, table id)."""
    if r.type == DATASET_TYPE:
        return (r.inputs["datasetId"],)
    if r.type == TABLE_TYPE:
        return (r.inputs["datasetId"], r.inputs["tableId"])
    return None


def build_import_file(resources: Iterable[Registration], existing: Iterable[tuple[str, ...]]) -> dict:
    """The import file for the plan's datasets and tables whose cloud key is in `existing`."""
    existing = set(existing)
    resources = list(resources)
    by_urn = {r.urn: r for r in resources}
    chosen = [r for r in resources if r.custom and cloud_key(r) in existing]
    needed: dict[str, Registration] = {}
    for r in chosen:
        needed[r.urn] = r
        parent = by_urn.get(r.parent)
        while parent is not None and parent.type != STACK_TYPE:
            needed.setdefault(parent.urn, parent)
            parent = by_urn.get(parent.parent)
    counts = Counter(r.name for r in needed.values())
    names = {urn: (r.name if counts[r.name] == 1 else f"{r.name} ({r.type})") for urn, r in needed.items()}
    version = _provider_version()
    entries = []
    for r in sorted(needed.values(), key=lambda r: (r.custom, r.urn)):  # components first: easier to read
        entry: dict = {"type": r.type, "name": names[r.urn], "logicalName": r.name}
        if r.custom:
            entry["id"] = import_id(r)
            if version:
                entry["version"] = version
        else:
            entry["component"] = True
        if r.parent in needed:
            entry["parent"] = names[r.parent]
        entries.append(entry)
    return {"resources": entries}


def urns_of(import_file: dict, stack: str, project: str) -> dict[str, dict]:
    """The URN each entry gets, by the engine's rule: the parent's type chain, `$`, the type, and
    the logical name (the root stack's type left out). For tests and for the report."""
    by_name = {e["name"]: e for e in import_file["resources"]}

    def chain(entry: dict) -> str:
        parent = by_name.get(entry.get("parent", ""))
        return entry["type"] if parent is None else f"{chain(parent)}${entry['type']}"

    return {f"urn:pulumi:{stack}::{project}::{chain(e)}::{e.get('logicalName') or e['name']}": e
            for e in import_file["resources"]}


def _provider_version() -> str | None:
    try:
        return metadata.version("pulumi_gcp")
    except metadata.PackageNotFoundError:
        return None
