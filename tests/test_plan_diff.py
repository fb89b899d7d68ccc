"""The plan diff a reviewer reads: every ACL entry, SQL line, column and input whole; what Pulumi
ignores said so; plans of another stack refused. Most cases diff real plans of a scratch copy of
the project after an edit, as a reviewer would (`plan --json` before, `plan --diff` after)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from infra.plan.diff import diff_plans
from infra.plan.diff_render import render_text
from infra.plan.diff_values import acl_lines, canonical_entry, schema_lines
from infra.plan.ignore_changes import effective_inputs, parse_path, reset
from infra.plan.replacements import changes_not_in_place
from tests.conftest import copy_project, one_line_error, run_cli


def plan_json(project: Path, stack: str, out: Path) -> Path:
    result = run_cli("--root", str(project), "plan", "--stack", stack, "--quiet", "--json", str(out))
    assert result.returncode == 0, result.stderr
    return out


def diff_after(project: Path, old: Path, *extra: str) -> str:
    result = run_cli("--root", str(project), "plan", "--stack", "prod", "--quiet", "--diff", str(old), *extra)
    assert result.returncode == 0, result.stderr
    return result.stdout


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def block(text: str, head: str) -> list[str]:
    """The lines of one resource in a text diff: its header line (which contains `head`) and
    the indented lines under it."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if head in line and not line.startswith(" "))
    end = next((i for i in range(start + 1, len(lines)) if not lines[i].startswith(" ")), len(lines))
    return lines[start:end]


def resource(doc: dict, name: str) -> dict:
    return next(r for r in doc["resources"] if r["name"] == name)


ADD_MEMBER = ("      - group:data-analysts@acme.com\n",
              "      - group:data-analysts@acme.com\n      - group:analysts@acme.com\n")


# --- 1. ACL entries -------------------------------------------------------------------------------


def test_adding_a_group_member_prints_the_whole_new_entry(tmp_path):
    project = copy_project(tmp_path / "p")
    old = plan_json(project, "prod", tmp_path / "old.json")
    edit(project / "Pulumi.prod.yaml", *ADD_MEMBER)
    out = diff_after(project, old)
    mart = block(out, "gcp:bigquery/dataset:Dataset mart-dataset ")
    assert mart[0].startswith("~ gcp:bigquery/dataset:Dataset mart-dataset  (urn:pulumi:prod::")
    assert mart[1:] == ["    accesses:", "      + WRITER group:analysts@acme.com"]
    assert block(out, "stg_external-dataset ")[1:] == ["    accesses:", "      + READER group:analysts@acme.com"]
    assert "..." not in out


def test_acl_entries_are_compared_canonically_view_dataset_and_routine_entries_included(prod_plan):
    old = prod_plan.as_json()
    new = copy.deepcopy(old)
    accesses = resource(new, "mart-dataset")["inputs"]["accesses"]
    for i, entry in enumerate(accesses):  # the same entries, keys reversed, e-mails upper-cased, state's lists
        entry = {k: entry[k] for k in reversed(entry)}
        if "groupByEmail" in entry:
            entry["groupByEmail"] = entry["groupByEmail"].upper()
        if "dataset" in entry:
            entry["dataset"] = [{"dataset": [entry["dataset"]["dataset"]], "targetTypes": ["VIEWS"]}]
        accesses[i] = entry
    assert diff_plans(old, new).empty
    views_of_reporting = next(e for e in accesses if "dataset" in e and "reporting" in json.dumps(e))
    views_of_reporting["dataset"][0]["targetTypes"] = ["VIEWS", "ROUTINES"]
    accesses.remove(next(e for e in accesses if e.get("groupByEmail") == "DATA-READERS@ACME.COM"))
    accesses += [{"role": "WRITER", "groupByEmail": "analysts@acme.com"},
                 {"view": {"projectId": "p", "datasetId": "d", "tableId": "t"}},
                 {"routine": {"projectId": "p", "datasetId": "d", "routineId": "r"}}]
    lines = block(render_text(diff_plans(old, new)), "mart-dataset ")[1:]
    reporting = "views of dataset acme-warehouse-prod.production_reporting"
    assert lines[0] == "    accesses:"
    assert sorted(lines[1:]) == sorted([
        "      + WRITER group:analysts@acme.com", "      - READER group:data-readers@acme.com",
        "      + view p.d.t", "      + routine p.d.r",
        f'      - {reporting} {{"dataset": {{"dataset": {{"datasetId": "production_reporting", "projectId": '
        f'"acme-warehouse-prod"}}, "targetTypes": ["VIEWS"]}}}}',
        f'      + {reporting} {{"dataset": {{"dataset": {{"datasetId": "production_reporting", "projectId": '
        f'"acme-warehouse-prod"}}, "targetTypes": ["ROUTINES", "VIEWS"]}}}}'])


