"""The Pulumi program: the validated warehouse of the current stack, as components.

Run by Pulumi's Python language host through `infra/__main__.py` (and by `plan`, which runs it
the same way under the mock runtime). It reads the stack's config once, loads and validates
every declaration before registering anything, and on bad input stops with `pulumi.RunError`
carrying one line per problem, which the language host prints without a traceback.
"""

from __future__ import annotations

from pathlib import Path

import pulumi

from .components.dataset import DatasetArgs, WarehouseDataset
from .components.role import RoleArgs, WarehouseRole
from .model import Warehouse
from .problems import Problems, ProblemsError
from .stack_config import from_runtime_strings
from .warehouse import load_declarations, load_warehouse, repository_root


def runtime_config() -> dict[str, str]:
    """Every config value the language host set (`namespace:key` -> string)."""
    from pulumi.runtime.config import CONFIG  # the SDK's store, filled by set_all_config

    return {**pulumi.runtime.get_config_env(), **CONFIG.get()}


def load_from_runtime(root: Path) -> Warehouse:
    problems = Problems()
    config = from_runtime_strings(pulumi.get_stack(), runtime_config(), problems)
    if config is None:
        load_declarations(root, problems)  # report every problem in one run
        problems.raise_if_any()
    return load_warehouse(root, config, problems)


def declare(warehouse: Warehouse) -> None:
    project = warehouse.stack.project
    roles = {r.name: WarehouseRole(r.name, RoleArgs(role=r, project=project)) for r in warehouse.roles}
    for d in warehouse.datasets:
        accounts = [roles[name].account for name in d.service_account_roles]
        WarehouseDataset(d.name, DatasetArgs(dataset=d, protect=warehouse.stack.protect, depends_on=accounts))
    pulumi.export("datasets", {d.name: d.dataset_id for d in warehouse.datasets})


def main(root: Path | None = None) -> None:
    try:
        warehouse = load_from_runtime(root or repository_root())
    except ProblemsError as exc:
        raise pulumi.RunError(f"the declarations have {len(exc.problems)} problem(s):\n{exc}") from None
    declare(warehouse)



