"""Routines: persistent functions and table functions declared under routines/<dataset>/, their
calls resolved per stack like tables, part of the lineage and the plan; temporary functions before a
query's SELECT. The corpus (tests/routines_corpus/: four routines and three queries that call them)
is laid over a copy of the project."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import sqlglot

from infra.checks.lineage import Lineage, Node
from infra.checks.routine_rules import authorized_datasets
from infra.checks.sql import SqlError, parse, resolve_parts
from infra.model.load import load_for_stack
from infra.plan.replacements import changes_not_in_place
from infra.plan.runtime import run_program
from infra.policies.evaluate import resources_of, settings_for
from infra.policies.job_permissions import RULE, uses_of
from infra.problems import ProblemsError
from infra.resources.write_sql import write_script
from infra.vocabulary import ROUTINE_TYPE
from tests.conftest import ROOT, copy_project, run_cli

CORPUS = ROOT / "tests" / "routines_corpus"


def corpus_project(dest: Path) -> Path:
    project = copy_project(dest)
    shutil.copytree(CORPUS, project, dirs_exist_ok=True)
    return project


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return corpus_project(tmp_path_factory.mktemp("routines") / "project")


@pytest.fixture(scope="module")
def prod(corpus):
    return load_for_stack(corpus, "prod")


@pytest.fixture(scope="module")
def prod_plan(corpus):
    return run_program(corpus, "prod")


@pytest.fixture
def project(tmp_path) -> Path:
    return corpus_project(tmp_path / "project")


def problems_of(project: Path, stack: str = "dev") -> list[str]:
    with pytest.raises(ProblemsError) as info:
        load_for_stack(project, stack)
    return [str(p) for p in info.value.problems]


def edit(project: Path, file: str, old: str, new: str) -> None:
    path = project / file
    text = path.read_text(encoding="utf-8")
    assert old in text, (file, old)
    path.write_text(text.replace(old, new), encoding="utf-8")


# -- the happy path ------------------------------------------------------------------------------


def test_the_corpus_passes_check(corpus):
    result = run_cli("check", cwd=corpus)
    assert result.returncode == 0, result.stdout + result.stderr
    shipped = len(list((ROOT / "scheduled_queries").glob("*/*/*.sql")))
    added = len(list((corpus / "scheduled_queries").glob("*/*/*.sql"))) - shipped
    assert added == 3 and f"{shipped + added} queries and views" in result.stdout


def test_calls_and_bodies_are_resolved_per_stack(prod):
    body = prod.routine("mart.user_sessions").body
    assert "FROM `acme-warehouse-prod.production_stg_external.amplitude_events`" in body
    assert prod.routine("mart.email_domain").spec.language == "JAVASCRIPT"
    q = prod.query("mart.marketing_customer_contacts")
    assert "`acme-warehouse-prod.production_mart.normalize_email`(c.email)" in q.sql
    assert "mart.normalize_email" not in q.select.replace("production_mart.normalize_email", "")
    assert q.reads == ("mart.email_domain", "mart.normalize_email", "stg_external.stg_hubspot_contacts",
                       "stg_external.stg_stripe_customers")
    assert q.temp_functions.strip().startswith("-- Each Stripe customer")
    assert q.temp_functions.rstrip().endswith(");") and "SELECT" not in q.temp_functions


def test_routines_are_nodes_of_the_lineage(prod, corpus):
    lineage = prod.lineage
    assert lineage.nodes["mart.user_sessions"].kind == "routine"
    assert lineage.upstream["mart.user_sessions"] == {"stg_external.amplitude_events"}
    assert lineage.upstream["mart.product_user_sessions_daily"] == {"mart.user_sessions"}
    # run order looks through the routine to the table its body reads
    assert lineage.upstream_queries("mart.product_user_sessions_daily") == {"stg_external.amplitude_events"}
    order = lineage.order()
    assert order.index("stg_external.amplitude_events") < order.index("mart.user_sessions") < \
        order.index("mart.product_user_sessions_daily")
    graph = run_cli("graph", "--select", "+mart.product_user_sessions_daily", cwd=corpus)
    assert graph.returncode == 0, graph.stderr
    assert 'mart__user_sessions{{"mart.user_sessions"}}' in graph.stdout
    assert "mart__user_sessions --> mart__product_user_sessions_daily" in graph.stdout


def test_a_table_functions_columns_come_from_its_return_table(prod):
    q = prod.query("mart.product_user_sessions_daily")
    assert q.column_lineage["events"] == {("mart.user_sessions", "events")}
    assert q.column_lineage["seconds_in_sessions"] == {("mart.user_sessions", "ended_at"),
                                                       ("mart.user_sessions", "started_at")}


def test_the_plan_declares_each_routine_with_its_types(prod_plan):
    routines = {r.name: r for r in prod_plan.resources if r.type == ROUTINE_TYPE}
    assert set(routines) == {"mart.email_domain-routine", "mart.normalize_email-routine",
                             "mart.user_sessions-routine", "mart.utm_parameter-routine"}
    tf = routines["mart.user_sessions-routine"].inputs
    assert (tf["routineType"], tf["language"], tf["datasetId"], tf["routineId"]) == \
        ("TABLE_VALUED_FUNCTION", "SQL", "production_mart", "user_sessions")
    assert '"name": "session_number", "type": {"typeKind": "INT64"}' in tf["returnTableType"]
    assert [a["name"] for a in tf["arguments"]] == ["for_user", "on_day"]
    js = routines["mart.email_domain-routine"].inputs
    assert (js["language"], js["determinismLevel"], js["returnType"]) == \
        ("JAVASCRIPT", "DETERMINISTIC", '{"typeKind": "STRING"}')
    # the table function waits for the table its body reads; the build and the view for what they call
    table = next(r for r in prod_plan.resources if r.name == "stg_external.amplitude_events-table")
    assert table.urn in routines["mart.user_sessions-routine"].dependencies
    transfer = next(r for r in prod_plan.resources if r.name == "mart.product_user_sessions_daily-transfer")
    assert routines["mart.user_sessions-routine"].urn in transfer.dependencies
    view = next(r for r in prod_plan.resources if r.name == "reporting.signup_campaigns-view")
    assert routines["mart.utm_parameter-routine"].urn in view.dependencies


def test_a_routines_id_or_kind_is_a_replacement_its_body_is_not(prod_plan):
    old = prod_plan.as_json()

    def changed(**inputs):
        new = {**old, "resources": [dict(r, inputs={**r["inputs"], **inputs}) if r["name"] ==
                                    "mart.normalize_email-routine" else r for r in old["resources"]]}
        return changes_not_in_place(old, new)

    assert changed(definitionBody="LOWER(email)") == []
    (n,) = changed(routineType="TABLE_VALUED_FUNCTION")
    assert n.kind == "replace" and not n.stateful


def test_the_runner_needs_to_get_the_routines_it_calls(prod, prod_plan):
    settings = settings_for(prod)
    resources = resources_of(prod_plan)
    uses = {(u.job, u.statement, u.source) for u in uses_of(resources, settings)}
    job = "scheduled query mart/product/product_user_sessions_daily"
    assert (job, "call_routine", "acme-warehouse-prod.production_mart") in uses
    # what the table function's body reads is read by the build that calls it
    assert (job, "read", "acme-warehouse-prod.production_stg_external") in uses
    assert RULE.validate(resources, settings) == []


def test_the_build_script_declares_temporary_functions_before_its_transaction(prod):
    q = prod.query("mart.marketing_customer_contacts")
    script = write_script(q, "p.d.marketing_customer_contacts")
    assert script.index("CREATE TEMP FUNCTION is_webmail") < script.index("BEGIN TRANSACTION;")
    assert "CREATE TEMP FUNCTION" not in script[script.index("BEGIN TRANSACTION;"):]
    statements = [s for s in sqlglot.parse(script, read="bigquery") if s is not None]
    assert [type(s).__name__ for s in statements] == ["Create", "Transaction", "Delete", "Insert", "Commit"]


def test_temporary_functions_parse_before_the_select_and_are_resolved_apart():
    sql = ("CREATE TEMP FUNCTION f(x INT64) RETURNS INT64 AS (x + (SELECT COUNT(*) FROM mart.t));\n"
           "CREATE TEMPORARY FUNCTION g(s STRING) RETURNS STRING LANGUAGE js AS r'''return s;''';\n"
           "SELECT f(n), g(mart.h(s)) FROM mart.u")
    p = parse(sql)
    assert [t.name for t in p.temp_functions] == ["f", "g"]
    assert {r.key for r in p.refs} == {"mart.t", "mart.u"}  # a temporary function's body reads too
    assert [r.key for r in p.routine_refs] == ["mart.h"]
    temps, select = resolve_parts(p, lambda r: f"`x.{r.dataset}.{r.table}`")
    assert temps.endswith("return s;''';") and "`x.mart.t`" in temps
    assert select == "\nSELECT f(n), g(`x.mart.h`(s)) FROM `x.mart.u`"
    for bad in ("CREATE TABLE mart.x AS SELECT 1; SELECT 1", "CREATE FUNCTION mart.f() AS (1); SELECT 1",
                "SELECT 1; CREATE TEMP FUNCTION f() AS (1)"):
        with pytest.raises(SqlError, match="expected one SELECT statement"):
            parse(bad)


def test_bigquerys_dotted_functions_are_not_routines():
    p = parse("SELECT NET.HOST(u), net.reg_domain(u), HLL_COUNT.EXTRACT(h), KEYS.NEW_KEYSET('AEAD_AES_GCM_256'), "
              "SAFE.PARSE_DATE('%Y', y), mart.f(u) FROM mart.t")
    assert [r.key for r in p.routine_refs] == ["mart.f"]
    p = parse("SELECT * FROM ML.PREDICT(MODEL mart.churn, TABLE mart.t)")
    assert p.routine_refs == () and p.table_functions == {"PREDICT"}


def test_a_view_reaching_another_dataset_through_a_routine_is_authorized_there():
    lineage = Lineage()
    lineage.add(Node("stg_external.events", "staging", "table"))
    lineage.add(Node("mart.sessions", "mart", "routine"), {"stg_external.events", "mart.helper"})
    lineage.add(Node("mart.helper", "mart", "routine"))
    datasets = {"mart": object(), "stg_external": object(), "reporting": object()}
    assert authorized_datasets("reporting", {"mart.sessions"}, lineage, datasets) == {"mart", "stg_external"}
    assert authorized_datasets("mart", {"mart.sessions"}, lineage, datasets) == {"stg_external"}


def test_a_reporting_view_calling_a_table_function_authorizes_what_it_reads(project):
    (project / "scheduled_queries/reporting/tableau/sessions_yesterday.sql").write_text(
        "SELECT user_id, events FROM mart.user_sessions(NULL, DATE '2026-11-01')\n", encoding="utf-8")
    (project / "scheduled_queries/reporting/tableau/sessions_yesterday.yaml").write_text(
        "description: Sessions of 2026-11-01.\ncolumns:\n"
        "  - {name: user_id, type: STRING, description: User.}\n"
        "  - {name: events, type: INT64, description: Events.}\n", encoding="utf-8")
    w = load_for_stack(project, "dev")
    staging = w.dataset("stg_external")
    assert ("acme-warehouse-dev", "dev_reporting") in [e.authorized_dataset for e in staging.accesses]


# -- bad input ------------------------------------------------------------------------------------


def test_an_unknown_routine_is_one_line_with_the_closest_name(project):
    edit(project, "scheduled_queries/mart/marketing/marketing_customer_contacts.sql",
         "mart.normalize_email(c.email) AS email", "mart.normalise_email(c.email) AS email")
    (line,) = [p for p in problems_of(project) if "normalise" in p]
    assert line.startswith("scheduled_queries/mart/marketing/marketing_customer_contacts.sql:10: ")
    assert "unknown routine mart.normalise_email" in line and "did you mean 'mart.normalize_email'?" in line


def test_a_call_of_the_wrong_kind_or_arity_or_with_a_project_is_refused(project):
    file = "scheduled_queries/mart/product/product_user_sessions_daily.sql"
    edit(project, file, "mart.user_sessions(NULL, DATE_SUB(@run_date, INTERVAL 1 DAY))",
         "mart.user_sessions(DATE_SUB(@run_date, INTERVAL 1 DAY))")
    edit(project, "scheduled_queries/reporting/tableau/signup_campaigns.sql", "COALESCE(signup_source",
         "COALESCE(mart.user_sessions(signup_source, signup_date)")
    edit(project, "scheduled_queries/mart/marketing/marketing_customer_contacts.sql",
         "mart.email_domain(c.email) AS email_domain", "acme.mart.email_domain(c.email) AS email_domain")
    found = problems_of(project)
    assert any("mart.user_sessions takes 2 argument(s), called with 1" in p for p in found), found
    assert any("mart.user_sessions is a table function, called outside a FROM" in p for p in found), found
    assert any("acme.mart.email_domain names a project" in p for p in found), found


def test_temporary_functions_that_shadow_or_repeat_or_sit_in_a_view_are_refused(project):
    file = "scheduled_queries/mart/marketing/marketing_customer_contacts.sql"
    edit(project, file, "CREATE TEMP FUNCTION is_webmail(",
         "CREATE TEMP FUNCTION lower(s STRING) AS (s);\nCREATE TEMP FUNCTION lower(s STRING) AS (s);\n"
         "CREATE TEMP FUNCTION is_webmail(")
    view = "scheduled_queries/reporting/tableau/signup_campaigns.sql"
    edit(project, view, "SELECT\n", "CREATE TEMP FUNCTION f(x STRING) AS (x);\nSELECT\n")
    found = problems_of(project)
    assert any("the temporary function lower has the name of a BigQuery function" in p for p in found), found
    assert any("the temporary function lower is declared twice" in p for p in found), found
    assert any(p.startswith(view) and "declares no temporary function" in p for p in found), found


@pytest.mark.parametrize(("change", "expected"), [
    (lambda p: (p / "routines/mart/utm_parameter.sql").unlink(), "routine mart.utm_parameter has no body"),
    (lambda p: (p / "routines/mart/utm_parameter.js").write_text("return 1;"), "has two bodies"),
    (lambda p: (p / "routines/mart/utm_parameter.yaml").unlink(), "a routine body without its YAML"),
    (lambda p: edit(p, "routines/mart/utm_parameter.yaml", "returns: STRING\n", ""),
     "returns: a scalar function declares the type it returns"),
    (lambda p: edit(p, "routines/mart/utm_parameter.yaml", "returns: STRING", "returns: TEXT"),
     "returns: 'TEXT' is not allowed"),
    (lambda p: edit(p, "routines/mart/utm_parameter.yaml", "returns: STRING",
                    "returns: STRING\ndeterminism: deterministic"),
     "only a JavaScript function takes a determinism level"),
    (lambda p: edit(p, "routines/mart/user_sessions.yaml", "columns:", "cols:"),
     "a table function declares the columns it returns"),
    (lambda p: edit(p, "routines/mart/user_sessions.sql", "COUNT(*) AS events", "COUNT(*) AS n_events"),
     "the SELECT returns user_id, session_number, started_at, ended_at, n_events, but"),
    (lambda p: edit(p, "routines/mart/user_sessions.sql", "stg_external.amplitude_events",
                    "stg_external.amplitude_event"),
     "unknown table stg_external.amplitude_event"),
    (lambda p: edit(p, "routines/mart/utm_parameter.sql", "LIMIT 1", "LIMIT 1 ("), "SQL does not parse"),
    (lambda p: shutil.move(p / "routines/mart", p / "routines/marts"), "routines/marts/ is not a managed dataset"),
    (lambda p: edit(p, "routines/mart/user_sessions.yaml", "{name: for_user, type: STRING}",
                    "{name: user_id, type: STRING}"), "argument user_id has the name of a column"),
    (lambda p: edit(p, "routines/mart/utm_parameter.yaml", "{name: parameter, type: STRING}",
                    "{name: url, type: STRING}"), "argument 'url' is declared twice"),
])
def test_bad_routine_files_are_one_line_each(project, change, expected):
    change(project)
    found = problems_of(project)
    assert any(expected in p for p in found), found
    assert all("; fix: " in p for p in found), found


# -- the local run ------------------------------------------------------------------------------


def test_the_corpus_runs_locally_with_its_routines_and_temporary_functions(corpus):
    from infra.local.emulator import Emulator
    from infra.local.runner import LocalRun, read_run_date

    warehouse = load_for_stack(corpus, "dev")
    with Emulator(project=warehouse.stack.project) as emulator:  # its own: the corpus reuses dev's dataset ids
        client = emulator.client()
        results = LocalRun(corpus, warehouse, run_program(corpus, "dev"), client, read_run_date(corpus)).run()
        failed = [(r.key, r.problems) for r in results if r.failed]
        assert failed == []
        last = {r.key: r for r in results}
        for key in ("mart.marketing_customer_contacts", "mart.product_user_sessions_daily",
                    "reporting.signup_campaigns"):
            assert last[key].ok and last[key].rows > 0, last[key]

        def value(sql):
            return next(iter(client.query(sql).result()))[0]

        mart = "acme-warehouse-dev.dev_mart"
        assert value(f"SELECT `{mart}.normalize_email`(' Jane+News@Acme.COM ')") == "jane@acme.com"
        assert value(f"SELECT `{mart}.email_domain`('ops@Globex.com')") == "globex.com"  # JavaScript
        assert value(f"SELECT `{mart}.utm_parameter`('https://x.io/?utm_source=Google&utm_medium=cpc', "
                     "'source')") == "google"
        # The two runs (the day before the run date, then the run date) wrote the partitions of
        # 2026-10-31 and 2026-11-01, each the sessions the table function finds that day.
        sessions = value(f"SELECT SUM(sessions) FROM `{mart}.product_user_sessions_daily`")
        assert sessions == value(f"SELECT COUNT(*) FROM `{mart}.user_sessions`(NULL, DATE '2026-10-31')") + \
            value(f"SELECT COUNT(*) FROM `{mart}.user_sessions`(NULL, DATE '2026-11-01')") > 0
