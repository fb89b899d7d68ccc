"""The backup system as declared: snapshot scripts, cross-region and one-off copies, backup
datasets, coverage, and the bad input that must be refused."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import sqlglot
from sqlglot import exp

from infra.model.backups import parse_snapshot_name, snapshot_table_name
from infra.resources.components.backup import copy_job_id
from infra.resources.snapshot_sql import snapshot_script
from tests.conftest import run_cli

SCRIPT = snapshot_script("acme-warehouse-prod", ("production_mart", "production_ml"), "production_backup_us",
                         "daily_snapshots", 35)
TRANSFER = "gcp:bigquery/dataTransferConfig:DataTransferConfig"


def test_snapshot_script_parses_with_bigquerys_dialect():
    statements = sqlglot.parse(SCRIPT, read="bigquery")  # raises on a syntax error
    assert [type(s).__name__ for s in statements[:4]] == ["Declare"] * 4
    # The table listing inside the FOR loop is a real query over INFORMATION_SCHEMA.
    listing = SCRIPT.split("FOR t IN (", 1)[1].split("\n)\nDO", 1)[0]
    query = sqlglot.parse_one(listing, read="bigquery")
    assert isinstance(query, exp.Union)
    assert {t.name for t in query.find_all(exp.Table)} == {"INFORMATION_SCHEMA.TABLES"}
    assert "table_type IN ('BASE TABLE', 'CLONE')" in listing  # restored tables are clones


def test_snapshot_statement_as_formatted_parses_and_names_uniquely():
    template = re.search(r'EXECUTE IMMEDIATE FORMAT\(\s*"(.*?)"\s*\|\|\s*"(.*?)"\s*\|\|\s*"(.*?)",', SCRIPT, re.S)
    statement = "".join(template.groups())
    snapshot = "production_mart__revenue_mrr__daily_snapshots__20261102T0610"
    filled = statement.replace("%s__%s__daily_snapshots__%s", snapshot) \
        .replace("%s.%s", "production_mart.revenue_mrr").replace("'%t'", "'2026-11-02 06:10:00+00'", 2)
    assert "%" not in filled
    parsed = sqlglot.parse(filled, read="bigquery")  # BigQuery DDL sqlglot keeps as a command
    assert len(parsed) == 1
    assert "FOR SYSTEM_TIME AS OF TIMESTAMP '2026-11-02 06:10:00+00'" in filled
    assert "OPTIONS (expiration_timestamp = TIMESTAMP" in filled


def test_all_tables_share_one_point_in_time_and_expire_after_the_retention():
    assert "DECLARE snapshot_at TIMESTAMP DEFAULT @run_time;" in SCRIPT
    assert "TIMESTAMP_ADD(snapshot_at, INTERVAL 35 DAY)" in SCRIPT
    # Every snapshot uses the one variable, never CURRENT_TIMESTAMP().
    assert "CURRENT_TIMESTAMP" not in SCRIPT
    assert SCRIPT.count("snapshot_at, expires_at") == 1


def test_one_table_failing_does_not_stop_the_others_but_fails_the_run():
    loop = SCRIPT.split("DO\n", 1)[1].split("END FOR;", 1)[0]
    assert "BEGIN" in loop and "EXCEPTION WHEN ERROR THEN" in loop and "@@error.message" in loop
    after = SCRIPT.split("END FOR;", 1)[1]
    assert "IF ARRAY_LENGTH(failures) > 0 THEN" in after and "RAISE USING MESSAGE" in after


def test_snapshot_names_are_unique_and_parse_back():
    moment = dt.datetime(2026, 11, 2, 6, 10, tzinfo=dt.UTC)
    names = {snapshot_table_name(ds, t, p, moment + dt.timedelta(days=d))
             for ds in ("production_mart", "production_ml") for t in ("a", "b") for p in ("daily", "monthly")
             for d in (0, 1)}
    assert len(names) == 16
    name = snapshot_table_name("production_mart", "revenue_mrr", "daily_snapshots", moment)
    parsed = parse_snapshot_name(name, "production_mart", "revenue_mrr")
    assert (parsed.policy, parsed.taken_at) == ("daily_snapshots", moment)
    assert parse_snapshot_name(name, "production_mart", "revenue") is None


def test_snapshot_policies_in_the_plan(prod_plan):
    snaps = {r.name: r.inputs for r in prod_plan.resources if r.type == TRANSFER and r.name.endswith("-snapshots")}
    assert set(snaps) == {"daily_snapshots-snapshots", "monthly_snapshots-snapshots"}
    for inputs in snaps.values():
        assert inputs["location"] == "US" and inputs["dataSourceId"] == "scheduled_query"
        assert inputs["serviceAccountName"] == "wh-backup-runner@acme-warehouse-prod.iam.gserviceaccount.com"
        assert inputs["notificationPubsubTopic"].endswith("/topics/warehouse-scheduled-queries")
        assert "destinationDatasetId" not in inputs  # a script writes no destination table
        assert "`acme-warehouse-prod.production_backup_us." in inputs["params"]["query"]
    daily = snaps["daily_snapshots-snapshots"]["params"]["query"]
    for ds in ("production_mart", "production_ml", "production_stg_external", "production_census"):
        assert f"`acme-warehouse-prod.{ds}.INFORMATION_SCHEMA.TABLES`" in daily
    assert "production_reporting" not in daily


def test_cross_region_copies_in_the_plan(prod_plan):
    copies = {r.name: r.inputs for r in prod_plan.resources if r.type == TRANSFER and r.name.endswith("-copy")}
    assert set(copies) == {"dr_copy_eu.mart-copy", "dr_copy_eu.stg_external-copy"}
    mart = copies["dr_copy_eu.mart-copy"]
    assert mart["dataSourceId"] == "cross_region_copy" and mart["location"] == "EU"
    assert mart["destinationDatasetId"] == "production_dr_mart"
    assert mart["params"] == {"source_project_id": "acme-warehouse-prod", "source_dataset_id": "production_mart",
                              "overwrite_destination_table": "true"}


def test_one_off_copy_job_has_a_deterministic_id_and_never_overwrites(prod_plan, dev_plan):
    job = next(r for r in prod_plan.resources if r.type == "gcp:bigquery/job:Job")
    again = copy_job_id("revenue_mrr_before_eur", "acme-warehouse-prod", ("production_mart", "revenue_mrr"),
                        ("production_backup_us", "revenue_mrr_before_eur"))
    assert job.inputs["jobId"] == again
    assert job.inputs["copy"]["writeDisposition"] == "WRITE_EMPTY"
    dev_job = next(r for r in dev_plan.resources if r.type == "gcp:bigquery/job:Job")
    assert dev_job.inputs["jobId"] != job.inputs["jobId"]


def test_backup_datasets_hold_only_admins_and_the_backup_account(prod_plan):
    backups = {r.inputs["datasetId"]: r for r in prod_plan.resources
               if r.type == "gcp:bigquery/dataset:Dataset" and r.inputs["labels"]["layer"] == "backup"}
    assert set(backups) == {"production_backup_us", "production_dr_mart", "production_dr_stg_external"}
    for ds_id, r in backups.items():
        assert r.protect
        who = {(e.get("role"), e.get("specialGroup") or e.get("groupByEmail") or e.get("userByEmail"))
               for e in r.inputs["accesses"]}
        assert who == {("OWNER", "projectOwners"), ("OWNER", "data-platform-admins@acme.com"),
                       ("WRITER", "wh-backup-runner@acme-warehouse-prod.iam.gserviceaccount.com")}, ds_id
    assert backups["production_backup_us"].inputs["defaultTableExpirationMs"] == 401 * 86_400_000
    assert backups["production_dr_mart"].inputs["location"] == "EU"


def test_coverage_shows_every_prod_dataset_covered_or_exempt():
    result = run_cli("backups", "coverage", "--stack", "prod")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for ds in ("airflow", "census", "customer_io", "mart", "ml", "stg_external"):
        assert f"production_{ds}  [policies:" in out
    assert "production_reporting  [EXEMPT: Views only" in out
    assert "every dataset covered or exempted." in out
    assert "table revenue_mrr" in out and "time travel 7 d" in out and "copy to EU" in out


def _break(project, rel, old, new):
    path = project / rel
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


@pytest.mark.parametrize("rel, old, new, file, what", [
    ("backups/coverage.yaml", "ml: [daily_snapshots, monthly_snapshots]", "ml: [daily_snapshot]",
     "backups/coverage.yaml", "unknown policy 'daily_snapshot' (did you mean 'daily_snapshots'?)"),
    ("backups/policies/daily_snapshots.yaml", "retention_days: 35", "retention_days: 0",
     "backups/policies/daily_snapshots.yaml", "retention of 0 days is out of range"),
    ("backups/policies/daily_snapshots.yaml", "retention_days: 35", "retention_days: 4000",
     "backups/policies/daily_snapshots.yaml", "retention of 4000 days is out of range"),
    ("datasets/census.yaml", "layer: sync", "layer: sync\nlocation: EU",
     "backups/coverage.yaml", "policy 'daily_snapshots' snapshots into US, but census is in EU"),
    ("backups/coverage.yaml",
     "    exempt: Views only; `pulumi up` recreates every view from scheduled_queries/reporting.",
     "    exempt: ''", "backups/coverage.yaml", "an exemption needs a written reason"),
    ("backups/coverage.yaml", "  airflow: [daily_snapshots]\n", "",
     "backups/coverage.yaml", "dataset 'airflow' has no backup policy and no exemption in a protected stack"),
    ("backups/policies/dr_copy_eu.yaml", "destination_location: EU", "destination_location: US",
     "backups/coverage.yaml", "copies mart to its own location US"),
])
def test_bad_backup_declarations(project, rel, old, new, file, what):
    _break(project, rel, old, new)
    result = run_cli("--root", str(project), "check", "--stack", "prod")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if what in line]
    assert lines and lines[0].startswith(file) and "fix:" in lines[0], result.stderr
