"""The unmanaged scan (`drift --unmanaged`): against the local BigQuery emulator, the declared
warehouse is not reported, and a hand-made dataset, stray tables, restore leftovers and ACL entries
added in the console are; plus the key comparison of ACL entries, offline.

Each test works in a BigQuery project of its own inside the session's emulator (the emulator keeps
projects apart), built from a scratch copy of the project whose dev stack points at it, so that
what other tests create is never listed.

Emulator gaps worked around in the set-up, not in the scan (docs/local-bigquery.md): an
authorized-dataset ACL entry comes back blank, so the declared datasets are created without those
entries (the scan reports what is extra, never what is missing); a new dataset's ACL is empty
where BigQuery would add its defaults, so every ACL is written whole, as `pulumi up` does.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery

from infra.declarations.principals import Principal
from infra.model.load import load_for_stack
from infra.model.warehouse import AccessEntry
from infra.ops.unmanaged import declared_key, describe_key, entry_key, scan
from tests.conftest import copy_project, run_cli

STAMP = "20260115T0610"


def stack_in_project(tmp_path: Path, project: str) -> Path:
    """A scratch copy of the project whose dev stack lives in `project`."""
    root = copy_project(tmp_path / "project")
    stack = root / "Pulumi.dev.yaml"
    stack.write_text(stack.read_text().replace("gcp:project: acme-warehouse-dev", f"gcp:project: {project}"))
    return root


def client_for(emulator, project: str) -> bigquery.Client:
    return bigquery.Client(project=project, credentials=AnonymousCredentials(),
                           client_options=ClientOptions(api_endpoint=emulator.url))


def build_declared(client: bigquery.Client, warehouse) -> None:
    """What `pulumi up` would create: every managed dataset with its ACL (minus the authorized
    datasets, an emulator gap), every declared table and view, the raw sources with a table each,
    and what the backup system writes (snapshots, a DR copy, the one-off copy)."""
    project = warehouse.stack.project
    for d in warehouse.datasets:
        ds = bigquery.Dataset(f"{project}.{d.dataset_id}")
        ds.location = d.location
        ds.access_entries = [_access(e) for e in d.accesses if e.authorized_dataset is None]
        client.create_dataset(ds)
    by_name = {d.name: d for d in warehouse.datasets}
    for q in warehouse.queries:
        table = bigquery.Table(f"{project}.{by_name[q.spec.dataset].dataset_id}.{q.spec.name}")
        if q.spec.is_view:
            table.view_query = "SELECT 1 AS x"
            table.view_use_legacy_sql = False
        else:
            table.schema = [bigquery.SchemaField.from_api_repr(c.as_bigquery_json()) for c in q.spec.columns]
        client.create_table(table)
    for source in warehouse.sources:
        client.create_dataset(bigquery.Dataset(f"{project}.{source.dataset_id}"))
        name = next(iter(source.spec.tables))
        client.create_table(bigquery.Table(f"{project}.{source.dataset_id}.{name}",
                                           schema=[bigquery.SchemaField("id", "STRING")]))
    mart, backup = by_name["mart"].dataset_id, by_name["backup_us_35d"].dataset_id
    for policy in ("daily_snapshots", "prerestore"):
        client.query(f"CREATE SNAPSHOT TABLE `{project}.{backup}.{mart}__core_users__{policy}__{STAMP}` "
                     f"CLONE `{project}.{mart}.core_users`", job_retry=None).result()
    # a history policy snapshots the raw sources too, named by the source's dataset id
    source = warehouse.sources[0]
    table = next(iter(source.spec.tables))
    client.query(f"CREATE SNAPSHOT TABLE `{project}.{backup}.{source.dataset_id}__{table}__daily_snapshots__{STAMP}` "
                 f"CLONE `{project}.{source.dataset_id}.{table}`", job_retry=None).result()
    client.copy_table(f"{project}.{mart}.core_users", f"{project}.{by_name['dr_mart'].dataset_id}.core_users").result()
    for copy in warehouse.backups.declarations.copies:
        dataset, _, table = copy.destination.partition(".")
        client.copy_table(f"{project}.{mart}.revenue_mrr", f"{project}.{by_name[dataset].dataset_id}.{table}").result()


def _access(entry: AccessEntry) -> bigquery.AccessEntry:
    if entry.special_group:
        return bigquery.AccessEntry(entry.role, "specialGroup", entry.special_group)
    (field, value), = entry.principal.acl_entry().items()
    entity = {"group_by_email": "groupByEmail", "user_by_email": "userByEmail", "domain": "domain"}[field]
    return bigquery.AccessEntry(entry.role, entity, value)


def add_acl(client: bigquery.Client, dataset_id: str, *entries: bigquery.AccessEntry) -> None:
    dataset = client.get_dataset(dataset_id)
    dataset.access_entries = [*dataset.access_entries, *entries]
    client.update_dataset(dataset, ["access_entries"])


@pytest.fixture
def scanned_project(tmp_path, emulator):
    """The dev stack in a project of its own, built as declared; deleted afterwards."""
    project = "acme-drift-" + re.sub(r"[^a-z0-9]", "", tmp_path.name.lower())[-12:]
    root = stack_in_project(tmp_path, project)
    warehouse = load_for_stack(root, "dev")
    client = client_for(emulator, project)
    build_declared(client, warehouse)
    yield root, warehouse, client
    for item in client.list_datasets(project=project):
        client.delete_dataset(f"{project}.{item.dataset_id}", delete_contents=True, not_found_ok=True)


def test_the_declared_warehouse_is_not_reported(scanned_project):
    _, warehouse, client = scanned_project
    report = scan(client, warehouse)
    assert report.findings == [], [f.sentence for f in report.findings]
    assert report.exit_code == 0
    # Everything was looked at: 10 managed datasets and 6 raw sources; declared tables, views,
    # snapshots (of a managed table twice, of a raw source's table once), the DR copy and the one-off copy;
    # every ACL entry of the managed datasets.
    assert report.scanned["datasets"] == len(warehouse.datasets) + len(warehouse.sources)
    assert report.scanned["tables"] == len(warehouse.queries) + 5
    assert report.scanned["acl_entries"] == sum(
        1 for d in warehouse.datasets for e in d.accesses if e.authorized_dataset is None)


def test_hand_made_objects_are_reported(scanned_project):
    _, warehouse, client = scanned_project
    project = warehouse.stack.project
    # A dataset made by hand in the console, with a table.
    client.create_dataset(bigquery.Dataset(f"{project}.bob_scratch"))
    client.create_table(bigquery.Table(f"{project}.bob_scratch.export", schema=[bigquery.SchemaField("x", "INT64")]))
    # A stray table and a stray view in a managed dataset; a restore's result and a failed in-place
    # restore's staging table; a snapshot no policy names in the snapshot dataset.
    client.create_table(bigquery.Table(f"{project}.dev_mart.tmp_bob_export",
                                       schema=[bigquery.SchemaField("x", "INT64")]))
    view = bigquery.Table(f"{project}.dev_reporting.bob_view")
    view.view_query = "SELECT 1 AS x"
    client.create_table(view)
    client.copy_table(f"{project}.dev_mart.revenue_mrr", f"{project}.dev_mart.revenue_mrr_restored_{STAMP}").result()
    client.copy_table(f"{project}.dev_mart.core_users", f"{project}.dev_mart.core_users_restoring_{STAMP}").result()
    client.query(f"CREATE SNAPSHOT TABLE `{project}.dev_backup_us_35d.core_users_before_migration` "
                 f"CLONE `{project}.dev_mart.core_users`", job_retry=None).result()
    # ACL entries added in the console: an owner, a group with a stronger role than the files
    # grant, a deleted account, and one written with IAM's role name and mixed case.
    add_acl(client, f"{project}.dev_mart", bigquery.AccessEntry("OWNER", "userByEmail", "Bob@Acme.com"))
    add_acl(client, f"{project}.dev_stg_external",
            bigquery.AccessEntry("WRITER", "groupByEmail", "data-readers@acme.com"),
            bigquery.AccessEntry("READER", "iamMember", "deleted:user:carol@acme.com?uid=4711"))
    add_acl(client, f"{project}.dev_reporting",
            bigquery.AccessEntry("roles/bigquery.dataViewer", "groupByEmail", "Data-Readers@ACME.com"),
            bigquery.AccessEntry("READER", "groupByEmail", "finance@acme.com"))

    report = scan(client, warehouse)
    found = {(f.category, f.subject, f.what) for f in report.findings}
    assert found == {
        ("dataset", "bob_scratch", "a dataset that no declaration owns (1 table)"),
        ("table", "dev_mart.tmp_bob_export", "a table that no scheduled query or view declares"),
        ("view", "dev_reporting.bob_view", "a view that no scheduled query or view declares"),
        ("restore_leftover", f"dev_mart.revenue_mrr_restored_{STAMP}",
         "a restore result of mart.revenue_mrr (left by `restore`)"),
        ("restore_leftover", f"dev_mart.core_users_restoring_{STAMP}",
         "the staging table of an in-place restore of mart.core_users that did not finish"),
        ("snapshot", "dev_backup_us_35d.core_users_before_migration",
         "a table snapshot in the snapshot dataset that no backup policy named"),
        ("acl_entry", "dev_mart", "an ACL entry that no declaration owns (OWNER user:bob@acme.com)"),
        ("acl_entry", "dev_stg_external",
         "an ACL entry the files do not grant (WRITER group:data-readers@acme.com; the files grant READER)"),
        ("deleted_principal", "dev_stg_external",
         "an ACL entry names an account that was deleted (READER deleted:user:carol@acme.com?uid=4711)"),
        ("acl_entry", "dev_reporting", "an ACL entry that no declaration owns (READER group:finance@acme.com)"),
    }
    assert report.exit_code == 2
    bob = next(f for f in report.findings if f.subject == "dev_mart" and f.category == "acl_entry")
    assert "add the person to a group that a role grants OWNER" in bob.action
    stray = next(f for f in report.findings if f.category == "table")
    assert f"bq rm -t {project}:dev_mart.tmp_bob_export" in stray.action
    # Raw sources, their tables, the backup system's snapshots and copies: never reported.
    subjects = " ".join(f.subject for f in report.findings)
    assert "stitch_stripe" not in subjects and "__daily_snapshots__" not in subjects and "dev_dr_mart" not in subjects


def test_cli_writes_the_report_and_exits_2(scanned_project, emulator, tmp_path):
    root, warehouse, client = scanned_project
    project = warehouse.stack.project
    client.create_dataset(bigquery.Dataset(f"{project}.bob_scratch"))
    add_acl(client, f"{project}.dev_ml", bigquery.AccessEntry("WRITER", "groupByEmail", "growth@acme.com"))
    out = tmp_path / "reports"
    done = run_cli("--root", str(root), "drift", "--unmanaged", "--stack", "dev", "--out", str(out),
                   "--emulator-url", emulator.url)
    assert done.returncode == 2, done.stderr
    markdown = (out / "dev-unmanaged.md").read_text()
    assert done.stdout.startswith(markdown)
    assert f"## Unmanaged objects: stack `dev` (project `{project}`)" in markdown
    assert "**2 objects no declaration owns** (exit 2)" in markdown
    assert "- **bob_scratch**: a dataset that no declaration owns (0 tables)." in markdown
    assert "- **dev_ml**: an ACL entry that no declaration owns (WRITER group:growth@acme.com)." in markdown
    document = json.loads((out / "dev-unmanaged.json").read_text())
    assert document["status"] == "unmanaged" and document["exit_code"] == 2
    assert document["counts"] == {"dataset": 1, "acl_entry": 1}
    assert {f["subject"] for f in document["findings"]} == {"bob_scratch", "dev_ml"}


def test_cli_exits_0_when_everything_is_declared(scanned_project, emulator, tmp_path):
    root, _, _ = scanned_project
    done = run_cli("--root", str(root), "drift", "--unmanaged", "--stack", "dev", "--out", str(tmp_path / "r"),
                   "--emulator-url", emulator.url)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "**Nothing unmanaged** (exit 0)" in done.stdout


def test_bigquery_refusals_become_one_line():
    from google.api_core.exceptions import Forbidden

    from infra.cli.drift import SCAN_REFUSED_FIX
    from infra.cli.preflight import Refused, guarded

    def refuse():
        raise Forbidden("Access Denied: Project acme-warehouse-prod: User does not have bigquery.datasets.get")

    with pytest.raises(Refused) as failed:
        guarded(refuse, SCAN_REFUSED_FIX)
    assert str(failed.value) == (
        "BigQuery refused: Access Denied: Project acme-warehouse-prod: User does not have bigquery.datasets.get; "
        "fix: the scanning identity needs roles/bigquery.metadataViewer on the project")


# --- comparing entries, offline -------------------------------------------------------------------------

def test_entries_compare_as_bigquery_returns_them():
    group = AccessEntry("READER", Principal("group", "data-readers@acme.com"))
    sa = AccessEntry("WRITER", Principal("serviceAccount", "runner@p.iam.gserviceaccount.com"))
    owners = AccessEntry("OWNER", special_group="projectOwners")
    views = AccessEntry(None, authorized_dataset=("p", "production_reporting"))
    assert declared_key(group) == entry_key("READER", "groupByEmail", "Data-Readers@Acme.com")
    assert declared_key(group) == entry_key("roles/bigquery.dataViewer", "groupByEmail", "data-readers@acme.com")
    assert declared_key(group) == entry_key("READER", "iamMember", "group:data-readers@acme.com")
    assert declared_key(sa) == entry_key("WRITER", "userByEmail", "runner@p.iam.gserviceaccount.com")
    assert declared_key(owners) == entry_key("OWNER", "specialGroup", "projectOwners")
    # BigQuery answers an authorized dataset as {"dataset": {...}, "targetTypes": [...]}, no role.
    assert declared_key(views) == entry_key(None, "dataset", {"dataset": {"projectId": "p",
                                                                          "datasetId": "production_reporting"},
                                                              "targetTypes": ["VIEWS"]})
    assert declared_key(group) != entry_key("WRITER", "groupByEmail", "data-readers@acme.com")
    assert describe_key(declared_key(sa)) == "WRITER serviceAccount:runner@p.iam.gserviceaccount.com"
    assert describe_key(declared_key(views)) == "views of dataset p.production_reporting"
    assert describe_key(entry_key("READER", "iamMember", "deleted:user:Carol@acme.com?uid=1")) == \
        "READER deleted:user:carol@acme.com?uid=1"
