"""The options every command shares: `--stack` (one default, `dev`, and `WAREHOUSE_STACK`) and the
group's `--version`."""

from __future__ import annotations

import json
import re
import tomllib

import click
import pytest

from infra.cli import main_group, versions
from tests.conftest import ROOT, one_line_error, run_cli, run_cli_without_credentials

# Every command that works on a stack, as the user types it.
STACK_COMMANDS = {"plan", "graph", "impact", "run", "backups coverage", "backups list", "backups copy", "restore",
                  "drift", "adopt", "policy-config"}


def commands(group: click.Group, prefix: str = ""):
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from commands(command, f"{prefix}{name} ")
        else:
            yield f"{prefix}{name}", command


def stack_param(command: click.Command) -> click.Option | None:
    return next((p for p in command.params if isinstance(p, click.Option) and "--stack" in p.opts), None)


def test_every_command_has_the_same_stack_option():
    found = {name: stack_param(command) for name, command in commands(main_group)}
    assert {name for name, p in found.items() if p is not None} == STACK_COMMANDS | {"check", "review"}
    for name in STACK_COMMANDS:
        p = found[name]
        assert (p.default, p.envvar, p.required, p.multiple) == ("dev", "WAREHOUSE_STACK", False, False), name
    # check validates every stack unless told one (or more): the variable does not narrow it.
    # review covers every stack of a pull request the same way.
    for name in ("check", "review"):
        assert (found[name].envvar, found[name].multiple) == (None, True), name


def plan_stack(*args: str, env: dict | None = None) -> str:
    result = run_cli_without_credentials("plan", "--quiet", "--json", "-", *args, env_extra=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["stack"]


def test_stack_is_the_option_else_the_variable_else_dev(monkeypatch):
    monkeypatch.delenv("WAREHOUSE_STACK", raising=False)
    assert plan_stack() == "dev"
    assert plan_stack(env={"WAREHOUSE_STACK": "prod"}) == "prod"
    assert plan_stack("--stack", "dev", env={"WAREHOUSE_STACK": "prod"}) == "dev"
    assert plan_stack(env={"WAREHOUSE_STACK": ""}) == "dev"  # an empty variable is no variable


def test_commands_that_defaulted_to_prod_or_required_a_stack_now_default_to_dev():
    dev = run_cli("policy-config")
    assert dev.returncode == 0, dev.stderr
    assert json.loads(dev.stdout) == json.loads(run_cli("policy-config", "--stack", "dev").stdout)
    # The one-line error without credentials names the project: dev's, not prod's.
    assert "project acme-warehouse-dev;" in one_line_error(run_cli_without_credentials("backups", "list",
                                                                                       "mart.revenue_mrr"))


@pytest.mark.parametrize("args", [["graph"], ["backups", "coverage"], ["drift"], ["adopt"], ["plan"]])
def test_an_unknown_stack_from_the_variable_is_one_line_naming_it(args):
    line = one_line_error(run_cli_without_credentials(*args, env_extra={"WAREHOUSE_STACK": "staging"}))
    assert line == (f"{' '.join(args)}: WAREHOUSE_STACK='staging' names no stack (no Pulumi.staging.yaml); "
                    "fix: use one of: dev, prod, or unset WAREHOUSE_STACK")


def test_an_unknown_stack_option_keeps_its_one_line_error():
    result = run_cli("graph", "--stack", "staging")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.splitlines()[0].startswith("Pulumi.staging.yaml: no stack file for stack 'staging'")


def test_check_covers_every_stack_whatever_the_variable_says():
    result = run_cli_without_credentials("check", env_extra={"WAREHOUSE_STACK": "staging"})
    assert result.returncode == 0, result.stderr
    assert re.findall(r"^(\w+): OK", result.stdout, re.M) == ["dev", "prod"]
    only = run_cli("check", "--stack", "prod")
    assert re.findall(r"^(\w+): OK", only.stdout, re.M) == ["prod"]


def test_makefile_plans_prod_explicitly():
    makefile = (ROOT / "Makefile").read_text()
    assert "STACK ?= prod" in makefile
    assert "infra plan --stack $(STACK)" in makefile and "infra run --local --stack $(STACK)" in makefile


# --- --version -------------------------------------------------------------------------------------------

def pins() -> dict[str, str]:
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    return dict(line.split("#")[0].strip().split("==") for line in lines if "==" in line)


def test_version_prints_the_project_and_the_pinned_dependencies():
    result = run_cli("--version")
    assert result.returncode == 0 and result.stderr == ""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pinned = pins()
    assert result.stdout.splitlines() == [
        f"{project['name']} {project['version']}",
        f"pulumi {pinned['pulumi']}, pulumi-gcp {pinned['pulumi-gcp']}, sqlglot {pinned['sqlglot']}"]


def test_version_comes_first_and_runs_nothing_else():
    result = run_cli("--version", "plan", "--stack", "staging")
    assert result.returncode == 0 and result.stdout.startswith("warehouse-infra ") and result.stderr == ""


def test_version_says_what_is_not_installed(monkeypatch):
    import importlib.metadata

    real = importlib.metadata.version

    def version(name: str) -> str:
        if name == "pulumi-gcp":
            raise importlib.metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(importlib.metadata, "version", version)
    assert "pulumi-gcp not installed (fix: make setup)" in versions()
