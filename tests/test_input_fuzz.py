"""Input hardening, property-based: malformed YAML, SQL, schedules, principals and stack config
always end in the project's own error (file, key, what, fix) and a non-zero exit, never in a
traceback and never with a resource registered.

Examples are derandomized (the same every run) and add up to more than 1,000 per run: most
go through the loaders in-process; a smaller share through the whole load, the Pulumi program
under the mock runtime, and the CLI in a child process.
"""

from __future__ import annotations

import shutil
import string
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from infra.checks.sql import SqlError, parse
from infra.declarations.datasets import load_datasets
from infra.declarations.principals import Principal, PrincipalError, parse_principal
from infra.declarations.queries import load_queries
from infra.declarations.roles import load_roles
from infra.declarations.schedule import Schedule, ScheduleError, parse_schedule
from infra.declarations.stack import parse as parse_stack
from infra.model.load import load_for_stack
from infra.plan.runtime import ProgramError, run_program
from infra.problems import Problems, ProblemsError
from tests.conftest import copy_project, run_cli

FAST = settings(derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))


def examples(n: int):
    return settings(FAST, max_examples=n)


# -- building blocks ------------------------------------------------------------------------------

WORDS = st.sampled_from(["every", "day", "days", "hours", "mins", "minutes", "from", "to", "synchronized", "of",
                         "month", "quarter", "monday", "fri", "1st", "third", "last", "jan", "apr", "04:10", "4:10",
                         "25:00", "00:00", "23:59", "7", "0", "5", "24", ",", "am", "pm", "daily", ""])
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=False),
                    st.text(max_size=40), st.sampled_from(["READER", "WRITER", "OWNER", "mart", "staging", "all",
                                                           "group:a@b.com", "user:X@Y.com", "allUsers", "US", "EU"]))
KEYS = st.one_of(st.sampled_from(["description", "layer", "folders", "sync_tool", "labels", "time_travel_days",
                                  "location", "title", "members", "grants", "role", "layers", "datasets",
                                  "project_roles", "service_account", "account_id", "display_name", "columns",
                                  "name", "type", "mode", "schedule", "kind", "dataset", "partitioning", "field",
                                  "clustering", "incremental", "write_disposition", "tables"]),
                 st.text(string.ascii_letters + "_-", min_size=1, max_size=12))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(KEYS, inner, max_size=5)), max_leaves=12)
DOCUMENTS = st.one_of(
    st.dictionaries(KEYS, VALUES, max_size=8).map(lambda d: yaml.safe_dump(d, sort_keys=False)),
    st.text(alphabet=string.printable, max_size=200),  # anything at all, mostly invalid YAML
    st.builds(lambda a, b: a + "\n" + b, st.just("description: x\nlayer: mart"),
              st.sampled_from(["description: again", "  bad: indent", "- list", "layer: [", "{", "&a x: *a",
                               "<<: {}"])),
)


def assert_project_errors(problems) -> None:
    for p in problems:
        assert p.file and p.what and p.fix, p
        assert "fix:" in str(p) and "\n" not in str(p), str(p)


# -- in-process loaders ---------------------------------------------------------------------------

@examples(200)
@given(st.lists(WORDS, max_size=8).map(" ".join))
def test_schedules_parse_or_say_why(text):
    try:
        assert isinstance(parse_schedule(text), Schedule)
    except ScheduleError as exc:
        assert exc.what and exc.fix


@examples(200)
@given(st.one_of(st.text(max_size=60), st.builds(lambda k, e: f"{k}:{e}",
                                                 st.sampled_from(["group", "user", "serviceAccount", "domain",
                                                                  "Group", "specialGroup", ""]),
                                                 st.text(string.ascii_letters + string.digits + "@.-_", max_size=30)),
                 SCALARS))
def test_principals_parse_or_say_why(text):
    try:
        p = parse_principal(text)
        assert isinstance(p, Principal) and p.identifier == p.identifier.lower()
    except PrincipalError as exc:
        assert exc.what and exc.fix


SQL_PIECES = st.sampled_from(["SELECT", "FROM", "mart.core_users", "WHERE", "@run_date", "=", "(", ")", ",", "*",
                              "AS", "x", "1", "'a'", "GROUP BY", "JOIN", "ON", ";", "--", "/*", "`", "UNION ALL",
                              "WITH t AS", "QUALIFY", "DATE(e.event_time)", "CREATE TABLE", "DROP", "\n"])


