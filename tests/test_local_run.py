"""The local run: the planned warehouse built from the fixtures in the BigQuery emulator, every
scheduled query run from the plan's DataTransferConfig SQL, every contract checked."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from infra.declarations.columns import Column
from infra.local.gaps import adapt_for_emulator
from infra.local.names import address_of
from infra.local.runner import LocalRun, contract_problems, parameters_of, query_job, read_run_date, split_statements
from infra.model.load import load_for_stack
from infra.resources.write_sql import write_script
from tests.conftest import COMPANY_EXAMPLE, ROOT, run_cli


@pytest.fixture(scope="module")
def local_run_results(emulator, dev_plan):
    """The shipped warehouse's local run: its results in order, the day before's first."""
    warehouse = load_for_stack(ROOT, "dev")
    run = LocalRun(ROOT, warehouse, dev_plan, emulator.client(), read_run_date(ROOT))
    return warehouse, run, run.run()


@pytest.fixture(scope="module")
def local_run(local_run_results):
    """The same run, a result per table or view: the run date's."""
    warehouse, run, results = local_run_results
    return warehouse, run, {r.key: r for r in results}


def rows(emulator, sql):
    return [dict(r) for r in emulator.client().query(sql).result()]


def test_every_query_and_view_is_built_with_its_contract(local_run):
    warehouse, _, results = local_run
    keys = {q.spec.key for q in warehouse.queries}
    assert keys <= results.keys()
    failed = {k: results[k].problems for k in keys if not results[k].ok}
    assert not failed
    assert all(results[k].rows > 0 for k in keys), {k: results[k].rows for k in keys if not results[k].rows}


def test_the_sql_run_is_the_plans_not_the_files(local_run, dev_plan):
    _, run, _ = local_run
    transfer = run.by_name["mart.revenue_mrr-transfer"].inputs["params"]["query"]
    assert "`acme-warehouse-dev.dev_stg_external.stg_stripe_subscriptions`" in transfer


def test_incremental_tables_keep_the_day_before_s_partition_for_the_run_date(local_run, emulator):
    # The run on the day before the run date wrote 2026-10-31; the run date's replaced only its
    # own partition, 2026-11-01, as production's would (a self-reading query reads the earlier one).
    got = rows(emulator, "SELECT DISTINCT event_date FROM `acme-warehouse-dev.dev_stg_external.amplitude_events` "
                         "WHERE event_date >= '2000-01-01' ORDER BY event_date")
    assert got == [{"event_date": dt.date(2026, 10, 31)}, {"event_date": dt.date(2026, 11, 1)}]
    got = rows(emulator, "SELECT DISTINCT as_of_date FROM `acme-warehouse-dev.dev_mart.revenue_mrr` ORDER BY 1")
    assert got == [{"as_of_date": dt.date(2026, 10, 31)}, {"as_of_date": dt.date(2026, 11, 1)}]


def test_app_events_are_the_app_subset_with_properties_extracted(local_run, emulator):
    app = rows(emulator, "SELECT platform, event_name, block_type, event_properties, space_properties "
                         "FROM `acme-warehouse-dev.dev_stg_external.amplitude_app_events` "
                         "WHERE event_date = '2026-11-01'")
    # event_site = app: the web app and the mobile apps, not the marketing site
    assert {r["platform"] for r in app} == {"Web", "iOS", "Android"}
    assert "view_website_page" not in {r["event_name"] for r in app}
    assert any(r["block_type"] == "code" for r in app)
    # JSON text, as the company's analyses read it with JSON_EXTRACT_SCALAR
    inserted = [r for r in app if r["event_name"] == "edit_page_document_insert_block"]
    assert all(json.loads(r["event_properties"])["site"] == "app" for r in inserted)
    assert {json.loads(r["space_properties"])["spaceVisibility"] for r in inserted} == {"public", "private"}




def test_the_companys_example_query_counts_code_block_editors_in_public_spaces(local_run, emulator):
    # alice (web) and carol (Android) inserted code blocks in public spaces on 2026-11-01; judy's
    # code block went into a private space; carol's of 2026-10-31 was an update.
    expected = [{"event_date": dt.date(2026, 11, 1), "editors": 2}]
    clock = dt.datetime(2026, 11, 2, tzinfo=dt.UTC)  # the run's day, as the local run reads CURRENT_DATE()
    # as an analyst runs it against dev: the documented query, with the dataset's id
    sql = COMPANY_EXAMPLE.replace("stg_external.amplitude_app_events",
                                  "`acme-warehouse-dev.dev_stg_external.amplitude_app_events`")
    assert rows(emulator, adapt_for_emulator(sql, clock)) == expected
    assert rows(emulator, "SELECT * FROM `acme-warehouse-dev.dev_reporting.app_code_block_editors`") == expected


