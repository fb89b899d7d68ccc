"""Running the Pulumi program offline, the way Pulumi's Python language host runs it.

The language host (`pulumi-language-python-exec`) sets the stack's config with
`pulumi.runtime.set_all_config`, configures the runtime with the engine's monitor, and runs
`runpy.run_path("infra/", run_name="__main__")` inside `pulumi.runtime.run_in_stack`. This module
does exactly that, with Pulumi's mock monitor (its `RegisterResource` answering as the engine
does in a preview of new resources: inputs echoed, computed outputs added) in place of the
engine, and records every registration as the engine would receive it: URN (built by the
engine's rule), type token, parent, inputs (camelCase, as serialized by the SDK), dependencies
and options. That record is the plan: what `pulumi preview` would send to the engine, without
credentials or the CLI.

Each run happens on a fresh thread, in a fresh `contextvars.Context` and event loop, because the
SDK keeps its settings, config and root stack in context variables; several plans can run in
one process.
"""

from __future__ import annotations

import asyncio
import contextvars
import gc
import json
import logging
import runpy
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pulumi
import yaml
from google.protobuf import struct_pb2

from infra.plan import sdk
from infra.vocabulary import DATASET_TYPE, SERVICE_ACCOUNT_TYPE, STACK_TYPE, TOPIC_TYPE

if TYPE_CHECKING:
    from infra.model.warehouse import Warehouse

UNKNOWN = "(known after apply)"


@dataclass
class Registration:
    urn: str
    type: str
    name: str
    parent: str
    custom: bool
    inputs: dict
    dependencies: list[str]
    protect: bool
    ignore_changes: list[str]
    delete_before_replace: bool
    retain_on_delete: bool

    def as_json(self) -> dict:
        return {
            "urn": self.urn, "type": self.type, "name": self.name, "parent": self.parent or None,
            "custom": self.custom, "inputs": self.inputs, "dependencies": self.dependencies,
            "protect": self.protect, "ignoreChanges": self.ignore_changes,
            "deleteBeforeReplace": self.delete_before_replace, "retainOnDelete": self.retain_on_delete,
        }


@dataclass
class Plan:
    project: str
    stack: str
    resources: list[Registration] = field(default_factory=list)
    # The model the program declared (not part of the JSON): what `plan` and `run --local` go on with.
    warehouse: Warehouse | None = None

    def as_json(self) -> dict:
        return {"project": self.project, "stack": self.stack,
                "resources": [r.as_json() for r in sorted(self.resources, key=lambda r: r.urn)]}


class ProgramError(Exception):
    """The program stopped with a `pulumi.RunError` (bad input); `plan` holds what it had
    registered by then (for bad input: nothing but the root stack)."""

    def __init__(self, message: str, plan: Plan):
        super().__init__(message)
        self.plan = plan


def project_name(root: Path) -> str:
    data = yaml.safe_load((root / "Pulumi.yaml").read_text(encoding="utf-8"))
    return data["name"]


def stack_config_strings(root: Path, stack: str) -> dict[str, str]:
    """The stack file's `config:` as the CLI hands it to the language host: all strings,
    objects and lists JSON-encoded, booleans `true`/`false`."""
    # Read as the declarations are (size and alias expansion bounded, one line per problem), not with
    # yaml.safe_load: a "billion laughs" stack file would expand without end once JSON-encoded.
    from infra.declarations.files import load_file
    from infra.problems import Problems

    problems = Problems()
    doc = load_file(root / f"Pulumi.{stack}.yaml", f"Pulumi.{stack}.yaml", problems)
    problems.raise_if_any()
    data = doc.data if doc is not None and isinstance(doc.data, dict) else {}
    out = {}
    for key, value in (data.get("config") or {}).items():
        if isinstance(value, bool):
            out[key] = "true" if value else "false"
        elif isinstance(value, (dict, list)):
            out[key] = json.dumps(value)
        else:
            out[key] = str(value)
    return out


