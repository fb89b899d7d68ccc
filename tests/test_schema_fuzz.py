"""Hostile values generated from the schema itself: for every key of every kind of file (the
`Field` tuples the loaders validate with, and the stack file's `KEYS`), every wrong type, values out
of range, choices in the wrong case, unknown keys, YAML alias abuse and oversized files. Each must
end in problem lines (`file:line: key: what; fix: how`), never a traceback, a hang, or a load that
passes with a resource built from nonsense.

The cases are enumerated, not sampled: the same every run, all of them in well under a minute
(each is one in-process load of the prod stack from a scratch copy of the project)."""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from infra.declarations.backups import COPY_FIELDS, POLICY_FIELDS
from infra.declarations.columns import COLUMN_FIELDS
from infra.declarations.datasets import DATASET_FIELDS, SOURCE_FIELDS, SOURCE_TABLE_FIELDS
from infra.declarations.keys import Field
from infra.declarations.queries import DEFAULT_FIELDS, PARTITIONING_FIELDS, QUERY_FIELDS
from infra.declarations.roles import GRANT_FIELDS, ROLE_FIELDS, SERVICE_ACCOUNT_FIELDS
from infra.declarations.routines import ARGUMENT_FIELDS, ROUTINE_FIELDS
from infra.declarations.stack import KEYS as STACK_KEYS
from infra.model.load import load_for_stack
from infra.problems import ProblemsError
from tests.conftest import ROOT, copy_project

PROBLEM_LINE = re.compile(r"^[^\s:][^:]*(:\d+)?: [^\n]+; fix: [^\n]+$")


@dataclass(frozen=True)
class Place:
    """Where a mapping of one kind lives in a real file of the project."""

    kind: str
    file: str
    path: tuple  # inside the document
    fields: tuple[Field, ...]


PLACES = (
    Place("dataset", "datasets/mart.yaml", (), DATASET_FIELDS),
    Place("raw source", "datasets/sources/stripe.yaml", (), SOURCE_FIELDS),
    Place("raw source table", "datasets/sources/stripe.yaml", ("tables", "invoices"), SOURCE_TABLE_FIELDS),
    Place("raw source column", "datasets/sources/stripe.yaml", ("tables", "invoices", "columns", 0), COLUMN_FIELDS),
    # event_params.value of GA4's events: a STRUCT inside an ARRAY<STRUCT> (`fields:` required there)
    Place("nested field", "datasets/sources/ga4.yaml", ("tables", "events", "columns", 3, "fields", 1), COLUMN_FIELDS),
    Place("role", "roles/data_analyst.yaml", (), ROLE_FIELDS),
    Place("grant", "roles/data_analyst.yaml", ("grants", 0), GRANT_FIELDS),
    Place("service account", "roles/sync_census.yaml", ("service_account",), SERVICE_ACCOUNT_FIELDS),
    Place("query", "scheduled_queries/mart/revenue/revenue_mrr.yaml", (), QUERY_FIELDS),
    Place("partitioning", "scheduled_queries/mart/revenue/revenue_mrr.yaml", ("partitioning",), PARTITIONING_FIELDS),
    Place("column", "scheduled_queries/mart/revenue/revenue_mrr.yaml", ("columns", 0), COLUMN_FIELDS),
    Place("view", "scheduled_queries/reporting/tableau/mrr_daily.yaml", (), QUERY_FIELDS),
    Place("defaults", "scheduled_queries/mart/_defaults.yaml", (), DEFAULT_FIELDS),
    Place("snapshot policy", "backups/policies/daily_snapshots.yaml", (), POLICY_FIELDS),
    Place("copy policy", "backups/policies/dr_copy_eu.yaml", (), POLICY_FIELDS),
    Place("one-off copy", "backups/one_off_copies.yaml", ("copies", "revenue_mrr_before_eur"), COPY_FIELDS),
    # the routines of tests/routines_corpus/, laid over the scratch copy
    Place("routine", "routines/mart/utm_parameter.yaml", (), ROUTINE_FIELDS),
    Place("routine argument", "routines/mart/utm_parameter.yaml", ("arguments", 0), ARGUMENT_FIELDS),
    Place("table function", "routines/mart/user_sessions.yaml", (), ROUTINE_FIELDS),
    Place("table function column", "routines/mart/user_sessions.yaml", ("columns", 0), COLUMN_FIELDS),
)

