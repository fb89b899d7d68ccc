"""Scheduled scripts (`kind: script`): every statement gets the reference, write, lineage and cost
checks of a SELECT; the plan schedules the script as written with the stack's names, without a
destination or a write disposition; `run --local` runs it on two days."""

from __future__ import annotations

import json
import shutil

import pytest

from infra.checks.scripts import parse_script, script_problems
from infra.checks.sql import SqlError
from infra.model.backups import is_history
from infra.model.load import load_for_stack
from infra.plan.runtime import run_program
from infra.resources.write_sql import write_script
from tests.conftest import ROOT, run_cli
from tests.test_query_rules import add_query, problems_of

FORMS = ROOT / "tests" / "forms" / "scheduled_queries"
UPSERT = "stg_external.stg_stripe_customers_upserted"
STG = "scheduled_queries/staging/stripe"
SCRIPT_YAML = ("description: A script.\nkind: script\n"
               "columns:\n  - {name: n, type: INT64, description: A number.}\n")

SCRIPT = """-- A test script.
DECLARE since DATE DEFAULT DATE_SUB(@run_date, INTERVAL 1 DAY);
DECLARE seen INT64;
SET seen = (SELECT COUNT(*) FROM mart.a);
CREATE TEMP TABLE fresh AS SELECT id FROM stripe.customers WHERE DATE(created) >= since;
IF seen > (SELECT COUNT(*) FROM mart.b) THEN
  INSERT INTO stg_external.own (id) SELECT id FROM fresh;
ELSEIF (SELECT COUNT(*) FROM mart.c) > 0 THEN
  DELETE FROM stg_external.own WHERE id IN (SELECT id FROM _SESSION.fresh);
END IF;
WHILE (SELECT COUNT(*) FROM mart.d) > 0 DO
  BREAK;
END WHILE;
BEGIN
  DECLARE inner_day DATE;
  MERGE stg_external.own AS t USING (SELECT id FROM mart.e) AS s ON t.id = s.id
  WHEN NOT MATCHED THEN INSERT (id) VALUES (s.id);
EXCEPTION WHEN ERROR THEN
  SELECT @@error.message;
END;
ASSERT (SELECT COUNT(*) FROM mart.f) > 0 AS 'mart.f is empty';
BEGIN TRANSACTION;
UPDATE stg_external.own SET id = LOWER(id) WHERE TRUE;
COMMIT TRANSACTION;
FOR row IN (SELECT id FROM mart.g) DO
  DELETE FROM stg_external.own WHERE id = row.id;
END FOR;
"""


def test_every_statement_s_reads_and_writes_are_found_with_their_place():
    p = parse_script(SCRIPT)
    assert [(r.key, r.line) for r in p.refs] == [
        ("mart.a", 4), ("stripe.customers", 5), ("mart.b", 6), ("mart.c", 8), ("mart.d", 11), ("mart.e", 16),
        ("mart.f", 21), ("mart.g", 25)]
    assert [(r.key, r.line) for r in p.writes] == [
        ("stg_external.own", 7), ("stg_external.own", 9), ("stg_external.own", 16), ("stg_external.own", 23),
        ("stg_external.own", 26)]
    for ref in p.refs + p.writes:  # spans in the whole file, so that resolve() rewrites every statement
        assert SCRIPT[ref.start:ref.end + 1] == ref.key
    assert p.parameters == {"run_date"}  # @@error is a system variable, not a parameter
    assert script_problems("stg_external.own", p) == []  # the DECLARE heads its BEGIN block


