"""The shipped declarations, planned under Pulumi's mock runtime: who can do what in prod and dev."""

from __future__ import annotations

import pytest

from infra.plan.runtime import Plan
from infra.vocabulary import BACKUP_LAYERS

PROD_DATASETS = {
    "production_airflow", "production_census", "production_customer_io", "production_mart",
    "production_ml", "production_reporting", "production_stg_external",
}
MART_DATASETS = {"production_mart", "production_ml"}
STAGING = {"production_stg_external"}
DATASET = "gcp:bigquery/dataset:Dataset"
ANALYSTS = ("groupByEmail", "data-analysts@acme.com")
READERS = ("groupByEmail", "data-readers@acme.com")


BACKUP_DATASETS = {"production_backup_us_28d", "production_backup_us_35d", "production_backup_us_400d",
                   "production_dr_mart", "production_dr_stg_external"}


def datasets(plan: Plan, backups: bool = False) -> dict[str, dict]:
    """The warehouse's datasets (and with `backups`, the backup datasets too)."""
    return {r.inputs["datasetId"]: r for r in plan.resources
            if r.type == DATASET and (backups or r.inputs["labels"]["layer"] not in BACKUP_LAYERS)}


def grants(plan: Plan, who: tuple[str, str]) -> dict[str, str]:
    """dataset id -> role for one (field, value) identity, backup datasets included."""
    out = {}
    for ds_id, r in datasets(plan, backups=True).items():
        for entry in r.inputs["accesses"]:
            if entry.get(who[0]) == who[1]:
                assert ds_id not in out, f"{who} appears twice in {ds_id}"
                out[ds_id] = entry["role"]
    return out


def test_prod_declares_exactly_the_seven_datasets(prod_plan):
    assert set(datasets(prod_plan)) == PROD_DATASETS
    assert set(datasets(prod_plan, backups=True)) == PROD_DATASETS | BACKUP_DATASETS


def test_every_dataset_has_project_owners_as_owner(prod_plan, dev_plan):
    for plan in (prod_plan, dev_plan):
        for ds_id, r in datasets(plan, backups=True).items():
            assert {"role": "OWNER", "specialGroup": "projectOwners"} in r.inputs["accesses"], ds_id


def test_no_project_readers_or_writers_special_groups(prod_plan):
    for r in datasets(prod_plan).values():
        groups = {e.get("specialGroup") for e in r.inputs["accesses"]} - {None}
        assert groups == {"projectOwners"}


def test_analysts_write_the_marts_and_only_read_staging(prod_plan):
    g = grants(prod_plan, ANALYSTS)
    assert {d: g[d] for d in MART_DATASETS} == dict.fromkeys(MART_DATASETS, "WRITER")
    assert {d: g[d] for d in STAGING} == dict.fromkeys(STAGING, "READER")
    assert set(g) == MART_DATASETS | STAGING


def test_readers_read_staging_marts_and_reporting_only(prod_plan):
    g = grants(prod_plan, READERS)
    assert g == dict.fromkeys(STAGING | MART_DATASETS | {"production_reporting"}, "READER")


def test_each_sync_service_account_reads_only_its_own_dataset(prod_plan):
    for tool, dataset in (("airflow", "production_airflow"), ("census", "production_census"),
                          ("customer-io", "production_customer_io")):
        email = f"wh-sync-{tool}@acme-warehouse-prod.iam.gserviceaccount.com"
        assert grants(prod_plan, ("userByEmail", email)) == {dataset: "READER"}


def test_runner_writes_every_dataset_queries_build_and_nothing_else(prod_plan):
    email = "wh-query-runner@acme-warehouse-prod.iam.gserviceaccount.com"
    written = PROD_DATASETS - {"production_reporting"}
    assert grants(prod_plan, ("userByEmail", email)) == dict.fromkeys(written, "WRITER")


def test_tableau_reads_reporting_only(prod_plan):
    email = "tableau-online@acme-bi.iam.gserviceaccount.com"
    assert grants(prod_plan, ("userByEmail", email)) == {"production_reporting": "READER"}


def test_admin_group_owns_every_dataset(prod_plan):
    g = grants(prod_plan, ("groupByEmail", "data-platform-admins@acme.com"))
    assert g == dict.fromkeys(PROD_DATASETS | BACKUP_DATASETS, "OWNER")


