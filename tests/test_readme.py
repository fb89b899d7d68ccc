"""The README's how-to examples are true: added to a copy of the project the way the README says,
every one of them passes `check` against every stack, the dataset's `folders:` routes its folder's
tables, the scheduled query's example builds the day it replaces in the local BigQuery, and the
pages it links to exist."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from google.cloud import bigquery

from infra.local.runner import run_script
from infra.model.load import load_for_stack
from infra.resources.write_sql import write_script
from tests.conftest import ROOT, copy_project, run_cli

PROJECT = "acme-warehouse-dev"  # the session emulator's project

README = (ROOT / "README.md").read_text(encoding="utf-8")


SQL_FORMS = (ROOT / "docs" / "sql-forms.md").read_text(encoding="utf-8")


def section(title: str) -> str:
    """A how-to of the README, or of docs/sql-forms.md (where the README sends the rarer forms)."""
    text = README if f"### {title}\n" in README else SQL_FORMS
    return text.split(f"### {title}\n", 1)[1].split("\n### ", 1)[0].split("\n## ", 1)[0]


def blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, re.S)


def test_the_readme_is_short_and_its_links_exist():
    assert len(README) < 20_000
    links = re.findall(r"\]\(([^)#]+)\)", README)
    assert len([link for link in links if link.startswith("docs/")]) >= 4
    missing = [link for link in links if not link.startswith("http") and not (ROOT / link).exists()]
    assert not missing, missing


def test_every_how_to_example_checks(tmp_path):
    project = copy_project(tmp_path / "project")
    # Add a dataset: `campaigns` (in a protected stack it needs coverage, as the README says).
    [dataset] = blocks(section("Add a dataset"), "yaml")
    (project / "datasets/campaigns.yaml").write_text(dataset)
    coverage = project / "backups/coverage.yaml"
    coverage.write_text(coverage.read_text().replace("datasets:\n", "datasets:\n  campaigns: [weekly_snapshots]\n", 1))
    # Add a role member: the new line under data_analyst, in every stack file.
    [member] = blocks(section("Add a role member"), "yaml")
    new = next(line for line in member.splitlines() if "# new" in line).split("#")[0].rstrip()
    for stack_file in project.glob("Pulumi.*.yaml"):
        text = stack_file.read_text()
        assert "    data_analyst:\n" in text
        stack_file.write_text(text.replace("    data_analyst:\n", f"    data_analyst:\n{new}\n", 1))
    # Add a scheduled query: the SQL and the YAML, where the README puts them.
    query = section("Add a scheduled query (a table) or a view")
    [sql], [spec] = blocks(query, "sql"), blocks(query, "yaml")
    folder = project / "scheduled_queries/mart/revenue"
    (folder / "revenue_mrr_total.sql").write_text(sql)
    (folder / "revenue_mrr_total.yaml").write_text(spec)
    # Add a backup policy: the policy, covering the revenue marts' dataset.
    policy, _ = blocks(section("Add a backup policy, or cover a dataset"), "yaml")
    (project / "backups/policies/revenue_4h.yaml").write_text(policy)
    assert "  mart: [" in coverage.read_text()
    coverage.write_text(coverage.read_text().replace("  mart: [", "  mart: [revenue_4h, ", 1))
    # Add a role: finance_analyst, with (no) members in every stack file.
    [role] = blocks(section("Add a role"), "yaml")
    (project / "roles/finance_analyst.yaml").write_text(role)
    for stack_file in project.glob("Pulumi.*.yaml"):
        text = stack_file.read_text()
        assert "  warehouse:members:\n" in text
        stack_file.write_text(text.replace("  warehouse:members:\n", "  warehouse:members:\n    finance_analyst: []\n"))
    # The dataset's folder, as its `folders:` says: a query there (the README's example again) writes to it.
    (project / "scheduled_queries/mart/campaigns").mkdir()
    (project / "scheduled_queries/mart/campaigns/campaigns_mrr_total.sql").write_text(sql)
    (project / "scheduled_queries/mart/campaigns/campaigns_mrr_total.yaml").write_text(spec)
    done = run_cli("--root", str(project), "check")
    assert done.returncode == 0, done.stderr
    assert "revenue_mrr_total" in run_cli("--root", str(project), "graph", "--stack", "prod").stdout
    written = {q.spec.name: q.spec.dataset for q in load_for_stack(project, "prod").queries}
    assert (written["campaigns_mrr_total"], written["revenue_mrr_total"]) == ("campaigns", "mart")


def test_the_dataset_example_needs_its_folder(tmp_path):
    """Without scheduled_queries/mart/campaigns/, the README's dataset fails `check`, as it says."""
    project = copy_project(tmp_path / "project")
    [dataset] = blocks(section("Add a dataset"), "yaml")
    (project / "datasets/campaigns.yaml").write_text(dataset)
    done = run_cli("--root", str(project), "check", "--stack", "dev")
    assert done.returncode == 1
    assert "datasets/campaigns.yaml:3: folders[0]: folder 'campaigns' has no directory" in done.stderr


