"""Isolation checked by behaviour: the hostile changes that once passed `check --policy` with 0
violations, each now refused (a problem line) or reported (a violation naming the resource, the
rule and the fix). The shipped stacks pass every rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import copy_project, run_cli


def edit(project: Path, file: str, old: str, new: str) -> None:
    path = project / file
    text = path.read_text(encoding="utf-8")
    assert old in text, (file, old)
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def check_policy(project: Path) -> tuple[int, list[str]]:
    result = run_cli("--root", str(project), "check", "--policy", "--stack", "prod")
    assert "Traceback" not in result.stderr
    return result.returncode, result.stderr.splitlines()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_project(tmp_path / "project")


def test_the_shipped_stacks_pass_every_rule():
    result = run_cli("check", "--policy")
    assert result.returncode == 0, result.stderr
    assert "prod: 14 security rules, 0 mandatory and 0 advisory violation(s)" in result.stdout


def test_a_census_view_reading_customer_io_lets_census_read_it(project):
    (project / "scheduled_queries/sync/census/people_mirror.sql").write_text(
        "SELECT id, email FROM customer_io.customer_io_people\n", encoding="utf-8")
    (project / "scheduled_queries/sync/census/people_mirror.yaml").write_text(
        "description: Customer.io's people, for Census.\nkind: view\ncolumns:\n"
        "  - {name: id, type: STRING, description: Id.}\n  - {name: email, type: STRING, description: E-mail.}\n",
        encoding="utf-8")
    code, lines = check_policy(project)
    assert code == 1
    (line,) = [x for x in lines if "[read-only-accounts-confined, mandatory]" in x]
    assert line.startswith("urn:pulumi:prod::warehouse::warehouse:view:View$gcp:bigquery/table:Table::"
                           "census.people_mirror-view: ")
    assert "wh-sync-census@acme-warehouse-prod.iam.gserviceaccount.com reads the data of " \
           "acme-warehouse-prod.production_customer_io, the own dataset of " \
           "wh-sync-customer-io@acme-warehouse-prod.iam.gserviceaccount.com, through this view" in line
    assert "; fix: do not read acme-warehouse-prod.production_customer_io in a view" in line


def test_a_renamed_sync_account_granted_every_dataset(project):
    edit(project, "roles/sync_census.yaml", "account_id: sync-census", "account_id: reverse-etl")
    edit(project, "roles/sync_census.yaml", "    datasets: [census]", "    layers: [all]")
    code, lines = check_policy(project)
    assert code == 1
    found = [x for x in lines if "[read-only-accounts-confined, mandatory]" in x]
    assert found and all("the read-only service account wh-reverse-etl@acme-warehouse-prod.iam.gserviceaccount.com "
                         "reads" in x and "fix: grant it READER on its own dataset only" in x for x in found)
    assert any("::mart-dataset: " in x for x in found) and any("::customer_io-dataset: " in x for x in found)


def test_a_service_account_of_another_project_made_admin(project):
    outsider = "serviceAccount:ops@other-project.iam.gserviceaccount.com"
    edit(project, "Pulumi.prod.yaml", "      - group:data-platform-admins@acme.com",
         f"      - group:data-platform-admins@acme.com\n      - {outsider}")
    code, lines = check_policy(project)
    assert code == 1
    found = [x for x in lines if "[writers-from-allowed-domains, mandatory]" in x]
    assert len(found) >= 12  # OWNER of every dataset, the backups' included
    assert any("::backup_us_35d-dataset: " in x for x in found)
    assert all("OWNER serviceAccount:ops@other-project.iam.gserviceaccount.com makes a service account of another "
               "project OWNER" in x and "fix: grant OWNER to a group of acme.com" in x for x in found)


def test_a_group_of_another_domain_as_writer(project):
    edit(project, "Pulumi.prod.yaml", "      - group:data-analysts@acme.com", "      - group:data-analysts@gmail.com")
    code, lines = check_policy(project)
    assert code == 1
    assert any("[writers-from-allowed-domains, mandatory]" in x and "WRITER group:data-analysts@gmail.com makes a "
               "group of another domain WRITER" in x for x in lines)


def test_external_query_reads_outside_the_lineage(project):
    edit(project, "scheduled_queries/mart/support/support_nps_responses.sql", "FROM stg_external.stg_refiner_answers",
         "FROM stg_external.stg_refiner_answers\nCROSS JOIN EXTERNAL_QUERY('acme-prod.us.backend', 'SELECT 1 AS x')")
    result = run_cli("--root", str(project), "check", "--stack", "prod")
    assert result.returncode == 1
    assert "reads through the table function EXTERNAL_QUERY, whose source the lineage cannot see" in result.stderr
    # the platform team may allow one
    edit(project, "platform/stacks.yaml", "allowed_table_functions: []", "allowed_table_functions: [EXTERNAL_QUERY]")
    assert "EXTERNAL_QUERY" not in run_cli("--root", str(project), "check", "--stack", "prod").stderr


def test_a_one_off_copy_into_a_sync_dataset(project):
    edit(project, "backups/one_off_copies.yaml", "destination: backup_us_400d.revenue_mrr_before_eur",
         "destination: census.revenue_mrr_before_eur")
    result = run_cli("--root", str(project), "check", "--stack", "prod")
    assert result.returncode == 1
    assert "copies into 'census', which is not a backup dataset" in result.stderr