LONG = "x" * 5000


def wrong_values(f: Field) -> Iterator[tuple[str, object]]:
    """(label, value) for every way this key can be wrong."""
    others = {str: [7, True, {"a": 1}],
              int: ["7", 1.5, True],
              bool: ["true", 1],
              list: ["x", {"a": 1}, [None], [{}]],
              dict: ["x", ["a"]]}[f.kind]
    for value in others:
        yield f"{type(value).__name__} {value!r:.20}", value
    if f.kind is str:
        yield from (("blank", "   "), ("long", LONG), ("nul", "a\x00b"), ("unicode", "é💥"))
    if f.kind is int:
        yield from (("negative", -1), ("zero", 0), ("huge", 10**15))
    for choice in f.choices[:3]:
        if isinstance(choice, str):
            yield f"case {choice}", choice.lower() if choice != choice.lower() else choice.upper()
    if f.choices:
        yield "unknown choice", "EDITOR"
    if f.kind is list and f.item is str:  # well-formed, naming nothing there is (a folder, a column, a role)
        yield "unknown name", ["nonexistent"]
    yield "null", None


def cases() -> Iterator[tuple[str, str, tuple, object]]:
    for place in PLACES:
        for f in place.fields:
            for label, value in wrong_values(f):
                yield f"{place.kind}.{f.name}={label}", place.file, place.path + (f.name,), value
        yield f"{place.kind}.unknown-key", place.file, place.path + ("colour",), "blue"
        yield f"{place.kind}.whole-mapping-is-a-list", place.file, place.path, ["a", "b"]
        yield f"{place.kind}.whole-mapping-is-a-number", place.file, place.path, 42
    for key in STACK_KEYS:
        others = {str: [7, [], "", "UPPER CASE"], bool: ["true", 1], dict: ["x", []], list: ["x", {}]}[key.kind]
        for value in others:
            yield f"stack.{key.name}={value!r:.20}", "Pulumi.prod.yaml", ("config", f"warehouse:{key.name}"), value
    for value in (7, None, [], "Acme-Prod", "a"):
        yield f"stack.gcp:project={value!r}", "Pulumi.prod.yaml", ("config", "gcp:project"), value
    for value in ("x", 7, [], {"data_analyst": "group:a@acme.com"}, {"data_analyst": [7]}, {"nobody": []}):
        yield f"stack.members={value!r:.30}", "Pulumi.prod.yaml", ("config", "warehouse:members"), value


def _set(document, path: tuple, value):
    if not path:
        return value
    node = document
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return document


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    project = copy_project(tmp_path_factory.mktemp("schema") / "project")
    shutil.copytree(ROOT / "tests" / "routines_corpus", project, dirs_exist_ok=True)
    return project


def outcome(root: Path) -> str:
    """'ok' when the stack loads, else the problem lines, each checked to be one line."""
    try:
        load_for_stack(root, "prod")
    except ProblemsError as exc:
        lines = str(exc).splitlines()
        assert lines and all(PROBLEM_LINE.match(line) for line in lines), lines
        return "problems"
    return "ok"


ALL = list(cases())


def test_the_schema_cases_are_many_and_cover_every_key():
    assert len(ALL) > 500
    covered = {name.split("=")[0] for name, *_ in ALL}
    for place in PLACES:
        assert {f"{place.kind}.{f.name}" for f in place.fields} <= covered