def test_a_changed_role_reads_as_one_principal_removed_and_added_side_by_side():
    owners = {"role": "OWNER", "specialGroup": "projectOwners"}
    lines = acl_lines([{"role": "READER", "groupByEmail": "x@acme.com"}, owners],
                      [{"groupByEmail": "x@acme.com", "role": "WRITER"}, dict(reversed(owners.items()))])
    assert [(line.mark, line.text) for line in lines] == [("-", "READER group:x@acme.com"),
                                                          ("+", "WRITER group:x@acme.com")]
    assert canonical_entry({"userByEmail": "A@B.com", "role": "READER"}) == canonical_entry(
        {"role": "READER", "userByEmail": "a@b.com", "iamMember": None})


# --- 2. SQL ---------------------------------------------------------------------------------------


def test_edited_sql_is_a_unified_diff_under_its_resource(tmp_path):
    project = copy_project(tmp_path / "p")
    old = plan_json(project, "prod", tmp_path / "old.json")
    edit(project / "scheduled_queries/reporting/tableau/mrr_daily.sql",
         "  SUM(mrr_usd) AS mrr_usd", "  ROUND(SUM(mrr_usd), 2) AS mrr_usd")
    edit(project / "scheduled_queries/mart/revenue/revenue_mrr.sql",
         "WHERE status IN ('active', 'past_due')", "WHERE status IN ('active', 'past_due', 'unpaid')")
    out = diff_after(project, old)
    view = block(out, "reporting.mrr_daily-view ")
    assert view[1] == "    view.query:" and view[2].startswith("      @@ -")
    assert "      -   SUM(mrr_usd) AS mrr_usd" in view and "      +   ROUND(SUM(mrr_usd), 2) AS mrr_usd" in view
    assert "        FROM `acme-warehouse-prod.production_mart.revenue_mrr`" in view  # context
    transfer = block(out, "mart.revenue_mrr-transfer ")
    assert transfer[1] == "    params.query:"
    assert "      - WHERE status IN ('active', 'past_due')" in transfer
    assert "      + WHERE status IN ('active', 'past_due', 'unpaid')" in transfer
    assert not any("BEGIN TRANSACTION" in line for line in transfer)  # only the hunk, not the whole script


# --- 3. Schemas -----------------------------------------------------------------------------------


def col(name, typ, mode=None, description=None, fields=None) -> dict:
    c = {"name": name, "type": typ}
    c.update({k: v for k, v in (("mode", mode), ("description", description), ("fields", fields)) if v is not None})
    return c


def test_schemas_column_by_column_nested_fields_and_order():
    old = [col("a", "INT64", "NULLABLE", "A."), col("rec", "RECORD", fields=[col("x", "STRING"), col("y", "INT64")]),
           col("z", "STRING"), col("gone", "DATE", "REQUIRED")]
    new = [col("rec", "RECORD", fields=[col("y", "INT64"), col("x", "STRING"), col("w", "BOOL", "REQUIRED", "W.")]),
           col("a", "INT64", "REQUIRED", "The a."), col("z", "INT64"), col("x", "INT64", description="New.")]
    lines = [f"{line.mark} {line.text}" for line in schema_lines(old, new)]
    assert lines == [
        '+ column rec.w BOOL REQUIRED "W."',
        '+ column x INT64 NULLABLE "New."',
        "- column gone DATE REQUIRED",
        "~ column a: mode NULLABLE -> REQUIRED",
        '~ column a: description "A." -> "The a."',
        "~ column z: type STRING -> INT64",
        "~ column order: a, rec, z -> rec, a, z",
        "~ column order of rec: x, y -> y, x",
    ]