# --- the scheduled query's example builds the right rows (no partition bug) ---------------------------------

RUN_DATES = (dt.date(2026, 1, 2), dt.date(2026, 1, 18))  # the day before: the 1st of a month, and the 17th


def _example_build(tmp_path, sql: str):
    """The README's example as the program writes it (dev stack, datasets under readme_), and the
    ResolvedQuery of the mart table it reads."""
    project = copy_project(tmp_path / "project")
    stack = project / "Pulumi.dev.yaml"
    stack.write_text(stack.read_text().replace("datasetPrefix: dev_", "datasetPrefix: readme_"))
    query = section("Add a scheduled query (a table) or a view")
    [spec] = blocks(query, "yaml")
    (project / "scheduled_queries/mart/revenue/revenue_mrr_total.sql").write_text(sql)
    (project / "scheduled_queries/mart/revenue/revenue_mrr_total.yaml").write_text(spec)
    warehouse = load_for_stack(project, "dev")
    return warehouse.query("mart.revenue_mrr_total"), warehouse.query("mart.revenue_mrr")


@pytest.fixture
def readme_mart(emulator):
    client = emulator.client()
    client.create_dataset(bigquery.Dataset(f"{PROJECT}.readme_mart"))
    yield client
    client.delete_dataset(f"{PROJECT}.readme_mart", delete_contents=True, not_found_ok=True)


def _create(client, query) -> str:
    table = bigquery.Table(f"{PROJECT}.readme_mart.{query.spec.name}", schema=[
        bigquery.SchemaField(c.name, c.type, mode=c.mode) for c in query.spec.columns])
    table.time_partitioning = bigquery.TimePartitioning(field=query.spec.partitioning.field)
    return client.create_table(table).full_table_id.replace(":", ".")


def _build(client, query, run_date: dt.date) -> None:
    run_time = dt.datetime.combine(run_date, dt.time(4, 40), tzinfo=dt.UTC)
    run_script(client, write_script(query, f"{PROJECT}.readme_mart.{query.spec.name}"), run_time,
               [bigquery.ScalarQueryParameter("run_date", "DATE", run_date),
                bigquery.ScalarQueryParameter("run_time", "TIMESTAMP", run_time)])


def _seed(client, mrr) -> None:
    """revenue_mrr's rows on days around both runs."""
    client.query(f"INSERT INTO `{_create(client, mrr)}` (as_of_date, customer_id, subscriptions, mrr_usd) VALUES "
                 "(DATE '2025-12-31', 'a', 1, 10), (DATE '2026-01-01', 'a', 1, 10), (DATE '2026-01-01', 'b', 2, 5.5), "
                 "(DATE '2026-01-17', 'a', 1, 12), (DATE '2026-01-18', 'c', 1, 99)").result()


