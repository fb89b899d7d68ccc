"""Self-reading incremental tables: a read of the query's own table is accepted only when the query
is incremental and the read stops strictly before the partition its build writes (@run_date - 1);
the lineage keeps no self-edge; `run --local` runs it on two days, the second reading the first's."""

from __future__ import annotations

import dataclasses
import shutil

import pytest
import sqlglot

from infra.checks.self_reads import WRITTEN_PARTITION_START, hours_from_run_date, self_read_problem
from infra.checks.sql import parse
from infra.declarations.queries import load_queries
from infra.problems import Problems
from infra.resources.write_sql import INCREMENTAL_DAY
from tests.conftest import ROOT, run_cli
from tests.test_query_rules import add_query, problems_of

FORMS = ROOT / "tests" / "forms" / "scheduled_queries"
PRODUCT = "scheduled_queries/mart/product"


def _spec(**changes):
    """The shipped incremental product_user_activity_daily's spec, as another query."""
    specs = {q.key: q for q in load_queries(ROOT, Problems())}
    return dataclasses.replace(specs["mart.product_user_activity_daily"], **changes)


def _problem(where: str, column: str = "activity_date", **spec):
    sql = f"SELECT user_id FROM mart.product_user_activity_daily AS t WHERE {where}"
    [ref] = parse(sql).refs
    return self_read_problem(_spec(**spec), ref)


def test_the_written_partition_is_the_one_incremental_builds_replace():
    # The rule's day and write_sql's are the same: @run_date - 1, midnight.
    assert hours_from_run_date(sqlglot.parse_one(INCREMENTAL_DAY, read="bigquery")) == (WRITTEN_PARTITION_START, True)


@pytest.mark.parametrize("where", [
    "t.activity_date < DATE_SUB(@run_date, INTERVAL 1 DAY)",
    "activity_date = DATE_SUB(@run_date, INTERVAL 2 DAY)",
    "t.activity_date <= @run_date - 2",
    "DATE_SUB(@run_date, INTERVAL 1 DAY) > t.activity_date",
    "t.activity_date BETWEEN DATE_SUB(@run_date, INTERVAL 29 DAY) AND DATE_SUB(@run_date, INTERVAL 2 DAY)",
    "user_id IS NOT NULL AND t.activity_date < DATE(TIMESTAMP_SUB(@run_time, INTERVAL 1 DAY))",
    "TIMESTAMP(t.activity_date) < TIMESTAMP(DATE_SUB(@run_date, INTERVAL 1 DAY))",
    "t.activity_date < DATE_SUB(@run_date, INTERVAL 1 WEEK)",
])
def test_reads_strictly_before_the_written_partition_are_accepted(where):
    assert _problem(where) is None


@pytest.mark.parametrize("where", [
    "t.activity_date < @run_date",  # holds @run_date - 1, the partition being written
    "t.activity_date = DATE_SUB(@run_date, INTERVAL 1 DAY)",
    "t.activity_date <= DATE_SUB(@run_date, INTERVAL 1 DAY)",
    "t.activity_date >= DATE_SUB(@run_date, INTERVAL 30 DAY)",  # a lower bound alone
    "t.activity_date < DATE(TIMESTAMP_SUB(@run_time, INTERVAL 12 HOUR))",
    "TIMESTAMP(t.activity_date) < TIMESTAMP_SUB(@run_time, INTERVAL 24 HOUR)",  # @run_time is past midnight
    "t.activity_date < CURRENT_DATE() - 2",  # not the run's day: a backfill would read its own partition
    "DATE_ADD(t.activity_date, INTERVAL 5 DAY) < DATE_SUB(@run_date, INTERVAL 1 DAY)",
    "t.activity_date < DATE_SUB(@run_date, INTERVAL 2 DAY) OR user_id = 'u'",
    "user_id = 'u'",
])
def test_reads_that_may_reach_the_written_partition_are_refused(where):
    what, fix = _problem(where)
    assert "without bounding activity_date strictly before the partition it writes" in what
    assert "DATE_SUB(@run_date, INTERVAL 1 DAY)" in fix