@examples(150)
@given(st.one_of(st.lists(SQL_PIECES, max_size=14).map(" ".join), st.text(max_size=80)))
def test_sql_parses_or_says_where(sql):
    try:
        parsed = parse(sql)
        assert parsed.tree is not None
    except SqlError as exc:
        assert exc.what


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@examples(150)
@given(DOCUMENTS)
def test_dataset_files_load_or_report_problems(scratch, text):
    folder = scratch / "ds" / "datasets"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "fuzzed.yaml").write_text(text)
    problems = Problems()
    load_datasets(folder.parent, problems)
    assert_project_errors(problems)


@examples(100)
@given(DOCUMENTS)
def test_role_files_load_or_report_problems(scratch, text):
    folder = scratch / "roles_root" / "roles"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "fuzzed.yaml").write_text(text)
    problems = Problems()
    load_roles(folder.parent, problems)
    assert_project_errors(problems)


@examples(100)
@given(DOCUMENTS, st.lists(SQL_PIECES, max_size=10).map(" ".join))
def test_query_files_load_or_report_problems(scratch, text, sql):
    folder = scratch / "q" / "scheduled_queries" / "mart" / "fuzz"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "fuzzed.yaml").write_text(text)
    (folder / "fuzzed.sql").write_text(sql)
    problems = Problems()
    load_queries(folder.parent.parent.parent, problems)
    assert_project_errors(problems)


CONFIG_KEYS = st.sampled_from(["warehouse:environment", "warehouse:location", "warehouse:datasetPrefix",
                               "warehouse:protect", "warehouse:members", "warehouse:projectNumber", "gcp:project",
                               "warehouse:serviceAccountPrefix", "warehouse:policyAdvisory", "warehouse:nope",
                               "nonamespace"])


@examples(150)
@given(st.dictionaries(CONFIG_KEYS, VALUES, max_size=9))
def test_stack_config_parses_or_reports_problems(config):
    problems = Problems()
    parse_stack("prod", "Pulumi.prod.yaml", config, {}, problems)
    assert_project_errors(problems)


# -- the whole load, the program, the CLI ------------------------------------------------------------

TARGETS = ["datasets/mart.yaml", "datasets/sources/stripe.yaml", "roles/data_analyst.yaml", "Pulumi.prod.yaml",
           "backups/coverage.yaml", "backups/policies/daily_snapshots.yaml",
           "scheduled_queries/mart/revenue/revenue_mrr.yaml", "scheduled_queries/mart/revenue/revenue_mrr.sql",
           "scheduled_queries/staging/_defaults.yaml"]


@pytest.fixture(scope="module")
def copy(tmp_path_factory) -> Path:
    return copy_project(tmp_path_factory.mktemp("fuzz-project") / "project")


def mutated(copy: Path, target: str, text: str):
    path = copy / target
    original = path.read_text()
    path.write_text(text)
    return path, original


@examples(100)
@given(st.sampled_from(TARGETS), DOCUMENTS)
def test_whole_load_reports_problems_never_crashes(copy, target, text):
    path, original = mutated(copy, target, text)
    try:
        load_for_stack(copy, "prod")
    except ProblemsError as exc:
        assert exc.problems
        assert_project_errors(exc.problems)
    finally:
        path.write_text(original)


@examples(25)
@given(st.sampled_from(TARGETS), DOCUMENTS)
def test_program_registers_nothing_on_bad_input(copy, target, text):
    path, original = mutated(copy, target, text)
    try:
        run_program(copy, "prod")
    except ProblemsError as exc:  # the stack file itself: refused before the program runs
        assert_project_errors(exc.problems)
    except ProgramError as exc:
        assert "fix:" in str(exc)
        assert [r.type for r in exc.plan.resources] == ["pulumi:pulumi:Stack"]
    finally:
        path.write_text(original)


@examples(15)
@given(st.sampled_from(TARGETS), DOCUMENTS)
def test_cli_exits_non_zero_with_one_line_per_problem(tmp_path_factory, target, text):
    project = copy_project(tmp_path_factory.mktemp("fuzz-cli") / "project")
    (project / target).write_text(text)
    result = run_cli("--root", str(project), "check", "--stack", "prod")
    assert "Traceback" not in result.stderr + result.stdout
    if result.returncode != 0:
        assert result.returncode == 1
        lines = result.stderr.strip().splitlines()
        assert lines[-1].endswith("problem(s) found.")
        assert all("fix:" in line for line in lines[:-1]), lines
    shutil.rmtree(project.parent, ignore_errors=True)