def test_views_read_the_marts(local_run, emulator):
    total = rows(emulator, "SELECT SUM(mrr_usd) AS v FROM `acme-warehouse-dev.dev_reporting.mrr_daily`")[0]["v"]
    direct = rows(emulator, "SELECT SUM(mrr_usd) AS v FROM `acme-warehouse-dev.dev_mart.revenue_mrr`")[0]["v"]
    assert total == pytest.approx(direct) and total > 0


def test_a_second_run_in_the_same_emulator_gives_the_same_rows(local_run):
    _, run, first = local_run
    second = {r.key: r for r in run.run()}
    assert {k: r.rows for k, r in second.items()} == {k: r.rows for k, r in first.items()}


def test_run_local_command_from_a_fresh_process():
    result = run_cli("run", "--local", "--stack", "prod")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "every contract OK" in result.stdout
    assert "mart.revenue_mrr" in result.stdout and "production" not in result.stderr
    # both run dates, nothing failed, skipped or empty
    assert "-- @run_date 2026-11-01: incremental queries (the day before)" in result.stdout
    assert "-- @run_date 2026-11-02: every query and view" in result.stdout
    assert not re.search(r"WARNING|skipped|failed", result.stdout)


def test_a_type_the_contract_does_not_declare_fails_before_the_run(project):
    # Once caught only by the local run's contract check; the column analysis now refuses it before
    # anything starts (a contract broken by the data, such as NULLs in a REQUIRED column, still
    # fails the run: tests/test_local_run_outcomes.py).
    path = project / "scheduled_queries/mart/revenue/revenue_mrr.yaml"
    path.write_text(path.read_text().replace("{name: mrr_usd, type: FLOAT64", "{name: mrr_usd, type: INT64"))
    result = run_cli("--root", str(project), "run", "--local")
    assert result.returncode == 1 and "Local run" not in result.stdout
    assert "column mrr_usd is FLOAT64 in the SELECT, but scheduled_queries/mart/revenue/revenue_mrr.yaml declares " \
           "INT64" in result.stderr


def test_run_requires_local():
    result = run_cli("run")
    assert result.returncode == 2 and "only `--local` is supported" in result.stderr


def test_scripts_are_split_into_their_own_statements():
    script = ("-- header; with a semicolon and @run_date\nBEGIN TRANSACTION;\nDELETE FROM `a.b.c` WHERE TRUE;\n"
              "INSERT INTO `a.b.c` (x)\nSELECT x FROM (\nSELECT ';' AS x -- not the end;\n);\nCOMMIT TRANSACTION;\n")
    statements = split_statements(script)
    assert [s.splitlines()[-1] for s in statements] == [
        "BEGIN TRANSACTION", "DELETE FROM `a.b.c` WHERE TRUE", ")", "COMMIT TRANSACTION"]
    assert all(statement in script for statement in statements)  # each byte for byte
    assert parameters_of(statements[0]) == set()  # a comment is not a use
    assert parameters_of("SELECT @run_date, DATE(@run_time)") == {"run_date", "run_time"}


def test_scheduled_builds_keep_the_declared_schema(local_run, emulator):
    # DML into the declared table: modes and descriptions stay the contract's after the run.
    table = emulator.client().get_table("acme-warehouse-dev.dev_mart.revenue_mrr")
    declared = {c.name: c for c in local_run[0].query("mart.revenue_mrr").spec.columns}
    assert [f.name for f in table.schema] == list(declared)
    assert all(f.mode == declared[f.name].mode and f.description == declared[f.name].description
               for f in table.schema)
    assert table.time_partitioning.field == "as_of_date" and table.clustering_fields == ["customer_id"]


