"""Pins the logical names (URNs) of stateful resources: a refactor that renames one would make
Pulumi delete and recreate it. A deliberate rename needs an alias and an update here.

(The snapshot datasets became one per retention, `backup_us_<N>d`, before any stack was adopted:
the old `backup_us` was never deployed, so no alias keeps it; see docs/adoption.md.)"""

from __future__ import annotations

EXPECTED_DATASET_URNS = {
    f"urn:pulumi:prod::warehouse::warehouse:dataset:Dataset$gcp:bigquery/dataset:Dataset::{name}-dataset"
    for name in ("airflow", "census", "customer_io", "mart", "ml", "reporting", "stg_external",
                 "backup_us_28d", "backup_us_35d", "backup_us_400d", "dr_mart", "dr_stg_external")
}
EXPECTED_SERVICE_ACCOUNT_URNS = {
    f"urn:pulumi:prod::warehouse::warehouse:role:Role$gcp:serviceaccount/account:Account::{name}-sa"
    for name in ("backup", "runner", "sync_airflow", "sync_census", "sync_customer_io")
}


def test_dataset_urns_are_pinned(prod_plan):
    urns = {r.urn for r in prod_plan.resources if r.type == "gcp:bigquery/dataset:Dataset"}
    assert urns == EXPECTED_DATASET_URNS


def test_service_account_urns_are_pinned(prod_plan):
    urns = {r.urn for r in prod_plan.resources if r.type == "gcp:serviceaccount/account:Account"}
    assert urns == EXPECTED_SERVICE_ACCOUNT_URNS


def test_urns_do_not_depend_on_the_stack_prefix(prod_plan, dev_plan):
    def names(plan):
        return {r.urn.split("::", 2)[2] for r in plan.resources if r.custom}
    assert names(prod_plan) >= {u.split("::", 2)[2] for u in EXPECTED_DATASET_URNS}
    assert {u.split("::", 2)[2] for u in EXPECTED_DATASET_URNS} <= names(dev_plan)


def test_declared_table_urns_follow_dataset_and_table_names(prod_plan):
    urns = {r.urn for r in prod_plan.resources if r.type == "gcp:bigquery/table:Table" and "view" not in r.inputs}
    for expected in ("mart.revenue_mrr", "stg_external.amplitude_events", "stg_external.stg_stripe_subscriptions"):
        assert (f"urn:pulumi:prod::warehouse::warehouse:query:ScheduledQuery$gcp:bigquery/table:Table::"
                f"{expected}-table") in urns
