"""BigQuery forms that real warehouses write and `check` once misread: a star on a struct value,
array paths in FROM (implicit UNNEST), unaliased expressions (`f0_`), sqlglot's own log messages,
and an outer star over a join or a CTE with EXCEPT/REPLACE. Each passes when right, and each
wrong variant is one problem line."""

from __future__ import annotations

import logging

from infra.checks.columns import analyze_columns, contract_schema
from infra.checks.output_names import output_names
from infra.checks.sql import SqlError, parse
from infra.checks.sqlglot_log import captured
from infra.declarations.columns import Column
from tests.conftest import run_cli
from tests.test_query_rules import MART, add_query, problems_of

REPORTING = "scheduled_queries/reporting/tableau"


def passes(project) -> None:
    result = run_cli("--root", str(project), "check", "--stack", "prod")
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", result.stderr


def yaml(*columns: str, schedule: bool = True) -> str:
    lines = ["description: Test.", *(["schedule: every day 05:10"] if schedule else []), "columns:"]
    lines += [f"  - {{name: {c.split(':')[0]}, type: {c.split(':')[1]}, description: X.}}" for c in columns]
    return "\n".join(lines) + "\n"


def _schema():
    def col(name, kind, mode="NULLABLE"):
        return Column(name=name, type=kind, mode=mode, description="x")
    return contract_schema({"mart.t": [col("a", "INT64"), col("b", "STRING")],
                            "mart.u": [col("id", "INT64"), col("tags", "STRING", "REPEATED")]})


# (1) A star on a struct-valued expression.

def test_a_star_on_a_struct_value_outputs_its_fields_with_their_types():
    for sql in ("SELECT IF(a > 1, STRUCT(a, b AS label), NULL).* FROM mart.t",
                "SELECT (SELECT AS STRUCT a, b AS label).* FROM mart.t",
                "SELECT COALESCE(STRUCT(a, b AS label), NULL).* FROM mart.t"):
        parsed = parse(sql)
        assert parsed.output_columns == ("a", "label"), sql
        assert analyze_columns(parsed.tree, _schema()).outputs == (("a", "INT64"), ("label", "STRING")), sql


def test_a_struct_star_keeps_except_and_replace():
    parsed = parse("SELECT STRUCT(a, b, a + 1 AS c).* EXCEPT (b) REPLACE (CAST(c AS STRING) AS c) FROM mart.t")
    assert parsed.output_columns == ("a", "c")
    assert analyze_columns(parsed.tree, _schema()).outputs == (("a", "INT64"), ("c", "STRING"))


def test_a_struct_star_whose_fields_cannot_be_read_leaves_the_columns_unknown():
    assert parse("SELECT JSON_QUERY(b, '$').* FROM mart.t").output_columns is None


def test_a_struct_star_query_passes_check_and_a_wrong_contract_names_the_fields(project):
    sql = ("SELECT IF(status = 'active', STRUCT(subscription_id, customer_id), NULL).*\n"
           "FROM stg_external.stg_stripe_subscriptions\n")
    add_query(project, MART, "active_subscriptions", sql, yaml("subscription_id:STRING", "customer_id:STRING"))
    passes(project)
    add_query(project, MART, "active_subscriptions", sql, yaml("subscription_id:STRING", "customer:STRING"))
    [line] = problems_of(project)
    assert "active_subscriptions.sql: the SELECT's columns differ" in line
    assert "missing customer; not declared customer_id" in line and "*" not in line.split(";")[0]


# (2) Array paths in FROM: an implicit UNNEST, not a table.

def test_array_paths_are_unnested_not_read_as_tables():
    for sql in ("SELECT u.id, tag FROM mart.u AS u LEFT JOIN u.tags AS tag ON tag LIKE 'a%'",
                "SELECT u.id, (SELECT COUNT(*) FROM u.tags AS tag WHERE tag LIKE 'a%') AS n FROM mart.u AS u",
                "SELECT u.id FROM mart.u AS u WHERE EXISTS (SELECT 1 FROM u.tags AS tag WHERE tag = 'x')",
                "SELECT id, tag FROM mart.u, u.tags AS tag"):
        parsed = parse(sql)
        assert [r.key for r in parsed.refs] == ["mart.u"], sql
        assert not analyze_columns(parsed.tree, _schema()).problems, sql


