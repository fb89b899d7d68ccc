"""Breaking changes and impact: removing, renaming or retyping a column that a table, a view or a
tool reads fails `check --base REF`, naming each reader; `impact` lists the readers downstream."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from infra.model.impact import downstream, external_readers
from infra.model.load import load_for_stack
from tests.conftest import ROOT, copy_project, run_cli
from tests.test_columns import edit

VIEW = "scheduled_queries/reporting/tableau/mrr_daily"
CENSUS = "scheduled_queries/sync/census/census_stripe_customers"


def git(project: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(project), *args], check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    project = copy_project(tmp_path / "project")
    git(project, "init", "-q", "-b", "main")
    git(project, "-c", "user.name=t", "-c", "user.email=t@example.com", "add", "-A")
    git(project, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "base")
    return project


def commit(project: Path) -> None:
    git(project, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qam", "change")


def check_base(project: Path, *extra: str) -> subprocess.CompletedProcess:
    result = run_cli("--root", str(project), "check", "--stack", "prod", "--base", "main", *extra)
    assert "Traceback" not in result.stderr
    return result


def drop_view_column(project: Path) -> None:
    edit(project, f"{VIEW}.sql", "  COUNT(DISTINCT customer_id) AS paying_customers,\n  SUM(mrr_usd) AS mrr_usd\n",
         "  COUNT(DISTINCT customer_id) AS paying_customers\n")
    path = project / f"{VIEW}.yaml"
    path.write_text("".join(x for x in path.read_text().splitlines(keepends=True) if "{name: mrr_usd," not in x))


def test_removing_a_column_tableau_reads_names_the_tool(repo):
    drop_view_column(repo)
    result = check_base(repo)
    assert result.returncode == 1
    [line] = [x for x in result.stderr.splitlines() if "breaking change" in x]
    assert line.startswith(f"{VIEW}.yaml: columns: breaking change: column mrr_usd of reporting.mrr_daily is removed")
    assert "role reporting_reader (Reporting reader) (reads reporting.mrr_daily.mrr_usd)" in line
    assert "deprecated:" in line.split("; fix: ")[1]


def test_a_column_deprecated_first_may_be_removed_later(repo):
    edit(repo, f"{VIEW}.yaml", "description: Total monthly recurring revenue in USD.}",
         "description: Total monthly recurring revenue in USD., deprecated: use revenue.mrr_total}")
    assert check_base(repo).returncode == 0  # deprecating is no break
    commit(repo)
    drop_view_column(repo)
    result = check_base(repo)
    assert result.returncode == 0, result.stderr


def test_the_deprecation_reaches_bigquerys_description(repo):
    edit(repo, f"{VIEW}.yaml", "description: Total monthly recurring revenue in USD.}",
         "description: Total monthly recurring revenue in USD., deprecated: use revenue.mrr_total}")
    warehouse = load_for_stack(repo, "prod")
    [column] = [c for c in warehouse.query("reporting.mrr_daily").spec.columns if c.name == "mrr_usd"]
    assert column.as_bigquery_json()["description"].startswith("DEPRECATED: use revenue.mrr_total | Total")


def test_removing_a_column_a_sync_tool_reads_names_the_tool(repo):
    edit(repo, f"{CENSUS}.sql", "  email,\n", "")
    edit(repo, f"{CENSUS}.yaml", "  - {name: email, type: STRING, description: \"The user's e-mail, lower-cased.\"}\n",
         "")
    result = check_base(repo)
    assert result.returncode == 1
    [line] = [x for x in result.stderr.splitlines() if "breaking change" in x]
    assert "column email of census.census_stripe_customers is removed" in line
    assert "tool sync tool census" in line and "tool role sync_census (Census sync)" in line


def test_retyping_a_column_names_the_tables_and_views_that_read_it(repo):
    mrr = "scheduled_queries/mart/revenue/revenue_mrr"
    edit(repo, f"{mrr}.yaml", "{name: mrr_usd, type: FLOAT64,", "{name: mrr_usd, type: NUMERIC,")
    edit(repo, f"{mrr}.sql", "  COALESCE(SUM(", "  CAST(COALESCE(SUM(")
    edit(repo, f"{mrr}.sql", "  ), 0) AS mrr_usd", "  ), 0) AS NUMERIC) AS mrr_usd")
    result = check_base(repo)
    lines = [x for x in result.stderr.splitlines() if "breaking change" in x]
    assert any("column mrr_usd of mart.revenue_mrr changes from FLOAT64" in x and "to NUMERIC" in x
               and "view reporting.mrr_daily (reads mart.revenue_mrr.mrr_usd)" in x for x in lines), result.stderr


def test_renaming_a_staging_column_names_the_rename_and_its_readers(repo):
    edit(repo, "scheduled_queries/mart/core/core_workspaces.sql", ") AS mrr_usd,", ") AS monthly_revenue_usd,")
    edit(repo, "scheduled_queries/mart/core/core_workspaces.yaml", "{name: mrr_usd,", "{name: monthly_revenue_usd,")
    result = check_base(repo)
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    [line] = [x for x in lines if "breaking change" in x]
    assert "column mrr_usd of mart.core_workspaces is renamed to monthly_revenue_usd" in line
    assert "table ml.ml_churn_features (reads mart.core_workspaces.mrr_usd)" in line
    assert any(x.startswith("scheduled_queries/ml/features/ml_churn_features.sql:7: unknown column mrr_usd")
               for x in lines)


def test_adding_a_column_or_changing_nothing_is_no_break(repo):
    assert check_base(repo).returncode == 0


def test_a_bad_ref_is_one_line(repo):
    result = run_cli("--root", str(repo), "check", "--stack", "prod", "--base", "no-such-ref")
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert line.startswith("check --base: git knows no commit 'no-such-ref'; fix: name a branch, tag or commit")


def test_downstream_of_a_column_follows_the_lineage_to_the_tools():
    warehouse = load_for_stack(ROOT, "prod")
    readers = downstream(warehouse, "mart.revenue_mrr", "customer_id")
    names = {(r.depth, r.name) for r in readers}
    assert (1, "reporting.mrr_daily") in names
    assert (2, "role reporting_reader (Reporting reader)") in names  # Tableau reads the view's paying_customers
    assert all(r.name != "reporting.nps_weekly" for r in readers)
    assert external_readers(warehouse, "mart") == []  # people read marts by layer: not tools


def test_impact_command(tmp_path):
    result = run_cli("impact", "mart.revenue_mrr.customer_id", "--stack", "prod")
    assert result.returncode == 0, result.stderr
    assert "view reporting.mrr_daily (reads mart.revenue_mrr.customer_id)" in result.stdout
    whole = run_cli("impact", "stg_external.stg_stripe_subscriptions", "--stack", "prod")
    assert whole.returncode == 0 and "mart.revenue_mrr" in whole.stdout and "reporting.mrr_daily" in whole.stdout
    bad = run_cli("impact", "mart.revenue_mrr.customer_idd", "--stack", "prod")
    assert bad.returncode == 1 and "did you mean 'customer_id'?" in bad.stderr and "Traceback" not in bad.stderr
    unknown = run_cli("impact", "mart.revenue_mr", "--stack", "prod")
    assert unknown.returncode == 1 and "did you mean 'mart.revenue_mrr'?" in unknown.stderr