def test_the_query_example_fills_the_day_it_replaces(tmp_path, readme_mart):
    """Its grain is the day, its partitions are days, and each run replaces the day before it: on
    the 1st of a month and any other day, each run leaves exactly that day's totals."""
    client = readme_mart
    [sql] = blocks(section("Add a scheduled query (a table) or a view"), "sql")
    total, mrr = _example_build(tmp_path, sql)
    assert (total.spec.incremental, total.spec.partitioning.type) == (True, "DAY")
    _seed(client, mrr)
    target = _create(client, total)
    for run_date in (*RUN_DATES, RUN_DATES[1]):  # the second day twice: a re-run replaces, never adds
        _build(client, total, run_date)
    rows = sorted(tuple(r.values()) for r in client.query(f"SELECT * FROM `{target}`").result())
    assert rows == [(dt.date(2026, 1, 1), 2, 15.5), (dt.date(2026, 1, 17), 1, 12.0)]


def test_a_grain_off_its_day_fails_the_build(tmp_path, readme_mart):
    """The control: the same example reading every day before the run, not the one it replaces,
    fails the run, so the test above would see a partition bug."""
    client = readme_mart
    [sql] = blocks(section("Add a scheduled query (a table) or a view"), "sql")
    wrong = sql.replace("WHERE as_of_date = DATE_SUB(@run_date, INTERVAL 1 DAY)", "WHERE as_of_date < @run_date")
    assert wrong != sql
    total, mrr = _example_build(tmp_path, wrong)
    _seed(client, mrr)
    _create(client, total)
    with pytest.raises(Exception, match="outside the partition"):
        _build(client, total, RUN_DATES[1])


def test_the_nested_column_example_checks(tmp_path):
    project = copy_project(tmp_path / "project")
    example = section("Declare a nested column (STRUCT, ARRAY)")
    [spec], [sql] = blocks(example, "yaml"), blocks(example, "sql")
    folder = project / "scheduled_queries/staging/ga4"
    (folder / "stg_ga4_orders.sql").write_text(sql)
    (folder / "stg_ga4_orders.yaml").write_text(spec)
    done = run_cli("--root", str(project), "check")
    assert done.returncode == 0, done.stderr
    lines = next(c for c in load_for_stack(project, "prod").query("stg_external.stg_ga4_orders").spec.columns
                 if c.name == "lines")
    assert lines.sql_type == "ARRAY<STRUCT<plan_id STRING, seats INT64>>"
    # The comparison is real: a field the SELECT does not build is refused.
    (folder / "stg_ga4_orders.yaml").write_text(spec.replace("name: seats", "name: seat_count"))
    refused = run_cli("--root", str(project), "check")
    assert refused.returncode == 1 and "column lines is ARRAY<STRUCT<plan_id STRING, seats INT64>>" in refused.stderr


def test_the_routine_example_checks_and_resolves_per_stack(tmp_path):
    project = copy_project(tmp_path / "project")
    how_to = section("Add a routine (a function)")
    [body], [spec] = blocks(how_to, "sql"), blocks(how_to, "yaml")
    (project / "routines/mart").mkdir(parents=True)
    (project / "routines/mart/normalize_email.sql").write_text(body)
    (project / "routines/mart/normalize_email.yaml").write_text(spec)
    folder = project / "scheduled_queries/mart/core"
    (folder / "core_user_emails.sql").write_text(
        "SELECT user_id, mart.normalize_email(email) AS email FROM mart.core_users\n")
    (folder / "core_user_emails.yaml").write_text(
        "description: Each user's normalized e-mail.\nschedule: every day 05:10\ncolumns:\n"
        "  - {name: user_id, type: STRING, mode: REQUIRED, description: Backend user id.}\n"
        "  - {name: email, type: STRING, description: Normalized e-mail.}\n")
    done = run_cli("--root", str(project), "check")
    assert done.returncode == 0, done.stderr
    prod = load_for_stack(project, "prod")
    assert "`acme-warehouse-prod.production_mart.normalize_email`(email)" in prod.query("mart.core_user_emails").sql
    assert prod.routine("mart.normalize_email").spec.returns == "STRING"
