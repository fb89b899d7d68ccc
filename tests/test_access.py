"""The access model without Pulumi: strongest role per principal, projectOwners first, sorted."""

from __future__ import annotations

from infra.declarations.datasets import DatasetSpec
from infra.declarations.principals import Principal
from infra.declarations.roles import Grant, RoleSpec
from infra.model.access import PROJECT_OWNERS, dataset_acl
from infra.model.warehouse import AccessEntry, Role


def spec(name="mart", layer="mart"):
    return DatasetSpec(name=name, file=f"datasets/{name}.yaml", description="d", layer=layer, folders=(),
                       sync_tool=None, labels={}, time_travel_days=7, default_table_expiration_days=None,
                       location=None, friendly_name=None)


def role(name, grants, members):
    rs = RoleSpec(name=name, file=f"roles/{name}.yaml", title=name, description="d", members_from="stack",
                  service_account=None,
                  grants=tuple(Grant(r, tuple(layers), tuple(ds), None) for r, layers, ds in grants),
                  project_roles=())
    return Role(spec=rs, members=tuple(members), service_account=None)


ANA = Principal("group", "analysts@acme.com")
READ = Principal("group", "readers@acme.com")


def test_strongest_role_wins_and_project_owners_come_first():
    roles = (role("analyst", [("READER", ["mart", "staging"], []), ("WRITER", ["mart"], [])], [ANA]),
             role("reader", [("READER", ["all"], [])], [READ]))
    acl, sa_roles = dataset_acl(spec(), roles)
    assert acl == (PROJECT_OWNERS, AccessEntry("WRITER", ANA), AccessEntry("READER", READ))
    assert sa_roles == ()


def test_dataset_selected_by_name_or_not_at_all():
    roles = (role("census", [("READER", [], ["census"])], [READ]),)
    assert dataset_acl(spec("census", "sync"), roles)[0] == (PROJECT_OWNERS, AccessEntry("READER", READ))
    assert dataset_acl(spec("airflow", "sync"), roles)[0] == (PROJECT_OWNERS,)


def test_order_of_roles_does_not_change_the_acl():
    a = role("a", [("READER", ["mart"], [])], [READ, ANA])
    b = role("b", [("WRITER", ["mart"], [])], [ANA])
    assert dataset_acl(spec(), (a, b)) == dataset_acl(spec(), (b, a))


def test_access_args_use_the_fields_bigquery_answers_with():
    assert AccessEntry("READER", Principal("serviceAccount", "x@p.iam.gserviceaccount.com")).as_args() == \
        {"role": "READER", "user_by_email": "x@p.iam.gserviceaccount.com"}
    assert PROJECT_OWNERS.as_args() == {"role": "OWNER", "special_group": "projectOwners"}
    authorized = AccessEntry(None, authorized_dataset=("p", "production_reporting")).as_args()
    assert authorized == {"dataset": {"dataset": {"project_id": "p", "dataset_id": "production_reporting"},
                                      "target_types": ["VIEWS"]}}