@pytest.mark.parametrize("stack", ["prod_plan", "dev_plan"])
def test_no_individual_is_owner_or_writer(stack, request):
    plan = request.getfixturevalue(stack)
    for ds_id, r in datasets(plan).items():
        for e in r.inputs["accesses"]:
            if e.get("role") in ("OWNER", "WRITER"):
                assert "domain" not in e and "iamMember" not in e, (ds_id, e)
                if "userByEmail" in e:
                    assert e["userByEmail"].endswith(".gserviceaccount.com"), (ds_id, e)


def test_no_dataset_iam_or_authoritative_project_iam(prod_plan, dev_plan):
    for plan in (prod_plan, dev_plan):
        types = {r.type for r in plan.resources}
        assert not [t for t in types if "DatasetIam" in t or "datasetIam" in t or "DatasetAccess" in t]
        # the one other project resource: the Data Transfer Service agent, made before it is granted anything
        assert not [t for t in types if t.startswith("gcp:projects/")
                    and not t.endswith((":IAMMember", ":ServiceIdentity"))]


def test_project_roles_are_per_member_and_allow_listed(prod_plan):
    members = [r for r in prod_plan.resources if r.type == "gcp:projects/iAMMember:IAMMember"]
    assert members
    for r in members:
        assert r.inputs["project"] == "acme-warehouse-prod"
        if r.inputs["role"] == "roles/bigquerydatatransfer.serviceAgent":
            assert r.inputs["member"].endswith("@gcp-sa-bigquerydatatransfer.iam.gserviceaccount.com")
        else:
            assert r.inputs["role"] in ("roles/bigquery.jobUser", "roles/bigquery.readSessionUser")


def test_datasets_are_protected_in_prod_only_and_never_drop_contents(prod_plan, dev_plan):
    for r in datasets(prod_plan).values():
        assert r.protect is True
        assert r.inputs["deleteContentsOnDestroy"] is False
    for r in datasets(dev_plan).values():
        assert r.protect is False
        assert r.inputs["deleteContentsOnDestroy"] is False


def test_labels_location_and_time_travel(prod_plan):
    for r in datasets(prod_plan).values():
        labels = r.inputs["labels"]
        assert labels["environment"] == "prod" and labels["managed-by"] == "pulumi"
        assert labels["layer"] in ("staging", "mart", "ml", "reporting", "sync")
        assert r.inputs["location"] == "US"
        assert r.inputs["maxTimeTravelHours"] == "168"
        assert r.inputs["description"]


def test_dev_never_collides_with_prod(prod_plan, dev_plan):
    prod_ids, dev_ids = set(datasets(prod_plan)), set(datasets(dev_plan))
    assert len(dev_ids) == len(prod_ids)
    assert not prod_ids & dev_ids
    assert all(d.startswith("dev_") for d in dev_ids)
    projects = {r.inputs["project"] for r in dev_plan.resources if r.custom and "project" in r.inputs}
    assert projects == {"acme-warehouse-dev"}
    prod_accounts = {r.inputs["accountId"] for r in prod_plan.resources if "accountId" in r.inputs}
    dev_accounts = {r.inputs["accountId"] for r in dev_plan.resources if "accountId" in r.inputs}
    assert len(dev_accounts) == len(prod_accounts) and not prod_accounts & dev_accounts


def test_datasets_wait_for_the_service_accounts_they_name(prod_plan):
    census = datasets(prod_plan)["production_census"]
    assert sorted(u.rsplit("::", 1)[1] for u in census.dependencies) == ["backup-sa", "runner-sa", "sync_census-sa"]


def test_components_parent_their_children(prod_plan):
    by_urn = {r.urn: r for r in prod_plan.resources}
    for r in prod_plan.resources:
        if r.custom:
            assert by_urn[r.parent].type.startswith("warehouse:"), r.urn


TRANSFER = "gcp:bigquery/dataTransferConfig:DataTransferConfig"
TABLE = "gcp:bigquery/table:Table"