def test_a_schema_change_shows_column_by_column_and_is_marked_ignored(tmp_path):
    """The program keeps every table's `schema` under ignoreChanges: the diff shows the new
    columns, and says Pulumi will not apply them."""
    project = copy_project(tmp_path / "p")
    old = plan_json(project, "prod", tmp_path / "old.json")
    edit(project / "scheduled_queries/mart/revenue/revenue_mrr.yaml",
         "  - {name: subscriptions, type: INT64, mode: REQUIRED, description: Billing subscriptions of the customer.}",
         "  - {name: subscriptions, type: INT64, mode: NULLABLE, description: Subscriptions that bill.}")
    out = diff_after(project, old)
    table = block(out, "mart.revenue_mrr-table ")
    assert table == [
        table[0], "    schema:  [ignored: under ignoreChanges, Pulumi does not apply it]",
        "      ~ column subscriptions: mode REQUIRED -> NULLABLE",
        '      ~ column subscriptions: description "Billing subscriptions of the customer." -> '
        '"Subscriptions that bill."']
    assert table[0].endswith("[only ignored changes: Pulumi leaves it as it is]")
    assert "0 to add, 0 to change, 0 to remove; 1 changed only under ignoreChanges (not applied)" in out
    assert run_cli("--root", str(project), "plan", "--stack", "prod", "--quiet", "--diff", str(old),
                   "--detailed-exitcode").returncode == 0  # nothing Pulumi would do


# --- 4. Added and removed resources ---------------------------------------------------------------


def test_an_added_resource_shows_every_input_whole(prod_plan):
    new = prod_plan.as_json()
    names = ("mart-dataset", "mart.revenue_mrr-table", "mart.revenue_mrr-transfer", "airflow.airflow_user_flags-table")
    old = {**new, "resources": [r for r in new["resources"] if r["name"] not in names]}
    text = render_text(diff_plans(old, new))
    dataset = block(text, "mart-dataset ")
    assert dataset[0].startswith("+ gcp:bigquery/dataset:Dataset mart-dataset  (urn:")
    assert "    accesses:" in dataset and "      + OWNER specialGroup:projectOwners" in dataset
    assert "      + views of dataset acme-warehouse-prod.production_reporting" in dataset
    description = resource(new, "mart-dataset")["inputs"]["description"]
    assert len(description) > 120 and f"    + description: {json.dumps(description)}" in dataset  # whole
    assert '    + labels.layer: "mart"' in dataset
    table = block(text, "mart.revenue_mrr-table ")
    assert '      + column as_of_date DATE REQUIRED "The day the MRR is measured on."' in table
    assert '    + timePartitioning.field: "as_of_date"' in table and '    + clusterings: ["customer_id"]' in table
    transfer = block(text, "mart.revenue_mrr-transfer ")
    script = resource(new, "mart.revenue_mrr-transfer")["inputs"]["params"]["query"]
    assert transfer[transfer.index("    params.query:") + 1:][:len(script.splitlines())] == [
        f"      + {line}" for line in script.splitlines()]  # the whole SQL, line by line
    assert '"A paying customer whose default workspace has had no block edit for 28 days."' in text


def test_removed_resources_are_listed_with_their_protection(prod_plan, dev_plan):
    for plan, flag in ((prod_plan, "[protected: the engine will refuse]"),
                       (dev_plan, "[not protected: the `up` deletes it]")):
        old = plan.as_json()
        new = {**old, "resources": [r for r in old["resources"] if r["name"] != "mart-dataset"]}
        (line,) = [x for x in render_text(diff_plans(old, new)).splitlines() if "mart-dataset" in x]
        assert line.startswith("- gcp:bigquery/dataset:Dataset mart-dataset  (urn:") and line.endswith(flag)


