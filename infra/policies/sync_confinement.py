"""A sync tool's service account reads only its own dataset: the account `...sync-<tool>@...`
may appear only in the ACL of the dataset labelled `sync-tool: <tool>`, and only as READER."""

from __future__ import annotations

import re

from infra.policies.base import Resource, Rule, Settings, accesses
from infra.vocabulary import acl_entry_text

_SYNC_ACCOUNT = re.compile(r"^(?:[a-z0-9-]*-)?sync-([a-z0-9-]+)@[a-z0-9.-]+\.gserviceaccount\.com$")


def check(r: Resource, settings: Settings):
    own = ((r.props.get("labels") or {}).get("sync-tool") or "").replace("_", "-")
    for e in accesses(r):
        m = _SYNC_ACCOUNT.match(str(e.get("userByEmail") or ""))
        if not m:
            continue
        tool = m.group(1)
        dataset = r.props.get("datasetId")
        if tool != own:
            yield (f"the ACL entry {acl_entry_text(e)} gives the {tool} sync account access to {dataset}, "
                   "not its own dataset",
                   f"grant it only on the {tool} dataset (roles/sync_{tool.replace('-', '_')}.yaml)")
        elif e.get("role") != "READER":
            yield (f"the ACL entry {acl_entry_text(e)} lets the {tool} sync account do more than read its dataset",
                   "grant READER")


RULE = Rule("sync-accounts-read-only-their-dataset", "Each sync service account reads only its own dataset.", check)