def test_every_scheduled_query_has_a_transfer_with_location_runner_and_topic(prod_plan):
    from infra.model.load import load_for_stack
    from tests.conftest import ROOT

    warehouse = load_for_stack(ROOT, "prod")
    tables = {q.spec.key for q in warehouse.queries if not q.spec.is_view}
    transfers = {r.name.removesuffix("-transfer"): r for r in prod_plan.resources
                 if r.type == TRANSFER and r.name.endswith("-transfer")}
    assert set(transfers) == tables and len(tables) >= 20
    for key, r in transfers.items():
        i = r.inputs
        assert i["dataSourceId"] == "scheduled_query"
        assert i["location"] == "US"
        assert i["serviceAccountName"] == "wh-query-runner@acme-warehouse-prod.iam.gserviceaccount.com"
        assert i["notificationPubsubTopic"] == "projects/acme-warehouse-prod/topics/warehouse-scheduled-queries"
        assert i["emailPreferences"] == {"enableFailureEmail": True}
        # A DML script into the declared table: no destination, no write disposition (no
        # WRITE_TRUNCATE, which would replace the declared schema with the query's).
        assert set(i["params"]) == {"query"} and "destinationDatasetId" not in i
        dataset, table = key.split(".")
        assert f"INSERT INTO `acme-warehouse-prod.production_{dataset}.{table}` (" in i["params"]["query"]
        table_urn = next(u for u in r.dependencies if u.endswith(f"::{key}-table"))
        assert table_urn


def test_no_view_uses_legacy_sql_and_tables_are_protected_with_schema_ignored(prod_plan):
    views = [r for r in prod_plan.resources if r.type == TABLE and "view" in r.inputs]
    tables = [r for r in prod_plan.resources if r.type == TABLE and "view" not in r.inputs]
    assert len(views) >= 5 and len(tables) >= 20
    assert all(r.inputs["view"]["useLegacySql"] is False for r in views)
    for r in tables:
        assert r.protect and r.inputs["deletionProtection"] is True and r.ignore_changes == ["schema"]
        assert r.inputs["schema"] and r.inputs["description"]


def test_marts_authorize_the_datasets_whose_views_read_them(prod_plan):
    mart = datasets(prod_plan)["production_mart"].inputs["accesses"]
    authorized = {e["dataset"]["dataset"]["datasetId"] for e in mart if "dataset" in e}
    assert authorized == {"production_reporting", "production_census"}
    assert all(e["dataset"]["targetTypes"] == ["VIEWS"] for e in mart if "dataset" in e)
    # The consuming datasets exist before the ACL that names them.
    deps = datasets(prod_plan)["production_mart"].dependencies
    assert any(u.endswith("::reporting-dataset") for u in deps) and any(u.endswith("::census-dataset") for u in deps)


def test_the_transfer_service_agent_can_run_as_the_runner_and_publish(prod_plan):
    agent = "serviceAccount:service-804213975511@gcp-sa-bigquerydatatransfer.iam.gserviceaccount.com"
    tokens = [r for r in prod_plan.resources if r.type == "gcp:serviceaccount/iAMMember:IAMMember"]
    assert all(t.inputs["role"] == "roles/iam.serviceAccountTokenCreator" and t.inputs["member"] == agent
               for t in tokens)
    assert sorted(t.inputs["serviceAccountId"].split("/")[-1].split("@")[0] for t in tokens) == \
        ["wh-backup-runner", "wh-query-runner"]
    publisher = next(r for r in prod_plan.resources if r.type == "gcp:pubsub/topicIAMMember:TopicIAMMember")
    assert publisher.inputs["role"] == "roles/pubsub.publisher" and publisher.inputs["member"] == agent


def test_the_transfer_service_agent_exists_before_anything_is_granted_to_it(prod_plan):
    """On a new project the agent exists only once the API is first used: the plan creates it
    (gcp.projects.ServiceIdentity) and every grant naming it waits for it (docs/real-world.md)."""
    agent = "serviceAccount:service-804213975511@gcp-sa-bigquerydatatransfer.iam.gserviceaccount.com"
    [identity] = [r for r in prod_plan.resources if r.type == "gcp:projects/serviceIdentity:ServiceIdentity"]
    assert identity.inputs["service"] == "bigquerydatatransfer.googleapis.com"
    assert identity.inputs["project"] == "acme-warehouse-prod"
    grants = [r for r in prod_plan.resources if r.inputs.get("member") == agent]
    assert {r.type for r in grants} == {"gcp:serviceaccount/iAMMember:IAMMember",
                                        "gcp:pubsub/topicIAMMember:TopicIAMMember", "gcp:projects/iAMMember:IAMMember"}
    assert all(identity.urn in r.dependencies for r in grants), [r.urn for r in grants]
    # created that way it has no service agent role: the plan grants it
    [role] = [r for r in grants if r.type == "gcp:projects/iAMMember:IAMMember"]
    assert role.inputs["role"] == "roles/bigquerydatatransfer.serviceAgent"
