"""`adopt --stack S`: the import file gives exactly the plan's URNs for every object that exists,
in the shape `pulumi import --file` parses; the migration report says what the first `up` changes
in what exists (ACL entries removed with the role to join, schema differences, replacements,
undeclared objects, raw sources not opened); bad input gets one line and exit 1.

The end-to-end tests run against a local BigQuery emulator seeded with the warehouse as it exists
(tests/as_is_warehouse.py)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from infra.declarations.columns import Column
from infra.local.emulator import Emulator
from infra.model.load import load_for_stack
from infra.ops.adoption.import_file import build_import_file, cloud_key, import_id, urns_of
from infra.ops.adoption.live import LiveColumn, standard_type
from infra.ops.adoption.migration import schema_differences
from infra.vocabulary import DATASET_TYPE, STACK_TYPE, TABLE_TYPE
from tests import as_is_warehouse as as_is
from tests.conftest import ROOT, copy_project, one_line_error, run_cli_without_credentials

PROJECT = "acme-warehouse-prod"


def ancestors(plan, urns):
    """The URNs and their component ancestors (the stack aside)."""
    by_urn = {r.urn: r for r in plan.resources}
    out = set()
    for urn in urns:
        while urn in by_urn and by_urn[urn].type != STACK_TYPE:
            out.add(urn)
            urn = by_urn[urn].parent
    return out


def check_engine_rules(document: dict) -> None:
    """What `pulumi import` checks in a file (parseImportFile): a type and a name each; an id unless
    a component, none if one; every parent a name of the file (no nameTable here); unique names."""
    names = [e["name"] for e in document["resources"]]
    assert len(names) == len(set(names))
    for e in document["resources"]:
        assert e["type"] and e["name"] and e["logicalName"]
        assert bool(e.get("component")) != bool(e.get("id")), e
        assert "parent" not in e or e["parent"] in names, e
        assert set(e) <= {"type", "name", "id", "parent", "provider", "version", "component", "logicalName"}


# --- offline --------------------------------------------------------------------------------------------

def test_every_dataset_and_table_of_the_plan_gets_its_own_urn(prod_plan):
    keys = {cloud_key(r) for r in prod_plan.resources if r.custom and cloud_key(r)}
    document = build_import_file(prod_plan.resources, keys)
    check_engine_rules(document)
    wanted = {r.urn for r in prod_plan.resources if r.type in (DATASET_TYPE, TABLE_TYPE)}
    assert set(urns_of(document, "prod", "warehouse")) == ancestors(prod_plan, wanted)


def test_import_ids_follow_the_provider_formats(prod_plan):
    dataset = next(r for r in prod_plan.resources if r.type == DATASET_TYPE and r.name == "mart-dataset")
    table = next(r for r in prod_plan.resources if r.name == "mart.revenue_mrr-table")
    assert import_id(dataset) == "projects/acme-warehouse-prod/datasets/production_mart"
    assert import_id(table) == "projects/acme-warehouse-prod/datasets/production_mart/tables/revenue_mrr"


def test_only_what_exists_is_imported(prod_plan):
    document = build_import_file(prod_plan.resources, {("production_mart",), ("production_mart", "revenue_mrr")})
    assert [(e["type"], e["logicalName"], e.get("parent")) for e in document["resources"]] == [
        ("warehouse:dataset:Dataset", "mart", None),
        ("warehouse:query:ScheduledQuery", "mart.revenue_mrr", None),
        (DATASET_TYPE, "mart-dataset", "mart"),
        (TABLE_TYPE, "mart.revenue_mrr-table", "mart.revenue_mrr"),
    ]


def test_bigquery_type_aliases_are_compared_as_standard_sql():
    assert [standard_type(t) for t in ("INTEGER", "FLOAT", "BOOLEAN", "RECORD", "string")] == \
        ["INT64", "FLOAT64", "BOOL", "STRUCT", "STRING"]
    declared = (Column("id", "INT64", "REQUIRED", "The id."), Column("name", "STRING", "NULLABLE", "Name."))
    same = (LiveColumn("id", "INT64", "REQUIRED", "The id."), LiveColumn("name", "STRING", "NULLABLE", "Name."))
    assert schema_differences(declared, same) == []
    found = schema_differences(declared, (LiveColumn("id", "STRING", "NULLABLE", ""),
                                          LiveColumn("extra", "STRING", "REQUIRED", "")))
    assert found == ["id is STRING, declared INT64 (runs fail unless BigQuery coerces it)",
                     "id is NULLABLE, declared REQUIRED (REQUIRED is not enforced by the table)",
                     "name is missing (every run fails: the INSERT names it)",
                     "extra is not declared (every run fails: the INSERT leaves it NULL)",
                     "the descriptions of 1 of 2 columns are not the contract's (id)"]


# --- against the as-is warehouse --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def as_is_emulator():
    """An emulator for the production project, seeded with the warehouse as it exists."""
    with Emulator(project=PROJECT) as emu:
        as_is.seed(emu.client(), load_for_stack(ROOT, "prod"))
        yield emu


def adopt(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "infra", "--root", str(ROOT), "adopt", *args],
                          capture_output=True, text=True, cwd=cwd, timeout=300)


@pytest.fixture(scope="module")
def adopted(as_is_emulator, tmp_path_factory):
    out = tmp_path_factory.mktemp("adopt")
    result = adopt("--stack", "prod", "--emulator-url", as_is_emulator.url, "--out", str(out), cwd=out)
    return result, out


def test_adopt_writes_the_import_file_and_the_report(adopted):
    result, out = adopted
    assert result.returncode == 2, result.stderr  # what exists changes: ACLs, schemas, undeclared objects
    assert result.stderr == ""
    for name in ("prod-import.json", "prod-migration.md", "prod-migration.json"):
        assert (out / name).is_file()
    assert "## Adopting stack `prod` (project `acme-warehouse-prod`)" in result.stdout


def test_the_import_files_urns_are_the_plans_for_every_existing_object(adopted, prod_plan):
    _, out = adopted
    document = json.loads((out / "prod-import.json").read_text())
    check_engine_rules(document)
    wh = load_for_stack(ROOT, "prod")
    existing = {d.dataset_id for d in wh.datasets if d.layer not in ("backup", "dr")}
    exists = {r.urn for r in prod_plan.resources
              if (r.type == DATASET_TYPE and r.inputs["datasetId"] in existing)
              or (r.type == TABLE_TYPE and r.inputs["datasetId"] in existing
                  and f"{r.name.split('-')[0]}" != as_is.NOT_BUILT)}
    assert set(urns_of(document, "prod", "warehouse")) == ancestors(prod_plan, exists)
    ids = {e["id"] for e in document["resources"] if "id" in e}
    assert "projects/acme-warehouse-prod/datasets/production_mart/tables/revenue_mrr" in ids
    assert not [i for i in ids if "int_users_joined" in i or "dbt_alice" in i or "backup_us" in i]


def test_the_report_names_what_the_first_up_changes(adopted):
    _, out = adopted
    report = json.loads((out / "prod-migration.json").read_text())
    assert report["exit_code"] == 2
    changes = report["changes"]

    def of(category, subject=None):
        return [c for c in changes if c["category"] == category and (subject is None or c["subject"] == subject)]

    # every owner added by hand is removed, with the role to join instead
    removed = of("acl_removed", "production_mart")
    alice = next(c for c in removed if "alice@acme.com" in c["what"])
    assert alice["action"].startswith("to keep access, join role data_analyst (WRITER on production_mart) through "
                                      "group:data-analysts@acme.com")
    assert alice["action"].endswith("(no role for people gives OWNER here; role admin does, through "
                                    "group:data-platform-admins@acme.com, for platform admins)")
    assert len([c for c in of("acl_removed") if "userByEmail" in c["what"] or "@acme.com" in c["what"]]) >= 14
    assert any("projectWriters" in c["what"] for c in removed)
    # the analysts' group keeps its grant on the marts; what the files add is listed
    assert not [c for c in removed if "data-analysts@acme.com" in c["what"]]
    [added] = of("acl_added", "production_mart")
    assert "OWNER group:data-platform-admins@acme.com" in added["what"]
    airflow = next(c for c in of("acl_removed", "production_airflow") if "alice@acme.com" in c["what"])
    assert airflow["action"] == ("no role for people has access to production_airflow (only role admin has access, "
                                 "through group:data-platform-admins@acme.com): if they need it, add a grant to a "
                                 "role in roles/")
    # the table dbt built unpartitioned blocks the up
    [blocking] = of("replace")
    assert blocking["subject"] == "production_mart.revenue_mrr" and blocking["blocking"]
    assert "cannot be converted to a partitioned one" in blocking["what"]
    # dbt's tables have no descriptions: the contract's are not there
    [schema] = of("schema", "production_mart.core_users")
    assert re.search(r"the descriptions of (\d+) of \1 columns are not the contract's", schema["what"])
    [older] = of("schema", "production_stg_external.stg_stripe_customers")
    assert "created_at is missing (every run fails: the INSERT names it)" in older["what"]
    assert "dbt_updated_at is not declared (runs leave it NULL)" in older["what"]
    # what the files do not declare is left alone, and said
    undeclared = {c["subject"] for c in of("undeclared_table")}
    assert {"production_mart.int_users_joined", "production_mart.scratch_alice_mrr_check",
            "production_stg_external.stg_legacy_events", "production_reporting.old_mrr_dashboard"} <= undeclared
    assert [c["subject"] for c in of("undeclared_dataset")] == ["dbt_alice"]
    # the raw sources' owners have not opened them to the runner and the backup runner
    sources = of("source")
    assert len(sources) == 7  # one per raw source (datasets/sources/)
    amplitude = next(c for c in sources if c["subject"] == "acme-warehouse-prod.amplitude_export")
    assert amplitude["what"].startswith("wh-query-runner@acme-warehouse-prod.iam.gserviceaccount.com (role runner) and "
                                        "wh-backup-runner@acme-warehouse-prod.iam.gserviceaccount.com (role backup) "
                                        "are not READER of raw source amplitude")
    # created by the first up: the declared table dbt never built, and the backup datasets
    assert "production_mart.support_nps_weekly" in report["creates"]
    assert "production_backup_us_35d" in report["creates"]
    assert "production_mart.revenue_mrr" in report["imports"]


def test_a_project_with_no_dataset_is_refused(as_is_emulator, tmp_path):
    project = copy_project(tmp_path / "p")
    stack = project / "Pulumi.prod.yaml"
    stack.write_text(stack.read_text().replace("gcp:project: acme-warehouse-prod", "gcp:project: acme-empty"))
    result = subprocess.run([sys.executable, "-m", "infra", "--root", str(project), "adopt", "--stack", "prod",
                             "--emulator-url", as_is_emulator.url, "--out", str(tmp_path / "out")],
                            capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert one_line_error(result) == (
        "adopt: project acme-empty has no dataset: there is nothing to adopt; fix: check `gcp:project` in "
        "Pulumi.prod.yaml (and that the identity may list the project's datasets)")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("args", "line"), [
    (("adopt", "--stack", "prod"), "adopt: no Google Cloud credentials found for project acme-warehouse-prod; fix: "),
    (("adopt", "--stack", "staging"), "adopt: there is no stack 'staging' (no Pulumi.staging.yaml); fix: use one of: "),
    (("adopt", "--no-such-option"), "Error: No such option '--no-such-option'"),
])
def test_bad_input_gets_one_line(args, line):
    result = run_cli_without_credentials(*args)
    if args[-1] == "--no-such-option":  # click's usage error: its usage lines, then the error, exit 1 (2 means changes)
        assert result.returncode == 1 and line in result.stderr and "Traceback" not in result.stderr
        return
    assert one_line_error(result).startswith(line)