# --- 5. ignoreChanges, as the engine applies it ---------------------------------------------------


@pytest.mark.parametrize("text, path", [
    ("schema", ("schema",)), ("labels.team", ("labels", "team")), ('labels["managed-by"]', ("labels", "managed-by")),
    ("accesses[0].role", ("accesses", 0, "role")), ("root.array[*].field", ("root", "array", "*", "field")),
    ('root["key with \\"escaped\\" quotes"]', ("root", 'key with "escaped" quotes')),
    ('["root key with a ."][100]', ("root key with a .", 100)), ("foo-bar", ("foo-bar",)),
    (".a", None), ("a.", None), ("a[x]", None), ('a["b', None), ("a[1", None)])
def test_ignore_changes_paths_parse_as_the_engine_parses_them(text, path):
    assert parse_path(text) == path


# From the engine's TestReset (sdk/go/common/resource/properties_path_test.go): path, old, new,
# the new inputs after the reset, or None for a path error.
RESET_CASES = [
    (("missing",), {"root": 1}, {"root": 2}, {"root": 2}),
    (("root", "nested"), {"root": {"nested": 1}}, {"root": 2}, None),
    (("root", "nested"), {"root": 1}, {"root": {"nested": 2}}, {"root": {}}),
    (("root", 0), {"root": [1]}, {"root": 2}, None),
    (("array", -1), {"array": [1]}, {"array": [1]}, None),
    (("root", 1), {"root": [2]}, {"root": [3, 4]}, None),
    (("root", 0, "other"), {"root": {"nested": 1}}, {"root": {"nested": 2}}, {"root": {"nested": 2}}),
    (("root",), {"root": 1}, {"root": 2}, {"root": 1}),
    (("root", "nested"), {"root": {}}, {"root": {"nested": 2}}, {"root": {}}),
    (("root", "nested"), {"root": {"nested": 1}}, {"root": {}}, {"root": {"nested": 1}}),
    (("root", "nested"), {"root": {"nested": 1}}, {}, None),
    (("root", "nested"), {}, {"root": {"nested": 2}}, {"root": {}}),
    (("array", 0, "item"), {"array": [{"item": 1}]}, {"array": [{"item": 2}]}, {"array": [{"item": 1}]}),
    (("array", 0), {"array": []}, {"array": [2]}, None),
    (("*",), {"root": 1}, {"root": 2}, {"root": 1}),
    (("root", "*", "nested"), {"root": [{"nested": 1}, {"nested": 2}]}, {"root": [{"nested": 3}, {"nested": 4}]},
     {"root": [{"nested": 1}, {"nested": 2}]}),
    (("root", "*"), {"root": {}}, {"root": {"nested": 2}}, {"root": {}}),
    (("root", "*"), {"root": [1]}, {"root": {"nested": 2}}, {"root": {"nested": 2}}),
    (("root", "*"), {"root": {"nested": 2}}, {"root": 1}, None),
    (("root", "*", "nested"), {"root": 1}, {"root": {"nested": 2}}, None),
    (("root", "*", "nested"), {"root": {"nested": 1}}, {"root": {}}, None),
    (("root", "*", 0), {"root": {"passes": 1, "fails": [1]}}, {"root": {"passes": 2, "fails": []}}, None),
    (("root", "array", "*"), {"root": {"array": [1]}}, {"root": {"array": []}}, None),
]


@pytest.mark.parametrize("path, old, new, expected", RESET_CASES)
def test_reset_follows_the_engines_cases(path, old, new, expected):
    ok = reset(path, old, new)
    assert ok == (expected is not None)
    if expected is not None:
        assert new == expected


