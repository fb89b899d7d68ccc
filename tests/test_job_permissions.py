"""The IAM preflight (`check --policy`, rule job-permissions): every job identity holds the
permissions BigQuery checks for the statements it runs, read from the plan's grants; a missing one
names the job, the statement, the permission and the grant that gives it."""

from __future__ import annotations

import dataclasses

import pytest

from infra.model.load import load_for_stack
from infra.policies.base import Resource
from infra.policies.evaluate import resources_of, settings_for
from infra.policies.job_permissions import RULE, permissions_data, uses_of
from tests.conftest import ROOT

RUNNER = "serviceAccount:wh-query-runner@acme-warehouse-prod.iam.gserviceaccount.com"
BACKUP = "serviceAccount:wh-backup-runner@acme-warehouse-prod.iam.gserviceaccount.com"
ADMINS = "group:data-platform-admins@acme.com"


@pytest.fixture(scope="module")
def prod():
    return load_for_stack(ROOT, "prod")


@pytest.fixture(scope="module")
def settings(prod):
    return settings_for(prod)


def violations(resources, settings):
    return RULE.validate(resources, settings)


def with_props(r: Resource, **props) -> Resource:
    return dataclasses.replace(r, props={**r.props, **props})


def dataset(resources, dataset_id):
    return next(r for r in resources if r.type == "gcp:bigquery/dataset:Dataset" and r.props["datasetId"] == dataset_id)


def without_access(resources, dataset_id, email):
    r = dataset(resources, dataset_id)
    kept = [e for e in r.props["accesses"] if e.get("userByEmail") != email and e.get("groupByEmail") != email]
    return [with_props(r, accesses=kept) if x is r else x for x in resources]


def test_the_prod_plan_passes(prod_plan, settings):
    assert violations(resources_of(prod_plan), settings) == []


def test_every_job_is_checked(prod_plan, settings):
    statements = {(u.statement, u.principal) for u in uses_of(resources_of(prod_plan), settings)}
    assert {("write_dml", RUNNER), ("read", RUNNER), ("create_snapshot", BACKUP), ("list_tables", BACKUP),
            ("dataset_copy", BACKUP), ("restore_copy", ADMINS), ("create_snapshot_with_expiration", ADMINS),
            ("clone", ADMINS), ("drop_table", ADMINS)} <= statements


def test_todays_snapshot_script_with_an_expiration_fails_on_every_source(prod_plan, settings):
    """The design before: snapshots with OPTIONS(expiration_timestamp), the backup runner READER of
    what it snapshots. BigQuery refuses every table: deleteSnapshot is dataOwner's only."""
    resources = resources_of(prod_plan)
    daily = next(r for r in resources if r.name == "weekly_snapshots-snapshots")
    old = daily.props["params"]["query"].replace(
        "FOR SYSTEM_TIME AS OF TIMESTAMP '%t'\"",
        "FOR SYSTEM_TIME AS OF TIMESTAMP '%t' \" || \"OPTIONS (expiration_timestamp = TIMESTAMP '%t')\"")
    assert old != daily.props["params"]["query"]
    resources = [with_props(r, params={"query": old}) if r is daily else r for r in resources]
    found = violations(resources, settings)
    assert found and all(v.urn == daily.urn and not v.advisory for v in found)
    sources = {"production_mart", "production_ml", "production_stg_external", "production_airflow",
               "production_census", "production_customer_io"}
    for ds in sources:
        [v] = [v for v in found if f"acme-warehouse-prod.{ds} " in v.message]
        assert "snapshot policy backup/weekly_snapshots runs as " + BACKUP in v.message
        assert "needs bigquery.tables.deleteSnapshot on" in v.message
        assert "table-snapshots-create" in v.message  # the page that says so
        assert v.fix == f"grant OWNER on acme-warehouse-prod.{ds} to {BACKUP} (a grant of its role in roles/)"


def test_a_build_without_write_access_fails(prod_plan, settings):
    email = RUNNER.split(":", 1)[1]
    resources = without_access(resources_of(prod_plan), "production_mart", email)
    found = [v for v in violations(resources, settings) if "DELETE and INSERT" in v.message]
    assert found and all("scheduled query mart/" in v.message for v in found)
    assert any("bigquery.tables.updateData" in v.message for v in found)
    assert all(v.fix.startswith("grant WRITER on acme-warehouse-prod.production_mart to " + RUNNER) for v in found)


def test_a_raw_source_its_owner_did_not_open_fails_with_who_to_ask(prod_plan, prod):
    source = next(s for s in prod.sources if s.name == "stripe")
    spec = dataclasses.replace(source.spec, readers=("backup",))  # the runner no longer a reader
    sources = tuple(dataclasses.replace(s, spec=spec) if s is source else s for s in prod.sources)
    settings = settings_for(dataclasses.replace(prod, sources=sources))
    found = [v for v in violations(resources_of(prod_plan), settings) if "stitch_stripe" in v.message]
    assert found and all(RUNNER in v.message for v in found)
    assert all(v.fix.startswith("ask the owner of acme-warehouse-prod.stitch_stripe (a raw source) to make " + RUNNER)
               for v in found)


def test_a_disaster_recovery_copy_needs_to_own_its_destination(prod_plan, settings):
    resources = resources_of(prod_plan)
    dr = dataset(resources, "production_dr_mart")
    demoted = [{**e, "role": "WRITER"} if e.get("userByEmail") == BACKUP.split(":", 1)[1] else e
               for e in dr.props["accesses"]]
    resources = [with_props(r, accesses=demoted) if r is dr else r for r in resources]
    [v] = violations(resources, settings)
    assert "cross-region copy backup/dr_copy_eu.mart" in v.message and "bigquery.datasets.update" in v.message
    assert v.fix == f"grant OWNER on acme-warehouse-prod.production_dr_mart to {BACKUP} (a grant of its role in roles/)"


def test_restorers_need_to_run_jobs(prod_plan, settings):
    resources = [r for r in resources_of(prod_plan)
                 if not (r.type == "gcp:projects/iAMMember:IAMMember" and r.props["member"] == ADMINS)]
    found = violations(resources, settings)
    assert found and all(ADMINS in v.message and "bigquery.jobs.create on the project" in v.message for v in found)
    assert all(v.fix.startswith(f"grant {ADMINS} roles/bigquery.jobUser") for v in found)


def test_every_permission_has_a_source():
    data = permissions_data()
    assert all(s["source"].startswith("https://cloud.google.com/bigquery/docs/") for s in data["statements"].values())
    roles = data["dataset_roles"]
    reader, writer, owner = (set(roles[r]["permissions"]) for r in ("READER", "WRITER", "OWNER"))
    assert reader < writer < owner
    assert "bigquery.tables.deleteSnapshot" in roles["OWNER"]["permissions"]
    assert "bigquery.tables.deleteSnapshot" not in roles["WRITER"]["permissions"]
    assert "bigquery.tables.createSnapshot" in roles["READER"]["permissions"]