def test_emulator_week_rewrite_only_touches_the_broken_construct():
    plain = "SELECT DATE_TRUNC(d, MONTH) AS m FROM t -- untouched"
    assert adapt_for_emulator(plain) == plain
    adapted = adapt_for_emulator("SELECT DATE_TRUNC(d, WEEK(MONDAY)) AS w FROM t")
    assert "WEEK(" not in adapted and "DAYOFWEEK" in adapted and "- 2 + 7" in adapted


def test_emulator_week_rewrite_matches_bigquery(emulator):
    # BigQuery: the Monday-based week of Sunday 2026-11-01 starts on Monday 2026-10-26.
    sql = adapt_for_emulator("SELECT DATE_TRUNC(DATE '2026-11-01', WEEK(MONDAY)) AS w, "
                             "DATE_TRUNC(DATE '2026-11-02', ISOWEEK) AS i")
    assert rows(emulator, sql) == [{"w": dt.date(2026, 10, 26), "i": dt.date(2026, 11, 2)}]


def test_contract_problems():
    from google.cloud.bigquery import SchemaField

    columns = (Column("a", "INT64", "REQUIRED", "x"), Column("b", "STRING", "NULLABLE", "y"))
    schema = [SchemaField("a", "INTEGER"), SchemaField("b", "STRING")]
    assert contract_problems(columns, schema, [{"a": 1, "b": None}]) == []
    assert contract_problems(columns, schema, [{"a": None, "b": "x"}]) == ["a is REQUIRED but 1 row(s) have NULL"]
    assert contract_problems(columns, [SchemaField("b", "STRING"), SchemaField("a", "INTEGER")], []) \
        == ["columns are b, a; declared a, b"]
    assert contract_problems(columns, [SchemaField("a", "FLOAT"), SchemaField("b", "STRING")], []) \
        == ["a is FLOAT64, declared INT64"]


def test_fixtures_are_json_lines_matching_their_source_columns():
    warehouse = load_for_stack(ROOT, "dev")
    for source in warehouse.sources:
        for name, table in source.spec.tables.items():
            path = ROOT / "tests/fixtures" / source.name / f"{name}.jsonl"
            assert path.is_file(), path
            declared = {c.name for c in table.columns}
            for line in path.read_text().splitlines():
                assert set(json.loads(line)) <= declared, (path, line)


def test_snapshot_policies_run_locally_with_the_scripts_names(local_run, emulator):
    _, _, results = local_run
    snaps = {k: r for k, r in results.items() if r.kind == "backup"}
    assert set(snaps) == {"backup_us_35d <- daily_snapshots", "backup_us_28d <- weekly_snapshots",
                          "backup_us_400d <- monthly_snapshots"}
    assert all(r.ok and r.rows > 0 for r in snaps.values())

    def names(dataset):
        return {t.table_id for t in emulator.client().list_tables(f"acme-warehouse-dev.dev_{dataset}")}
    daily, weekly, monthly = names("backup_us_35d"), names("backup_us_28d"), names("backup_us_400d")
    # daily and monthly: what cannot be rebuilt (raw sources, incremental tables); weekly: everything
    assert "dev_mart__revenue_mrr__daily_snapshots__20261102T0610" in daily
    assert "stitch_stripe__invoices__daily_snapshots__20261102T0610" in daily
    assert not any(n.startswith("dev_mart__core_users__") for n in daily)  # a full rebuild
    assert "dev_mart__core_users__weekly_snapshots__20261102T0620" in weekly
    assert "amplitude_export__events__monthly_snapshots__20261102T0640" in monthly


def test_incremental_queries_also_run_on_the_day_before_and_pass(local_run_results):
    # The fixtures' run date processes 2026-11-01, a 1st of a month; the day before processes 2026-10-31.
    warehouse, _, results = local_run_results
    incremental = {q.spec.key for q in warehouse.queries if q.spec.incremental}
    earlier = [r for r in results if r.run_date == dt.date(2026, 11, 1)]
    assert {r.key for r in earlier} == incremental
    assert all(r.ok and r.rows > 0 for r in earlier), {r.key: (r.problems, r.rows) for r in earlier}
    later = [r for r in results if r.run_date == dt.date(2026, 11, 2)]
    assert {r.key for r in later} == {q.spec.key for q in warehouse.queries}
    assert results.index(earlier[-1]) < results.index(later[0])  # the day before first


