"""The backup system as declared: snapshot scripts, cross-region and one-off copies, backup
datasets (one per retention, which expires the snapshots), raw-source coverage, and the bad input
that must be refused."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import sqlglot
from sqlglot import exp

from infra.model.backups import SnapshotSource, parse_snapshot_name, snapshot_table_name
from infra.ops.copies import copy_job_id
from infra.resources.snapshot_sql import snapshot_script
from tests.conftest import run_cli

SCRIPT = snapshot_script("weekly_snapshots", 28, "acme-warehouse-prod.production_backup_us_28d",
                         [SnapshotSource("acme-warehouse-prod", "production_mart"),
                          SnapshotSource("acme-warehouse-prod", "production_ml")])
HISTORY = snapshot_script("daily_snapshots", 35, "acme-warehouse-prod.production_backup_us_35d",
                          [SnapshotSource("acme-warehouse-prod", "production_mart", ("revenue_mrr",)),
                           SnapshotSource("acme-warehouse-prod", "production_ml", ()),  # no history: left out
                           SnapshotSource("acme-raw", "stitch_stripe", ("invoices", "subscriptions"))])
TRANSFER = "gcp:bigquery/dataTransferConfig:DataTransferConfig"


def test_snapshot_script_parses_with_bigquerys_dialect():
    statements = sqlglot.parse(SCRIPT, read="bigquery")  # raises on a syntax error
    assert [type(s).__name__ for s in statements[:3]] == ["Declare"] * 3
    # The table listing inside the FOR loop is a real query over INFORMATION_SCHEMA.
    listing = SCRIPT.split("FOR t IN (", 1)[1].split("\n)\nDO", 1)[0]
    query = sqlglot.parse_one(listing, read="bigquery")
    assert isinstance(query, exp.Union)
    assert {t.name for t in query.find_all(exp.Table)} == {"INFORMATION_SCHEMA.TABLES"}
    assert "table_type IN ('BASE TABLE', 'CLONE')" in listing  # restored tables are clones


def test_snapshot_statement_as_formatted_parses_and_names_uniquely():
    template = re.search(r'EXECUTE IMMEDIATE FORMAT\(\s*"(.*?)"\s*\|\|\s*"(.*?)",', SCRIPT, re.S)
    statement = "".join(template.groups())
    snapshot = "production_mart__revenue_mrr__daily_snapshots__20261102T0610"
    filled = statement.replace("%s__%s__weekly_snapshots__%s", snapshot) \
        .replace("%s.%s.%s", "acme-warehouse-prod.production_mart.revenue_mrr") \
        .replace("'%t'", "'2026-11-02 06:10:00+00'", 1)
    assert "%" not in filled
    parsed = sqlglot.parse(filled, read="bigquery")  # BigQuery DDL sqlglot keeps as a command
    assert len(parsed) == 1
    assert "FOR SYSTEM_TIME AS OF TIMESTAMP '2026-11-02 06:10:00+00'" in filled
    # No expiration of its own: setting one needs bigquery.tables.deleteSnapshot on the source,
    # which only dataOwner has; the snapshot dataset's default table expiration expires it.
    assert "OPTIONS" not in SCRIPT and "expiration" not in filled


def test_all_tables_share_one_point_in_time():
    assert "DECLARE snapshot_at TIMESTAMP DEFAULT @run_time;" in SCRIPT
    # Every snapshot uses the one variable, never CURRENT_TIMESTAMP().
    assert "CURRENT_TIMESTAMP" not in SCRIPT
    assert SCRIPT.count("snapshot_at);") == 1


def test_a_history_policy_lists_its_tables_and_reads_raw_sources_in_their_project():
    listing = HISTORY.split("FOR t IN (", 1)[1].split("\n)\nDO", 1)[0]
    query = sqlglot.parse_one(listing, read="bigquery")
    assert {f"{t.catalog}.{t.db}" for t in query.find_all(exp.Table)} == {
        "acme-warehouse-prod.production_mart", "acme-raw.stitch_stripe"}
    assert "AND table_name IN ('revenue_mrr')" in listing
    assert "AND table_name IN ('invoices', 'subscriptions')" in listing
    assert "production_ml" not in HISTORY  # a dataset without history tables is left out
    # the clone names the table's own project
    assert "CLONE `%s.%s.%s`" in HISTORY and "t.table_catalog, t.table_schema, t.table_name" in HISTORY
    with pytest.raises(ValueError):
        snapshot_script("p", 1, "a.b", [SnapshotSource("a", "b", ())])


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
    assert set(snaps) == {"daily_snapshots-snapshots", "weekly_snapshots-snapshots", "monthly_snapshots-snapshots"}
    for inputs in snaps.values():
        assert inputs["location"] == "US" and inputs["dataSourceId"] == "scheduled_query"
        assert inputs["serviceAccountName"] == "wh-backup-runner@acme-warehouse-prod.iam.gserviceaccount.com"
        assert inputs["notificationPubsubTopic"].endswith("/topics/warehouse-scheduled-queries")
        assert "destinationDatasetId" not in inputs  # a script writes no destination table
        assert "OPTIONS" not in inputs["params"]["query"]
    retention = {"daily": 35, "weekly": 28, "monthly": 400}
    for policy, days in retention.items():
        assert f"`acme-warehouse-prod.production_backup_us_{days}d." in snaps[f"{policy}_snapshots-snapshots"][
            "params"]["query"]
    weekly = snaps["weekly_snapshots-snapshots"]["params"]["query"]
    for ds in ("production_mart", "production_ml", "production_stg_external", "production_census"):
        assert f"`acme-warehouse-prod.{ds}.INFORMATION_SCHEMA.TABLES`" in weekly
    assert "production_reporting" not in weekly and "table_name IN" not in weekly
    # daily: what cannot be rebuilt: the raw sources, and the incremental tables
    daily = snaps["daily_snapshots-snapshots"]["params"]["query"]
    for raw in ("amplitude_export", "apollo_raw", "firestore_export", "fivetran_hubspot", "stitch_refiner",
                "stitch_stripe"):
        assert f"`acme-warehouse-prod.{raw}.INFORMATION_SCHEMA.TABLES`" in daily
    assert "'revenue_mrr'" in daily and "'amplitude_events'" in daily
    assert "'core_users'" not in daily  # a full rebuild: rebuilt from the snapshotted sources


def test_cross_region_copies_in_the_plan(prod_plan):
    copies = {r.name: r.inputs for r in prod_plan.resources if r.type == TRANSFER and r.name.endswith("-copy")}
    assert set(copies) == {"dr_copy_eu.mart-copy", "dr_copy_eu.stg_external-copy"}
    mart = copies["dr_copy_eu.mart-copy"]
    assert mart["dataSourceId"] == "cross_region_copy" and mart["location"] == "EU"
    assert mart["destinationDatasetId"] == "production_dr_mart"
    assert mart["params"] == {"source_project_id": "acme-warehouse-prod", "source_dataset_id": "production_mart",
                              "overwrite_destination_table": "true"}


def test_one_off_copies_are_not_resources_and_have_stable_job_ids(prod_plan):
    # A gcp.bigquery.Job never reports a failed copy: `backups copy` runs them (tests/test_copies.py).
    assert not [r for r in prod_plan.resources if r.type == "gcp:bigquery/job:Job"]
    first = copy_job_id("revenue_mrr_before_eur", "p", "p.d.t", "p.b.t")
    assert first == copy_job_id("revenue_mrr_before_eur", "p", "p.d.t", "p.b.t")
    assert first != copy_job_id("revenue_mrr_before_eur", "p", "p.d.t", "p.b.u")
    assert copy_job_id("revenue_mrr_before_eur", "p", "p.d.t", "p.b.t", attempt=2) == first + "_2"


def test_backup_datasets_hold_only_admins_and_the_backup_account(prod_plan):
    backups = {r.inputs["datasetId"]: r for r in prod_plan.resources
               if r.type == "gcp:bigquery/dataset:Dataset" and r.inputs["labels"]["layer"] in ("backup", "dr")}
    assert set(backups) == {"production_backup_us_28d", "production_backup_us_35d", "production_backup_us_400d",
                            "production_dr_mart", "production_dr_stg_external"}
    for ds_id, r in backups.items():
        assert r.protect
        who = {(e.get("role"), e.get("specialGroup") or e.get("groupByEmail") or e.get("userByEmail"))
               for e in r.inputs["accesses"]}
        # a dataset copy needs bigquery.datasets.update on its destination: OWNER of the DR datasets only
        runner = "OWNER" if r.inputs["labels"]["layer"] == "dr" else "WRITER"
        assert who == {("OWNER", "projectOwners"), ("OWNER", "data-platform-admins@acme.com"),
                       (runner, "wh-backup-runner@acme-warehouse-prod.iam.gserviceaccount.com")}, ds_id
    # each snapshot dataset's default table expiration is its retention: it expires the snapshots
    for days in (28, 35, 400):
        assert backups[f"production_backup_us_{days}d"].inputs["defaultTableExpirationMs"] == days * 86_400_000
    assert backups["production_dr_mart"].inputs["location"] == "EU"


def test_coverage_shows_every_prod_dataset_covered_or_exempt():
    result = run_cli("backups", "coverage", "--stack", "prod")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for ds in ("airflow", "census", "customer_io", "mart", "ml", "stg_external"):
        assert f"production_{ds}  [policies:" in out
    assert "production_reporting  [EXEMPT: Views only" in out
    assert "every dataset and raw source covered or exempted." in out
    assert "table revenue_mrr" in out and "time travel 7 d" in out and "copy to EU" in out


def _break(project, rel, old, new):
    path = project / rel
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


@pytest.mark.parametrize("rel, old, new, file, what", [
    ("backups/coverage.yaml", "ml: [daily_snapshots, weekly_snapshots, monthly_snapshots]", "ml: [daily_snapshot]",
     "backups/coverage.yaml", "unknown policy 'daily_snapshot' (did you mean 'daily_snapshots'?)"),
    ("backups/policies/daily_snapshots.yaml", "retention_days: 35", "retention_days: 0",
     "backups/policies/daily_snapshots.yaml", "retention of 0 days is out of range"),
    ("backups/policies/daily_snapshots.yaml", "retention_days: 35", "retention_days: 4000",
     "backups/policies/daily_snapshots.yaml", "retention of 4000 days is out of range"),
    ("datasets/census.yaml", "layer: sync", "layer: sync\nlocation: EU",
     "backups/coverage.yaml", "policy 'weekly_snapshots' snapshots into US, but census is in EU"),
    ("datasets/sources/stripe.yaml", "dataset_id: stitch_stripe", "dataset_id: stitch_stripe\nlocation: EU",
     "backups/coverage.yaml", "policy 'daily_snapshots' snapshots into US, but stripe is in EU"),
    ("backups/coverage.yaml", "  stripe: [daily_snapshots, monthly_snapshots]\n", "",
     "backups/coverage.yaml", "raw source 'stripe' is irreplaceable"),
    ("backups/coverage.yaml", "  stripe: [daily_snapshots, monthly_snapshots]", "  stripe: [dr_copy_eu]",
     "backups/coverage.yaml", "raw sources are snapshotted"),
    ("backups/one_off_copies.yaml", "destination: backup_us_400d.", "destination: mart.",
     "backups/one_off_copies.yaml", "which is not a backup dataset"),
    ("datasets/sources/stripe.yaml", "readers: [runner, backup]", "readers: [runner, bakup]",
     "datasets/sources/stripe.yaml", "'bakup' is not a role with a service account (did you mean 'backup'?)"),
    ("backups/policies/dr_copy_eu.yaml", "destination_location: EU", "destination_location: EU\ntables: history",
     "backups/policies/dr_copy_eu.yaml", "a cross-region copy copies whole datasets"),
    ("backups/coverage.yaml",
     "    exempt: Views only; `pulumi up` recreates every view from scheduled_queries/reporting.",
     "    exempt: ''", "backups/coverage.yaml", "an exemption needs a written reason"),
    ("backups/coverage.yaml", "  airflow: [weekly_snapshots]\n", "",
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
