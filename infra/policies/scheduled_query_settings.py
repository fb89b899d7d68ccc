"""Every scheduled query names its location, the runner service account and a notification topic
(PITFALLS.md: the default location forces replacement, no account fails on credentials, and the
failure e-mail alone goes to nobody)."""

from __future__ import annotations

from infra.policies.base import Resource, Rule, Settings
from infra.vocabulary import TRANSFER_TYPE

REQUIRED = {"location": "its dataset's location", "serviceAccountName": "the runner service account",
            "notificationPubsubTopic": "the scheduled-queries topic"}


def check(r: Resource, settings: Settings):
    if r.type != TRANSFER_TYPE or r.props.get("dataSourceId") != "scheduled_query":
        return
    for key, what in REQUIRED.items():
        if not r.props.get(key):
            yield f"the scheduled query has no {key}", f"set {key} to {what} (declare it in scheduled_queries/)"


RULE = Rule("scheduled-queries-complete", "Scheduled queries set location, service account and topic.", check)