def test_a_path_whose_first_name_is_no_alias_in_reach_stays_a_table():
    # A subquery in a FROM sees no alias of that FROM; a WITH query none of the query reading it.
    parsed = parse("SELECT n FROM mart.u AS u, (SELECT COUNT(*) AS n FROM u.tags)")
    assert sorted(r.key for r in parsed.refs) == ["mart.u", "u.tags"]
    parsed = parse("WITH x AS (SELECT * FROM u.tags) SELECT x.* FROM mart.u AS u, x")
    assert sorted(r.key for r in parsed.refs) == ["mart.u", "u.tags"]


def test_an_array_path_query_passes_check(project):
    source = project / "datasets/sources/hubspot.yaml"
    source.write_text(source.read_text().replace(
        "      - {name: property_createdate,",
        "      - {name: property_tags, type: STRING, mode: REPEATED, description: Tags.}\n"
        "      - {name: property_createdate,", 1))
    add_query(project, "scheduled_queries/staging/hubspot", "stg_hubspot_contact_tags",
              "SELECT c.id AS contact_id, tag,\n"
              "  (SELECT COUNT(*) FROM c.property_tags AS t WHERE t LIKE 'icp_%') AS icp_tags\n"
              "FROM hubspot.contact AS c\nLEFT JOIN c.property_tags AS tag ON tag IS NOT NULL\n",
              "description: Test.\ncolumns:\n  - {name: contact_id, type: INT64, description: X.}\n"
              "  - {name: tag, type: STRING, description: X.}\n  - {name: icp_tags, type: INT64, description: X.}\n")
    passes(project)
    add_query(project, "scheduled_queries/staging/hubspot", "stg_hubspot_contact_tags",
              "SELECT c.id AS contact_id, tag\nFROM hubspot.contact AS c, c.property_tag AS tag\n",
              "description: Test.\ncolumns:\n  - {name: contact_id, type: INT64, description: X.}\n"
              "  - {name: tag, type: STRING, description: X.}\n")
    [line] = problems_of(project)
    assert "unknown column c.property_tag" in line and "did you mean 'property_tags'?" in line


# (3) Unaliased expressions: BigQuery labels them f0_, f1_, ... in a result only.

def test_bigquery_names_unaliased_outputs_f0_f1_counting_only_anonymous_ones():
    assert parse("SELECT a, COUNT(*), t.b, SUM(a), s.x.y FROM mart.t").output_columns == ("a", "f0_", "b", "f1_", "y")
    parsed = parse("SELECT b, COUNT(*) FROM mart.t GROUP BY b")
    analysis = analyze_columns(parsed.tree, _schema())
    assert analysis.outputs == (("b", "STRING"), ("f0_", "INT64")) and analysis.anonymous == {"f0_"}


def test_reading_f0_of_a_subquery_says_why_bigquery_refuses_it():
    parsed = parse("SELECT f0_ FROM (SELECT b, COUNT(*) FROM mart.t GROUP BY b)")
    [problem] = analyze_columns(parsed.tree, _schema()).problems
    assert "unknown column f0_" in problem.what and "anonymous and no query can read it by name" in problem.what
    assert "alias the expression" in problem.fix


def test_the_contract_check_names_the_column_as_bigquery_would(project):
    add_query(project, MART, "counts", "SELECT status, COUNT(*)\nFROM stg_external.stg_stripe_subscriptions\n"
              "GROUP BY status\n", yaml("status:STRING", "n:INT64"))
    [line] = problems_of(project)
    assert "missing n; not declared f0_" in line
    add_query(project, MART, "counts", "SELECT status, COUNT(*)\nFROM stg_external.stg_stripe_subscriptions\n"
              "GROUP BY status\n", yaml("status:STRING", "f0_:INT64"))
    [line] = problems_of(project)
    assert "counts.sql: column f0_ of the SELECT has no alias" in line and "`... AS f0_`" in line
    add_query(project, MART, "counts", "SELECT status, COUNT(*) AS f0_\nFROM stg_external.stg_stripe_subscriptions\n"
              "GROUP BY status\n", yaml("status:STRING", "f0_:INT64"))
    passes(project)


