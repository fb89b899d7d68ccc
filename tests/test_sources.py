"""Raw sources as real warehouses have them: families of date shards read as wildcard tables
(GA4's `events_*`, GA360's `ga_sessions_*`), a dataset named by a numeric view id, sources in
other projects (per stack), and the cost guard's conditional filters."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from infra.checks.sql import parse, partition_filter_problems
from infra.local.runner import LocalRun
from infra.model.backups import SnapshotSource
from infra.model.load import load_for_stack
from infra.plan.runtime import run_program
from infra.resources.snapshot_sql import snapshot_script
from tests.conftest import copy_project, run_cli
from tests.sources_fixtures import FOLDER, add_ga_sources

ONE_COLUMN = "description: Test table.\ncolumns:\n  - {name: n, type: INT64, description: A number.}\n"


@pytest.fixture
def ga(tmp_path: Path) -> Path:
    return add_ga_sources(copy_project(tmp_path / "project"))


def problems_of(project: Path) -> list[str]:
    result = run_cli("--root", str(project), "check", "--stack", "prod")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    return [line for line in result.stderr.splitlines() if not line.endswith("problem(s) found.")]


def add_query(project: Path, name: str, sql: str, yaml: str = ONE_COLUMN) -> None:
    (project / FOLDER / f"{name}.sql").write_text(sql)
    (project / FOLDER / f"{name}.yaml").write_text(yaml)


# -- families of shards --------------------------------------------------------------------------

def test_families_pass_check_and_resolve_per_stack(ga):
    result = run_cli("--root", str(ga), "check")
    assert result.returncode == 0, result.stderr
    prod = load_for_stack(ga, "prod")
    events = prod.query("stg_external.stg_ga4_events")
    # The vendor's project (`project:` in the source file) and the family's `*`, in one pair of backticks.
    assert "FROM `acme-marketing-ga.analytics_308114925.events_*`\n" in events.sql
    # The pseudo column is known to the column analysis, and is the shard column's origin.
    # names as sqlglot normalizes them
    assert events.column_lineage["shard"] == {("ga4_site.events_*", "_table_suffix")}
    assert events.column_lineage["event_name"] == {("ga4_site.events_*", "event_name")}
    sessions = prod.query("stg_external.stg_ga360_sessions")
    # A dataset id of digits (GA360's view id) in a quoted path: BigQuery's quoted identifier.
    assert "FROM `acme-warehouse-prod.123456789.ga_sessions_*` AS s" in sessions.sql


def test_a_star_on_a_family_leaves_the_pseudo_column_out(ga):
    # BigQuery's `*` leaves _TABLE_SUFFIX out: the contract is the shard's columns, nothing more.
    raw = ("description: The raw GA4 events of yesterday.\ncolumns:\n"
           "  - {name: event_date, type: STRING, mode: REQUIRED, description: Day.}\n"
           "  - {name: event_timestamp, type: INT64, mode: REQUIRED, description: When.}\n"
           "  - {name: event_name, type: STRING, mode: REQUIRED, description: Name.}\n"
           "  - {name: user_pseudo_id, type: STRING, description: Device.}\n"
           "  - {name: user_id, type: STRING, description: User.}\n"
           "  - {name: platform, type: STRING, description: Platform.}\n"
           "  - {name: geo_country, type: STRING, description: Country.}\n")
    add_query(ga, "stg_ga4_raw", "SELECT *\nFROM `ga4_site.events_*`\n"
              "WHERE _TABLE_SUFFIX >= FORMAT_DATE('%Y%m%d', DATE_SUB(@run_date, INTERVAL 1 DAY))\n", raw)
    result = run_cli("--root", str(ga), "check", "--stack", "prod")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("where", [
    "WHERE _TABLE_SUFFIX = FORMAT_DATE('%Y%m%d', DATE_SUB(@run_date, INTERVAL 1 DAY))",
    "WHERE e._TABLE_SUFFIX BETWEEN FORMAT_DATE('%Y%m%d', DATE_SUB(@run_date, INTERVAL 3 DAY)) "
    "AND FORMAT_DATE('%Y%m%d', @run_date)",
    "WHERE event_name = 'sign_up' AND _TABLE_SUFFIX >= FORMAT_DATE('%Y%m%d', DATE_SUB(CURRENT_DATE(), INTERVAL 2 DAY))",
    "WHERE (_TABLE_SUFFIX = FORMAT_DATE('%Y%m%d', @run_date) OR _TABLE_SUFFIX = FORMAT_DATE('%Y%m%d', "
    "DATE_SUB(@run_date, INTERVAL 1 DAY)))",
])
def test_family_filters_that_bound_the_shards_pass(ga, where):
    add_query(ga, "stg_ga4_signups", f"SELECT COUNT(*) AS n\nFROM `ga4_site.events_*` AS e\n{where}\n")
    result = run_cli("--root", str(ga), "check", "--stack", "prod")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("where", [
    "WHERE event_name = 'sign_up'",  # every shard since the export began
    "WHERE REGEXP_CONTAINS(_TABLE_SUFFIX, r'^2026')",  # BigQuery still scans every shard
    "WHERE _TABLE_SUFFIX <= FORMAT_DATE('%Y%m%d', @run_date)",  # an upper bound only
    "WHERE _TABLE_SUFFIX = (SELECT MAX(event_date) FROM `ga4_site.events_*` "
    "WHERE _TABLE_SUFFIX >= FORMAT_DATE('%Y%m%d', @run_date))",  # not a constant expression
])
def test_an_unbounded_read_of_a_family_is_refused(ga, where):
    add_query(ga, "stg_ga4_signups", f"SELECT COUNT(*) AS n\nFROM `ga4_site.events_*` AS e\n{where}\n")
    [line] = problems_of(ga)
    assert line.startswith(f"{FOLDER}/stg_ga4_signups.sql:2:")
    assert "reads every shard of the table family ga4_site.events_*: no filter on _TABLE_SUFFIX" in line
    assert "fix: add e.g. `WHERE _TABLE_SUFFIX = FORMAT_DATE('%Y%m%d'" in line


def test_a_family_outside_backticks_is_one_line(ga):
    add_query(ga, "stg_ga4_signups", "SELECT COUNT(*) AS n\nFROM ga4_site.events_*\n"
              "WHERE _TABLE_SUFFIX = FORMAT_DATE('%Y%m%d', @run_date)\n")
    [line] = problems_of(ga)
    assert line.startswith(f"{FOLDER}/stg_ga4_signups.sql:2:") and "not in backticks" in line
    assert "fix: write `` `ga4_site.events_*` ``" in line


def test_one_shard_by_name_is_not_the_family(ga):
    add_query(ga, "stg_ga4_day", "SELECT COUNT(*) AS n\nFROM ga4_site.events_20261101\n")
    [line] = problems_of(ga)
    assert "unknown table ga4_site.events_20261101: source 'ga4_site' declares no table 'events_20261101'" in line


@pytest.mark.parametrize("edit, key, what", [
    (("events_*:", "events_*:\n    partition_column: event_date"), "tables.events_*.partition_column",
     "is a family of shards, read with a filter on _TABLE_SUFFIX"),
    (("events_*:", "events*x:"), "tables.events*x", "is not a table name"),
    (("project: acme-marketing-ga", "project: Acme Marketing"), "project", "is not a GCP project id"),
])
def test_bad_family_and_project_declarations(ga, edit, key, what):
    path = ga / "datasets/sources/ga4_site.yaml"
    path.write_text(path.read_text().replace(*edit))
    lines = problems_of(ga)
    assert any(line.startswith("datasets/sources/ga4_site.yaml:") and f": {key}: " in line and what in line
               for line in lines), lines


# -- dataset ids -----------------------------------------------------------------------------------

@pytest.mark.parametrize("dataset_id, what, fix", [
    ("123456789", "must be a string, got number 123456789", "quote it, '123456789'"),
    ("'ga-360'", "'ga-360' is not a dataset id", "use letters, digits and underscores"),
])
def test_a_dataset_id_bigquery_refuses_is_one_consistent_line(ga, dataset_id, what, fix):
    path = ga / "datasets/sources/ga360.yaml"
    path.write_text(path.read_text().replace("dataset_id: '123456789'", f"dataset_id: {dataset_id}"))
    [line] = [x for x in problems_of(ga) if x.startswith("datasets/sources/ga360.yaml")]
    assert ": dataset_id: " in line and what in line and fix in line


# -- conditional filters on a partition column ----------------------------------------------------

@pytest.mark.parametrize("where, bounded", [
    ("(@run_date IS NULL OR DATE(e.event_time) = @run_date)", True),
    ("@run_time IS NULL OR e.event_time >= TIMESTAMP_SUB(@run_time, INTERVAL 1 DAY)", True),
    ("DATE(e.event_time) = COALESCE(@run_date, CURRENT_DATE())", True),
    ("DATE(e.event_time) = COALESCE(DATE_SUB(@run_date, INTERVAL 1 DAY), CURRENT_DATE())", True),
    ("(DATE(e.event_time) = @run_date AND e.platform = 'Web') OR DATE(e.event_time) = DATE_SUB(@run_date, "
     "INTERVAL 7 DAY)", True),
    ("@run_date IS NOT NULL OR DATE(e.event_time) = @run_date", False),  # always true in a run
    ("DATE(e.event_time) = @run_date OR e.event_type = 'signup'", False),  # BigQuery's own example
    ("IF(@run_date IS NULL, TRUE, DATE(e.event_time) = @run_date)", False),  # the column is not isolated
])
def test_conditional_filters_on_the_partition_column(where, bounded):
    parsed = parse(f"SELECT COUNT(*) AS n FROM amplitude.events AS e WHERE {where}")
    assert (not partition_filter_problems(parsed, lambda ref: "event_time")) is bounded


def test_a_conditional_filter_passes_check(project):
    folder = project / "scheduled_queries/staging/amplitude"
    (folder / "stg_amplitude_count.sql").write_text(
        "SELECT COUNT(*) AS n\nFROM amplitude.events AS e\n"
        "WHERE (@run_date IS NULL OR DATE(e.event_time) = DATE_SUB(@run_date, INTERVAL 1 DAY))\n")
    (folder / "stg_amplitude_count.yaml").write_text(ONE_COLUMN)
    result = run_cli("--root", str(project), "check", "--stack", "prod")
    assert result.returncode == 0, result.stderr


# -- sources in several projects -------------------------------------------------------------------

def with_source_projects(project: Path, stack: str, mapping: str) -> None:
    path = project / f"Pulumi.{stack}.yaml"
    path.write_text(path.read_text().replace("  warehouse:members:", f"  warehouse:sourceProjects:\n{mapping}"
                                                                     "  warehouse:members:"))


def test_each_source_resolves_to_its_project_per_stack(ga):
    with_source_projects(ga, "prod", "    stripe: acme-billing-prod\n    ga4_site: acme-marketing-ga-prod\n")
    prod, dev = load_for_stack(ga, "prod"), load_for_stack(ga, "dev")
    projects = {s.name: s.project for s in prod.sources}
    assert projects["stripe"] == "acme-billing-prod"  # the stack file's map
    assert projects["ga4_site"] == "acme-marketing-ga-prod"  # ... over the source file's `project:`
    assert projects["hubspot"] == "acme-warehouse-prod"  # the default: the stack's own
    assert {s.name: s.project for s in dev.sources}["ga4_site"] == "acme-marketing-ga"  # the file's, in dev
    invoices = prod.query("stg_external.stg_stripe_invoices").sql
    assert "`acme-billing-prod.stitch_stripe.invoices`" in invoices
    assert "`acme-warehouse-dev.stitch_stripe.invoices`" in dev.query("stg_external.stg_stripe_invoices").sql
    # The backups, the permission preflight and the readers follow the source's project.
    job = next(j for j in prod.backups.snapshots if "stripe" in j.sources)
    covered = {(s.project, s.dataset_id) for s in prod.snapshot_sources(job)}
    assert ("acme-billing-prod", "stitch_stripe") in covered
    result = run_cli("--root", str(ga), "check", "--stack", "prod", "--policy")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_snapshot_script_reads_the_source_in_its_project(ga):
    with_source_projects(ga, "prod", "    stripe: acme-billing-prod\n")
    plan = run_program(ga, "prod")
    scripts = [r.inputs["params"]["query"] for r in plan.resources
               if r.type.endswith("DataTransferConfig") and "snapshot" in r.name]
    assert any("FROM `acme-billing-prod.stitch_stripe.INFORMATION_SCHEMA.TABLES`" in s for s in scripts)


@pytest.mark.parametrize("mapping, key, what", [
    ("    strip: acme-billing-prod\n", "warehouse:sourceProjects.strip", "there is no raw source 'strip'"),
    ("    stripe: Billing\n", "warehouse:sourceProjects.stripe", "'Billing' is not a GCP project id"),
])
def test_bad_source_projects_are_one_line_each(ga, mapping, key, what):
    with_source_projects(ga, "prod", mapping)
    [line] = problems_of(ga)
    assert line.startswith("Pulumi.prod.yaml:") and f": {key}: {what}" in line and "fix:" in line
    assert line.split(":")[1].isdigit()  # the line of the entry


# -- backups of a family -----------------------------------------------------------------------------

def test_a_history_policy_snapshots_every_shard_of_a_family(ga):
    prod = load_for_stack(ga, "prod")
    job = next(j for j in prod.backups.snapshots if j.policy.name == "daily_snapshots")
    assert job.tables["ga4_site"] == ("events_*",)
    ga4_site = next(s for s in prod.snapshot_sources(job) if s.dataset_id == "analytics_308114925")
    assert ga4_site.takes("events_20261101") and ga4_site.takes("events_intraday_20261102")
    assert not ga4_site.takes("pages")
    script = snapshot_script("daily_snapshots", 7, "p.backup", [ga4_site, SnapshotSource("p", "stitch_stripe",
                                                                                    ("invoices", "customers"))])
    assert "WHERE table_type IN ('BASE TABLE', 'CLONE')\n      AND STARTS_WITH(table_name, 'events_')" in script
    assert "AND table_name IN ('invoices', 'customers')" in script


# -- the local run -------------------------------------------------------------------------------------

def test_the_local_run_reads_a_family_of_fixture_shards(ga, emulator):
    stack = ga / "Pulumi.dev.yaml"
    stack.write_text(stack.read_text().replace("datasetPrefix: dev_", "datasetPrefix: shards_"))
    fixtures = ga / "tests/fixtures/ga4_site"
    fixtures.mkdir(parents=True)
    for day, events in (("20261031", ["page_view"]), ("20261101", ["page_view", "sign_up", "session_start"]),
                        ("20261102", ["page_view"])):
        rows = [{"event_date": day, "event_timestamp": 1_793_000_000_000_000 + i, "event_name": name,
                 "user_pseudo_id": f"d{i}", "platform": "WEB"} for i, name in enumerate(events)]
        (fixtures / f"events_{day}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    warehouse, plan = load_for_stack(ga, "dev"), run_program(ga, "dev")
    run = LocalRun(ga, warehouse, plan, emulator.client(), dt.date(2026, 11, 2),
                   select={"stg_external.stg_ga4_events", "stg_external.stg_ga360_sessions"})
    results = {(r.key, r.run_date): r for r in run.run()}
    assert results[("ga4_site.events_20261101", None)].rows == 3  # one table per fixture shard
    assert results[("ga360.ga_sessions_20261101", None)].rows == 0  # no fixtures: the day's empty shard
    day = results[("stg_external.stg_ga4_events", dt.date(2026, 11, 2))]
    assert day.ok and day.rows == 2  # the 1st's shard only, without session_start
    assert results[("stg_external.stg_ga360_sessions", dt.date(2026, 11, 2))].problems == []


def test_the_readmes_raw_source_example_checks(project):
    from tests.test_readme import blocks, section

    text = section("Add a raw source")
    [source], [sql] = blocks(text, "yaml"), blocks(text, "sql")
    (project / "datasets/sources/ga4_site.yaml").write_text(source)
    coverage = project / "backups/coverage.yaml"
    coverage.write_text(coverage.read_text() + "  ga4_site: [daily_snapshots]\n")
    folder = project / FOLDER
    folder.mkdir(parents=True)
    (folder / "stg_ga4_daily.sql").write_text(sql)
    (folder / "stg_ga4_daily.yaml").write_text(
        "description: GA4 events per day and name.\ncolumns:\n"
        "  - {name: event_day, type: DATE, mode: REQUIRED, description: The day.}\n"
        "  - {name: event_name, type: STRING, mode: REQUIRED, description: The event.}\n"
        "  - {name: events, type: INT64, mode: REQUIRED, description: How many.}\n")
    result = run_cli("--root", str(project), "check")
    assert result.returncode == 0, result.stderr
    (folder / "stg_ga4_daily.sql").write_text(sql.replace("WHERE _TABLE_SUFFIX =", "WHERE event_name !="))
    [line] = problems_of(project)
    assert "reads every shard of the table family ga4_site.events_*" in line


def test_impact_finds_the_readers_of_a_mixed_case_column(ga):
    # GA360's columns are camelCase; BigQuery resolves them case-insensitively, and so does impact.
    result = run_cli("--root", str(ga), "impact", "ga360.ga_sessions_*.fullVisitorId", "--stack", "prod")
    assert result.returncode == 0, result.stderr
    assert "table stg_external.stg_ga360_sessions (reads ga360.ga_sessions_*.fullVisitorId)" in result.stdout