@pytest.mark.parametrize(("statement", "expected"), [
    ("INSERT INTO mart.other (n) SELECT 1", "writes mart.other, not its own table stg_external.own"),
    ("DELETE FROM `acme-warehouse-prod.production_stg_external.own` WHERE TRUE",
     "writes acme-warehouse-prod.production_stg_external.own, not its own table"),
    ("CREATE OR REPLACE TABLE stg_external.own AS SELECT 1 AS n", "creates or drops its own table"),
    ("DROP TABLE mart.other", "creates or drops mart.other, which is not a temporary table"),
    ("EXECUTE IMMEDIATE 'DELETE FROM mart.other WHERE TRUE'", "EXECUTE IMMEDIATE runs SQL built as text"),
    ("CALL mart.refresh()", "CALL runs a procedure"),
    ("SELECT 1;\nDECLARE late DATE", "a DECLARE after another statement"),
    ("GRANT `roles/bigquery.dataViewer` ON TABLE mart.x TO 'user:a@b.c'", "cannot read: GRANT"),
])
def test_what_a_script_may_not_do(statement, expected):
    problems = script_problems("stg_external.own", parse_script(f"SELECT 0;\n{statement};\n"))
    assert len(problems) == 1 and expected in problems[0].what, problems
    assert problems[0].line in (2, 3) and problems[0].fix


def test_a_script_that_does_not_parse_names_its_line():
    with pytest.raises(SqlError) as error:
        parse_script("DECLARE d DATE;\nSET d = @run_date;\nINSERT INTO stg_external.own (n) SELEC 1;\n")
    assert error.value.line == 3 and "does not parse" in error.value.what


def test_check_applies_references_writes_and_the_cost_guard_to_every_statement(project):
    add_query(project, STG, "stg_scripted",
              "DECLARE since DATE DEFAULT DATE '2020-01-01';\n"
              "DECLARE day DATE DEFAULT DATE_SUB(@run_date, INTERVAL 1 DAY);\n"
              "INSERT INTO stg_external.stg_scripted (n)\n"
              "SELECT COUNT(*) FROM amplitude.events WHERE DATE(event_time) >= day;\n"
              "INSERT INTO stg_external.stg_scripted (n)\n"
              "SELECT COUNT(*) FROM amplitude.events WHERE DATE(event_time) >= since;\n"
              "MERGE stg_external.stg_stripe_customers AS t USING stripe.customer AS s ON t.customer_id = s.id\n"
              "WHEN MATCHED THEN DELETE;\n",
              SCRIPT_YAML)
    lines = problems_of(project)
    assert len(lines) == 3, lines
    # `day` is the run's day minus one: a partition filter; `since` is a constant: a full scan.
    assert any(line.startswith(f"{STG}/stg_scripted.sql:6: ") and "full scan of partitioned amplitude.events" in line
               for line in lines)
    assert any(line.startswith(f"{STG}/stg_scripted.sql:7: ") and "unknown table stripe.customer" in line
               for line in lines)
    assert any(line.startswith(f"{STG}/stg_scripted.sql:7: ") and "writes stg_external.stg_stripe_customers, not "
               "its own table stg_external.stg_scripted" in line for line in lines)


def test_incremental_and_write_disposition_do_not_apply_to_a_script(project):
    add_query(project, STG, "stg_scripted", "INSERT INTO stg_external.stg_scripted (n) SELECT 1;\n",
              SCRIPT_YAML + "incremental: true\nwrite_disposition: WRITE_APPEND\n")
    lines = problems_of(project)
    assert len(lines) == 2, lines
    assert all(line.startswith(f"{STG}/stg_scripted.yaml:") and "a script writes its table itself" in line
               for line in lines)


@pytest.fixture(scope="module")
def forms(tmp_path_factory):
    from tests.conftest import copy_project

    project = copy_project(tmp_path_factory.mktemp("forms") / "project")
    shutil.copytree(FORMS, project / "scheduled_queries", dirs_exist_ok=True)
    return project


def test_the_plan_schedules_the_script_as_written_with_the_stack_s_names(forms):
    plan = run_program(forms, "prod")
    transfer = next(r for r in plan.resources if r.name == f"{UPSERT}-transfer")
    assert set(transfer.inputs["params"]) == {"query"} and "destinationDatasetId" not in transfer.inputs
    query = transfer.inputs["params"]["query"]
    source = (FORMS / "staging/stripe/stg_stripe_customers_upserted.sql").read_text()
    table = "`acme-warehouse-prod.production_stg_external.stg_stripe_customers_upserted`"
    assert query.count(table) == 2  # the DECLARE's subquery and the MERGE target
    assert "FROM `acme-warehouse-prod.stitch_stripe.customers`" in query
    assert "USING changed AS c" in query  # a temporary table keeps its name
    assert "INSERT INTO `" not in query and "DELETE FROM `" not in query  # not wrapped in write_sql's DML
    expected = source.replace("stg_external.stg_stripe_customers_upserted", table).replace(
        "FROM stripe.customers", "FROM `acme-warehouse-prod.stitch_stripe.customers`")
    assert query.endswith(expected)
    table_resource = next(r for r in plan.resources if r.name == f"{UPSERT}-table")
    assert [c["name"] for c in json.loads(table_resource.inputs["schema"])] == [
        "customer_id", "email", "user_id", "created_at", "loaded_at"]  # the YAML's columns: the contract


