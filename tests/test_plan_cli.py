"""`plan` as a reviewer uses it: the tree, the JSON document and the diff against an earlier plan."""

from __future__ import annotations

import json

from infra.plan.diff import diff_plans
from infra.plan.diff_render import render_text
from tests.conftest import run_cli

REQUIRED = {"urn", "type", "name", "parent", "inputs", "dependencies", "protect"}


def test_plan_json_has_every_resource_with_the_documented_keys(tmp_path, root):
    out = tmp_path / "plan.json"
    result = run_cli("plan", "--stack", "prod", "--json", str(out), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    doc = json.loads(out.read_text())
    assert doc["stack"] == "prod" and doc["project"] == "warehouse"
    assert doc["resources"] and all(set(r) >= REQUIRED for r in doc["resources"])
    urns = {r["urn"] for r in doc["resources"]}
    for r in doc["resources"]:
        assert r["parent"] is None or r["parent"] in urns
        assert set(r["dependencies"]) <= urns
    assert "gcp:bigquery/dataset:Dataset mart-dataset [protect]  production_mart" in result.stdout
    assert "Resources by type:" in result.stdout


def test_plan_is_deterministic(tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    for path in (a, b):
        assert run_cli("plan", "--stack", "dev", "--quiet", "--json", str(path)).returncode == 0
    assert a.read_text() == b.read_text()


def test_diff_shows_added_removed_and_changed_inputs(tmp_path, project):
    old = tmp_path / "old.json"
    assert run_cli("--root", str(project), "plan", "--stack", "prod", "--quiet", "--json", str(old)).returncode == 0
    (project / "datasets/ml.yaml").write_text((project / "datasets/ml.yaml").read_text()
                                              .replace("Machine-learning datamarts", "ML marts"))
    (project / "roles/reporting_reader.yaml").unlink()
    text = (project / "Pulumi.prod.yaml").read_text().replace(
        "    reporting_reader:\n      - serviceAccount:tableau-online@acme-bi.iam.gserviceaccount.com\n", "")
    (project / "Pulumi.prod.yaml").write_text(text + "      - group:analytics-engineers@acme.com\n")
    result = run_cli("--root", str(project), "plan", "--stack", "prod", "--quiet", "--diff", str(old))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "to add" in out and "to change" in out and "to remove" in out
    assert "~ gcp:bigquery/dataset:Dataset ml-dataset" in out
    assert ('    - description: "Machine-learning datamarts: feature tables and training sets built from the marts."\n'
            '    + description: "ML marts: feature tables and training sets built from the marts."\n') in out
    assert "- warehouse:role:Role reporting_reader" in out
    assert "+ gcp:projects/iAMMember:IAMMember data_reader-jobUser-group-analytics-engineers-acme.com" in out


def test_diff_of_identical_plans_is_empty():
    doc = {"resources": [{"urn": "u", "type": "t", "name": "n", "inputs": {"a": [1, {"b": 2}]}, "protect": True}]}
    d = diff_plans(doc, json.loads(json.dumps(doc)))
    assert d.empty and not d.has_changes and render_text(d) == "No changes against the earlier plan."


def test_diff_marks_removal_of_protected_resources():
    old = {"resources": [{"urn": "u", "type": "t", "name": "n", "inputs": {}, "protect": True}]}
    assert "[protected: the engine will refuse]" in render_text(diff_plans(old, {"resources": []}))


def test_diff_rejects_a_file_that_is_not_a_plan(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    result = run_cli("plan", "--stack", "dev", "--quiet", "--diff", str(bad))
    assert result.returncode == 1 and "not a plan JSON file" in result.stderr
    assert "Traceback" not in result.stderr


def test_diff_shows_each_acl_entry_as_people_write_it():
    group = {"role": "READER", "groupByEmail": "data-readers@acme.com"}
    owners = {"role": "OWNER", "specialGroup": "projectOwners"}
    writer = {"role": "WRITER", "groupByEmail": "Data-Engineers@acme.com"}
    old = {"resources": [{"urn": "u", "type": "gcp:bigquery/dataset:Dataset", "name": "d",
                          "inputs": {"datasetId": "x", "accesses": [owners, group]}}]}
    new = {"resources": [{"urn": "u", "type": "gcp:bigquery/dataset:Dataset", "name": "d",
                          "inputs": {"datasetId": "x", "accesses": [writer, owners]}}]}
    text = render_text(diff_plans(old, new))
    assert ("    accesses:\n      + WRITER group:data-engineers@acme.com\n"
            "      - READER group:data-readers@acme.com") in text
    assert "projectOwners" not in text  # kept in another position: not a change