def test_a_query_that_is_not_incremental_may_not_read_itself():
    what, fix = _problem("t.activity_date < DATE_SUB(@run_date, INTERVAL 1 DAY)", incremental=False)
    assert "is not incremental" in what and "cycle" in what
    assert "only an incremental query may read its own earlier partitions" in fix


def test_check_refuses_a_self_read_of_the_written_day_with_one_line(project):
    add_query(project, PRODUCT, "product_streaks",
              "SELECT activity_date, user_id FROM mart.product_streaks\n"
              "WHERE activity_date <= DATE_SUB(@run_date, INTERVAL 1 DAY)\n",
              "description: Streaks.\nincremental: true\npartitioning: {field: activity_date, type: DAY}\n"
              "columns:\n  - {name: activity_date, type: DATE, description: Day.}\n"
              "  - {name: user_id, type: STRING, description: User.}\n")
    [line] = problems_of(project)
    assert line.startswith(f"{PRODUCT}/product_streaks.sql:1: ")
    assert "reads its own table mart.product_streaks without bounding activity_date strictly before" in line
    assert "cycle" in line and "; fix: " in line


def test_the_forms_pass_check_with_no_cycle_and_no_self_edge(project):
    shutil.copytree(FORMS, project / "scheduled_queries", dirs_exist_ok=True)
    result = run_cli("--root", str(project), "check")
    assert result.returncode == 0, result.stderr
    graph = run_cli("--root", str(project), "graph", "--stack", "dev", "--select", "+mart.product_user_last_seen")
    assert graph.returncode == 0, graph.stderr
    assert "mart__product_user_activity_daily --> mart__product_user_last_seen" in graph.stdout
    assert "mart__product_user_last_seen --> mart__product_user_last_seen" not in graph.stdout


def test_run_local_reads_the_day_before_s_own_partition(project):
    shutil.copytree(FORMS, project / "scheduled_queries", dirs_exist_ok=True)
    result = run_cli("--root", str(project), "run", "--local", "--select",
                     "+mart.product_user_last_seen +mart.product_first_block_edits",
                     "--show", "mart.product_user_last_seen", "--show", "mart.product_first_block_edits",
                     "--limit", "100")
    assert result.returncode == 0, result.stdout + result.stderr
    rows = [line.split() for line in result.stdout.splitlines() if line.startswith("  2026-")]
    last_seen = {(r[0], r[1]): r[2] for r in rows if len(r) == 5}
    # u_alice was active on 2026-10-31 and 2026-11-01: the second day shifted the first's row.
    assert last_seen[("2026-10-31", "u_alice")] == "1"
    assert last_seen[("2026-11-01", "u_alice")] == "3"
    # u_ken was active on 2026-10-31 only: its bit moved to "one day before".
    assert last_seen[("2026-11-01", "u_ken")] == "2"
    first_edits = [(r[0], r[1]) for r in rows if len(r) == 6]
    users = [user for _, user in first_edits]
    assert len(users) == len(set(users)), first_edits  # each user once: the earlier partition was read
    assert ("2026-10-31", "u_alice") in first_edits and ("2026-11-01", "u_alice") not in first_edits


def test_the_columns_of_its_own_table_are_resolved_against_its_contract(project):
    shutil.copytree(FORMS, project / "scheduled_queries", dirs_exist_ok=True)
    sql = project / PRODUCT / "product_user_last_seen.sql"
    sql.write_text(sql.read_text().replace("SELECT user_id, days_seen_bits\n", "SELECT user_id, days_seen_bit\n"))
    line, _ = problems_of(project)  # and the CTE's column that no longer exists, below
    assert line.startswith(f"{PRODUCT}/product_user_last_seen.sql:10: ")
    assert "unknown column days_seen_bit:" in line and "did you mean 'days_seen_bits'" in line
