"""The drift review (`drift --stack S`): reports read from `pulumi preview --refresh --json`
documents in Pulumi's format (`display.PreviewDigest`), the CLI around it, and its exit codes.

The fixtures in tests/fixtures/drift/ are previews of the prod stack, trimmed to a few resources
(the real inputs of the program, outputs as the gcp provider keeps them): an ACL entry added by
hand, a scheduled query's SQL edited in the console, a table deleted by hand, a label changed by
hand, and no drift. Each holds the refresh's steps (op `refresh`, or `update`/`delete` when the
refresh found BigQuery changed) before the preview's steps, as the CLI prints them.
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
from infra.ops.drift.findings import DERIVED_PROPERTIES, show
from infra.ops.drift.preview import PreviewError, parse_path, parse_preview
from infra.ops.drift.report import build_report, render_markdown
from infra.vocabulary import acl_entry_text as describe_access
from tests.conftest import ROOT

FIXTURES = ROOT / "tests" / "fixtures" / "drift"
MART = "urn:pulumi:prod::warehouse::warehouse:dataset:Dataset$gcp:bigquery/dataset:Dataset::mart-dataset"
TABLE = "urn:pulumi:prod::warehouse::warehouse:query:ScheduledQuery$gcp:bigquery/table:Table::mart.revenue_mrr-table"
TRANSFER = ("urn:pulumi:prod::warehouse::warehouse:query:ScheduledQuery$gcp:bigquery/dataTransferConfig:"
            "DataTransferConfig::mart.revenue_mrr-transfer")


def fixture(name: str) -> dict:
    return parse_preview((FIXTURES / f"{name}.json").read_text())


@functools.cache
def prod_model():
    return load_for_stack(ROOT, "prod")


def report_of(name_or_document, **kw):
    """The report of a fixture (or document), with the prod model saying where things are declared."""
    document = fixture(name_or_document) if isinstance(name_or_document, str) else name_or_document
    return build_report(document, "prod", warehouse=prod_model(), **kw)


def steps_of(document: dict, urn: str) -> list[dict]:
    return [s for s in document["steps"] if s["urn"] == urn]


def with_steps(document: dict, urn: str, *steps: dict) -> dict:
    """`document` with `steps` as the only steps of `urn`."""
    document["steps"] = [s for s in document["steps"] if s["urn"] != urn] + list(steps)
    return document


def table_state() -> dict:
    """The state of mart.revenue_mrr-table before the refresh (from the table_deleted fixture)."""
    return copy.deepcopy(steps_of(fixture("table_deleted"), TABLE)[0]["oldState"])


# --- the five cases -------------------------------------------------------------------------------------

def test_fixtures_are_preview_documents_in_pulumis_format():
    for path in sorted(FIXTURES.glob("*.json")):
        document = json.loads(path.read_text())
        assert set(document) <= {"config", "steps", "diagnostics", "duration", "changeSummary", "maybeCorrupt"}, path
        assert isinstance(document["duration"], int)  # a Go time.Duration: nanoseconds
        for step in document["steps"]:
            assert set(step) <= {"op", "urn", "provider", "oldState", "newState", "diffReasons", "replaceReasons",
                                 "detailedDiff"}, path
            assert "detailedDiff" in step  # not omitempty: null when there is none
            for state in (step.get("oldState"), step.get("newState")):
                assert state is None or {"urn", "custom", "type"} <= set(state)
        # the refresh comes first: the stack's refresh step, then the program's stack step
        ops = [(s["op"], s["urn"].rsplit("::", 1)[1]) for s in document["steps"]]
        assert ops[0] == ("refresh", "warehouse-prod") and ("same", "warehouse-prod") in ops


def test_acl_entry_added_by_hand():
    report = report_of("acl_entry_added")
    assert report.status == "drift" and report.exit_code == 2
    (finding,) = report.findings
    assert finding.sentence == (
        "production_mart: an ACL entry was added outside the code (WRITER user:bob@acme.com). Re-apply to remove it. "
        "To keep the access, add bob@acme.com to a group that a role grants WRITER on production_mart (individuals "
        "and domains are never WRITER or OWNER in the files).")
    assert (finding.category, finding.origin) == ("acl_entry_added", "outside")
    assert (finding.resource, finding.type) == ("mart-dataset", "gcp:bigquery/dataset:Dataset")
    assert finding.component == "warehouse:dataset:Dataset mart"
    assert (finding.in_bigquery, finding.in_files) == ("WRITER user:bob@acme.com", None)
    assert not finding.data_loss and report.warnings == []


def test_scheduled_query_sql_edited_in_the_console():
    document = fixture("sql_edited")
    report = report_of(document)
    assert report.exit_code == 2
    (finding,) = report.findings
    assert (finding.category, finding.origin, finding.property) == ("sql_edited", "outside", "params.query")
    assert finding.subject == "scheduled query mart/revenue/revenue_mrr"
    assert finding.what == "its SQL was edited outside the code (3 lines differ)"
    assert finding.action.startswith("Re-apply to put back the SQL of scheduled_queries/mart/revenue/revenue_mrr.sql, "
                                     "or copy BigQuery's SQL into scheduled_queries/mart/revenue/revenue_mrr.sql")
    preview = steps_of(document, TRANSFER)[-1]
    # old = the console's SQL (what BigQuery has), new = the file's SQL
    assert finding.in_bigquery == preview["oldState"]["outputs"]["params"]["query"]
    assert finding.in_files == preview["newState"]["inputs"]["params"]["query"]
    assert "  AND currency = 'usd'\n" in finding.in_files and "'trialing'" in finding.in_bigquery
    diff = finding.diff.splitlines()
    assert diff[:2] == ["--- BigQuery (now)", "+++ scheduled_queries/mart/revenue/revenue_mrr.sql"]
    assert "-WHERE status IN ('active', 'past_due', 'trialing')" in diff
    assert "+WHERE status IN ('active', 'past_due')" in diff and "+  AND currency = 'usd'" in diff
    markdown = render_markdown(report)
    assert "     ```diff\n     --- BigQuery (now)\n" in markdown
    assert finding.in_files not in markdown  # the whole SQL only in the JSON, a short diff in Markdown


def test_table_deleted_by_hand():
    document = fixture("table_deleted")
    assert [s["op"] for s in steps_of(document, TABLE)] == ["delete", "create"]  # refresh found it gone
    report = report_of(document)
    assert report.exit_code == 2
    (finding,) = report.findings
    assert (finding.category, finding.origin) == ("resource_deleted", "outside")
    assert finding.subject == "production_mart.revenue_mrr"
    assert finding.what == "the table was deleted outside the code"
    assert "`python -m infra restore mart.revenue_mrr --stack prod --in-place --yes`" in finding.action
    assert finding.in_files["tableId"] == "revenue_mrr" and finding.in_bigquery is None


def test_label_changed_by_hand():
    document = fixture("label_changed")
    preview = document["steps"][-1]
    assert set(preview["detailedDiff"]) == {"labels.environment", "effectiveLabels.environment",
                                            "pulumiLabels.environment"}
    report = report_of(document)
    assert report.exit_code == 2
    (finding,) = report.findings  # the derived label maps are the same change: reported once
    assert (finding.category, finding.property) == ("label_changed", "labels.environment")
    assert finding.sentence == ("production_ml: label `environment` was changed outside the code (production in "
                                "BigQuery, prod in the files). Re-apply to put the files' value back (the program "
                                "always sets this label).")
    assert (finding.in_bigquery, finding.in_files) == ("production", "prod")
    assert {"effectiveLabels", "pulumiLabels"} <= DERIVED_PROPERTIES


def test_no_drift():
    report = report_of("no_drift")
    assert (report.status, report.exit_code, report.findings, report.errors) == ("clean", 0, [], [])
    assert report.refreshed and report.change_summary == {"same": 160}
    markdown = render_markdown(report)
    assert markdown.startswith("## Drift report: stack `prod`\n\n**No drift**: BigQuery matches the files (exit 0).")
    assert "###" not in markdown


def test_json_report_for_machines():
    document = build_report(fixture("acl_entry_added"), "prod", cli_exit_code=255).as_json()
    assert json.loads(json.dumps(document)) == document
    assert {k: document[k] for k in ("stack", "status", "exit_code", "cli_exit_code", "refreshed")} == {
        "stack": "prod", "status": "drift", "exit_code": 2, "cli_exit_code": 255, "refreshed": True}
    assert document["summary"] == {"differences": 1, "outside_the_code": 1, "not_applied": 0, "resources": 1,
                                   "data_loss": 0, "errors": 0}
    (finding,) = document["findings"]
    assert finding["urn"] == MART and finding["sentence"].startswith("production_mart: an ACL entry was added")
    assert document["duration_seconds"] == 38.4


# --- what else a preview can say ------------------------------------------------------------------------

def test_a_change_of_the_files_not_applied_yet_is_told_apart():
    """The refresh found BigQuery as the state says (op `refresh`): the difference comes from the
    files, e.g. a merged change whose `up` of prod waits for approval."""
    document = fixture("acl_entry_added")
    refresh, preview = steps_of(document, MART)
    refresh["op"] = "refresh"
    refresh["oldState"] = copy.deepcopy(preview["oldState"])
    del refresh["newState"]
    report = report_of(document)
    assert report.exit_code == 2
    (finding,) = report.findings
    assert (finding.category, finding.origin) == ("not_applied", "files")
    assert finding.what == "the files remove an ACL entry, not applied yet (WRITER user:bob@acme.com)"
    assert finding.action == "Run the `up` of stack prod."
    assert "### Not applied yet" in render_markdown(report)


def test_a_new_declaration_not_applied_yet():
    document = fixture("table_deleted")
    document["steps"] = [s for s in document["steps"] if not (s["urn"] == TABLE and s["op"] == "delete")]
    (finding,) = report_of(document).findings
    assert (finding.category, finding.origin) == ("not_applied", "files")
    assert finding.what == "the table is declared in the files but not created yet (not applied)"


def test_replacing_a_table_warns_of_data_loss():
    """Someone changed the partitioning by hand; putting it back means replacing the table."""
    before = table_state()
    now = copy.deepcopy(before)
    now["outputs"]["timePartitioning"] = {"field": "as_of_date", "type": "MONTH"}
    files = copy.deepcopy(now)
    del files["outputs"]
    files["inputs"]["timePartitioning"] = {"field": "as_of_date", "type": "DAY"}
    document = with_steps(
        fixture("no_drift"), TABLE,
        {"op": "update", "urn": TABLE, "oldState": before, "newState": now, "diffReasons": ["timePartitioning"],
         "detailedDiff": {"timePartitioning.type": {"kind": "update", "inputDiff": False}}},
        {"op": "replace", "urn": TABLE, "oldState": now, "newState": files, "diffReasons": ["timePartitioning"],
         "replaceReasons": ["timePartitioning"],
         "detailedDiff": {"timePartitioning.type": {"kind": "update-replace", "inputDiff": False}}})
    report = report_of(document)
    (finding,) = report.findings
    assert finding.data_loss and finding.category == "replace" and finding.origin == "outside"
    assert finding.what == ("`timePartitioning.type` differs (MONTH in BigQuery, DAY in the files) and re-applying "
                            "would replace the table: its data would be lost")
    assert finding.action.startswith("Do not re-apply: adopt the change in "
                                     "scheduled_queries/mart/revenue/revenue_mrr.yaml if it was intended")
    assert report.warnings[0].startswith("Data loss: production_mart.revenue_mrr: `timePartitioning.type` differs")
    assert "> **Warning**: Data loss: production_mart.revenue_mrr" in render_markdown(report)
    assert report.as_json()["summary"]["data_loss"] == 1


def test_a_replacement_named_only_by_its_reasons_still_warns():
    before = table_state()
    files = copy.deepcopy(before)
    del files["outputs"]
    files["inputs"]["description"] = "MRR per customer."
    replace = {"op": "replace", "urn": TABLE, "oldState": before, "newState": files, "diffReasons": ["description"],
               "replaceReasons": ["location"], "detailedDiff": {"description": {"kind": "update", "inputDiff": False}}}
    document = with_steps(fixture("no_drift"), TABLE, {"op": "refresh", "urn": TABLE, "oldState": before,
                                                       "detailedDiff": None}, replace)
    report = report_of(document)
    assert [(f.category, f.data_loss) for f in report.findings] == [("not_applied", False), ("replace", True)]
    assert report.findings[1].what == ("re-applying would replace the table (because of location): its data would "
                                       "be lost")
    # a view holds no data: replacing it is no loss
    before["inputs"]["view"] = {"query": "SELECT 1", "useLegacySql": False}
    files["inputs"]["view"] = {"query": "SELECT 2", "useLegacySql": False}
    assert not any(f.data_loss for f in report_of(document).findings)


def test_removed_from_the_files_deletes_with_its_data():
    state = table_state()
    document = with_steps(fixture("no_drift"), TABLE,
                          {"op": "refresh", "urn": TABLE, "oldState": state, "detailedDiff": None},
                          {"op": "delete", "urn": TABLE, "oldState": state, "detailedDiff": None})
    (finding,) = report_of(document).findings
    assert finding.data_loss and finding.origin == "files"
    assert finding.what == "the table is no longer declared in the files: the next `up` deletes it and its data"


def test_acl_entry_of_a_deleted_account_and_a_changed_role():
    document = fixture("acl_entry_added")
    refresh, preview = steps_of(document, MART)
    for state in (refresh["newState"], preview["oldState"]):
        for part in ("inputs", "outputs"):
            accesses = state[part]["accesses"]
            accesses[3] = {**accesses[3], "userByEmail": "", "iamMember": "deleted:user:bob@acme.com?uid=42"} \
                if part == "outputs" else {"role": "WRITER", "iamMember": "deleted:user:bob@acme.com?uid=42"}
            readers = next(e for e in accesses if e.get("groupByEmail") == "data-readers@acme.com")
            readers["role"] = "WRITER"
    report = report_of(document)
    found = {(f.category, f.what) for f in report.findings}
    assert found == {
        ("acl_deleted_principal",
         "an ACL entry names an account that was deleted (WRITER deleted:user:bob@acme.com?uid=42)"),
        ("acl_entry_changed",
         "an ACL entry was changed outside the code (WRITER group:data-readers@acme.com; the files say READER)"),
    }


def test_an_unrefreshed_preview_cannot_tell_the_origin():
    document = fixture("sql_edited")
    document["steps"] = [s for s in document["steps"] if s["op"] != "refresh" and not (
        s["urn"] == TRANSFER and s is steps_of(document, TRANSFER)[0])]
    report = report_of(document)
    assert not report.refreshed
    (finding,) = report.findings
    assert (finding.category, finding.origin) == ("sql_edited", "unknown")
    assert any("not refreshed" in note for note in report.notes)
    assert "origin unknown" in render_markdown(report)


def test_a_refresh_difference_the_files_do_not_manage_needs_no_action():
    """A query's WRITE_TRUNCATE changed the table (rows, a schema under ignore_changes): the refresh
    sees it, the preview's step is `same` (not shown without --show-sames)."""
    before = table_state()
    now = copy.deepcopy(before)
    now["outputs"]["numRows"] = 612000
    document = with_steps(fixture("no_drift"), TABLE, {
        "op": "update", "urn": TABLE, "oldState": before, "newState": now, "diffReasons": ["numRows"],
        "detailedDiff": {"numRows": {"kind": "update", "inputDiff": False}}})
    report = report_of(document)
    assert report.exit_code == 0 and report.findings == []
    assert any("values the files do not manage" in note for note in report.notes)
    # shown with --show-sames: the same answer
    document["steps"].append({"op": "same", "urn": TABLE, "oldState": now, "newState": now, "detailedDiff": None})
    assert report_of(document).exit_code == 0


