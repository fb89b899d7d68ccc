"""Column-level analysis: every column reference resolves against the contracts, outputs are
compared with the contract by name and inferred type, and the column lineage is kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.checks.columns import analyze_columns, compatible, contract_schema
from infra.checks.sql import parse
from infra.declarations.columns import Column
from tests.conftest import ROOT
from tests.test_query_rules import MART, add_query, problems_of


def edit(project: Path, rel: str, old: str, new: str) -> None:
    path = project / rel
    text = path.read_text()
    assert old in text, (rel, old)
    path.write_text(text.replace(old, new))


def test_a_misspelt_column_in_a_where_clause_is_one_line_with_file_line_and_suggestion(project):
    add_query(project, MART, "mrr_recent", "SELECT\n  customer_id\nFROM mart.revenue_mrr\n"
              "WHERE as_of_dat = DATE_SUB(@run_date, INTERVAL 1 DAY)\n",
              "description: Test.\nschedule: every day 05:10\ncolumns:\n"
              "  - {name: customer_id, type: STRING, description: Id.}\n")
    [line] = problems_of(project)
    assert line.startswith(f"{MART}/mrr_recent.sql:4: unknown column as_of_dat")
    assert "did you mean 'as_of_date'?" in line and "; fix: " in line


def test_removing_a_column_a_tableau_view_reads_names_the_view(project):
    edit(project, f"{MART}/revenue_mrr.yaml",
         "  - {name: customer_id, type: STRING, mode: REQUIRED, description: Stripe customer id.}\n", "")
    edit(project, f"{MART}/revenue_mrr.yaml", "clustering: [customer_id]\n", "")
    edit(project, f"{MART}/revenue_mrr.sql", "  customer_id,\n", "", )
    lines = problems_of(project)
    assert any(line.startswith("scheduled_queries/reporting/tableau/mrr_daily.sql:4: unknown column customer_id")
               for line in lines), lines


def test_renaming_a_column_names_every_downstream_reader(project):
    edit(project, "scheduled_queries/mart/core/core_workspaces.sql", ") AS mrr_usd,", ") AS monthly_revenue_usd,")
    edit(project, "scheduled_queries/mart/core/core_workspaces.yaml", "{name: mrr_usd,", "{name: monthly_revenue_usd,")
    lines = problems_of(project)
    churn = "scheduled_queries/ml/features/ml_churn_features.sql"
    assert any(line.startswith(f"{churn}:7: unknown column mrr_usd") for line in lines), lines
    assert any(line.startswith(f"{churn}:44: unknown column p.mrr_usd") for line in lines), lines


def test_an_outer_star_is_expanded_from_the_contracts(project):
    add_query(project, "scheduled_queries/reporting/tableau", "mrr_all", "SELECT * FROM mart.revenue_mrr\n",
              "description: Test.\ncolumns:\n  - {name: as_of_date, type: DATE, description: Day.}\n")
    [line] = problems_of(project)
    assert "mrr_all.sql: the SELECT's columns differ" in line and "not declared customer_id" in line


def test_a_type_the_contract_does_not_declare_is_refused(project):
    add_query(project, MART, "mrr_text", "SELECT CAST(as_of_date AS STRING) AS day\nFROM mart.revenue_mrr\n"
              "WHERE as_of_date = DATE_SUB(@run_date, INTERVAL 1 DAY)\n",
              "description: Test.\nschedule: every day 05:10\ncolumns:\n"
              "  - {name: day, type: DATE, description: Day.}\n")
    [line] = problems_of(project)
    assert "column day is STRING in the SELECT" in line and "declares DATE" in line and "CAST" in line


def test_ambiguous_and_unknown_alias(project):
    add_query(project, MART, "mrr_join",
              "SELECT a.customer_id, as_of_date\nFROM mart.revenue_mrr AS r\n"
              "JOIN mart.revenue_mrr AS s USING (customer_id)\n"
              "WHERE r.as_of_date = DATE_SUB(@run_date, INTERVAL 1 DAY) AND s.as_of_date = r.as_of_date\n",
              "description: Test.\ncolumns:\n  - {name: customer_id, type: STRING, description: Id.}\n"
              "  - {name: as_of_date, type: DATE, description: Day.}\n")
    lines = problems_of(project)
    assert any("mrr_join.sql:1: unknown column a.customer_id: no table or column 'a'" in line for line in lines), lines
    assert any("mrr_join.sql:1: ambiguous column as_of_date: r and s both have it" in line for line in lines), lines


SCHEMA = contract_schema({
    "mart.users": (Column("user_id", "STRING", "REQUIRED", "."), Column("signup_date", "DATE", "NULLABLE", "."),
                   Column("plan", "STRING", "NULLABLE", ".")),
    "mart.events": (Column("user_id", "STRING", "REQUIRED", "."), Column("n", "INT64", "NULLABLE", ".")),
})


@pytest.mark.parametrize("sql", [
    "SELECT u.user_id FROM mart.users AS u WHERE EXISTS (SELECT 1 FROM mart.events AS e WHERE e.user_id = u.user_id)",
    "SELECT user_id FROM mart.users WHERE user_id IN (SELECT user_id FROM mart.events WHERE n > 0)",
    "SELECT user_id AS x FROM mart.users ORDER BY x",
    "SELECT plan AS p, COUNT(*) AS n FROM mart.users GROUP BY p HAVING p = 'x' ORDER BY p",
    "SELECT LOWER(plan) AS plan FROM mart.users WHERE plan = 'x'",
    "SELECT DATE_TRUNC(signup_date, MONTH) AS m, COUNT(*) AS k FROM mart.users GROUP BY m",
    "WITH w AS (SELECT user_id AS k FROM mart.users) SELECT k FROM w",
    "SELECT x FROM mart.users, UNNEST([1, 2]) AS x",
    "SELECT user_id FROM mart.users UNION ALL SELECT user_id FROM mart.events",
    "SELECT plan FROM mart.users QUALIFY ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY signup_date) = 1",
])
def test_valid_forms_resolve(sql):
    assert analyze_columns(parse(sql).tree, SCHEMA).problems == ()


@pytest.mark.parametrize(("sql", "expected"), [
    ("SELECT user_idd FROM mart.users",
     "unknown column user_idd: no table of its FROM has it (did you mean 'user_id'?)"),
    ("SELECT u.plann FROM mart.users AS u",
     "unknown column u.plann: mart.users has no column 'plann' (did you mean 'plan'?)"),
    ("SELECT user_id FROM mart.users WHERE user_id IN (SELECT user_id FROM mart.events WHERE nn > 0)",
     "unknown column nn"),
    ("WITH w AS (SELECT user_id AS k FROM mart.users) SELECT kk FROM w", "unknown column kk"),
    ("SELECT user_id FROM mart.users JOIN mart.events USING (user_id) WHERE plan = 'x' AND n > 0 AND zz",
     "unknown column zz"),
])
def test_wrong_forms_are_told_once(sql, expected):
    [problem] = analyze_columns(parse(sql).tree, SCHEMA).problems
    assert problem.what.startswith(expected) and problem.line == 1


@pytest.mark.parametrize(("sql", "clause"), [
    ("SELECT LOWER(plan) AS p FROM mart.users WHERE p = 'x'", "its WHERE"),
    ("SELECT LOWER(plan) AS p, UPPER(p) AS q FROM mart.users", "a later item of its SELECT list"),
])
def test_a_select_alias_where_bigquery_does_not_see_it(sql, clause):
    [problem] = analyze_columns(parse(sql).tree, SCHEMA).problems
    assert problem.what == f"p is an alias of the SELECT list, named in {clause}: BigQuery does not resolve it there"


def test_every_unknown_qualified_column_is_told_in_one_run():
    problems = analyze_columns(parse("SELECT u.a1,\n u.a2\nFROM mart.users AS u\nWHERE u.a3 = 1").tree, SCHEMA).problems
    assert [(p.line, p.what.split(":")[0]) for p in problems] == [
        (1, "unknown column u.a1"), (2, "unknown column u.a2"), (4, "unknown column u.a3")]


def test_output_types_and_lineage():
    analysis = analyze_columns(parse(
        "WITH e AS (SELECT user_id, SUM(n) AS total FROM mart.events GROUP BY user_id)\n"
        "SELECT u.user_id, u.signup_date, COALESCE(e.total, 0) * 1.5 AS score\n"
        "FROM mart.users AS u LEFT JOIN e USING (user_id) WHERE u.plan = 'pro'").tree, SCHEMA)
    assert analysis.outputs == (("user_id", "STRING"), ("signup_date", "DATE"), ("score", "FLOAT64"))
    assert analysis.lineage["score"] == {("mart.events", "n")}
    assert analysis.lineage["signup_date"] == {("mart.users", "signup_date")}
    assert ("mart.users", "plan") in analysis.reads and ("mart.events", "user_id") in analysis.reads


@pytest.mark.parametrize(("inferred", "declared", "ok"), [
    ("INT64", "INT64", True), ("INT64", "FLOAT64", True), ("INT64", "NUMERIC", True), ("NUMERIC", "FLOAT64", True),
    ("DATE", "DATETIME", True), ("FLOAT64", "INT64", False), ("STRING", "DATE", False), ("DATE", "TIMESTAMP", False),
    ("TIMESTAMP", "DATE", False), (None, "DATE", True),
])
def test_coercions_are_bigquerys(inferred, declared, ok):
    assert compatible(inferred, declared) is ok


def test_the_shipped_queries_resolve_and_keep_their_lineage():
    from infra.model.load import load_for_stack

    warehouse = load_for_stack(ROOT, "prod")
    analysed = [q for q in warehouse.queries if q.column_lineage]
    assert len(analysed) == len(warehouse.queries)
    mrr = warehouse.query("reporting.mrr_daily")
    assert mrr.column_lineage["paying_customers"] == {("mart.revenue_mrr", "customer_id")}