def run_program(root: Path, stack: str, config: dict[str, str] | None = None, dry_run: bool = True) -> Plan:
    """Run `infra/` under the mock runtime and return what it registered.

    Without `config`, the stack file is read as the Pulumi CLI would, and a stack file the CLI
    would refuse raises `ProblemsError` before the program runs."""
    if config is None:
        from infra.declarations.stack import load_stack_file
        from infra.problems import Problems

        problems = Problems()
        if load_stack_file(root, stack, problems) is None and problems:
            problems.raise_if_any()
        config = stack_config_strings(root, stack)
    # The program switches the garbage collector off for the run (infra/resources/program.py); this process
    # goes on (several plans in one process, the test suite): switch it back on, whatever happened.
    collector_was_on = gc.isenabled()
    try:
        return _on_fresh_thread(contextvars.Context().run, _run, root, stack, config, dry_run)
    finally:
        if collector_was_on:
            gc.enable()


def _on_fresh_thread(func, *args):
    """`func(*args)`, called on a new thread; its result, or its exception re-raised here.

    The SDK records the whole call stack of every registration (`traceback.extract_stack`, for
    the engine's source positions): on a fresh thread that stack starts at the program, as under
    the language host, instead of below this CLI's own frames (click, the command, the test
    runner), which cost time per resource and would point the source positions at them."""
    outcome: dict = {}

    def target() -> None:
        try:
            outcome["result"] = func(*args)
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=target, name="pulumi-program", daemon=True)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


def _run(root: Path, stack: str, config: dict[str, str], dry_run: bool) -> Plan:
    project = project_name(root)
    plan = Plan(project=project, stack=stack)
    monitor = _RecordingMonitor(config.get("gcp:project", "project"), plan)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)
    engine_log = logging.getLogger("warehouse.plan.engine")
    try:
        pulumi.runtime.set_all_config(dict(config), [])
        sdk.configure(sdk.MockSettings(
            monitor=monitor,
            monitor_features=set(monitor.GetDeploymentInfo(None).supportedFeatures),
            engine=sdk.MockEngine(engine_log),
            project=project, stack=stack, dry_run=dry_run, organization="organization",
            root_directory=str(root), parallel=4, callbacks=None,
        ))
        program = str(root / "infra")
        namespace: dict[str, Any] = {}  # the program module's globals once it has run

        def run() -> None:
            namespace.update(runpy.run_path(program, run_name="__main__"))

        try:
            loop.run_until_complete(pulumi.runtime.run_in_stack(run))
        except pulumi.RunError as exc:
            raise ProgramError(str(exc), plan) from None
        plan.warehouse = namespace.get("warehouse")  # bound by infra/__main__.py
    finally:
        # The SDK calls the monitor from the loop's default executor: stop those threads and
        # close the event loops the mock monitor gave them.
        loop.run_until_complete(loop.shutdown_default_executor())
        monitor.close_thread_loops()
        plan.resources.extend(monitor.registrations())
        loop.close()
        asyncio.set_event_loop(None)
    return plan


def engine_urn(stack: str, project: str, parent: str, type_: str, name: str) -> str:
    """The URN the Pulumi engine gives: the parent's type chain, except the root stack's."""
    if parent:
        parent_type = parent.split("::")[2]
        if parent_type != STACK_TYPE:
            type_ = f"{parent_type}${type_}"
    return f"urn:pulumi:{stack}::{project}::{type_}::{name}"


def _plain(value: Any) -> Any:
    """Make deserialized inputs JSON-able: unknowns and secrets become readable markers."""
    if isinstance(value, sdk.Unknown):
        return UNKNOWN
    if isinstance(value, dict):
        if value.get(sdk.SECRET_SIGNATURE_KEY) is not None:
            return "[secret]"
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


