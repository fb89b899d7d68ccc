"""The drift review (`drift --stack S`) on previews in the shape `pulumi preview --refresh
--show-sames --json` really prints, the CLI around it, and its exit codes.

The fixtures in tests/fixtures/drift/ are written by tests/drift_previews.py from the offline plan
of a stack (a few of its resources), each rule of the format naming the engine source it follows:
refresh steps hold the state before the refresh (old == new), the program's step for the same
URN holds what BigQuery has now as `oldState` and the files' goal as `newState`, a resource deleted
outside is a refresh step and a `create`. `test_the_fixtures_are_the_generators` keeps them current.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from infra.model.load import load_for_stack
from infra.ops.drift.findings import show
from infra.ops.drift.preview import PreviewError, group_steps, parse_path, parse_preview
from infra.ops.drift.report import build_report, render_markdown
from infra.vocabulary import acl_entry_text as describe_access
from tests import drift_previews
from tests.conftest import ROOT

FIXTURES = ROOT / "tests" / "fixtures" / "drift"
TABLE = "urn:pulumi:prod::warehouse::warehouse:query:ScheduledQuery$gcp:bigquery/table:Table::mart.revenue_mrr-table"
TRANSFER = "scheduled query mart/revenue/revenue_mrr"


def fixture(name: str) -> dict:
    return parse_preview((FIXTURES / f"{name}.json").read_text())


@functools.cache
def model(stack: str):
    return load_for_stack(ROOT, stack)


def report_of(name_or_document, stack: str = "prod", **kw):
    document = fixture(name_or_document) if isinstance(name_or_document, str) else name_or_document
    return build_report(document, stack, warehouse=model(stack), **kw)


# --- the fixtures ---------------------------------------------------------------------------------------

def test_the_fixtures_are_the_generators(prod_plan, dev_plan):
    plans = {"prod": prod_plan, "dev": dev_plan}
    names = {p.stem for p in FIXTURES.glob("*.json")}
    assert names == {c.name for c in drift_previews.CASES} | {"empty"}
    for case in drift_previews.CASES:
        text = (FIXTURES / f"{case.name}.json").read_text()
        assert json.loads(text) == drift_previews.build(case, plans), case.name
        assert text.startswith("{\n    "), "printed as the CLI prints it (4-space indent)"


@pytest.mark.parametrize("name", [c.name for c in drift_previews.CASES if c.name != "diagnostics_only"])
def test_the_fixtures_have_the_engines_shape(name):
    document = fixture(name)
    steps = document["steps"]
    grouped = group_steps(steps)
    refreshes = [s for s in steps if s["op"] == "refresh"]
    assert refreshes and steps.index(refreshes[-1]) < min(i for i, s in enumerate(steps) if s["op"] != "refresh")
    for s in refreshes:  # the state before the refresh, twice, and no diff
        assert s["oldState"] == s["newState"] and s["detailedDiff"] is None
    for s in steps:
        assert set(s) <= {"op", "urn", "provider", "oldState", "newState", "diffReasons", "replaceReasons",
                          "detailedDiff"} and "detailedDiff" in s
        assert s["op"] in {"refresh", "same", "create", "update", "delete", "replace", "import"}
    assert "refresh" not in document.get("changeSummary", {})
    # the stack is always shown: its refresh step and its `same`
    stack = next(r for urn, r in grouped.items() if urn.endswith("::warehouse-prod") or urn.endswith("::warehouse-dev"))
    assert stack.refresh and [s["op"] for s in stack.preview] == ["same"]


# --- what each case is ----------------------------------------------------------------------------------

OUTSIDE, FILES = "outside", "files"
CASES = {
    "acl_entry_added": ("drift", [("acl_entry_added", OUTSIDE, "production_mart")]),
    "acl_entry_removed": ("drift", [("acl_entry_removed", OUTSIDE, "production_mart")]),
    "acl_role_changed": ("drift", [("acl_entry_changed", OUTSIDE, "production_mart")]),
    "sql_edited": ("drift", [("sql_edited", OUTSIDE, TRANSFER)]),
    "schedule_changed": ("drift", [("schedule_changed", OUTSIDE, TRANSFER)]),
    "transfer_disabled": ("drift", [("disabled", OUTSIDE, TRANSFER)]),
    "labels_changed": ("drift", [("label_changed", OUTSIDE, "production_mart"),
                                 ("label_removed", OUTSIDE, "production_mart"),
                                 ("label_added", OUTSIDE, "production_mart")]),
    "table_deleted": ("drift", [("resource_deleted", OUTSIDE, "production_mart.revenue_mrr")]),
    "view_deleted": ("drift", [("resource_deleted", OUTSIDE, "production_reporting.mrr_daily")]),
    "dataset_deleted": ("drift", [("resource_deleted", OUTSIDE, "production_reporting"),
                                  ("resource_deleted", OUTSIDE, "production_reporting.mrr_daily")]),
    "transfer_deleted": ("drift", [("resource_deleted", OUTSIDE, TRANSFER)]),
    "replace_protected": ("drift", [("replace", OUTSIDE, "production_mart.revenue_mrr")]),
    "replace_unprotected": ("drift", [("replace", OUTSIDE, "dev_mart.revenue_mrr")]),
    "not_applied": ("drift", [("not_applied", FILES, "production_mart"), ("not_applied", FILES, TRANSFER)]),
    "import": ("drift", [("not_applied", FILES, "production_reporting.mrr_daily")]),
    "schema_changed": ("clean", []),
    "deleted_and_undeclared": ("clean", []),
    "diagnostics_only": ("error", []),
    "program_exception": ("error", []),
    "secret": ("drift", [("sql_edited", "unknown", TRANSFER)]),
    "no_drift": ("clean", []),
    "no_drift_without_sames": ("clean", []),
    "empty": ("error", []),
}


def test_every_fixture_has_its_expectation():
    assert set(CASES) == {p.stem for p in FIXTURES.glob("*.json")}


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_case_is_classified_in_category_and_origin(name):
    status, expected = CASES[name]
    report = report_of(name, "dev" if name == "replace_unprotected" else "prod")
    assert report.status == status, (report.errors, [f.sentence for f in report.findings])
    assert [(f.category, f.origin, f.subject) for f in report.findings] == expected
    assert report.exit_code == {"clean": 0, "drift": 2, "error": 1}[status]


def test_an_owner_added_by_hand_is_named_with_how_to_keep_the_access():
    (f,) = report_of("acl_entry_added").findings
    assert f.what == "an ACL entry was added outside the code (OWNER user:alice@acme.com)"
    assert f.action.startswith("Re-apply to remove it. To keep the access, add alice@acme.com to a group")
    assert f.in_bigquery == "OWNER user:alice@acme.com" and f.in_files is None


def test_a_role_changed_by_hand_is_one_finding():
    (f,) = report_of("acl_role_changed").findings
    assert f.in_bigquery == "OWNER group:data-analysts@acme.com" and f.in_files == "WRITER group:data-analysts@acme.com"


def test_edited_sql_is_shown_as_a_diff_against_its_file():
    (f,) = report_of("sql_edited").findings
    assert f.property == "params.query"
    assert "scheduled_queries/mart/revenue/revenue_mrr.sql" in f.action
    assert "+" in f.diff and "SUM(DISTINCT" in f.diff and f.what.endswith("(2 lines differ)")


def test_labels_by_their_quoted_paths():
    found = {f.what for f in report_of("labels_changed").findings}
    assert found == {"label `environment` was changed outside the code (production in BigQuery, prod in the files)",
                     "label `layer` was removed outside the code (the files say mart)",
                     "label `cost-center` was added outside the code (data)"}


def test_a_table_dropped_by_hand_is_restored_before_it_is_re_applied():
    (f,) = report_of("table_deleted").findings
    assert "restore mart.revenue_mrr --stack prod --in-place --yes" in f.action
    assert "re-applying alone recreates it empty" in f.action


def test_a_replacement_protection_refuses_is_drift_with_its_data_loss_not_an_error():
    report = report_of("replace_protected")
    (f,) = report.findings
    assert f.data_loss and f.property == "timePartitioning.field"
    assert f.what.endswith("protection stops the `up` until it is resolved")
    assert report.errors == [] and report.exit_code == 2
    assert any(w.startswith("Data loss: production_mart.revenue_mrr") for w in report.warnings)
    unprotected = report_of("replace_unprotected", "dev").findings[0]
    assert unprotected.data_loss and "protection" not in unprotected.what


def test_what_the_files_do_not_manage_and_what_is_gone_for_good_are_notes():
    (note,) = report_of("schema_changed").notes
    assert "changed outside the code in `schema`, which the files do not manage" in note
    (note,) = report_of("deleted_and_undeclared").notes
    assert note.startswith("production_reporting.mrr_daily (reporting.mrr_daily-view) is in the state but neither")


def test_a_secret_is_neither_shown_nor_guessed():
    (f,) = report_of("secret").findings
    assert f.origin == "unknown" and f.diff is None and "(a secret value: not shown)" in f.what
    assert "[secret]" not in render_markdown(report_of("secret"))


def test_errors_say_what_the_preview_said():
    assert report_of("program_exception").errors[0].startswith("Program failed with an unhandled exception:")
    assert report_of("diagnostics_only").errors[0].startswith("could not load plugin for gcp provider")
    assert "no steps at all" in report_of("empty").errors[0]
    assert report_of("no_drift").warnings == ["provider gcp: the `region` config is not set"]


# --- the CLI's exit codes, both generations -------------------------------------------------------------

@pytest.mark.parametrize(("name", "cli_code", "status"), [
    ("no_drift", 0, "clean"),
    ("acl_entry_added", 7, "drift"),  # 3.226+: --expect-no-changes and changes proposed
    ("acl_entry_added", 255, "drift"),  # before: the same, as 255
    ("no_drift", 1, "error"),  # 3.226+: the preview failed
    ("no_drift", 255, "error"),  # before: an error
    ("no_drift", 7, "error"),  # changes proposed that the review does not understand
    ("program_exception", 1, "error"),
    ("program_exception", 255, "error"),
    ("replace_protected", 1, "drift"),  # the preview fails on protection: the finding says why
    ("no_drift", 6, "error"),
])
def test_exit_codes_of_both_cli_generations(name, cli_code, status):
    report = report_of(name, cli_exit_code=cli_code)
    assert report.status == status, report.errors
    if name == "no_drift" and cli_code:
        meaning = {1: "the preview failed", 255: "a CLI before 3.226", 7: "shows no change this review understands",
                   6: "the stack was not found"}[cli_code]
        assert meaning in report.errors[0]


def test_the_no_changes_expected_message_is_not_an_error():
    document = fixture("acl_entry_added")
    document["diagnostics"] = [{"message": "error: no changes were expected but changes were proposed\n",
                                "severity": "error"}]
    assert report_of(document, cli_exit_code=255).status == "drift"


# --- reading the document -------------------------------------------------------------------------------

def test_parse_preview_skips_noise_and_refuses_what_is_not_a_preview():
    text = (FIXTURES / "no_drift.json").read_text()
    assert "same" in parse_preview("warning: A new version of Pulumi is available.\n" + text)["changeSummary"]
    for bad in ("", "error: PULUMI_ACCESS_TOKEN must be set for login during non-interactive CLI sessions",
                '{"steps": 3}', "{not json"):
        with pytest.raises(PreviewError):
            parse_preview(bad)


def test_property_paths_and_values():
    assert parse_path("accesses[3]") == ("accesses", 3)
    assert parse_path("accesses[3].role") == ("accesses", 3, "role")
    assert parse_path("params.query") == ("params", "query")
    assert parse_path('labels["managed-by"]') == ("labels", "managed-by")
    assert parse_path('a["x.y"][0].b') == ("a", "x.y", 0, "b")
    assert describe_access({"role": "OWNER", "specialGroup": "projectOwners"}) == "OWNER specialGroup:projectOwners"
    assert describe_access({"dataset": {"dataset": {"projectId": "p", "datasetId": "d"}, "targetTypes": ["VIEWS"]},
                            "role": ""}) == "views of dataset p.d"
    assert show("x" * 500).endswith("\u2026 (500 characters)") and len(show("x" * 500)) < 200
    assert show(None) == "(none)" and show("[secret]") == "(a secret: not shown)"


def test_a_reserved_label_behind_brackets():
    document = fixture("labels_changed")
    step = next(s for s in document["steps"] if s["op"] == "update")
    for state in (step["oldState"],):
        for part in ("inputs", "outputs"):
            state[part]["labels"]["managed-by"] = "console"
    step["detailedDiff"] = {'labels["managed-by"]': {"kind": "update", "inputDiff": True}}
    (f,) = report_of(document).findings
    assert f.what == "label `managed-by` was changed outside the code (console in BigQuery, pulumi in the files)"
    assert "the program always sets this label" in f.action


def test_a_document_without_refresh_says_the_origin_is_unknown():
    document = copy.deepcopy(fixture("acl_entry_added"))
    document["steps"] = [s for s in document["steps"] if s["op"] != "refresh"]
    report = report_of(document)
    assert [f.origin for f in report.findings] == ["unknown"]
    assert any("not refreshed" in n for n in report.notes)


def test_the_markdown_sample_in_docs_is_the_generators():
    """docs/drift.md shows a real-shape sample and its report: both come from the fixtures."""
    page = (ROOT / "docs" / "drift.md").read_text()
    markdown = render_markdown(report_of("acl_entry_added"))
    assert markdown.strip() in page
    step = next(s for s in fixture("acl_entry_added")["steps"] if s["op"] == "update")
    assert json.dumps(step["detailedDiff"]) in page


# --- the command ----------------------------------------------------------------------------------------

def cli(*args: str, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "infra", *args], capture_output=True, text=True, cwd=cwd or ROOT,
                          env=env, timeout=120)


@pytest.mark.parametrize(("name", "code"), [("acl_entry_added", 2), ("sql_edited", 2), ("table_deleted", 2),
                                            ("labels_changed", 2), ("no_drift", 0), ("program_exception", 1)])
def test_cli_from_json(name, code, tmp_path):
    done = cli("drift", "--stack", "prod", "--from-json", str(FIXTURES / f"{name}.json"), "--out", str(tmp_path))
    assert done.returncode == code, done.stderr
    markdown = (tmp_path / "prod.md").read_text()
    assert done.stdout.startswith(markdown)
    assert json.loads((tmp_path / "prod.json").read_text())["exit_code"] == code


def fake_pulumi(directory: Path, fixture_name: str, exit_code: int, stderr: str = "") -> Path:
    """A `pulumi` that records its arguments and prints a saved preview."""
    directory.mkdir()
    script = directory / "pulumi"
    script.write_text(f"#!{sys.executable}\n"
                      "import sys\n"
                      f"open({str(directory / 'argv')!r}, 'w').write('\\n'.join(sys.argv[1:]))\n"
                      f"sys.stdout.write(open({str(FIXTURES / f'{fixture_name}.json')!r}).read() "
                      f"if {fixture_name!r} else '')\n"
                      f"sys.stderr.write({stderr!r})\n"
                      f"sys.exit({exit_code})\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return directory


@pytest.mark.parametrize(("name", "cli_code", "code"), [("no_drift", 0, 0), ("acl_entry_added", 7, 2),
                                                        ("acl_entry_added", 255, 2), ("no_drift", 255, 1),
                                                        ("program_exception", 1, 1)])
def test_cli_runs_the_preview_and_reads_its_json_first(name, cli_code, code, tmp_path):
    bin_dir = fake_pulumi(tmp_path / "bin", name, cli_code)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    done = cli("drift", "--stack", "prod", "--out", "reports", env=env, cwd=tmp_path)
    assert done.returncode == code, done.stdout + done.stderr
    assert (bin_dir / "argv").read_text().splitlines() == [
        "preview", "--refresh", "--show-sames", "--expect-no-changes", "--json", "--non-interactive", "--stack",
        "prod", "--cwd", str(ROOT)]
    assert (tmp_path / "reports" / "prod.preview.json").read_text() == (FIXTURES / f"{name}.json").read_text()
    document = json.loads((tmp_path / "reports" / "prod.json").read_text())
    assert document["cli_exit_code"] == cli_code and document["exit_code"] == code


def test_cli_fails_in_one_line_when_the_preview_prints_no_json(tmp_path):
    bin_dir = fake_pulumi(tmp_path / "bin", "", 255,
                          "error: PULUMI_ACCESS_TOKEN must be set for login during non-interactive CLI sessions\n")
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    done = cli("drift", "--stack", "prod", "--out", str(tmp_path / "r"), env=env)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "drift: `pulumi preview` (exit code 255): the output holds no JSON document (it is empty); it said: "
        "error: PULUMI_ACCESS_TOKEN must be set for login during non-interactive CLI sessions"]
    assert json.loads((tmp_path / "r" / "prod.json").read_text())["status"] == "error"


def test_cli_says_in_one_line_that_the_pulumi_cli_is_missing(tmp_path):
    env = {**os.environ, "PATH": str(tmp_path)}  # no pulumi there
    done = cli("drift", "--stack", "prod", "--out", str(tmp_path / "r"), env=env)
    assert done.returncode == 1
    assert done.stdout == ""
    assert len(done.stderr.splitlines()) == 1
    assert done.stderr.startswith("drift: the Pulumi CLI is not installed (no `pulumi` on PATH); fix: install it")
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(("args", "message"), [
    (["--stack", "staging"], "drift: there is no stack 'staging' (no Pulumi.staging.yaml); fix: use one of: dev, prod"),
    (["--stack", "prod", "--unmanaged", "--from-json", str(FIXTURES / "no_drift.json")],
     "drift: --from-json is a saved preview, and --unmanaged lists BigQuery itself; fix: pass one of them"),
    (["--stack", "prod", "--emulator-url", "http://127.0.0.1:1"], "drift: --emulator-url is for --unmanaged only"),
])
def test_cli_refusals_exit_1(args, message, tmp_path):
    done = cli("drift", *args, "--out", str(tmp_path))
    assert (done.returncode, done.stderr.strip()) == (1, message)


def test_usage_errors_exit_1_because_2_means_drift():
    done = cli("drift", "--no-such-option")
    assert done.returncode == 1
    assert "No such option '--no-such-option'" in done.stderr
