"""Views never use legacy SQL (the provider's default is legacy, and a standard-SQL query cannot
read a legacy view): `useLegacySql` must be present and false."""

from __future__ import annotations

from infra.policies.base import Resource, Rule, Settings
from infra.vocabulary import TABLE_TYPE


def check(r: Resource, settings: Settings):
    view = r.props.get("view") if r.type == TABLE_TYPE else None
    if view and view.get("useLegacySql") is not False:
        yield "the view does not set useLegacySql = false", "declare views in scheduled_queries/ (always standard SQL)"


RULE = Rule("views-use-standard-sql", "Views never use legacy SQL.", check)
