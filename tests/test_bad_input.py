"""Bad input: each mistake gives one line naming the file and key, a non-zero exit, no traceback,
and no resource registered (the program stops before registering anything)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from infra.plan.runtime import ProgramError, run_program
from infra.problems import ProblemsError
from tests.conftest import run_cli


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def break_unknown_key(p: Path):
    edit(p / "datasets/mart.yaml", "layer: mart", "layer: mart\nlayr: mart")
    return "datasets/mart.yaml:", "layr", "unknown key"


def break_missing_key(p: Path):
    edit(p / "roles/data_reader.yaml", "title: Data Reader\n", "")
    return "roles/data_reader.yaml:", "title", "missing required key"


def break_unknown_dataset_in_role(p: Path):
    edit(p / "roles/sync_census.yaml", "datasets: [census]", "datasets: [censuss]")
    return "roles/sync_census.yaml:", "grants[0].datasets", "dataset 'censuss' does not exist"


def break_malformed_principal(p: Path):
    edit(p / "Pulumi.prod.yaml", "- group:data-readers@acme.com", "- data-readers@acme.com")
    return "Pulumi.prod.yaml:", "warehouse:members.data_reader[0]", "malformed principal"


def break_uppercase_email(p: Path):
    edit(p / "Pulumi.prod.yaml", "- group:data-analysts@acme.com", "- group:Data-Analysts@acme.com")
    return "Pulumi.prod.yaml:", "warehouse:members.data_analyst[0]", "upper-case"


def break_duplicate_dataset_id(p: Path):
    edit(p / "datasets/sources/stripe.yaml", "dataset_id: stitch_stripe", "dataset_id: production_mart")
    return "datasets/", "dataset_id", "already declared"


def break_invalid_yaml(p: Path):
    edit(p / "datasets/census.yaml", "layer: sync", "layer: [sync")
    return "datasets/census.yaml:", "", "invalid YAML"


def break_user_as_owner(p: Path):
    edit(p / "Pulumi.prod.yaml", "- group:data-platform-admins@acme.com", "- user:boss@acme.com")
    return "Pulumi.prod.yaml:", "warehouse:members.admin", "never OWNER or WRITER"


def break_unknown_config_key(p: Path):
    edit(p / "Pulumi.prod.yaml", "warehouse:protect: true", "warehouse:protect: true\n  warehouse:protected: true")
    return "Pulumi.prod.yaml:", "warehouse:protected", "unknown config key"


def break_wrong_type(p: Path):
    edit(p / "Pulumi.prod.yaml", "warehouse:protect: true", "warehouse:protect: yes please")
    return "Pulumi.prod.yaml:", "warehouse:protect", "must be true or false"


def break_unknown_layer(p: Path):
    edit(p / "datasets/ml.yaml", "layer: ml", "layer: marts")
    return "datasets/ml.yaml:", "layer", "'marts' is not allowed"


def break_public_principal(p: Path):
    edit(p / "Pulumi.prod.yaml", "- group:data-readers@acme.com", "- allUsers")
    return "Pulumi.prod.yaml:", "warehouse:members.data_reader[0]", "public principal"


def break_member_of_unknown_role(p: Path):
    edit(p / "Pulumi.prod.yaml", "    data_reader:", "    data_readers:")
    return "Pulumi.prod.yaml", "warehouse:members.data_readers", "there is no role"


def break_duplicate_yaml_key(p: Path):
    edit(p / "roles/admin.yaml", "members: stack", "members: stack\nmembers: stack")
    return "roles/admin.yaml:", "members", "duplicate key"


def break_project_role_outside_allow_list(p: Path):
    edit(p / "roles/data_reader.yaml", "  - roles/bigquery.jobUser", "  - roles/owner")
    return "roles/data_reader.yaml:", "project_roles", "'roles/owner' is not allowed"


CASES = [v for k, v in sorted(globals().items()) if k.startswith("break_")]


@pytest.mark.parametrize("breaker", CASES, ids=lambda f: f.__name__[len("break_"):])
def test_check_reports_one_clear_line_and_fails(project, breaker):
    file, key, what = breaker(project)
    result = run_cli("--root", str(project), "check", "--stack", "prod")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if not re.match(r"^\d+ problem\(s\) found\.$", line)]
    assert len(lines) == 1, lines
    line = lines[0]
    assert line.startswith(file), line
    assert key in line and what in line and "fix:" in line, line


@pytest.mark.parametrize("breaker", CASES, ids=lambda f: f.__name__[len("break_"):])
def test_program_registers_nothing_on_bad_input(project, breaker):
    _, _, what = breaker(project)
    # A stack file the Pulumi CLI itself would refuse stops before the program runs at all.
    with pytest.raises((ProgramError, ProblemsError)) as caught:
        run_program(project, "prod")
    assert what in str(caught.value)
    if isinstance(caught.value, ProgramError):
        assert [r.type for r in caught.value.plan.resources] == ["pulumi:pulumi:Stack"]


def test_plan_command_fails_cleanly_on_bad_input(project):
    break_uppercase_email(project)
    result = run_cli("--root", str(project), "plan", "--stack", "prod", "--json", str(project / "plan.json"))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "upper-case" in result.stderr
    assert not (project / "plan.json").exists()


def test_unknown_stack_is_one_line(project):
    result = run_cli("--root", str(project), "check", "--stack", "staging")
    assert result.returncode == 1
    assert "no stack file for stack 'staging'" in result.stderr
    assert "dev, prod" in result.stderr


def test_every_problem_is_reported_in_one_run(project):
    break_unknown_key(project)
    break_uppercase_email(project)
    break_unknown_dataset_in_role(project)
    result = run_cli("--root", str(project), "check", "--stack", "prod")
    assert result.returncode == 1
    assert "3 problem(s) found." in result.stderr
