"""The security rules: the shipped declarations pass every rule in every stack; each rule fires,
naming the resource, on a declaration that breaks it; and the policy pack runs the same functions
on arguments built the way the engine builds them."""

from __future__ import annotations

import copy
import importlib.util
import json
import sys

import pytest
from pulumi_policy import PolicyResource, PolicyResourceOptions, ResourceValidationArgs, StackValidationArgs

from infra.model.load import load_for_stack
from infra.policies import RULES, Resource, Settings
from infra.policies.evaluate import evaluate, resources_of, settings_for
from tests.conftest import ROOT, run_cli

# prod's settings: protected, and what the model knows beyond the plan (raw sources' grants, restorers)
PROTECTED = settings_for(load_for_stack(ROOT, "prod"))
BY_NAME = {r.name: r for r in RULES}


@pytest.mark.parametrize("stack", ["prod", "dev"])
def test_shipped_declarations_pass_every_rule(stack, request):
    plan = request.getfixturevalue(f"{stack}_plan")
    settings = settings_for(load_for_stack(ROOT, stack))
    assert evaluate(resources_of(plan), settings) == []


def find(resources, type_, pred=lambda r: True):
    return next(r for r in resources if r.type == type_ and pred(r))


def with_props(r: Resource, **changes) -> Resource:
    props = copy.deepcopy(dict(r.props))
    props.update(changes)
    return Resource(r.urn, r.type, r.name, props, r.protect)


def dataset(resources, ds_id):
    return find(resources, "gcp:bigquery/dataset:Dataset", lambda r: r.props["datasetId"] == ds_id)


def add_access(r: Resource, entry: dict) -> Resource:
    return with_props(r, accesses=[*r.props["accesses"], entry])


def breakers():
    """rule name -> a function (resources) -> the resources with one violation, its URN."""
    def public(rs):
        bad = add_access(dataset(rs, "production_mart"), {"role": "READER", "specialGroup": "allAuthenticatedUsers"})
        return bad
    def individual(rs):
        return add_access(dataset(rs, "production_mart"), {"role": "WRITER", "userByEmail": "bob@acme.com"})
    def forbidden(rs):
        return Resource("urn:pulumi:prod::warehouse::gcp:bigquery/datasetIamMember:DatasetIamMember::x",
                        "gcp:bigquery/datasetIamMember:DatasetIamMember", "x", {"role": "roles/bigquery.dataViewer"})
    def owners(rs):
        r = dataset(rs, "production_ml")
        return with_props(r, accesses=[e for e in r.props["accesses"] if e.get("specialGroup") != "projectOwners"])
    def sync(rs):
        census = "wh-sync-census@acme-warehouse-prod.iam.gserviceaccount.com"
        return add_access(dataset(rs, "production_mart"), {"role": "READER", "userByEmail": census})
    def outsider(rs):
        # a service account of another project made OWNER: admin of everything, backups included
        return add_access(dataset(rs, "production_mart"),
                          {"role": "OWNER", "userByEmail": "admin@other-project.iam.gserviceaccount.com"})
    def roles(rs):
        return with_props(find(rs, "gcp:projects/iAMMember:IAMMember"), role="roles/bigquery.admin")
    def views(rs):
        r = find(rs, "gcp:bigquery/table:Table", lambda r: "view" in r.props)
        return with_props(r, view={"query": r.props["view"]["query"]})
    def transfers(rs):
        r = find(rs, "gcp:bigquery/dataTransferConfig:DataTransferConfig", lambda r: r.name.endswith("-transfer"))
        props = dict(r.props)
        props.pop("notificationPubsubTopic")
        return Resource(r.urn, r.type, r.name, props, r.protect)
    def truncate(rs):
        r = find(rs, "gcp:bigquery/dataTransferConfig:DataTransferConfig", lambda r: r.name.endswith("-transfer"))
        return with_props(r, params={"query": "SELECT 1 AS x", "destination_table_name_template": "t",
                                     "write_disposition": "WRITE_TRUNCATE"})
    def protected(rs):
        r = find(rs, "gcp:bigquery/table:Table", lambda r: "view" not in r.props)
        return Resource(r.urn, r.type, r.name, r.props, protect=False)
    def backups(rs):
        return Resource("urn:pulumi:prod::warehouse::warehouse:dataset:Dataset$gcp:bigquery/dataset:Dataset"
                        "::adhoc-dataset",
                        "gcp:bigquery/dataset:Dataset", "adhoc-dataset",
                        {"datasetId": "production_adhoc", "labels": {"layer": "mart"},
                         "accesses": [{"role": "OWNER", "specialGroup": "projectOwners"}]}, True)
    def permissions(rs):
        # a snapshot with an expiration needs bigquery.tables.deleteSnapshot, which READER lacks
        r = find(rs, "gcp:bigquery/dataTransferConfig:DataTransferConfig", lambda r: r.name.endswith("-snapshots"))
        script = r.props["params"]["query"].replace(
            "FOR SYSTEM_TIME AS OF TIMESTAMP '%t'\"",
            "FOR SYSTEM_TIME AS OF TIMESTAMP '%t' \" || \"OPTIONS (expiration_timestamp = TIMESTAMP '%t')\"")
        assert script != r.props["params"]["query"]
        return with_props(r, params={**r.props["params"], "query": script})
    def emails(rs):
        return add_access(dataset(rs, "production_mart"), {"role": "READER", "groupByEmail": "Data-Readers@acme.com"})
    return {"no-public-access": public, "no-individual-writers": individual,
            "no-dataset-iam-or-authoritative-project-iam": forbidden, "project-owners-own-every-dataset": owners,
            "read-only-accounts-confined": sync, "writers-from-allowed-domains": outsider,
            "project-roles-allow-list": roles,
            "views-use-standard-sql": views, "scheduled-queries-complete": transfers,
            "scheduled-writes-keep-schema": truncate,
            "stateful-resources-protected": protected, "datasets-backed-up": backups, "emails-lowercase": emails,
            "job-permissions": permissions}