def test_ignored_changes_are_marked_and_only_those(prod_plan):
    old = prod_plan.as_json()
    new = copy.deepcopy(old)
    dataset = resource(new, "reporting-dataset")
    dataset["ignoreChanges"] = ["labels.team", "description"]
    dataset["inputs"]["labels"]["team"] = "bi"
    dataset["inputs"]["labels"]["environment"] = "production"
    dataset["inputs"]["description"] = "What Tableau reads."
    assert effective_inputs(resource(old, "reporting-dataset")["inputs"], dataset["inputs"],
                            dataset["ignoreChanges"])["labels"].get("team") is None  # absent before: dropped
    lines = block(render_text(diff_plans(old, new)), "reporting-dataset ")
    marked = "[ignored: under ignoreChanges, Pulumi does not apply it]"
    assert '    ~ labels.environment: "prod" -> "production"' in lines
    assert f'    + labels.team: "bi"  {marked}' in lines
    assert any(line.startswith('    - description: "What Tableau reads: ') and line.endswith(marked) for line in lines)
    assert '    ~ option ignoreChanges: [] -> ["labels.team", "description"]' not in lines  # a list: items
    assert '      + "labels.team"' in lines
    assert not lines[0].endswith("Pulumi leaves it as it is]")


def test_a_replacement_under_ignore_changes_is_no_replacement(prod_plan):
    old = prod_plan.as_json()
    new = copy.deepcopy(old)
    table = resource(new, "mart.revenue_mrr-table")
    table["inputs"]["timePartitioning"]["field"] = "customer_since"
    assert [n.kind for n in changes_not_in_place(old, new)] == ["replace"]
    table["ignoreChanges"] = ["schema", "timePartitioning.field"]
    assert changes_not_in_place(old, new) == []
    assert "+- " not in render_text(diff_plans(old, new))


def test_replacements_stay_marked(prod_plan):
    old = prod_plan.as_json()
    new = copy.deepcopy(old)
    resource(new, "reporting-dataset")["inputs"]["location"] = "EU"
    text = render_text(diff_plans(old, new))
    assert "!! DATA LOSS: gcp:bigquery/dataset:Dataset reporting-dataset: the provider would replace it" in text
    assert block(text, "reporting-dataset ")[:2] == [
        "+- gcp:bigquery/dataset:Dataset reporting-dataset  (urn:pulumi:prod::warehouse::warehouse:dataset:Dataset"
        "$gcp:bigquery/dataset:Dataset::reporting-dataset)  [replace]", '    ~ location: "US" -> "EU"']


# --- 6. Plans of another stack --------------------------------------------------------------------


def test_plans_of_different_stacks_are_not_compared(tmp_path):
    dev = plan_json(copy_project(tmp_path / "p"), "dev", tmp_path / "dev.json")
    line = one_line_error(run_cli("plan", "--stack", "prod", "--diff", str(dev)))
    assert line.startswith(f"plan: {dev} is a plan of stack 'dev', not of stack 'prod'")
    assert line.endswith("fix: write the earlier plan with `plan --stack prod --json FILE`")
    nameless = tmp_path / "nameless.json"
    nameless.write_text(json.dumps({"resources": []}), encoding="utf-8")
    assert "is a plan of no named stack" in one_line_error(run_cli("plan", "--stack", "prod", "--diff", str(nameless)))


@pytest.mark.parametrize("depth, reason", [(100, "nested deeper than 64 levels"), (5000, "nested too deeply")])
def test_a_plan_file_nested_too_deeply_is_one_line(tmp_path, prod_plan, depth, reason):
    doc = prod_plan.as_json()
    doc["resources"][0]["inputs"] = {"x": "DEEP"}
    old = tmp_path / "deep.json"
    old.write_text(json.dumps(doc).replace('"DEEP"', "[" * depth + "]" * depth), encoding="utf-8")
    line = one_line_error(run_cli("plan", "--stack", "prod", "--diff", str(old)))
    assert line == f"{old}: not a plan JSON file ({reason}); fix: pass a file written by `plan --json`"