def test_every_declared_date_trunc_runs_locally_as_the_plan_has_it(local_run, emulator):
    # The emulator's DATE_TRUNC gaps are worked around in what the emulator runs, never in the plan.
    warehouse, run, results = local_run
    for key, construct in (("mart.support_nps_weekly", "DATE_TRUNC(response_date, WEEK(MONDAY))"),
                           ("mart.revenue_invoices_monthly", "DATE_TRUNC(DATE(created_at), MONTH)")):
        query = warehouse.query(key)
        script = run.by_name[f"{key}-transfer"].inputs["params"]["query"]
        assert construct in query.sql and construct in script
        d = warehouse.dataset(key.split(".")[0])
        assert script == write_script(query, f"{d.project}.{d.dataset_id}.{key.split('.')[1]}")
        assert results[key].ok
    weeks = rows(emulator, "SELECT week_start FROM `acme-warehouse-dev.dev_mart.support_nps_weekly`")
    assert weeks and all(r["week_start"].weekday() == 0 for r in weeks)  # Mondays, as DATEs


DOCUMENTED_DATE_TRUNC = [
    # The examples of BigQuery's DATE_TRUNC reference (docs/real-world.md, date-trunc-date).
    (dt.date(2008, 12, 25), "MONTH", dt.date(2008, 12, 1)),
    (dt.date(2017, 11, 5), "WEEK(MONDAY)", dt.date(2017, 10, 30)),
    (dt.date(2015, 6, 15), "ISOYEAR", dt.date(2014, 12, 29)),
]
_WEEKDAYS = ["SUNDAY", "MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY"]
UNITS = ["DAY", "WEEK", *(f"WEEK({d})" for d in _WEEKDAYS), "ISOWEEK", "MONTH", "QUARTER", "YEAR", "ISOYEAR"]


def documented_date_trunc(day: dt.date, unit: str) -> dt.date:
    """The reference's definitions: the first day of the period holding `day` (WEEK is WEEK(SUNDAY),
    ISOWEEK starts on Monday, ISOYEAR on the Monday of ISO week 1)."""
    unit = {"WEEK": "WEEK(SUNDAY)", "ISOWEEK": "WEEK(MONDAY)"}.get(unit, unit)
    if unit.startswith("WEEK("):
        since_start = (day.isoweekday() % 7 - _WEEKDAYS.index(unit[5:-1])) % 7
        return day - dt.timedelta(days=since_start)
    return {"DAY": day, "MONTH": day.replace(day=1), "YEAR": day.replace(month=1, day=1),
            "QUARTER": day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1),
            "ISOYEAR": dt.date.fromisocalendar(day.isocalendar()[0], 1, 1)}[unit]


def test_the_reference_definitions_give_the_documented_examples():
    for day, unit, expected in DOCUMENTED_DATE_TRUNC:
        assert documented_date_trunc(day, unit) == expected


def test_date_trunc_of_a_date_gives_bigquerys_documented_result_locally(emulator):
    from google.cloud import bigquery

    client = emulator.client()
    client.create_dataset("local_date_trunc", exists_ok=True)
    table = bigquery.Table("acme-warehouse-dev.local_date_trunc.days", schema=[bigquery.SchemaField("d", "DATE")])
    client.delete_table(table, not_found_ok=True)
    client.create_table(table)
    days = sorted({d for d, _, _ in DOCUMENTED_DATE_TRUNC}
                  | {dt.date(2026, 10, 31) + dt.timedelta(days=n) for n in range(9)}  # every weekday, a 1st
                  | {dt.date(2026, 12, 31), dt.date(2027, 1, 1), dt.date(2027, 1, 4)})  # across a year
    client.insert_rows_json(table, [{"d": d.isoformat()} for d in days])
    schema = {"acme-warehouse-dev": {"local_date_trunc": {"days": {"d": "DATE"}}}}
    columns = ", ".join(f"DATE_TRUNC(d, {unit}) AS u{n}" for n, unit in enumerate(UNITS))
    sql = f"SELECT d, {columns} FROM `acme-warehouse-dev.local_date_trunc.days`"
    job = query_job(client, adapt_for_emulator(sql, schema=schema))
    got = list(job.result())
    assert [f.field_type for f in job.result().schema] == ["DATE"] * (len(UNITS) + 1)
    assert len(got) == len(days)
    for row in got:
        assert [row[f"u{n}"] for n in range(len(UNITS))] == [documented_date_trunc(row["d"], u) for u in UNITS], row
    # A parameter, as scheduled queries truncate @run_date; a literal: both DATEs as well.
    config = bigquery.QueryJobConfig(query_parameters=[bigquery.ScalarQueryParameter("run_date", "DATE", "2017-11-05")])
    sql = ("SELECT DATE_TRUNC(@run_date, WEEK(MONDAY)) AS p, "
           "DATE_TRUNC(DATE_SUB(@run_date, INTERVAL 1 DAY), MONTH) AS m, "
           "DATE_TRUNC(DATE '2015-06-15', ISOYEAR) AS i, DATE_TRUNC(DATE '2017-11-05', ISOWEEK) AS w")
    result = query_job(client, adapt_for_emulator(sql, schema=schema), config).result()
    assert [dict(r) for r in result] == [{"p": dt.date(2017, 10, 30), "m": dt.date(2017, 11, 1),
                                          "i": dt.date(2014, 12, 29), "w": dt.date(2017, 10, 30)}]
    assert [f.field_type for f in result.schema] == ["DATE"] * 4