def test_the_iam_preflight_sees_the_tables_a_script_writes(forms):
    from infra.policies.evaluate import resources_of, settings_for
    from infra.policies.job_permissions import RULE, uses_of

    warehouse = load_for_stack(forms, "prod")
    resources = resources_of(run_program(forms, "prod"))
    uses = {(u.statement, u.source, u.destination) for u in uses_of(resources, settings_for(warehouse))
            if u.job == "scheduled query staging/stripe/stg_stripe_customers_upserted"}
    # The MERGE's target is written (tables.updateData), the raw source read.
    assert uses == {("write_dml", None, "acme-warehouse-prod.production_stg_external"),
                    ("read", "acme-warehouse-prod.stitch_stripe", None)}
    assert RULE.validate(resources, settings_for(warehouse)) == []


def test_a_script_s_table_holds_history_and_is_written_by_nothing_else(forms):
    warehouse = load_for_stack(forms, "dev")
    query = warehouse.query(UPSERT)
    assert query.spec.is_script and is_history(query.spec)
    assert query.reads == ("stripe.customers",)  # its own table is no upstream of itself
    assert write_script(query, "p.d.t").endswith(query.sql.rstrip() + "\n")
    month = warehouse.query("mart.revenue_invoiced_month_to_date")
    assert month.reads == ("stg_external.stg_stripe_invoices",)
    order = warehouse.lineage.order()
    assert order.index("stg_external.stg_stripe_invoices") < order.index("mart.revenue_invoiced_month_to_date")


def test_run_local_runs_the_scripts_on_two_days(forms):
    result = run_cli("--root", str(forms), "run", "--local", "--select",
                     f"+{UPSERT} +mart.revenue_invoiced_month_to_date",
                     "--show", UPSERT, "--show", "mart.revenue_invoiced_month_to_date")
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    # The upsert: on @run_date 2026-11-01 the customers loaded before that day (6), on 2026-11-02
    # the one Stitch loaded on 2026-11-01 too, merged into the first day's rows.
    built = [line.split() for line in out.splitlines() if line.strip().startswith(UPSERT) and "contract" in line]
    assert [b[2] for b in built] == ["6", "7"], out
    assert "cus_alice       billing@acme.io" in out  # the latest of its two rows
    # DECLARE, SET (DATE_TRUNC of a DATE) and the month's DELETE + INSERT: October's row from the
    # first day, November's (no invoice counted yet) absent.
    assert "2026-10-01      2026-10-31   usd               3         520.0" in out


def test_the_readme_s_script_checks_plans_and_runs_locally(tmp_path):
    from tests.conftest import copy_project
    from tests.test_readme import blocks, section

    project = copy_project(tmp_path / "project")
    how_to = section("Schedule a script")
    [sql], [spec] = blocks(how_to, "sql"), blocks(how_to, "yaml")
    folder = project / "scheduled_queries/staging/stripe"
    (folder / "stg_stripe_customers_current.sql").write_text(sql)
    (folder / "stg_stripe_customers_current.yaml").write_text(spec)
    assert run_cli("--root", str(project), "check").returncode == 0
    result = run_cli("--root", str(project), "run", "--local", "--select", "stg_external.stg_stripe_customers_current",
                     "--show", "stg_external.stg_stripe_customers_current")
    assert result.returncode == 0, result.stdout + result.stderr
    # cus_frank, loaded on 2026-11-01: the run date's run merges it.
    assert "cus_frank" in result.stdout
