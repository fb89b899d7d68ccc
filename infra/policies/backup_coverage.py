"""In a protected stack, every dataset is covered by a backup policy (a snapshot script lists
its INFORMATION_SCHEMA, or a cross-region copy reads it) or labelled `backup: exempt`; backup
datasets themselves are not."""

from __future__ import annotations

from infra.policies.base import Resource, Rule, Settings
from infra.vocabulary import BACKUP_LAYERS, DATASET_TYPE, TRANSFER_TYPE


def check(resources: list[Resource], settings: Settings):
    if not settings.protected:
        return
    covered: set[str] = set()
    for r in resources:
        if r.type != TRANSFER_TYPE:
            continue
        params = r.props.get("params") or {}
        if r.props.get("dataSourceId") == "cross_region_copy" and params.get("source_dataset_id"):
            covered.add(params["source_dataset_id"])
        query = params.get("query") or ""
        if "INFORMATION_SCHEMA.TABLES" in query and "CREATE SNAPSHOT TABLE" in query:
            for r2 in resources:
                ds = r2.props.get("datasetId") if r2.type == DATASET_TYPE else None
                if ds and f".{ds}.INFORMATION_SCHEMA.TABLES`" in query:
                    covered.add(ds)
    for r in resources:
        if r.type != DATASET_TYPE:
            continue
        labels = r.props.get("labels") or {}
        if labels.get("layer") in BACKUP_LAYERS or labels.get("backup") == "exempt":
            continue
        if r.props.get("datasetId") not in covered:
            yield (r.urn, f"dataset {r.props.get('datasetId')} is covered by no backup policy",
                   "list it in backups/coverage.yaml with a policy, or exempt it with a reason")


RULE = Rule("datasets-backed-up", "In protected stacks every dataset is backed up or exempt.", check_stack=check)
