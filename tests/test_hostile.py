"""The hostile and mistaken inputs that once went wrong, each now refused in one problem line
(`check` exits 1, no traceback): values that crashed a loader, duplicates that made two resources
of one name, one-off copies of nothing, reserved labels in a query, two roles on one account, views
that read each other across datasets, and malformed JSON handed to `plan --diff` and `drift`."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.model.load import load_for_stack
from infra.problems import ProblemsError
from tests.conftest import copy_project, run_cli


def edit(project: Path, file: str, old: str, new: str) -> None:
    path = project / file
    text = path.read_text(encoding="utf-8")
    assert old in text, (file, old)
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def write(project: Path, file: str, text: str) -> None:
    (project / file).parent.mkdir(parents=True, exist_ok=True)
    (project / file).write_text(text, encoding="utf-8")


def problems(project: Path) -> list[str]:
    with pytest.raises(ProblemsError) as caught:
        load_for_stack(project, "prod")
    return [str(p) for p in caught.value.problems]


VIEW = ("description: A view of the dashboard's numbers.\nkind: view\ncolumns:\n"
        "  - {name: as_of_date, type: DATE, description: Day.}\n")

CASES = {
    "role EDITOR": (
        [("roles/data_analyst.yaml", "  - role: WRITER", "  - role: EDITOR")],
        "roles/data_analyst.yaml:8: grants[1].role: 'EDITOR' is not allowed"),
    "misspelt layer": (
        [("datasets/mart.yaml", "layer: mart", "layer: marts")],
        "datasets/mart.yaml:4: layer: 'marts' is not allowed (did you mean 'mart'?)"),
    "mode in lower case": (
        [("scheduled_queries/mart/revenue/revenue_mrr.yaml", "mode: REQUIRED", "mode: required")],
        "mode: 'required' is not allowed (did you mean 'REQUIRED'?)"),
    "partitioning by week": (
        [("scheduled_queries/mart/revenue/revenue_mrr.yaml", "type: DAY", "type: WEEK")],
        "partitioning.type: 'WEEK' is not allowed"),
    "a quoted number": (
        [("datasets/mart.yaml", "description:", "time_travel_days: '7'\ndescription:")],
        "time_travel_days: must be a whole number, got text '7'"),
    "a negative margin": (
        [("scheduled_queries/mart/revenue/revenue_mrr.yaml", "description:", "after_margin_minutes: -5\ndescription:")],
        "after_margin_minutes: -5 is out of range (from 0 to 1440)"),
    "a project role twice": (
        [("roles/data_analyst.yaml", "  - roles/bigquery.jobUser",
          "  - roles/bigquery.jobUser\n  - roles/bigquery.jobUser")],
        "project_roles[1]: 'roles/bigquery.jobUser' is listed twice"),
    "two members with one resource name": (
        [("Pulumi.prod.yaml", "      - group:data-analysts@acme.com",
          "      - group:data-analysts@acme.com\n      - group:data+analysts@acme.com")],
        "group:data+analysts@acme.com and group:data-analysts@acme.com would give their project grants the same "
        "resource name"),
    "two roles on one account": (
        [("roles/backup.yaml", "account_id: backup-runner", "account_id: query-runner")],
        "'wh-query-runner' is also the account of roles/"),
    "a reserved label in a query": (
        [("scheduled_queries/mart/revenue/revenue_mrr.yaml", "description:", "labels: {layer: staging}\ndescription:")],
        "labels.layer: this label is set by the program"),
    "a copy onto itself": (
        [("backups/one_off_copies.yaml", "destination: backup_us_400d.revenue_mrr_before_eur",
          "destination: mart.revenue_mrr")],
        "copies.revenue_mrr_before_eur: copies a table onto itself"),
    "a copy into a table a query builds": (
        [("backups/one_off_copies.yaml", "destination: backup_us_400d.revenue_mrr_before_eur",
          "destination: mart.core_users")],
        "copies into 'mart', which is not a backup dataset"),
    "a copy of nothing": (
        [("backups/one_off_copies.yaml", "source: mart.revenue_mrr", "source: mart.revenue_mrr_old")],
        "no query builds 'mart.revenue_mrr_old'"),
    "a copy of a view": (
        [("backups/one_off_copies.yaml", "source: mart.revenue_mrr", "source: reporting.mrr_daily")],
        "reporting.mrr_daily is a view"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_hostile_input_is_one_problem_line(case, tmp_path):
    project = copy_project(tmp_path / "p")
    edits, expected = CASES[case]
    for file, old, new in edits:
        edit(project, file, old, new)
    found = problems(project)
    assert any(expected in line for line in found), found
    assert all("; fix: " in line and "\n" not in line for line in found)


def test_views_reading_each_other_across_datasets_are_a_cycle_not_a_recursion(tmp_path):
    project = copy_project(tmp_path / "p")
    # reporting's views read mart; now a view in mart reads reporting
    write(project, "scheduled_queries/mart/core/dashboard_days.sql",
          "SELECT as_of_date FROM reporting.mrr_daily\n")
    write(project, "scheduled_queries/mart/core/dashboard_days.yaml", VIEW)
    found = problems(project)
    assert any("views read across datasets in a cycle (mart -> reporting -> mart)" in line
               or "views read across datasets in a cycle (reporting -> mart -> reporting)" in line for line in found), \
        found
    result = run_cli("--root", str(project), "check", "--stack", "prod")
    assert result.returncode == 1 and "Traceback" not in result.stderr and "RecursionError" not in result.stderr


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", '{"resources": 7}', '{"resources": [7]}', ""])
def test_plan_diff_takes_malformed_json_in_one_line(tmp_path, text):
    old = tmp_path / "old.json"
    old.write_text(text, encoding="utf-8")
    result = run_cli("plan", "--stack", "dev", "--quiet", "--diff", str(old))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", '{"steps": [7, "x"]}', '{"steps": [{"op": 7}]}',
                                  '{"steps": [{"urn": 7, "op": "update", "detailedDiff": [1]}]}'])
def test_drift_takes_malformed_json_in_one_line(tmp_path, text):
    saved = tmp_path / "saved.json"
    saved.write_text(text, encoding="utf-8")
    result = run_cli("drift", "--stack", "prod", "--from-json", str(saved), "--out", str(tmp_path / "r"))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