def test_date_trunc_rewrites_only_dates_and_keeps_the_rest_byte_for_byte():
    schema = {"p": {"d": {"t": {"day": "DATE", "ts": "TIMESTAMP", "local": "DATETIME"}}}}
    untouched = ("SELECT DATE_TRUNC(ts, MONTH) AS m, DATE_TRUNC(local, WEEK(MONDAY)) AS w -- kept\n"
                 "FROM `p.d.t`")
    assert adapt_for_emulator(untouched, schema=schema) == untouched
    adapted = adapt_for_emulator("SELECT DATE_TRUNC(day, MONTH) AS m, DATE_TRUNC(ts, MONTH) AS a FROM `p.d.t`",
                                 schema=schema)
    assert "CAST(DATE_TRUNC(day, MONTH) AS DATE) AS m" in adapted and "DATE_TRUNC(ts, MONTH) AS a" in adapted
    # Through a CTE and a GROUP BY position, the clock replaced inside the rewritten call too.
    adapted = adapt_for_emulator(
        "WITH x AS (SELECT day AS dd FROM `p.d.t`) SELECT DATE_TRUNC(dd, ISOWEEK) AS w, "
        "DATE_TRUNC(CURRENT_DATE(), MONTH) AS c FROM x GROUP BY 1", dt.datetime(2026, 11, 2, tzinfo=dt.UTC), schema)
    assert "- 2 + 7" in adapted and "ISOWEEK" not in adapted and "CURRENT_DATE" not in adapted
    assert "CAST(DATE_TRUNC(CAST('2026-11-02' AS DATE), MONTH) AS DATE)" in adapted


def test_the_nested_ga4_source_builds_struct_and_array_outputs(local_run, emulator):
    """Fixture rows with nested JSON load; UNNEST of an array of structs and a STRUCT / ARRAY<STRUCT>
    output run through the write script (INSERT by name) into the declared nested tables."""
    warehouse, _, results = local_run
    assert results["stg_external.stg_ga4_purchases"].ok and results["stg_external.stg_ga4_sessions"].ok
    purchases = address_of(warehouse, "stg_external.stg_ga4_purchases")
    # The run date's build (2026-11-01); the day before's partition is kept beside it, as in production.
    assert rows(emulator, f"SELECT transaction_id, revenue, lines FROM `{purchases}` "
                          "WHERE purchase_date = '2026-11-01' ORDER BY transaction_id") == [
        {"transaction_id": "ord_5001", "revenue": 96.0,
         "lines": [{"plan_id": "team_monthly", "seats": 8, "revenue": 96.0}]},
        {"transaction_id": "ord_5002", "revenue": 220.0,
         "lines": [{"plan_id": "ai_addon", "seats": 2, "revenue": 20.0},
                   {"plan_id": "pro_yearly", "seats": 2, "revenue": 200.0}]}]
    sessions = address_of(warehouse, "stg_external.stg_ga4_sessions")
    assert rows(emulator, f"SELECT user_id, landing_page, first_touch.medium FROM `{sessions}` "
                          "WHERE session_date = '2026-11-01' ORDER BY user_id") == [
        {"user_id": "u_0042", "landing_page": "https://acme.com/pricing", "medium": "organic"},
        {"user_id": "u_1001", "landing_page": "https://acme.com/blog/launch", "medium": "email"}]