def test_errors_decide_from_the_json_not_the_exit_code():
    document = fixture("acl_entry_added")
    document["diagnostics"] = [
        {"message": "error: no changes were expected but changes were proposed", "severity": "error"},
        {"message": "some output\n", "severity": "info"}]
    assert report_of(document, cli_exit_code=255).exit_code == 2  # drift, not an error
    document["diagnostics"].append({"urn": MART, "message": "error: googleapi: Error 403: Access Denied: Dataset "
                                                            "acme-warehouse-prod:production_mart", "severity": "error"})
    report = report_of(document, cli_exit_code=255)
    assert report.exit_code == 1 and report.status == "error"
    assert report.errors == ["error: googleapi: Error 403: Access Denied: Dataset acme-warehouse-prod:production_mart"]
    assert len(report.findings) == 1  # still shown
    assert report_of({"steps": [], "diagnostics": []}).exit_code == 1  # no steps: the preview never ran


def test_parse_preview_skips_noise_and_refuses_what_is_not_a_preview():
    text = (FIXTURES / "no_drift.json").read_text()
    assert parse_preview("warning: A new version of Pulumi is available.\n" + text)["changeSummary"] == {"same": 160}
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
    assert describe_access({"role": "READER", "userByEmail": "tableau-online@acme-bi.iam.gserviceaccount.com"}) == \
        "READER serviceAccount:tableau-online@acme-bi.iam.gserviceaccount.com"
    assert describe_access({"dataset": {"dataset": {"projectId": "p", "datasetId": "d"}, "targetTypes": ["VIEWS"]},
                            "role": ""}) == "views of dataset p.d"
    assert show("x" * 500).endswith("\u2026 (500 characters)") and len(show("x" * 500)) < 200
    assert show(None) == "(none)"


