"""docs/real-world.md, the ledger of real-world facts: every line names its primary source, and
every test it says depends on the fact exists (a test file, or a test function in it)."""

from __future__ import annotations

import ast
import re

from tests.conftest import ROOT

LEDGER = ROOT / "docs" / "real-world.md"
_ROW = re.compile(r"^\| (?P<id>[a-z0-9-]+) \| (?P<fact>.+?) \| (?P<source>.+?) \| (?P<test>.+?) \|$")
# A documentation page of Google Cloud, Pulumi, GitHub, git, Python, Mermaid or Graphviz, or a source file of the
# provider, the engine or GitHub's Actions runner and toolkit.
_SOURCE = re.compile(r"^(https://(cloud\.google\.com|www\.pulumi\.com|docs\.github\.com|git-scm\.com|mermaid\.js\.org"
                     r"|graphviz\.org|docs\.python\.org|cli\.github\.com|github\.com/actions)/\S+"
                     r"|(TF|TF-beta|engine|pulumi-gcp|runner|toolkit) `.+)")


def rows() -> list[dict]:
    found = [m.groupdict() for line in LEDGER.read_text(encoding="utf-8").splitlines() if (m := _ROW.match(line))]
    return [r for r in found if r["id"] != "id" and set(r["id"]) != {"-"}]


def test_every_fact_has_an_id_a_source_and_a_test_or_a_reason():
    facts = rows()
    assert len(facts) >= 40
    ids = [r["id"] for r in facts]
    assert len(ids) == len(set(ids)), "ids are unique"
    for r in facts:
        assert _SOURCE.match(r["source"]) or r["source"].startswith(("pulumi-gcp `", "TF `")), r
        assert r["test"].startswith(("tests/", "none: ")), r


def test_every_test_named_exists():
    for r in rows():
        if r["test"].startswith("none: "):
            continue
        path, _, name = r["test"].split(" ")[0].partition("::")
        file = ROOT / path
        assert file.is_file(), r
        if name:
            tree = ast.parse(file.read_text(encoding="utf-8"))
            functions = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
            assert name in functions, r


def test_the_issues_facts_are_there():
    ids = {r["id"] for r in rows()}
    assert {"snapshot-perms", "snapshot-default-expiration", "write-truncate", "dts-dispositions", "transactions",
            "snapshot-billing", "job-no-errors", "agent-created-on-use", "copy-atomic", "disabled-pauses",
            "dataset-copy-perms", "import-file", "urn", "import-ids"} <= ids