# (4) sqlglot's log messages are problem lines of the file, not stderr noise.

def test_sqlglot_messages_are_captured_not_printed(capsys):
    with captured() as messages:
        logging.getLogger("sqlglot").warning("something sqlglot says")
        logging.getLogger("sqlglot").warning("Failed to annotate badly formed binary expression: x")
    assert messages == ["something sqlglot says"]
    assert capsys.readouterr().err == ""


def test_a_statement_sqlglot_cannot_read_is_one_problem_with_its_line(project):
    try:
        parse("-- Refresh first.\nCALL mart.refresh_all()\n")
    except SqlError as exc:
        assert exc.line == 2 and "cannot read the statement starting `CALL mart.refresh_all()`" in exc.what
    else:
        raise AssertionError("a CALL is not a SELECT")
    add_query(project, MART, "grant", "CALL mart.refresh_all()\n", yaml("n:INT64"))
    result = run_cli("--root", str(project), "check", "--stack", "prod")
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1 and len(lines) == 2, result.stderr  # the problem and the count
    assert lines[0].startswith(f"{MART}/grant.sql:1: sqlglot, which reads the SQL for these checks, cannot read")
    assert "contains unsupported syntax" not in result.stderr


# (6) An outer star is expanded from the contracts: over a join, and a CTE with EXCEPT/REPLACE.

def test_an_outer_star_over_a_join_is_checked_against_the_contract(project):
    sql = ("SELECT *\nFROM mart.revenue_mrr AS m\n"
           "JOIN (SELECT stripe_customer_id AS id, COUNT(*) AS users FROM mart.core_users "
           "GROUP BY 1) AS u\n  ON u.id = m.customer_id\n")
    columns = ["as_of_date:DATE", "customer_id:STRING", "subscriptions:INT64", "mrr_usd:FLOAT64", "id:STRING",
               "users:INT64"]
    add_query(project, REPORTING, "mrr_invoices", sql, yaml(*columns, schedule=False))
    passes(project)
    add_query(project, REPORTING, "mrr_invoices", sql, yaml(*columns[:-1], schedule=False))
    [line] = problems_of(project)
    assert "mrr_invoices.sql: the SELECT's columns differ" in line and "not declared users" in line


def test_an_outer_star_with_except_and_replace_over_a_cte_is_checked(project):
    sql = ("WITH latest AS (\n  SELECT * FROM mart.revenue_mrr\n  WHERE as_of_date = (SELECT MAX(as_of_date) "
           "FROM mart.revenue_mrr)\n)\nSELECT * EXCEPT (subscriptions) REPLACE (ROUND(mrr_usd, 2) AS mrr_usd)\n"
           "FROM latest\n")
    add_query(project, REPORTING, "mrr_latest", sql,
              yaml("as_of_date:DATE", "customer_id:STRING", "mrr_usd:FLOAT64", schedule=False))
    passes(project)
    add_query(project, REPORTING, "mrr_latest", sql,
              yaml("as_of_date:DATE", "customer_id:STRING", "mrr_usd:STRING", schedule=False))
    [line] = problems_of(project)
    assert "column mrr_usd is FLOAT64 in the SELECT" in line and "declares STRING" in line


def test_output_names_of_a_plain_list():
    import sqlglot
    select = sqlglot.parse_one("SELECT 1, x AS y, z, 2", read="bigquery")
    assert output_names(select.expressions) == ["f0_", "y", "z", "f1_"]


# (5) One run reports every problem of a file: its YAML's, its schedule's and its SQL's.

def test_a_schedule_problem_does_not_hide_the_sql_problems_of_the_same_query(project):
    add_query(project, MART, "mrr_typo", "SELECT customer_id, mrr_usd AS mrr\nFROM mart.revenue_mrr\n"
              "WHERE as_of_dat = DATE_SUB(@run_date, INTERVAL 1 DAY)\n",
              "description: Test.\nschedule: every dya 05:10\nlabels: {Team: growth}\ncolumns:\n"
              "  - {name: customer_id, type: STRING, description: X.}\n  - {name: mrr, type: INT64, description: X.}\n")
    lines = problems_of(project)
    assert len(lines) == 4, lines
    assert any(line.startswith(f"{MART}/mrr_typo.yaml:2: schedule:") for line in lines), lines
    assert any(line.startswith(f"{MART}/mrr_typo.yaml:3: labels") for line in lines), lines
    assert any(line.startswith(f"{MART}/mrr_typo.sql:3: unknown column as_of_dat") for line in lines), lines
    assert any("column mrr is FLOAT64 in the SELECT" in line for line in lines), lines