def test_quoted_label_paths():
    document = fixture("label_changed")
    preview = document["steps"][-1]
    refresh = steps_of(document, preview["urn"])[0]
    for state in (preview["oldState"], refresh["newState"]):
        for part in ("inputs", "outputs"):
            state[part]["labels"]["managed-by"] = "console"
            state[part]["labels"]["environment"] = "prod"
    preview["detailedDiff"] = {'labels["managed-by"]': {"kind": "update", "inputDiff": False}}
    (finding,) = report_of(document).findings
    assert finding.what == "label `managed-by` was changed outside the code (console in BigQuery, pulumi in the files)"


# --- the command ----------------------------------------------------------------------------------------

def cli(*args: str, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "infra", *args], capture_output=True, text=True, cwd=cwd or ROOT,
                          env=env, timeout=120)


@pytest.mark.parametrize("name, code", [("acl_entry_added", 2), ("sql_edited", 2), ("table_deleted", 2),
                                        ("label_changed", 2), ("no_drift", 0)])
def test_cli_from_json(name, code, tmp_path):
    done = cli("drift", "--stack", "prod", "--from-json", str(FIXTURES / f"{name}.json"), "--out", str(tmp_path))
    assert done.returncode == code, done.stderr
    markdown = (tmp_path / "prod.md").read_text()
    assert done.stdout.startswith(markdown)
    assert f"Report: {tmp_path / 'prod.md'} and {tmp_path / 'prod.json'}" in done.stdout
    assert json.loads((tmp_path / "prod.json").read_text())["exit_code"] == code
    assert done.stderr == ""


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


