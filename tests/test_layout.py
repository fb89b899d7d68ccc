"""The layout of `infra/` says where things happen, and stays that way: layers as subpackages, few
loose modules, small modules, and imports that only flow downstream.

    declarations -> model (the loader runs checks) -> resources -> plan -> local, policies, ops -> cli

A grant, for instance, is declared in roles/ (`declarations/roles.py`), becomes ACL entries of
datasets in the model (`model/access.py`), and resources through `resources/components/dataset.py`.
"""

from __future__ import annotations

import ast

import pytest

from tests.conftest import ROOT

INFRA = ROOT / "infra"
MAX_LINES = 500
SHARED = {"problems", "vocabulary"}  # the loose modules every layer may use
# Each layer -> the other layers it may import (module paths below infra., first component; `plan.sdk`
# is the one module of `plan` that the program itself uses).
MAY_IMPORT = {
    "problems": set(),
    "vocabulary": set(),
    "declarations": SHARED,
    "checks": SHARED | {"declarations", "model.queries"},
    "model": SHARED | {"declarations", "checks"},
    "resources": SHARED | {"declarations", "model", "plan.sdk"},
    "plan": SHARED | {"declarations", "model"},
    "policies": SHARED | {"declarations", "model", "plan"},
    "local": SHARED | {"declarations", "model", "plan", "ops.bigquery_client"},
    "ops": SHARED | {"declarations", "model", "checks", "resources"},
    "cli": SHARED | {"declarations", "model", "checks", "resources", "plan", "policies", "local", "ops"},
    "__init__": set(),
    "__main__": {"cli", "resources"},
}


def modules():
    return sorted(p for p in INFRA.rglob("*.py") if "__pycache__" not in p.parts)


def test_few_loose_modules_and_a_subpackage_per_layer():
    loose = sorted(p.name for p in INFRA.glob("*.py"))
    packages = sorted(p.name for p in INFRA.iterdir() if (p / "__init__.py").is_file())
    assert len(loose) <= 4, loose
    assert set(packages) >= {"declarations", "model", "checks", "resources", "plan", "local", "policies", "ops",
                             "cli"}, packages


def test_every_subpackage_says_what_it_holds():
    for init in sorted(INFRA.rglob("__init__.py")):
        docstring = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
        assert docstring and len(docstring) > 40, f"{init.relative_to(ROOT)} needs a docstring saying what it holds"


@pytest.mark.parametrize("path", modules(), ids=lambda p: p.relative_to(INFRA).as_posix())
def test_modules_are_small(path):
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(ROOT)} has {lines} lines: split it by concept"


def _layer(path) -> str:
    parts = path.relative_to(INFRA).with_suffix("").parts
    return parts[0]


def _imported(path) -> list[tuple[int, str]]:
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("infra."):
            out += [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
        elif isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names if a.name.startswith("infra.")]
    return out


def test_imports_flow_downstream():
    wrong = []
    for path in modules():
        layer = _layer(path)
        allowed = MAY_IMPORT[layer]
        for line, name in _imported(path):
            parts = name.split(".")[1:]  # without `infra`
            if parts[0] == layer:
                continue
            if not any(parts[:len(a.split("."))] == a.split(".") for a in allowed):
                wrong.append(f"{path.relative_to(ROOT)}:{line}: {layer} imports {name}")
    assert not wrong, "imports against the flow:\n" + "\n".join(wrong)
