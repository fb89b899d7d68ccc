"""Each analysis rule of `check`, shown failing on a broken query: one line naming the query's
file (the SQL file, or its YAML where the fix belongs) and a non-zero exit, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import COMPANY_EXAMPLE, ROOT, run_cli

STG = "scheduled_queries/staging/stripe"
MART = "scheduled_queries/mart/revenue"


def write(project: Path, rel: str, text: str) -> None:
    path = project / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def add_query(project: Path, folder: str, name: str, sql: str, yaml: str) -> None:
    write(project, f"{folder}/{name}.sql", sql)
    write(project, f"{folder}/{name}.yaml", yaml)


ONE_COLUMN = "description: Test table.\ncolumns:\n  - {name: n, type: INT64, description: A number.}\n"


def problems_of(project: Path) -> list[str]:
    result = run_cli("--root", str(project), "check", "--stack", "prod")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    return [line for line in result.stderr.splitlines() if not line.endswith("problem(s) found.")]


def test_syntax_error(project):
    add_query(project, MART, "broken", "SELECT COUNT(* AS n\nFROM mart.revenue_mrr\n", ONE_COLUMN)
    [line] = problems_of(project)
    assert line.startswith(f"{MART}/broken.sql:") and "does not parse" in line


def test_unknown_table(project):
    add_query(project, MART, "orphan", "SELECT COUNT(*) AS n\nFROM stg_external.stg_stripe_subscription\n", ONE_COLUMN)
    [line] = problems_of(project)
    assert line.startswith(f"{MART}/orphan.sql:2:")
    assert "unknown table stg_external.stg_stripe_subscription" in line
    assert "did you mean 'stg_external.stg_stripe_subscriptions'" in line


def test_project_qualified_and_unqualified_names(project):
    add_query(project, MART, "qualified",
              "SELECT COUNT(*) AS n FROM `acme-warehouse-prod.production_mart.revenue_mrr`\n", ONE_COLUMN)
    add_query(project, MART, "bare", "SELECT COUNT(*) AS n FROM revenue_mrr\n", ONE_COLUMN)
    lines = problems_of(project)
    assert len(lines) == 2
    assert any(line.startswith(f"{MART}/qualified.sql:1:") and "names a project" in line for line in lines)
    assert any(line.startswith(f"{MART}/bare.sql:1:") and "has no dataset" in line for line in lines)


def test_cycle(project):
    add_query(project, MART, "a", "SELECT n FROM mart.b\n", ONE_COLUMN)
    add_query(project, MART, "b", "SELECT n FROM mart.a\n", ONE_COLUMN)
    lines = problems_of(project)
    [line] = [line for line in lines if "cycle" in line]
    assert line.startswith(f"{MART}/a.sql") or line.startswith(f"{MART}/b.sql")
    assert "mart.a -> mart.b -> mart.a" in line or "mart.b -> mart.a -> mart.b" in line


def test_mart_scheduled_before_its_staging_input(project):
    path = project / MART / "revenue_mrr.yaml"
    path.write_text(path.read_text() + "schedule: every day 03:15\n")
    [line] = problems_of(project)
    assert line.startswith(f"{MART}/revenue_mrr.yaml:") and "schedule" in line
    assert "stg_external.stg_stripe_subscriptions" in line and "revenue_mrr.sql" in line
    assert "03:30 or later" in line


def test_bad_schedule_string(project):
    path = project / STG / "stg_stripe_subscriptions.yaml"
    path.write_text(path.read_text() + "schedule: daily at 4am\n")
    [line] = problems_of(project)
    assert line.startswith(f"{STG}/stg_stripe_subscriptions.yaml:") and "schedule" in line
    assert "stg_stripe_subscriptions.sql" in line and "fix:" in line


def test_full_scan_of_a_partitioned_source(project):
    add_query(project, "scheduled_queries/staging/amplitude", "stg_amplitude_count",
              "SELECT COUNT(*) AS n\nFROM amplitude.events AS e\nWHERE e.event_type = 'signup'\n", ONE_COLUMN)
    [line] = problems_of(project)
    assert line.startswith("scheduled_queries/staging/amplitude/stg_amplitude_count.sql:2:")
    assert "full scan of partitioned amplitude.events" in line and "event_time" in line


@pytest.mark.parametrize("where", [
    "WHERE DATE(e.event_time) = DATE_SUB(@run_date, INTERVAL 1 DAY)",
    "WHERE e.event_type = 'signup' AND e.event_time >= TIMESTAMP(@run_date)",
    "WHERE event_time BETWEEN TIMESTAMP_SUB(@run_time, INTERVAL 1 DAY) AND @run_time",
])
def test_partition_filter_forms_that_pass(project, where):
    add_query(project, "scheduled_queries/staging/amplitude", "stg_amplitude_count",
              f"SELECT COUNT(*) AS n\nFROM amplitude.events AS e\n{where}\n", ONE_COLUMN)
    result = run_cli("--root", str(project), "check", "--stack", "prod")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("where", [
    "WHERE e.event_time <= TIMESTAMP(@run_date)",
    "WHERE DATE(e.event_time) = DATE(e.event_time) OR @run_date IS NULL",
    "WHERE e.event_type = @run_date",
])
def test_filters_that_do_not_bound_the_partitions_fail(project, where):
    add_query(project, "scheduled_queries/staging/amplitude", "stg_amplitude_count",
              f"SELECT COUNT(*) AS n\nFROM amplitude.events AS e\n{where}\n", ONE_COLUMN)
    [line] = problems_of(project)
    assert "full scan of partitioned amplitude.events" in line


def test_filter_on_another_table_does_not_count(project):
    add_query(project, "scheduled_queries/staging/amplitude", "stg_amplitude_count",
              "SELECT COUNT(*) AS n\nFROM amplitude.events AS e\n"
              "JOIN stg_external.stg_stripe_subscriptions s ON s.customer_id = e.user_id\n"
              "WHERE DATE(s.created_at) = @run_date\n", ONE_COLUMN + "schedule: every day 03:40\n")
    [line] = problems_of(project)
    assert "full scan of partitioned amplitude.events" in line


def test_select_list_must_match_the_declared_columns(project):
    add_query(project, MART, "counts", "SELECT COUNT(*) AS n, 1 AS extra\nFROM mart.revenue_mrr\n",
              ONE_COLUMN + "schedule: every day 04:40\n")
    [line] = problems_of(project)
    assert line.startswith(f"{MART}/counts.sql") and "not declared extra" in line


def test_view_may_not_read_raw_sources_or_use_parameters(project):
    add_query(project, "scheduled_queries/reporting/tableau", "raw",
              "SELECT COUNT(*) AS n FROM stripe.customers WHERE DATE(created) = @run_date\n", ONE_COLUMN)
    lines = problems_of(project)
    assert len(lines) == 2 and all(line.startswith("scheduled_queries/reporting/tableau/raw.sql") for line in lines)


def test_query_writing_to_another_layer(project):
    add_query(project, MART, "misplaced", "SELECT COUNT(*) AS n FROM mart.revenue_mrr\n",
              ONE_COLUMN + "dataset: stg_external\n")
    [line] = problems_of(project)
    assert line.startswith(f"{MART}/misplaced.yaml") and "a mart query writes to 'stg_external'" in line


def test_sql_without_yaml_and_two_statements(project):
    write(project, f"{MART}/lonely.sql", "SELECT 1 AS n\n")
    add_query(project, MART, "two", "SELECT 1 AS n;\nSELECT 2 AS n;\n", ONE_COLUMN)
    lines = problems_of(project)
    assert any(line.startswith(f"{MART}/lonely.sql") and "without its YAML" in line for line in lines)
    assert any(line.startswith(f"{MART}/two.sql") and "one SELECT statement" in line for line in lines)


def test_incremental_query_needs_a_run_parameter_and_partitioning(project):
    add_query(project, MART, "inc", "SELECT COUNT(*) AS n FROM mart.revenue_mrr\n", ONE_COLUMN + "incremental: true\n")
    lines = problems_of(project)
    assert any("must be partitioned" in line for line in lines)


CODE_EDITORS = COMPANY_EXAMPLE
EDITORS = ("description: Code block editors.\nschedule: every day 04:40\ncolumns:\n"
           "  - {name: event_date, type: DATE, description: Day.}\n"
           "  - {name: editors, type: INT64, description: Editors.}\n")


def test_the_companys_example_is_a_valid_scheduled_query_too(project):
    # A lower bound on the partition column by CURRENT_DATE() prunes like one by @run_date.
    add_query(project, "scheduled_queries/mart/product", "code_block_editors", CODE_EDITORS, EDITORS)
    result = run_cli("--root", str(project), "check", "--stack", "prod")
    assert result.returncode == 0, result.stderr


def test_an_upper_bound_by_current_date_alone_is_a_full_scan(project):
    sql = CODE_EDITORS.replace("event_date >= DATE_SUB(CURRENT_DATE(), INTERVAL 7 DAY)", "event_date <= CURRENT_DATE()")
    add_query(project, "scheduled_queries/mart/product", "code_block_editors", sql, EDITORS)
    [line] = problems_of(project)
    assert "full scan of partitioned stg_external.amplitude_app_events" in line


def test_the_shipped_view_is_the_companys_example_unchanged():
    shipped = (ROOT / "scheduled_queries/reporting/tableau/app_code_block_editors.sql").read_text(encoding="utf-8")
    body = "".join(line for line in shipped.splitlines(keepends=True) if not line.startswith("--"))
    assert body == COMPANY_EXAMPLE