@pytest.mark.parametrize("name, cli_code, code", [("no_drift", 0, 0), ("acl_entry_added", 255, 2),
                                                  ("no_drift", 255, 0), ("sql_edited", 1, 2)])
def test_cli_runs_the_preview_and_trusts_its_json_not_its_exit_code(name, cli_code, code, tmp_path):
    bin_dir = fake_pulumi(tmp_path / "bin", name, cli_code)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    done = cli("drift", "--stack", "prod", "--out", "reports", env=env, cwd=tmp_path)
    assert done.returncode == code, done.stdout + done.stderr
    assert (bin_dir / "argv").read_text().splitlines() == [
        "preview", "--refresh", "--expect-no-changes", "--json", "--non-interactive", "--stack", "prod",
        "--cwd", str(ROOT)]
    assert (tmp_path / "reports" / "prod.preview.json").read_text() == (FIXTURES / f"{name}.json").read_text()
    document = json.loads((tmp_path / "reports" / "prod.json").read_text())
    assert document["cli_exit_code"] == cli_code and document["exit_code"] == code
    if cli_code:
        assert f"CLI exit code {cli_code}, read from the JSON, not the code" in done.stdout


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


@pytest.mark.parametrize("args, message", [
    (["--stack", "staging"], "drift: there is no stack 'staging' (no Pulumi.staging.yaml); fix: use one of: dev, prod"),
    (["--stack", "prod", "--unmanaged", "--from-json", str(FIXTURES / "no_drift.json")],
     "drift: --from-json is a saved preview, and --unmanaged lists BigQuery itself; fix: pass one of them"),
    (["--stack", "prod", "--emulator-url", "http://127.0.0.1:1"], "drift: --emulator-url is for --unmanaged only"),
])
def test_cli_refusals_exit_1(args, message, tmp_path):
    done = cli("drift", *args, "--out", str(tmp_path))
    assert (done.returncode, done.stderr.strip()) == (1, message)


def test_usage_errors_exit_1_because_2_means_drift():
    done = cli("drift")
    assert done.returncode == 1
    assert "Missing option '--stack'" in done.stderr
