"""Replacements named in review: the data file says, per resource type the program declares, which
input changes the provider cannot make in place; `plan --diff` marks them (data loss on datasets
and tables, refusals, weakened protection) and `check --against` refuses them on protected data
with how to migrate."""

from __future__ import annotations

import copy
import json
from pathlib import Path

from infra.plan.replacements import changes_not_in_place, rules, weakened_protection
from tests.conftest import copy_project, run_cli


def test_every_type_the_program_declares_has_its_facts(prod_plan):
    declared = {r.type for r in prod_plan.resources if r.custom}
    assert declared <= set(rules()), declared - set(rules())
    for token, rule in rules().items():
        assert rule["source"] and isinstance(rule["replace"], list), token
        assert rule["stateful"] in (True, False)
    assert rules()["gcp:bigquery/dataset:Dataset"]["replace"] == ["datasetId", "project", "location"]


def mutated(plan_json: dict, name: str, change) -> dict:
    new = copy.deepcopy(plan_json)
    change(next(r for r in new["resources"] if r["name"] == name))
    return new


def test_partitioning_and_location_are_replacements_with_data_loss(prod_plan):
    old = prod_plan.as_json()
    new = mutated(old, "mart.revenue_mrr-table", lambda r: r["inputs"]["timePartitioning"].update(field="x"))
    (n,) = changes_not_in_place(old, new)
    assert (n.kind, n.stateful, n.protected) == ("replace", True, True)
    assert n.reasons == ("timePartitioning.field 'as_of_date' -> 'x'",)
    new = mutated(old, "reporting-dataset", lambda r: r["inputs"].update(location="EU"))
    (n,) = changes_not_in_place(old, new)
    assert n.kind == "replace" and n.reasons == ("location 'US' -> 'EU'",)
    # the provider compares a dataset's location without case: no replacement
    assert changes_not_in_place(old, mutated(old, "reporting-dataset", lambda r: r["inputs"].update(location="us"))) \
        == []


def test_partitioning_added_to_a_table(prod_plan):
    old = prod_plan.as_json()
    # by a column: the block's `field` is ForceNew, so the provider replaces the table
    new = mutated(old, "mart.core_users-table", lambda r: r["inputs"].update(
        timePartitioning={"type": "DAY", "field": "signup_date"}))
    (n,) = changes_not_in_place(old, new)
    assert n.kind == "replace" and n.stateful
    # by ingestion time: an update in place, which BigQuery refuses
    new = mutated(old, "mart.core_users-table", lambda r: r["inputs"].update(timePartitioning={"type": "DAY"}))
    (n,) = changes_not_in_place(old, new)
    assert n.kind == "refused" and "added to or removed from an existing table" in n.reasons[0]


def test_a_view_holds_no_data_and_a_query_change_is_in_place(prod_plan):
    old = prod_plan.as_json()
    new = mutated(old, "reporting.mrr_daily-view", lambda r: r["inputs"]["view"].update(query="SELECT 1"))
    assert changes_not_in_place(old, new) == []
    new = mutated(old, "reporting.mrr_daily-view", lambda r: r["inputs"].update(tableId="mrr_per_day"))
    (n,) = changes_not_in_place(old, new)
    assert n.kind == "replace" and not n.stateful


def test_weakened_protection_is_named(prod_plan):
    old = prod_plan.as_json()
    new = copy.deepcopy(old)
    for r in new["resources"]:
        r["protect"] = False
    weakened = weakened_protection(old, new)
    assert "gcp:bigquery/dataset:Dataset mart-dataset: protected before, not any more" in weakened


def plan_json(project: Path, stack: str, out: Path) -> Path:
    result = run_cli("--root", str(project), "plan", "--stack", stack, "--quiet", "--json", str(out))
    assert result.returncode == 0, result.stderr
    return out


def test_plan_diff_marks_and_check_against_refuses(tmp_path):
    project = copy_project(tmp_path / "p")
    base = plan_json(project, "prod", tmp_path / "base.json")
    table = project / "scheduled_queries/mart/revenue/revenue_mrr.yaml"
    table.write_text(table.read_text().replace("field: as_of_date", "field: customer_since").replace(
        "  - {name: customer_id,", "  - {name: customer_since, type: DATE, description: First paid day.}\n"
        "  - {name: customer_id,"), encoding="utf-8")
    sql = project / "scheduled_queries/mart/revenue/revenue_mrr.sql"
    text = sql.read_text()
    assert "customer_id," in text
    sql.write_text(text.replace("customer_id,", "CAST(NULL AS DATE) AS customer_since,\n  customer_id,", 1),
                   encoding="utf-8")
    diff = run_cli("--root", str(project), "plan", "--stack", "prod", "--quiet", "--diff", str(base))
    assert diff.returncode == 0, diff.stderr
    assert "!! DATA LOSS: gcp:bigquery/table:Table mart.revenue_mrr-table: the provider would replace it" in diff.stdout
    assert "it is protected, so the `up` stops" in diff.stdout
    assert "+- gcp:bigquery/table:Table mart.revenue_mrr-table" in diff.stdout
    refused = run_cli("--root", str(project), "check", "--against", str(base))
    assert refused.returncode == 1
    (line,) = [x for x in refused.stderr.splitlines() if "mart.revenue_mrr-table" in x]
    assert "and stack prod protects it; fix: build the new table under a new name" in line
    # dev protects nothing: the same change is shown, not refused
    dev_base = plan_json(copy_project(tmp_path / "d"), "dev", tmp_path / "dev.json")
    assert run_cli("--root", str(project), "check", "--against", str(dev_base)).returncode == 0


def test_check_against_needs_a_plan(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"resources": []}))
    result = run_cli("check", "--against", str(bad))
    assert result.returncode == 1 and result.stderr.strip().endswith("fix: pass a file written by `plan --json`")