@pytest.mark.parametrize("batch", range(8))
def test_every_wrong_value_is_a_problem_line_never_a_traceback(scratch, batch):
    accepted = []
    for index, (name, file, path, value) in enumerate(ALL):
        if index % 8 != batch:
            continue
        target = scratch / file
        original = target.read_text(encoding="utf-8")
        try:
            document = yaml.safe_load(original)
            target.write_text(yaml.safe_dump(_set(document, path, value), sort_keys=False, allow_unicode=True),
                              encoding="utf-8")
            result = outcome(scratch)
        except AssertionError:
            raise
        except Exception as exc:  # a traceback is what this test exists to catch
            pytest.fail(f"{name}: {type(exc).__name__}: {exc}")
        finally:
            target.write_text(original, encoding="utf-8")
        if result == "ok":
            accepted.append(name)
    assert not [n for n in accepted if not _harmless(n)], accepted


def _harmless(name: str) -> bool:
    """Values a file may really hold: absent where a default exists, any text where the key is free
    text, no margin at all, no service-account prefix."""
    key, _, label = name.partition("=")
    if label in ("null", "NoneType None"):
        return True  # the default applies (required keys report their absence)
    free_text = key.endswith((".description", ".display_name", ".title", ".friendly_name", ".loader", ".deprecated"))
    return ((free_text and label in ("long", "unicode")) or (key.endswith("after_margin_minutes") and label == "zero")
            or name == "stack.serviceAccountPrefix=''")


# --- abuse: alias bombs and sizes ----------------------------------------------------------------------

BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
    f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n" for i in range(8))


@pytest.mark.parametrize("file", ["Pulumi.prod.yaml", "datasets/mart.yaml", "roles/data_analyst.yaml",
                                  "scheduled_queries/mart/revenue/revenue_mrr.yaml", "backups/coverage.yaml"])
def test_an_alias_bomb_is_one_line_at_once(scratch, file):
    assert len(BOMB) < 600  # 9 levels of 9: 387 million values once expanded
    target = scratch / file
    original = target.read_text(encoding="utf-8")
    try:
        target.write_text(original + "\n" + BOMB if file != "Pulumi.prod.yaml" else
                          original.replace("config:", "bomb:\n" + "\n".join("  " + line for line in BOMB.splitlines())
                                           + "\nconfig:", 1), encoding="utf-8")
        started = time.monotonic()
        with pytest.raises(ProblemsError) as caught:
            load_for_stack(scratch, "prod")
        assert time.monotonic() - started < 5
        assert any("expands to more than 100,000 values" in str(p) for p in caught.value.problems), str(caught.value)
    finally:
        target.write_text(original, encoding="utf-8")


def test_the_program_refuses_an_alias_bomb_in_its_stack_file_too(scratch):
    from infra.plan.runtime import stack_config_strings

    target = scratch / "Pulumi.prod.yaml"
    original = target.read_text(encoding="utf-8")
    try:
        target.write_text(original.replace("  warehouse:protect: true", "  warehouse:protect: true\n" + "\n".join(
            "  " + line.replace(": ", ": ", 1) for line in BOMB.splitlines()).replace("  a:", "  warehouse:a:"), 1),
            encoding="utf-8")
        with pytest.raises(ProblemsError, match="expands to more than"):
            stack_config_strings(scratch, "prod")
    finally:
        target.write_text(original, encoding="utf-8")


def test_oversized_files_are_refused_before_they_are_read(scratch):
    sql = scratch / "scheduled_queries/mart/revenue/revenue_mrr.sql"
    yaml_file = scratch / "datasets/mart.yaml"
    originals = {p: p.read_text(encoding="utf-8") for p in (sql, yaml_file)}
    try:
        sql.write_text(originals[sql] + "\n-- " + "x" * 5_000_000 + "\n", encoding="utf-8")
        yaml_file.write_text(originals[yaml_file] + "\n# " + "y" * 1_200_000 + "\n", encoding="utf-8")
        started = time.monotonic()
        with pytest.raises(ProblemsError) as caught:
            load_for_stack(scratch, "prod")
        assert time.monotonic() - started < 5
        text = str(caught.value)
        assert "revenue_mrr.sql" in text and "BigQuery refuses a query over 1 MB" in text
        assert "datasets/mart.yaml" in text and "more than a declaration needs" in text
    finally:
        for p, text in originals.items():
            p.write_text(text, encoding="utf-8")