def test_every_rule_has_a_violating_case():
    assert set(breakers()) == set(BY_NAME)


@pytest.mark.parametrize("rule", sorted(BY_NAME))
def test_rule_fires_on_a_violation_naming_the_resource(rule, prod_plan):
    resources = resources_of(prod_plan)
    bad = breakers()[rule](resources)
    others = [r for r in resources if r.urn != bad.urn]
    violations = BY_NAME[rule].validate([*others, bad], PROTECTED)
    assert violations and all(v.urn == bad.urn and v.rule == rule and v.fix for v in violations), violations
    # ... and only that rule's resource: the rest of the stack is clean for it.
    assert BY_NAME[rule].validate(resources, PROTECTED) == []


def test_protection_rules_apply_only_in_protected_stacks(prod_plan):
    resources = resources_of(prod_plan)
    unprotected = [Resource(r.urn, r.type, r.name, r.props, False) for r in resources]
    assert BY_NAME["stateful-resources-protected"].validate(unprotected, PROTECTED)
    assert not BY_NAME["stateful-resources-protected"].validate(unprotected, Settings(protected=False))


# -- the policy pack, called the way the engine calls it --------------------------------------

def load_pack_policies():
    spec = importlib.util.spec_from_file_location("warehouse_policy_pack_policies", ROOT / "policy" / "policies.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return {p.name: p for p in module.POLICIES}


def opts(protect: bool) -> PolicyResourceOptions:
    return PolicyResourceOptions(protect=protect, ignore_changes=[], delete_before_replace=None, aliases=[],
                                 custom_timeouts=None, additional_secret_outputs=[])


def call_resource_policy(policy, r: Resource) -> list[str]:
    reported = []
    args = ResourceValidationArgs(resource_type=r.type, props=r.props, urn=r.urn, name=r.name, opts=opts(r.protect),
                                  provider=None, config={})
    policy.validate(args, lambda message, urn=None: reported.append(message))
    return reported


def call_stack_policy(policy, resources: list[Resource]) -> list[tuple[str, str]]:
    reported = []
    args = StackValidationArgs(resources=[PolicyResource(r.type, r.props, r.urn, r.name, opts(r.protect), None, None,
                                                         [], {}) for r in resources], config={})
    policy.validate(args, lambda message, urn=None: reported.append((message, urn)))
    return reported


def test_pack_has_one_policy_per_rule():
    assert set(load_pack_policies()) == set(BY_NAME)


@pytest.mark.parametrize("rule", sorted(BY_NAME))
def test_pack_runs_the_same_rule_on_engine_arguments(rule, prod_plan):
    policy = load_pack_policies()[rule]
    resources = resources_of(prod_plan)  # props as the engine sends them: camelCase inputs
    bad = breakers()[rule](resources)
    if BY_NAME[rule].check_resource is not None:
        assert all(call_resource_policy(policy, r) == [] for r in resources)
        messages = call_resource_policy(policy, bad)
        assert messages and all("fix:" in m for m in messages)
    else:
        assert call_stack_policy(policy, resources) == []
        others = [r for r in resources if r.urn != bad.urn]
        reported = call_stack_policy(policy, [*others, bad])
        assert reported and all(urn == bad.urn for _, urn in reported)


def test_pack_reads_protection_from_the_stack_file(dev_plan):
    policy = load_pack_policies()["stateful-resources-protected"]
    table = next(r for r in resources_of(dev_plan) if r.type == "gcp:bigquery/table:Table" and "view" not in r.props)
    assert not table.protect and call_resource_policy(policy, table) == []  # dev is not protected


# -- check --policy ----------------------------------------------------------------------------

def test_check_policy_passes_on_the_shipped_stacks():
    result = run_cli("check", "--policy")
    assert result.returncode == 0, result.stderr
    assert f"prod: {len(RULES)} security rules, 0 mandatory and 0 advisory violation(s)" in result.stdout


def test_check_policy_fails_on_a_mandatory_violation_and_names_it(project):
    path = project / "roles/sync_census.yaml"
    path.write_text(path.read_text().replace("datasets: [census]", "datasets: [census, mart]"))
    result = run_cli("--root", str(project), "check", "--policy", "--stack", "prod")
    assert result.returncode == 1
    [line] = [line for line in result.stderr.splitlines() if "read-only-accounts-confined" in line]
    assert "mart-dataset" in line and "mandatory" in line and "fix:" in line


def test_advisory_rules_warn_without_failing(project):
    path = project / "roles/sync_census.yaml"
    path.write_text(path.read_text().replace("datasets: [census]", "datasets: [census, mart]"))
    stack = project / "Pulumi.prod.yaml"
    stack.write_text(stack.read_text().replace("  warehouse:protect: true",
                                               "  warehouse:protect: true\n  warehouse:policyAdvisory:"
                                               " [read-only-accounts-confined]"))
    # the stack file alone cannot make a rule advisory: the platform team's file decides
    result = run_cli("--root", str(project), "check", "--policy", "--stack", "prod")
    assert result.returncode == 1
    assert "rule 'read-only-accounts-confined' may not be advisory in stack prod" in result.stderr
    platform = project / "platform" / "stacks.yaml"
    platform.write_text(platform.read_text().replace(
        "  prod:\n    protect: true\n    advisory_allowed: []",
        "  prod:\n    protect: true\n    advisory_allowed: [read-only-accounts-confined]"))
    result = run_cli("--root", str(project), "check", "--policy", "--stack", "prod")
    assert result.returncode == 0, result.stderr
    assert "0 mandatory and 1 advisory" in result.stdout
    config = json.loads(run_cli("--root", str(project), "policy-config", "--stack", "prod").stdout)
    assert config["read-only-accounts-confined"] == {"enforcementLevel": "advisory"}
    assert config["no-public-access"] == {"enforcementLevel": "mandatory"}


def test_the_service_agent_role_is_only_for_the_transfer_service_agent(prod_plan):
    rule = BY_NAME["project-roles-allow-list"]
    resources = resources_of(prod_plan)
    agent_role = find(resources, "gcp:projects/iAMMember:IAMMember",
                      lambda r: r.props["role"] == "roles/bigquerydatatransfer.serviceAgent")
    assert rule.validate(resources, PROTECTED) == []
    for member in ("group:data-analysts@acme.com",
                   "serviceAccount:wh-query-runner@acme-warehouse-prod.iam.gserviceaccount.com",
                   "serviceAccount:service-1@gcp-sa-bigquerydatatransfer.iam.gserviceaccount.com.evil.com"):
        bad = with_props(agent_role, member=member)
        found = rule.validate([bad], PROTECTED)
        assert found and all(v.urn == bad.urn for v in found), member