class _RecordingMonitor(sdk.MockMonitor):
    """Pulumi's mock monitor, with engine URNs, answering registrations as the engine does in a
    preview of new resources, and recording each one into a `Plan`.

    The engine's preview of a create returns the resource's inputs as its outputs, plus what the
    provider computes; this monitor does the same by echoing the request's serialized inputs
    (`request.object`) with the computed properties of `computed_outputs` added. (The stock
    `MockMonitor.RegisterResource` deserializes the inputs, hands them to `Mocks.new_resource` and
    serializes them back on an event loop of its own: the same answer, at several times the
    cost per property.) The inputs are deserialized once, after the run, for the record."""

    def __init__(self, project: str, plan: Plan):
        super().__init__(_NoMocks())
        self.project = project
        self.plan = plan
        self.thread_loops: set[asyncio.AbstractEventLoop] = set()
        # (urn, request) of each registration, in order. Kept as the SDK's protobuf messages and
        # turned into `Registration`s after the run: while the program runs, the SDK's own
        # objects fill the heap, and every Python object added makes its collections slower.
        self.requests: list[tuple[str, Any]] = []

    def registrations(self) -> list[Registration]:
        out = [Registration(
            urn=urn, type=request.type, name=request.name, parent=request.parent, custom=bool(request.custom),
            inputs={} if request.type == STACK_TYPE else _plain(sdk.deserialize_properties(request.object)),
            dependencies=sorted(set(request.dependencies)), protect=bool(request.protect),
            ignore_changes=list(request.ignoreChanges), delete_before_replace=bool(request.deleteBeforeReplace),
            retain_on_delete=bool(request.retainOnDelete),
        ) for urn, request in self.requests]
        self.requests.clear()
        return out

    def close_thread_loops(self) -> None:
        for thread_loop in self.thread_loops:
            if not thread_loop.is_running():
                thread_loop.close()
        self.thread_loops.clear()

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        return engine_urn(self.plan.stack, self.plan.project, parent, type_, name)

    def RegisterResource(self, request):
        urn = self.make_urn(request.parent, request.type, request.name)
        self.requests.append((urn, request))
        if request.type == STACK_TYPE:
            return sdk.RegisterResourceResponse(urn=urn)
        # Deserializing resource references needs an event loop on this executor thread; the mock
        # monitor's helper makes one per thread and never closes it: remember them so
        # `close_thread_loops` can (instead of the interpreter's exit, where closing a half-torn-
        # down loop prints an ignored exception).
        self.thread_loops.add(sdk.ensure_event_loop())
        resource_id, computed = computed_outputs(request.type, request.name, request.object, self.project)
        outputs = struct_pb2.Struct()
        outputs.CopyFrom(request.object)
        if computed:
            outputs.update(computed)
        return sdk.RegisterResourceResponse(urn=urn, id=resource_id, object=outputs)


def computed_outputs(type_: str, name: str, inputs, default_project: str) -> tuple[str, dict[str, str]]:
    """The id and the computed (not input) outputs the provider would report for a new resource,
    for the properties other resources of this program read. `inputs`: the serialized inputs (a
    protobuf `Struct`); a missing or non-string input is replaced by the resource's name."""

    def text(key: str, default: str) -> str:
        value = inputs.fields.get(key)
        return value.string_value if value is not None and value.HasField("string_value") else default

    project = text("project", default_project)
    if type_ == SERVICE_ACCOUNT_TYPE:
        email = f"{text('accountId', name)}@{project}.iam.gserviceaccount.com"
        resource_name = f"projects/{project}/serviceAccounts/{email}"
        return resource_name, {"email": email, "member": f"serviceAccount:{email}", "name": resource_name}
    if type_ == DATASET_TYPE:
        return f"projects/{project}/datasets/{text('datasetId', name)}", {}
    if type_ == TOPIC_TYPE:
        return f"projects/{project}/topics/{text('name', name)}", {}
    return f"{name}-id", {}


class _NoMocks(sdk.Mocks):
    """`MockMonitor` wants a `Mocks`; registrations are answered by `_RecordingMonitor` itself and
    the program makes no provider function calls."""

    def new_resource(self, args):
        raise NotImplementedError("registrations are answered by _RecordingMonitor")

    def call(self, args):
        return {}, None
