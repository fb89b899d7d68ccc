"""Shared fixtures: the repository root, offline plans of the shipped stacks, scratch copies
of the project for tests that break a declaration on purpose, and one local BigQuery emulator."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.local.emulator import Emulator
from infra.model.load import load_for_stack
from infra.plan.runtime import Plan, run_program

ROOT = Path(__file__).resolve().parent.parent
# Commands run by the tests without --stack use the default stack, whatever the developer's shell
# sets (tests/test_cli_options.py sets the variable where it tests it).
os.environ.pop("WAREHOUSE_STACK", None)
PROJECT_PARTS = ("Pulumi.yaml", "infra", "datasets", "roles", "routines", "scheduled_queries", "backups", "platform",
                 "tests/fixtures")


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def prod_plan() -> Plan:
    return run_program(ROOT, "prod")


@pytest.fixture(scope="session")
def dev_plan() -> Plan:
    return run_program(ROOT, "dev")


def copy_project(dest: Path) -> Path:
    """A scratch copy of the project (program, declarations, stack files) under `dest`."""
    dest.mkdir(parents=True, exist_ok=True)
    for part in PROJECT_PARTS:
        src = ROOT / part
        if src.is_dir():
            shutil.copytree(src, dest / part, ignore=shutil.ignore_patterns("__pycache__"))
        elif src.exists():
            shutil.copy2(src, dest / part)
    for stack_file in ROOT.glob("Pulumi.*.yaml"):
        shutil.copy2(stack_file, dest / stack_file.name)
    return dest


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_project(tmp_path / "project")


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run `python -m infra ...` in a child process, as a user would."""
    return subprocess.run([sys.executable, "-m", "infra", *args], capture_output=True, text=True,
                          cwd=cwd or ROOT, timeout=120)


def isolated(warehouse, prefix: str):
    """The warehouse with every dataset id under `prefix` instead of the stack's (tests that share
    the session's emulator each work in datasets of their own)."""
    stack = dataclasses.replace(warehouse.stack, dataset_prefix=prefix)
    datasets = tuple(dataclasses.replace(d, dataset_id=prefix + d.name) for d in warehouse.datasets)
    return dataclasses.replace(warehouse, stack=stack, datasets=datasets)


# The company's documented example query (code-block editors in public spaces over the past 7
# days), as its documentation writes it; only the dataset name is the stack's.
COMPANY_EXAMPLE = (ROOT / "tests" / "fixtures" / "company_example.sql").read_text(encoding="utf-8")


def run_cli_without_credentials(*args: str, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    """`python -m infra ...` without any Google Cloud credentials in reach."""
    env = {k: v for k, v in os.environ.items() if k != "GOOGLE_APPLICATION_CREDENTIALS"}
    env.update({"NO_GCE_CHECK": "true", "CLOUDSDK_CONFIG": "/nonexistent-gcloud-config"}, **(env_extra or {}))
    return subprocess.run([sys.executable, "-m", "infra", *args], capture_output=True, text=True, cwd=ROOT,
                          env=env, timeout=120)


def one_line_error(result: subprocess.CompletedProcess) -> str:
    """The one line a failed command wrote (exit 1, no traceback)."""
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.fixture(scope="session")
def dev():
    """The dev stack's model, as declared."""
    return load_for_stack(ROOT, "dev")


@pytest.fixture(scope="session")
def client(emulator):
    """A client of the session's emulator (anonymous credentials)."""
    return emulator.client()


@pytest.fixture(scope="session")
def emulator() -> Iterator[Emulator]:
    """One local BigQuery (bqemulator) for the whole session: starting one takes about 2 s, and
    each test that uses it works in datasets of its own. Fails, not skips, when the emulator is
    not installed: `make setup` installs it."""
    with Emulator(project="acme-warehouse-dev") as emu:
        yield emu
