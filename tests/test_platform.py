"""Guards outside the files they guard: whether a stack is protected, and which rules it may make
advisory, come from its name and `platform/stacks.yaml` (owned by the platform team through
CODEOWNERS), never from the stack file a pull request changes."""

from __future__ import annotations

import pytest

from infra.model.load import load_for_stack
from infra.problems import ProblemsError
from tests.conftest import ROOT, copy_project


def problems_of(project, stack: str) -> list[str]:
    with pytest.raises(ProblemsError) as caught:
        load_for_stack(project, stack)
    return [str(p) for p in caught.value.problems]


def copy_stack(project, source: str, name: str) -> None:
    """A new stack file like `source`'s, with a dataset prefix of its own."""
    text = (project / f"Pulumi.{source}.yaml").read_text()
    (project / f"Pulumi.{name}.yaml").write_text(text.replace("datasetPrefix: dev_", "datasetPrefix: other_"))


def test_a_protected_stack_file_cannot_switch_protection_off(tmp_path):
    project = copy_project(tmp_path / "p")
    stack = project / "Pulumi.prod.yaml"
    stack.write_text(stack.read_text().replace("warehouse:protect: true", "warehouse:protect: false"))
    (line,) = problems_of(project, "prod")
    assert line == ("Pulumi.prod.yaml: warehouse:protect: stack prod is protected (its name says production); its "
                    "stack file cannot switch that off; fix: set `warehouse:protect: true` (the platform team decides "
                    "in platform/stacks.yaml)")


def test_a_production_name_is_protected_whatever_the_platform_file_says(tmp_path):
    project = copy_project(tmp_path / "p")
    copy_stack(project, "dev", "prod-eu")
    platform = project / "platform" / "stacks.yaml"
    platform.write_text(platform.read_text() + "  prod-eu:\n    protect: false\n    advisory_allowed: []\n")
    (line,) = problems_of(project, "prod-eu")
    assert "stack prod-eu is protected (its name says production)" in line


def test_a_stack_the_platform_file_does_not_list_is_protected(tmp_path):
    project = copy_project(tmp_path / "p")
    copy_stack(project, "dev", "sandbox")
    (line,) = problems_of(project, "sandbox")
    assert "stack sandbox is protected (platform/stacks.yaml does not list it)" in line
    stack = project / "Pulumi.sandbox.yaml"
    stack.write_text(stack.read_text().replace("warehouse:protect: false", "warehouse:protect: true"))
    assert load_for_stack(project, "sandbox").stack.protect is True


def test_advisory_rules_need_the_platform_files_leave(tmp_path):
    project = copy_project(tmp_path / "p")
    stack = project / "Pulumi.dev.yaml"
    stack.write_text(stack.read_text().replace(
        "  warehouse:protect: false",
        "  warehouse:protect: false\n  warehouse:policyAdvisory: [datasets-backed-up, no-public-access]"))
    (line,) = problems_of(project, "dev")
    assert "rule 'no-public-access' may not be advisory in stack dev (allowed: datasets-backed-up, " \
           "stateful-resources-protected)" in line


def test_a_missing_platform_file_is_a_problem(tmp_path):
    project = copy_project(tmp_path / "p")
    (project / "platform" / "stacks.yaml").unlink()
    assert any("the platform file is missing" in line for line in problems_of(project, "dev"))


def test_the_platform_team_owns_what_decides_the_rules():
    owners = (ROOT / ".github" / "CODEOWNERS").read_text()
    for path in ("/platform/", "/infra/policies/", "/policy/", "/.github/"):
        assert any(line.split()[:1] == [path] and "@" in line for line in owners.splitlines()), path
    assert load_for_stack(ROOT, "prod").stack.protect and not load_for_stack(ROOT, "dev").stack.protect


def test_two_stacks_never_manage_the_same_datasets(tmp_path):
    project = copy_project(tmp_path / "p")
    dev = (project / "Pulumi.dev.yaml").read_text()
    (project / "Pulumi.qa.yaml").write_text(dev)  # same project, same prefix
    platform = project / "platform" / "stacks.yaml"
    platform.write_text(platform.read_text() + "  qa:\n    protect: false\n    advisory_allowed: []\n")
    (line,) = problems_of(project, "qa")
    assert line.startswith("Pulumi.qa.yaml: warehouse:datasetPrefix: stack dev manages the same datasets "
                           "(project acme-warehouse-dev, prefix 'dev_')")
    assert any("stack qa manages the same datasets" in p for p in problems_of(project, "dev"))
