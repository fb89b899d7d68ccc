"""What `run --local` says when something is wrong: a failure and everything downstream of it
(skipped, never "contract OK" on empty input), a table or view with no rows (a warning), a query
whose grain does not match its partition (caught on the run date that is not the 1st), and the
rows `--show` prints after the run."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from google.cloud import bigquery

from infra.local.runner import LocalRun, run_script
from infra.local.show import Rows, render
from infra.model.load import load_for_stack
from infra.plan.runtime import run_program
from tests.conftest import copy_project, one_line_error, run_cli

SUBSCRIPTIONS = "stg_external.stg_stripe_subscriptions"


def downstream(warehouse, key: str) -> set[str]:
    """Every query and view reading `key`, directly or not (through views too)."""
    found: set[str] = set()
    todo = [key]
    while todo:
        up = todo.pop()
        for k, ups in warehouse.lineage.upstream.items():
            if up in ups and k not in found and warehouse.query(k) is not None:
                found.add(k)
                todo.append(k)
    return found


def lines_of(stdout: str, key: str) -> list[str]:
    """The status lines of `key` (the run's, before the rows `--show` prints)."""
    run = stdout.split("\n\n")[0]
    return [line for line in run.splitlines() if line.strip().startswith(key + " ")]


@pytest.fixture(scope="module")
def broken(tmp_path_factory):
    """One local run of a copy where a staging table breaks its contract on the fixtures (NULLs in
    a column made REQUIRED) and Apollo's contacts have no rows, with three tables shown."""
    project = copy_project(tmp_path_factory.mktemp("broken") / "project")
    yaml_file = project / "scheduled_queries/staging/stripe/stg_stripe_subscriptions.yaml"
    yaml_file.write_text(yaml_file.read_text().replace(
        "{name: canceled_at, type: TIMESTAMP, description", "{name: canceled_at, type: TIMESTAMP, mode: REQUIRED, "
        "description"))
    (project / "tests/fixtures/apollo/contacts.jsonl").write_text("")
    result = run_cli("--root", str(project), "run", "--local", "--show", "mart.revenue_mrr",
                     "--show", "amplitude.events", "--show", "stg_external.stg_apollo_contacts", "--limit", "3")
    return load_for_stack(project, "dev"), result


def test_a_failure_fails_the_run(broken):
    _, result = broken
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    failed = lines_of(result.stdout, SUBSCRIPTIONS)
    assert len(failed) == 2 and all("canceled_at is REQUIRED but" in line for line in failed)  # on both days


def test_everything_downstream_of_a_failure_is_skipped_naming_it(broken):
    warehouse, result = broken
    below = downstream(warehouse, SUBSCRIPTIONS)
    # through a mart into an ML table, and through a mart into a reporting view
    assert {"mart.revenue_mrr", "ml.ml_churn_features", "reporting.mrr_daily"} <= below
    assert warehouse.query("reporting.mrr_daily").spec.is_view
    for key in below:
        lines = lines_of(result.stdout, key)
        assert lines, key
        assert all(line.endswith(f"skipped: upstream {SUBSCRIPTIONS} failed") for line in lines), lines
        assert not any("contract OK" in line for line in lines)
    # what does not read it is built as before
    others = {q.spec.key for q in warehouse.queries} - below - {SUBSCRIPTIONS}
    assert others and all("contract OK" in lines_of(result.stdout, key)[-1] for key in others)


def test_the_summary_counts_failures_skips_and_empty_results(broken):
    warehouse, result = broken
    summary = result.stdout.split("\n\n")[0].splitlines()[-1]
    skipped = sum("  skipped: upstream" in line for line in result.stdout.splitlines())
    incremental = {q.spec.key for q in warehouse.queries if q.spec.incremental}
    # on the run date everything below it; on the day before, what of that is incremental
    below = downstream(warehouse, SUBSCRIPTIONS)
    assert skipped == len(below) + len(below & incremental)
    assert f"; {skipped} skipped (upstream failed), 2 failed." in summary
    ran = [q for q in warehouse.queries if q.spec.key not in below]  # the failed one ran
    views = sum(q.spec.is_view for q in ran)
    assert f"{len(ran) - views} tables and {views} views built" in summary
    assert "every contract OK" not in result.stdout


def test_a_result_with_no_rows_is_a_warning_not_a_failure(broken):
    _, result = broken
    (line,) = lines_of(result.stdout, "stg_external.stg_apollo_contacts")
    assert re.search(r"\btable\s+0\s+[\d.]+\s+contract OK; WARNING: 0 rows$", line), line
    summary = result.stdout.split("\n\n")[0].splitlines()[-1]
    assert "WARNING:" in summary and "stg_external.stg_apollo_contacts" in summary.split("WARNING:")[1]


def test_show_prints_the_rows_after_the_run(broken):
    _, result = broken
    shown = result.stdout.split("\n\n")[1:]
    assert [block.splitlines()[0] for block in shown] == [
        "mart.revenue_mrr (acme-warehouse-dev.dev_mart.revenue_mrr): 0 rows",  # skipped: built empty
        "amplitude.events (acme-warehouse-dev.amplitude_export.events): 43 rows, the first 3 shown "
        "(sorted; --limit shows more)",
        "stg_external.stg_apollo_contacts (acme-warehouse-dev.dev_stg_external.stg_apollo_contacts): 0 rows"]
    header, rule, *rows = shown[1].splitlines()[1:]
    assert header.split() == ["uuid", "event_time", "event_type", "user_id", "device_id", "platform", "country",
                              "event_properties", "user_properties", "groups", "group_properties"]
    assert set(rule.strip()) == {"─"} and len(rows) == 3
    assert [row.split()[0] for row in rows] == ["evt-001", "evt-002", "evt-003"]  # sorted
    # aligned: every row's event_type starts under its header
    column = header.index("event_type")
    assert all(row[column - 1] == " " and row[column] != " " for row in rows)
    assert "2026-11-01 03:01:10 UTC" in rows[0]


def test_show_of_an_unknown_table_says_which_one_before_the_emulator_starts():
    result = run_cli("run", "--local", "--show", "mart.revenue_mrr", "--show", "mart.revnue_mrr")
    line = one_line_error(result)
    assert line.startswith("run --local: --show mart.revnue_mrr: no table or view of that name "
                           "(did you mean 'mart.revenue_mrr'?); fix: ")
    assert "Local run" not in result.stdout  # refused before anything ran


def test_a_limit_below_one_is_a_usage_error():
    result = run_cli("run", "--local", "--show", "mart.revenue_mrr", "--limit", "0")
    assert result.returncode == 2 and "Invalid value for '--limit'" in result.stderr
    assert "Traceback" not in result.stderr


def test_rows_render_as_sql_shows_them():
    table = Rows("mart.t", "p.d.t", ("day", "n", "note", "props", "at"), (False, True, False, False, False),
                 ((dt.date(2026, 11, 1), 7, None, {"a": [1, 2]}, dt.datetime(2026, 11, 1, 3, tzinfo=dt.UTC)),
                  (dt.date(2026, 11, 2), 12345, "x" * 60, None, dt.datetime(2026, 11, 1, 3))), 5)
    out = render(table).splitlines()
    assert out[0] == "mart.t (p.d.t): 5 rows, the first 2 shown (sorted; --limit shows more)"
    first, second = out[3], out[4]
    assert "NULL" in first and json.dumps({"a": [1, 2]}, separators=(",", ":")) in first
    assert "2026-11-01 03:00:00 UTC" in first and "2026-11-01 03:00:00" in second  # a DATETIME has no zone
    assert "x" * 39 + "…" in second and "x" * 40 not in second  # long text cut
    assert first.index("    7") + 4 == second.index("12345") + 4  # numbers to the right
    assert render(Rows("mart.t", "p.d.t", ("day",), (False,), (), 0)) == "mart.t (p.d.t): 0 rows"


MONTHLY_SQL = """-- Editors per month, written into one partition a day: its grain does not match its partition.
SELECT
  DATE_TRUNC(event_date, MONTH) AS month,
  COUNT(DISTINCT user_id) AS editors
FROM stg_external.amplitude_app_events
WHERE event_date = DATE_SUB(@run_date, INTERVAL 1 DAY)
  AND user_id IS NOT NULL
GROUP BY month
"""
MONTHLY_YAML = """description: App editors per month, in DAY partitions replaced per day (wrong on purpose).
incremental: true
partitioning: {field: month, type: DAY}
columns:
  - {name: month, type: DATE, mode: REQUIRED, description: First day of the month.}
  - {name: editors, type: INT64, mode: REQUIRED, description: Distinct editors.}
"""


def test_a_monthly_grain_in_day_partitions_fails_on_the_day_that_is_not_a_first(tmp_path, emulator):
    # The fixtures' run date replaces 2026-11-01, where the month's first day is the day itself: the
    # query passes there. The day before replaces 2026-10-31, and the month's rows are not of that day.
    project = copy_project(tmp_path / "project")
    stack = project / "Pulumi.dev.yaml"
    stack.write_text(stack.read_text().replace("datasetPrefix: dev_", "datasetPrefix: grain_"))  # its own datasets
    for suffix, text in ((".sql", MONTHLY_SQL), (".yaml", MONTHLY_YAML)):
        (project / f"scheduled_queries/mart/product/product_monthly_editors{suffix}").write_text(text)
    warehouse, plan = load_for_stack(project, "dev"), run_program(project, "dev")
    run = LocalRun(project, warehouse, plan, emulator.client(), dt.date(2026, 11, 2))
    results = [r for r in run.run() if r.key == "mart.product_monthly_editors"]
    assert [(r.run_date, r.problems) for r in results] == [
        (dt.date(2026, 11, 1), ["rows outside the partition 2026-10-31 it replaces: 2026-10-01"]),
        (dt.date(2026, 11, 2), [])]
    # The script production runs fails the same way on that day: a row of 2026-10-31's events.
    client = emulator.client()
    client.query("INSERT INTO `acme-warehouse-dev.grain_stg_external.amplitude_app_events` "
                 "SELECT * REPLACE (DATE '2026-10-31' AS event_date) "
                 "FROM `acme-warehouse-dev.grain_stg_external.amplitude_app_events` LIMIT 1").result()
    script = run.by_name["mart.product_monthly_editors-transfer"].inputs["params"]["query"]
    parameters = [bigquery.ScalarQueryParameter("run_date", "DATE", dt.date(2026, 11, 1)),
                  bigquery.ScalarQueryParameter("run_time", "TIMESTAMP", dt.datetime(2026, 11, 1, tzinfo=dt.UTC))]
    with pytest.raises(Exception, match="a row is outside the partition of 2026-10-31: month = 2026-10-01"):
        run_script(client, script, dt.datetime(2026, 11, 1, tzinfo=dt.UTC), parameters, run.schema)



def test_select_builds_the_selection_and_what_it_reads_only():
    result = run_cli("run", "--local", "--stack", "dev", "--select", "mart.revenue_mrr")
    assert result.returncode == 0, result.stdout + result.stderr
    built = [line.split()[0] for line in result.stdout.splitlines() if re.match(r"^  \S+ +table +\d", line)]
    assert set(built) == {"stg_external.stg_stripe_subscriptions", "mart.revenue_mrr"}
    assert "the selection and what it reads" in result.stdout and "0 snapshots taken" in result.stdout
    bad = run_cli("run", "--local", "--stack", "dev", "--select", "mart.revenue_mr")
    assert bad.returncode == 1 and "Local run" not in bad.stdout and "did you mean" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