def test_a_contract_problem_still_stops_the_sql_check_of_that_query(project):
    # Without its columns there is nothing to check the SELECT against: only the YAML's problem.
    add_query(project, MART, "mrr_typo", "SELECT customer_id FROM mart.revenue_mrr WHERE as_of_dat = @run_date\n",
              "description: Test.\nschedule: every day 05:10\ncolumns:\n  - {name: customer_id, type: STRIN}\n")
    lines = problems_of(project)
    assert lines and all("mrr_typo.yaml" in line for line in lines), lines


# PIVOT and UNPIVOT outputs resolve (the corpus uses both); a misspelt one is told as such.

def test_pivot_and_unpivot_outputs_resolve_and_a_typo_names_the_operator():
    def col(name, kind):
        return Column(name=name, type=kind, mode="NULLABLE", description="x")
    schema = contract_schema({"mart.m": [col("month", "DATE"), col("paid", "INT64"), col("unpaid", "INT64")],
                              "mart.r": [col("plan", "STRING"), col("category", "STRING"), col("id", "STRING")]})
    unpivot = parse("SELECT month, status, n FROM mart.m UNPIVOT (n FOR status IN (paid AS 'p', unpaid AS 'u'))")
    assert analyze_columns(unpivot.tree, schema).outputs == (("month", "DATE"), ("status", "STRING"), ("n", "INT64"))
    assert not analyze_columns(unpivot.tree, schema).problems
    pivot = parse("SELECT * FROM (SELECT plan, category, id FROM mart.r) "
                  "PIVOT (COUNT(id) FOR category IN ('promoter' AS promoters))")
    assert analyze_columns(pivot.tree, schema).outputs == (("plan", "STRING"), ("promoters", "INT64"))
    typo = parse("SELECT plan, promoterz FROM (SELECT plan, category, id FROM mart.r) "
                 "PIVOT (COUNT(id) FOR category IN ('promoter' AS promoters))")
    [problem] = analyze_columns(typo.tree, schema).problems
    assert problem.what == "unknown column promoterz: the PIVOT has no column 'promoterz' (did you mean 'promoters'?)"
    wrong_in = parse("SELECT month FROM mart.m UNPIVOT (n FOR status IN (payd, unpaid))")
    [problem] = analyze_columns(wrong_in.tree, schema).problems
    assert "unknown column payd" in problem.what and "did you mean 'paid'?" in problem.what


def test_with_offset_after_an_implicit_array_path_is_a_parse_problem_sqlglot_has():
    # docs/known-limits.md: sqlglot reads `UNNEST(path) AS x WITH OFFSET`, not `path AS x WITH OFFSET`.
    parse("SELECT tag, i FROM mart.u AS u, UNNEST(u.tags) AS tag WITH OFFSET AS i")
    try:
        parse("SELECT tag, i FROM mart.u AS u,\n  u.tags AS tag WITH OFFSET AS i")
    except SqlError as exc:
        assert exc.line == 2 and "does not parse" in exc.what
    else:
        raise AssertionError("sqlglot parses it now: drop the limit from docs/known-limits.md")


def test_a_star_on_a_struct_column_outputs_its_fields_when_the_schema_has_them():
    # Contracts declare no STRUCT yet (nested types are another part of issue 17); a schema that has
    # one shows what the check does with it.
    from sqlglot.schema import MappingSchema
    schema = MappingSchema({"mart": {"t": {"id": "INT64", "s": "STRUCT<city STRING, zip INT64>"}}},
                           dialect="bigquery", normalize=False)
    parsed = parse("SELECT t.id, t.s.* EXCEPT (zip) FROM mart.t AS t")
    assert analyze_columns(parsed.tree, schema).outputs == (("id", "INT64"), ("city", "STRING"))
