"""Nested columns (STRUCT/RECORD with `fields:`, `mode: REPEATED`) from the declarations to the
plan's schema JSON, the column analysis, the write script and the adoption comparison. The local
run of the GA4 queries is in tests/test_local_run.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from sqlglot import exp

from infra.checks.columns import analyze_columns, compatible, contract_schema
from infra.checks.sql import parse
from infra.declarations.columns import MAX_NESTING, Column, sql_type_of_json
from infra.local.contract import contract_problems
from infra.model.load import load_for_stack
from infra.ops.adoption.live import LiveColumn
from infra.ops.adoption.migration import schema_differences
from infra.problems import ProblemsError
from infra.resources.write_sql import write_script
from tests.conftest import ROOT, run_cli
from tests.test_query_rules import problems_of

GA4 = "datasets/sources/ga4.yaml"
SESSIONS = "scheduled_queries/staging/ga4/stg_ga4_sessions"
PURCHASES = "scheduled_queries/staging/ga4/stg_ga4_purchases"
EVENT_PARAMS = "ARRAY<STRUCT<key STRING, value STRUCT<string_value STRING, int_value INT64, float_value FLOAT64, " \
               "double_value FLOAT64>>>"


def col(name: str, kind: str, *fields: Column, mode: str = "NULLABLE") -> Column:
    return Column(name, kind, mode, f"The {name}.", None, tuple(fields))


def load_problems(project: Path) -> list[str]:
    """The problems of the GA4 source file (the tables and queries that read the source then fail too)."""
    with pytest.raises(ProblemsError) as caught:
        load_for_stack(project, "prod")
    return [line for line in str(caught.value).splitlines() if line.startswith(f"{GA4}:")]


def edit_ga4(project: Path, change) -> None:
    path = project / GA4
    document = yaml.safe_load(path.read_text())
    change(document["tables"]["events"]["columns"])
    path.write_text(yaml.safe_dump(document, sort_keys=False))


# --- declarations -----------------------------------------------------------------------------------------

def test_a_nested_source_is_read_recursively_and_record_is_struct(dev):
    events = next(s for s in dev.sources if s.name == "ga4").spec.tables["events"]
    by_name = {c.name: c for c in events.columns}
    params = by_name["event_params"]
    assert (params.type, params.mode) == ("STRUCT", "REPEATED")  # written RECORD in the file
    assert [f.name for f in params.fields] == ["key", "value"]
    assert [f.name for f in params.fields[1].fields] == ["string_value", "int_value", "float_value", "double_value"]
    assert params.sql_type == EVENT_PARAMS
    assert by_name["device"].sql_type == "STRUCT<category STRING, operating_system STRING, language STRING>"
    assert by_name["event_name"].fields == () and by_name["event_name"].sql_type == "STRING"


def test_a_struct_without_fields_and_fields_on_a_scalar_are_one_line_each(project):
    def change(columns):
        columns[5]["fields"] = [{"name": "x", "type": "STRING", "description": "X."}]  # user_pseudo_id: STRING
        del columns[6]["fields"]  # device: STRUCT
    edit_ga4(project, change)
    lines = load_problems(project)
    assert len(lines) == 2, lines
    assert any(line.startswith(f"{GA4}:") and "tables.events.columns[5].fields: a STRING column has no fields; "
               "fix: remove `fields:`, or make the column `type: STRUCT`" in line for line in lines), lines
    assert any("tables.events.columns[6].fields: a STRUCT (RECORD) column needs its fields; fix: add `fields:" in line
               for line in lines), lines


def test_every_bad_nested_field_is_its_own_line_with_its_path(project):
    def change(columns):
        value = columns[3]["fields"][1]  # event_params.value
        value["fields"][0]["type"] = "TEXT"
        value["fields"][1]["name"] = "int value"
        value["fields"].append({"name": "DOUBLE_VALUE", "type": "FLOAT64", "description": "Twice."})
        del columns[7]["fields"][0]["description"]  # traffic_source.name
    edit_ga4(project, change)
    lines = load_problems(project)
    assert len(lines) == 4, lines
    path = "tables.events.columns[3].fields[1].fields"
    assert any(f"{path}[0].type: 'TEXT' is not allowed" in line for line in lines), lines
    assert any(f"{path}[1].name: 'int value' is not a column name" in line for line in lines), lines
    assert any(f"{path}[4].name: column 'DOUBLE_VALUE' is declared twice" in line for line in lines), lines
    assert any("tables.events.columns[7].fields[0]" in line and "description" in line for line in lines), lines


def nest(depth: int) -> dict:
    """A column that is `depth` STRUCTs one inside the other."""
    column = {"name": "leaf", "type": "STRING", "description": "The leaf."}
    for level in range(depth):
        column = {"name": f"level_{depth - level}", "type": "STRUCT", "description": "A level.", "fields": [column]}
    return column


def test_nesting_is_limited_as_bigquery_limits_it(project):
    edit_ga4(project, lambda columns: columns.append(nest(MAX_NESTING)))
    load_for_stack(project, "prod")  # 15 levels: allowed
    edit_ga4(project, lambda columns: columns.__setitem__(-1, nest(MAX_NESTING + 1)))
    [line] = load_problems(project)
    assert "a STRUCT nested more than 15 levels deep: BigQuery refuses the schema; fix:" in line


# --- the plan ---------------------------------------------------------------------------------------------

def test_the_plan_schema_is_nested_json_with_record_types(prod_plan):
    table = next(r for r in prod_plan.resources if r.name == "stg_external.stg_ga4_purchases-table")
    lines = json.loads(table.inputs["schema"])[-1]
    assert (lines["name"], lines["type"], lines["mode"]) == ("lines", "RECORD", "REPEATED")
    assert [(f["name"], f["type"], f["mode"]) for f in lines["fields"]] == [
        ("plan_id", "STRING", "NULLABLE"), ("seats", "INT64", "NULLABLE"), ("revenue", "FLOAT64", "NULLABLE")]
    assert all(f["description"] for f in lines["fields"])
    assert sql_type_of_json(lines) == "ARRAY<STRUCT<plan_id STRING, seats INT64, revenue FLOAT64>>"
    sessions = next(r for r in prod_plan.resources if r.name == "stg_external.stg_ga4_sessions-table")
    first_touch = json.loads(sessions.inputs["schema"])[-1]
    assert (first_touch["type"], first_touch["mode"], "fields" in first_touch) == ("RECORD", "NULLABLE", True)


def test_a_scalar_column_has_no_fields_key():
    assert "fields" not in col("id", "STRING").as_bigquery_json()
    assert sql_type_of_json({"name": "n", "type": "INTEGER", "mode": "REPEATED"}) == "ARRAY<INT64>"


# --- the column analysis ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def schema():
    events = load_for_stack(ROOT, "dev").sources
    return contract_schema({"ga4.events": next(s for s in events if s.name == "ga4").spec.tables["events"].columns})


def analysis(schema, sql: str):
    return analyze_columns(parse(sql).tree, schema)


def test_the_schema_holds_nested_types(schema):
    assert schema.find(exp.to_table("ga4.events"))["event_params"] == EVENT_PARAMS


def test_struct_fields_and_unnested_arrays_resolve_with_their_types_and_lineage(schema):
    found = analysis(schema, "SELECT e.device.category, p.value.int_value AS v, item.price, t\n"
                             "FROM ga4.events AS e, UNNEST(e.event_params) AS p, UNNEST(e.items) AS item,\n"
                             "  UNNEST(['a', 'b']) AS t\nWHERE p.key = 'ga_session_id'")
    assert found.problems == ()
    assert found.outputs == (("category", "STRING"), ("v", "INT64"), ("price", "FLOAT64"), ("t", "STRING"))
    assert found.lineage["v"] == {("ga4.events", "event_params")}
    assert found.lineage["price"] == {("ga4.events", "items")}
    assert found.lineage["category"] == {("ga4.events", "device")}


def test_a_struct_or_array_output_keeps_its_field_names(schema):
    found = analysis(schema, "SELECT STRUCT(e.device.os_missing AS os) AS d, e.traffic_source,\n"
                             "  ARRAY(SELECT AS STRUCT i.item_id, i.quantity FROM UNNEST(e.items) AS i) AS lines\n"
                             "FROM ga4.events AS e")
    outputs = dict(found.outputs)
    assert outputs["traffic_source"] == "STRUCT<name STRING, medium STRING, source STRING>"
    [problem] = found.problems
    assert problem.line == 1 and "unknown field device.os_missing: device is a STRUCT with no field 'os_missing'" \
        in problem.what and "operating_system" in problem.fix


def test_a_field_path_names_its_output_for_group_by_and_order_by(schema):
    found = analysis(schema, "SELECT e.device.category, device.language, COUNT(*) AS n FROM ga4.events AS e\n"
                             "GROUP BY category, language ORDER BY category")
    assert found.problems == ()
    assert found.outputs == (("category", "STRING"), ("language", "STRING"), ("n", "INT64"))


def test_a_misspelt_field_deep_in_an_unnested_struct_is_found(schema):
    [problem] = analysis(schema, "SELECT\n  (SELECT p.value.int_valu FROM UNNEST(e.event_params) AS p\n"
                                 "   WHERE p.key = 'ga_session_id') AS session_id\nFROM ga4.events AS e").problems
    assert problem.line == 2
    assert problem.what == "unknown field p.value.int_valu: p.value is a STRUCT with no field 'int_valu' " \
                           "(did you mean 'int_value'?)"


@pytest.mark.parametrize(("inferred", "declared", "fits"), [
    ("STRUCT<a INT64, b STRING>", "STRUCT<a INT64, b STRING>", True),
    ("STRUCT<a INT64, b STRING>", "STRUCT<A FLOAT64, B STRING>", True),  # coercion, names whatever their case
    ("STRUCT<a INT64, b STRING>", "STRUCT<b STRING, a INT64>", False),  # fields are written in order
    ("STRUCT<a INT64>", "STRUCT<a INT64, b STRING>", False),
    ("STRUCT<a STRING>", "STRUCT<a INT64>", False),
    ("ARRAY<STRUCT<x STRING, y INT64>>", "ARRAY<STRUCT<x STRING, y NUMERIC>>", True),
    ("ARRAY<STRING>", "STRING", False),
    ("STRING", "ARRAY<STRING>", False),
    ("ARRAY<STRUCT<x UNKNOWN>>", "ARRAY<STRUCT<x STRING>>", True),  # what sqlglot cannot infer fits
    (None, "ARRAY<STRUCT<x STRING>>", True),
])
def test_nested_types_are_compared_field_by_field(inferred, declared, fits):
    assert compatible(inferred, declared) is fits


def test_check_refuses_an_output_struct_that_differs_from_its_contract(project):
    path = project / f"{PURCHASES}.yaml"
    path.write_text(path.read_text().replace("{name: seats, type: INT64", "{name: seat_count, type: INT64"))
    [line] = problems_of(project)
    assert line.startswith(f"{PURCHASES}.sql: column lines is ARRAY<STRUCT<plan_id STRING, seats INT64, revenue "
                           f"FLOAT64>> in the SELECT, but {PURCHASES}.yaml declares ARRAY<STRUCT<plan_id STRING, "
                           "seat_count INT64, revenue FLOAT64>>; fix: build it with the declared fields"), line


def test_check_names_a_misspelt_struct_field_with_its_line(project):
    path = project / f"{SESSIONS}.sql"
    path.write_text(path.read_text().replace("ANY_VALUE(traffic_source.medium)", "ANY_VALUE(traffic_source.mediun)"))
    [line] = problems_of(project)
    assert line.startswith(f"{SESSIONS}.sql:30: unknown field traffic_source.mediun: traffic_source is a STRUCT with "
                           "no field 'mediun' (did you mean 'medium'?); fix: "), line


def test_the_ga4_queries_pass_check_and_plan():
    assert run_cli("check").returncode == 0
    result = run_cli("plan", "--stack", "prod")
    assert result.returncode == 0 and "stg_ga4_purchases" in result.stdout


def test_a_struct_field_removed_or_retyped_is_a_contract_change(dev):
    from infra.model.impact import contract_changes

    query = next(q for q in dev.queries if q.spec.key == "stg_external.stg_ga4_purchases")
    lines = query.spec.columns[-1]
    fewer = Column(lines.name, lines.type, lines.mode, lines.description, None, lines.fields[:2])
    after = {q.spec.key: (q.spec.file, q.spec.columns) for q in dev.queries}
    assert contract_changes(dev, after) == []
    after[query.spec.key] = (query.spec.file, query.spec.columns[:-1] + (fewer,))
    [change] = contract_changes(dev, after)
    assert change.what == ("column lines of stg_external.stg_ga4_purchases changes from ARRAY<STRUCT<plan_id STRING, "
                           "seats INT64, revenue FLOAT64>> REPEATED to ARRAY<STRUCT<plan_id STRING, seats INT64>> "
                           "REPEATED")


# --- the write script -------------------------------------------------------------------------------------------

def test_the_write_script_inserts_nested_columns_by_their_top_level_names(dev):
    query = next(q for q in dev.queries if q.spec.key == "stg_external.stg_ga4_purchases")
    script = write_script(query, "p.d.stg_ga4_purchases")
    assert "INSERT INTO `p.d.stg_ga4_purchases` (purchase_date, transaction_id, user_pseudo_id, user_id, " \
           "purchased_at, revenue, lines)" in script
    assert "item.price * item.quantity AS revenue" in script  # the SELECT, byte for byte


# --- the local contract check and the adoption comparison ---------------------------------------------------

def test_the_local_contract_compares_a_result_schema_with_nested_fields():
    from google.cloud import bigquery

    declared = (col("lines", "STRUCT", col("plan_id", "STRING"), col("seats", "INT64"), mode="REPEATED"),)
    good = [bigquery.SchemaField("lines", "RECORD", mode="REPEATED", fields=[
        bigquery.SchemaField("PLAN_ID", "STRING"), bigquery.SchemaField("seats", "INTEGER")])]
    assert contract_problems(declared, good, [{"lines": []}]) == []
    bad = [bigquery.SchemaField("lines", "RECORD", mode="REPEATED", fields=[
        bigquery.SchemaField("plan_id", "STRING"), bigquery.SchemaField("seats", "STRING")])]
    assert contract_problems(declared, bad, []) == [
        "lines is ARRAY<STRUCT<plan_id STRING, seats STRING>>, declared ARRAY<STRUCT<plan_id STRING, seats INT64>>"]


def test_adoption_compares_nested_columns_field_by_field():
    declared = (col("id", "INT64"), col("device", "STRUCT", col("category", "STRING"), col("os", "STRING")))
    fields = (LiveColumn("category", "STRING", "NULLABLE", "The category."),
              LiveColumn("os", "STRING", "NULLABLE", "The os."))
    same = (LiveColumn("id", "INT64", "NULLABLE", "The id."),
            LiveColumn("device", "STRUCT", "NULLABLE", "The device.", fields))
    assert schema_differences(declared, same) == []
    live = (same[0], LiveColumn("device", "STRUCT", "NULLABLE", "The device.", (
        LiveColumn("category", "INT64", "NULLABLE", "The category."), LiveColumn("browser", "STRING", "NULLABLE", ""))))
    assert schema_differences(declared, live) == [
        "device.category is INT64, declared STRING (runs fail unless BigQuery coerces it)",
        "device.os is missing (runs fail: the STRUCT the query writes has it)",
        "device.browser is not declared (the STRUCT the query writes lacks it)"]
