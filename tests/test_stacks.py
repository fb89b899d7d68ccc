"""Every stack file: `Pulumi.<stack>.yaml` passes `check` and plans under Pulumi's mock runtime
(the way the language host runs the program), with the stacks discovered from the files, so a new
stack is tested the day its file lands. And the "Add a stack" example of docs/stacks.md is a working stack.
"""

from __future__ import annotations

import re

import pytest
import yaml

from infra.model.load import load_for_stack
from infra.plan.runtime import run_program
from tests.conftest import ROOT, copy_project, run_cli

STACKS = sorted(p.name[len("Pulumi."):-len(".yaml")] for p in ROOT.glob("Pulumi.*.yaml"))
DATASET = "gcp:bigquery/dataset:Dataset"


def test_the_stacks_are_found():
    assert {"dev", "prod"} <= set(STACKS)


@pytest.mark.parametrize("stack", STACKS)
def test_stack_passes_check(stack):
    done = run_cli("check", "--stack", stack)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"{stack}: OK (")


@pytest.mark.parametrize("stack", STACKS)
def test_stack_plans_under_the_mock_runtime(stack):
    warehouse = load_for_stack(ROOT, stack)
    plan = run_program(ROOT, stack)
    assert plan.stack == stack
    assert all(r.urn.startswith(f"urn:pulumi:{stack}::warehouse::") for r in plan.resources)
    datasets = {r.inputs["datasetId"]: r for r in plan.resources if r.type == DATASET}
    assert set(datasets) == {d.dataset_id for d in warehouse.datasets}
    prefix = warehouse.stack.dataset_prefix
    assert all(dataset_id.startswith(prefix) for dataset_id in datasets)
    # everything lands in the stack's own project, protected as the stack says
    projects = {r.inputs["project"] for r in plan.resources if "project" in r.inputs}
    assert projects == {warehouse.stack.project}
    assert {r.protect for r in datasets.values()} == {warehouse.stack.protect}
    assert all(r.inputs["labels"]["environment"] == warehouse.stack.environment for r in datasets.values())


def test_stacks_never_share_datasets():
    seen: dict[tuple[str, str], str] = {}
    for stack in STACKS:
        config = load_for_stack(ROOT, stack).stack
        key = (config.project, config.dataset_prefix)
        assert key not in seen, f"{stack} and {seen.get(key)} would manage the same datasets"
        seen[key] = stack


def documented_stack_example() -> str:
    page = (ROOT / "docs" / "stacks.md").read_text()
    section = page.split("## Add a stack\n", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```yaml\n(.*?)```", section, re.S).group(1)
    return "\n".join(line[3:] if line.startswith("   ") else line for line in block.splitlines()) + "\n"


def test_the_documented_example_of_a_new_stack_checks_and_plans(tmp_path):
    project = copy_project(tmp_path / "project")
    text = documented_stack_example()
    config = yaml.safe_load(text)["config"]
    assert config["warehouse:environment"] == "staging"
    (project / "Pulumi.staging.yaml").write_text(text)
    # not protected: only once the platform team lists it so (as the page says)
    done = run_cli("--root", str(project), "check", "--stack", "staging")
    assert done.returncode == 1 and "stack staging is protected (platform/stacks.yaml does not list it)" in done.stderr
    platform = project / "platform" / "stacks.yaml"
    section = (ROOT / "docs" / "stacks.md").read_text().split("# platform/stacks.yaml\n", 1)[1].split("```", 1)[0]
    entry = "\n".join(line[3:] for line in section.splitlines()[1:])  # below `stacks:`, as documented
    platform.write_text(platform.read_text().rstrip("\n") + "\n" + entry + "\n")
    done = run_cli("--root", str(project), "check", "--stack", "staging")
    assert done.returncode == 0, done.stderr
    plan = run_program(project, "staging")
    datasets = {r.inputs["datasetId"] for r in plan.resources if r.type == DATASET}
    assert "staging_mart" in datasets and all(d.startswith("staging_") for d in datasets)
    # the stack file as `pulumi stack init --secrets-provider gcpkms://...` leaves it still checks
    (project / "Pulumi.staging.yaml").write_text(
        "secretsprovider: gcpkms://projects/acme-platform/locations/global/keyRings/pulumi/cryptoKeys/state\n"
        "encryptedkey: CiQAZmFrZWtleQ==\n" + text)
    assert run_cli("--root", str(project), "check", "--stack", "staging").returncode == 0
