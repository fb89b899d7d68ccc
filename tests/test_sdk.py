"""The Pulumi SDK internals the offline plan relies on are reached from one module, and an upgrade
that moves one fails here, and in the CLI, with one clear message."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap

import pytest

from infra.plan import sdk
from tests.conftest import ROOT

# Modules of the SDK that are not its public API: only infra/plan/sdk.py imports them.
INTERNAL_MODULES = ("pulumi.runtime.mocks", "pulumi.runtime.settings", "pulumi.runtime.sync_await",
                    "pulumi.runtime.config", "pulumi.runtime.rpc", "pulumi.runtime.proto", "pulumi.output")


def test_every_internal_is_where_the_sdk_module_looks():
    moved = sdk.missing()
    assert not moved, "\n".join(moved)


def test_a_moved_internal_is_one_message_naming_it_and_the_fix():
    with pytest.raises(sdk.SdkMoved) as moved:
        sdk.resolve("pulumi.runtime.mocks", "MockMonitorThatMoved", "the monitor of the offline plan")
    message = str(moved.value)
    assert "pulumi.runtime.mocks.MockMonitorThatMoved (the monitor of the offline plan)" in message
    assert f"fix: pin {sdk.PINNED} in requirements.txt again" in message and "\n" not in message
    with pytest.raises(sdk.SdkMoved):
        sdk.resolve("pulumi.runtime.no_such_module", "X")


def test_the_cli_says_in_one_line_when_an_internal_moved():
    # A Pulumi whose sync_await module lost the helper: `plan` must say so in one line, exit 1.
    program = textwrap.dedent("""
        import sys
        import pulumi.runtime.sync_await as moved
        del moved._ensure_event_loop
        from infra.cli import main
        sys.exit(main(["plan", "--stack", "dev", "--quiet"]))
    """)
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert "pulumi.runtime.sync_await._ensure_event_loop" in line and "fix:" in line


def test_no_other_module_of_infra_imports_an_sdk_internal():
    offenders = []
    for path in sorted((ROOT / "infra").rglob("*.py")):
        if path == ROOT / "infra" / "plan" / "sdk.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([node.module or ""] if isinstance(node, ast.ImportFrom)
                     else [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            if isinstance(node, ast.ImportFrom) and node.module == "pulumi.runtime":
                names += [f"pulumi.runtime.{a.name}" for a in node.names]
            offenders += [f"{path.relative_to(ROOT)}:{node.lineno}: {n}" for n in names
                          if n.startswith(INTERNAL_MODULES)]
    assert not offenders, "SDK internals are reached through infra/plan/sdk.py only:\n" + "\n".join(offenders)


def test_the_pinned_version_is_the_one_requirements_install():
    assert sdk.PINNED in (ROOT / "requirements.txt").read_text().splitlines()
