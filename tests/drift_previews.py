"""Preview documents in the shape `pulumi preview --refresh --show-sames --json` prints, built from
the offline plan, for the drift review's tests (tests/test_drift.py) and its fixtures
(tests/fixtures/drift/, written by `python -m tests.drift_previews`).

Each rule below names the source it follows: pulumi/pulumi at 1b5949891b3cefcb9974752b24a5ecef0acc86c8
(the engine), and hashicorp/terraform-provider-google at e03b7622a26cf4e878f90bdccaca6aa3d03a7999
(TF, which pulumi-gcp bridges). docs/real-world.md records them ("preview-*" lines).

R1  One pretty-printed `PreviewDigest`: `steps`, `diagnostics`, `duration` (nanoseconds),
    `changeSummary`, all omitted when empty; a step is `op`, `urn`, `provider`, `oldState`,
    `newState`, `diffReasons`, `replaceReasons` and `detailedDiff` (always there, null when none).
    pkg/display/json.go:25-84, pkg/backend/display/json.go:267-314.
R2  States are checkpoint resources (`ResourceV3`): `urn`, `custom`, `type`, and when set `id`,
    `inputs`, `outputs`, `parent`, `protect`, `dependencies`, `provider`. sdk/go/common/apitype/core.go:489-565.
R3  With `--refresh`, every resource of the checkpoint first gets a step `op: "refresh"` whose
    `oldState` and `newState` are both the state BEFORE the refresh, `detailedDiff` null: the
    refresh's result never reaches the document in a preview. pkg/resource/deploy/step.go
    (NewRefreshStep: new = old), pkg/backend/display/json.go:206-234, pkg/engine/update.go:1554-1585.
R4  The refreshed state becomes the base of the preview: each program step's `oldState` is what
    the cloud holds now. pkg/resource/deploy/deployment_executor.go (rebuildBaseState).
R5  A resource deleted outside: its `refresh` step, then (if the program still declares it) a
    `create` with no `oldState`; no `delete` step. step.go:1616-1620, deployment_executor.go:902-920.
R6  `same` steps are shown only with `--show-sames`; the root stack always. pkg/backend/display/display.go:307-328.
R7  `detailedDiff` keys are property paths: `labels["managed-by"]`, `accesses[3]`, `params.query`;
    kinds `add`, `delete`, `update` and their `-replace` forms, seen from the cloud's value to the
    files'. sdk/go/common/resource/properties_path.go:578-612, sdk/go/common/resource/plugin/provider.go:633-651.
R8  `diffReasons` are the changed top-level keys, `replaceReasons` those forcing a replacement;
    ForceNew: a dataset's `datasetId`, `project`, `location`; a table's `datasetId`, `tableId`,
    `project`, `timePartitioning.field`; a transfer config's `dataSourceId`, `location`, `project`.
    TF resource_bigquery_dataset.go, resource_bigquery_table.go, resource_bigquery_data_transfer_config.go.
R9  A replacement's hidden steps (`create-replacement`, `delete-replaced`) are not shown without
    `--show-replacement-steps`; the logical `replace` is. display.go:307-328.
R10 Replacing a protected resource: in a preview, an error diagnostic on its URN ("unable to
    replace resource ... as it is currently marked for protection ...") and the `replace` step
    still shown. pkg/resource/deploy/step_generator.go:1955-1970.
R11 Secrets are the string "[secret]" in every state, at any depth. pkg/backend/display/json.go:48-71.
R12 A diagnostic is `{urn?, message, severity}`, the prefix folded into the message
    ("error: ...\\n"). pkg/backend/display/json.go:185-205, pkg/engine/eventsink.go:99-137.
R13 `changeSummary` counts the logical steps by op; refresh steps are not counted. update.go:1554-1576.
R14 An `import` step (the `import` resource option) has no `oldState`. pkg/resource/deploy/step.go:1916-1931.
"""

from __future__ import annotations

import copy
import hashlib
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from infra.ops.drift.preview import parse_path

STACK_TYPE = "pulumi:pulumi:Stack"
PROVIDER = "urn:pulumi:{stack}::warehouse::pulumi:providers:gcp::default_10_2_0::04da6b54-80e4-46f7-96ec-b56ff0331ba9"
FORCE_NEW = {  # R8
    "gcp:bigquery/dataset:Dataset": {("datasetId",), ("project",), ("location",)},
    "gcp:bigquery/table:Table": {("datasetId",), ("tableId",), ("project",), ("timePartitioning", "field")},
    "gcp:bigquery/dataTransferConfig:DataTransferConfig": {("dataSourceId",), ("location",), ("project",)},
}
SET_PROPERTIES = {"accesses"}  # TypeSet in TF: elements are compared as a set
# The resources a fixture keeps of the plan (with their components and the stack): enough for every case.
KEPT = ("mart-dataset", "reporting-dataset", "mart.revenue_mrr-table", "mart.revenue_mrr-transfer",
        "reporting.mrr_daily-view", "scheduling-topic")
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "drift"


def _id_of(r) -> str:
    inputs = r.inputs
    if r.type == "gcp:bigquery/dataset:Dataset":
        return f"projects/{inputs['project']}/datasets/{inputs['datasetId']}"
    if r.type == "gcp:bigquery/table:Table":
        return f"projects/{inputs['project']}/datasets/{inputs['datasetId']}/tables/{inputs['tableId']}"
    if r.type == "gcp:bigquery/dataTransferConfig:DataTransferConfig":
        digest = hashlib.sha256(r.urn.encode()).hexdigest()[:16]
        return f"projects/804213975511/locations/us/transferConfigs/{digest}"
    return f"projects/{inputs.get('project', 'acme')}/{r.name}"


def _outputs(r, inputs: dict, id_: str) -> dict:
    """What the provider keeps as outputs: the inputs, the id, and computed fields."""
    out = {**copy.deepcopy(inputs), "id": id_}
    if "labels" in inputs:
        # TF's derived label maps: the provider's and the stack's defaults merged (SetLabelsDiff).
        out["effectiveLabels"] = dict(inputs["labels"])
        out["terraformLabels"] = dict(inputs["labels"])
        out["pulumiLabels"] = dict(inputs["labels"])
    if r.type == "gcp:bigquery/dataset:Dataset":
        out.update(creationTime=1767225600000, etag="etag-ds", selfLink=f"https://bigquery.googleapis.com/{id_}")
    elif r.type == "gcp:bigquery/table:Table":
        out.update(creationTime=1767225600000, etag="etag-t", numRows=1204, numBytes=65536, type="VIEW"
                   if "view" in inputs else "TABLE", lastModifiedTime=1767225600000)
    elif r.type == "gcp:bigquery/dataTransferConfig:DataTransferConfig":
        out["name"] = id_
    return out


def state_of(r, stack: str, inputs: dict | None = None) -> dict:
    """R2: the checkpoint state of a plan resource."""
    inputs = copy.deepcopy(r.inputs if inputs is None else inputs)
    state = {"urn": r.urn, "custom": r.custom, "type": r.type}
    if r.custom:
        id_ = _id_of(r)
        state.update(id=id_, inputs=inputs, outputs=_outputs(r, inputs, id_), provider=PROVIDER.format(stack=stack))
    else:
        state.update(inputs={}, outputs={})
    if r.parent:
        state["parent"] = r.parent
    if r.protect:
        state["protect"] = True
    if r.dependencies:
        state["dependencies"] = list(r.dependencies)
    return state


@dataclass
class World:
    """One stack seen three ways: the checkpoint (the state of the last `up`), the cloud (what a
    refresh reads now) and the goal (what the files declare now), states by URN in program order."""

    stack: str
    checkpoint: dict[str, dict]
    cloud: dict[str, dict]
    goal: dict[str, dict]
    ignore_changes: dict[str, list[str]] = field(default_factory=dict)
    imports: set[str] = field(default_factory=set)  # goal URNs the program imports (R14)
    secret_paths: dict[str, list[tuple]] = field(default_factory=dict)  # R11: URN -> paths shown "[secret]"
    diagnostics: list[dict] = field(default_factory=list)
    program_fails: bool = False  # the program raised: no program steps but the stack's

    def by_name(self, name: str, where: str = "goal") -> dict:
        states = getattr(self, where)
        return next(s for u, s in states.items() if u.split("::")[-1] == name)

    def urn(self, name: str) -> str:
        return next(u for u in {**self.checkpoint, **self.goal} if u.split("::")[-1] == name)


def world_from_plan(plan, names: tuple[str, ...] = KEPT) -> World:
    """The checkpoint, cloud and goal of a stack whose last `up` applied the plan: all three equal."""
    by_urn = {r.urn: r for r in plan.resources}
    kept: set[str] = set()
    for r in plan.resources:
        if r.name in names:
            urn = r.urn
            while urn in by_urn:
                kept.add(urn)
                urn = by_urn[urn].parent
    # The plan's registration order varies between runs (the SDK registers asynchronously): the
    # stack first, then by URN, so that a fixture is the same every time.
    ordered = sorted((r for r in plan.resources if r.urn in kept), key=lambda r: (r.type != STACK_TYPE, r.urn))
    states = {r.urn: state_of(r, plan.stack) for r in ordered}
    for state in states.values():
        state["dependencies"] = [d for d in state.get("dependencies", []) if d in kept] or None
        if state["dependencies"] is None:
            del state["dependencies"]
    return World(plan.stack, copy.deepcopy(states), copy.deepcopy(states), copy.deepcopy(states),
                 {r.urn: list(r.ignore_changes) for r in plan.resources if r.urn in kept and r.ignore_changes})


# --- diffing, as the provider reports it (R7, R8) ---------------------------------------------------------

def _path(segments: tuple) -> str:
    out = ""
    for i, s in enumerate(segments):
        if isinstance(s, int):
            out += f"[{s}]"
        elif s.replace("_", "a").isalnum() and s[:1].isalpha():
            out += s if i == 0 else f".{s}"
        else:
            out += f'["{s}"]'
    return out


def _diff(old, new, prefix: tuple, out: dict[tuple, str]) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new)):
            if key not in new:
                out[prefix + (key,)] = "delete"
            elif key not in old:
                out[prefix + (key,)] = "add"
            else:
                _diff(old[key], new[key], prefix + (key,), out)
        return
    if prefix and prefix[-1] in SET_PROPERTIES and isinstance(old, list) and isinstance(new, list):
        olds = [json.dumps(e, sort_keys=True) for e in old]
        news = [json.dumps(e, sort_keys=True) for e in new]
        for i, e in enumerate(olds):
            if e not in news:
                out[prefix + (i,)] = "delete"
        for j, e in enumerate(news):
            if e not in olds:
                out[prefix + (j,)] = "add"
        return
    if old != new:
        out[prefix] = "update"


def input_diff(old_inputs: dict, new_inputs: dict, ignore: list[str]) -> dict[tuple, str]:
    out: dict[tuple, str] = {}
    _diff(old_inputs, new_inputs, (), out)
    return {k: v for k, v in out.items() if k and str(k[0]) not in ignore}


# --- the document ------------------------------------------------------------------------------------------

def _masked(state: dict | None, paths: list[tuple]) -> dict | None:
    if state is None or not paths:
        return state
    state = copy.deepcopy(state)
    for part in ("inputs", "outputs"):
        for path in paths:
            node = state.get(part)
            for segment in path[:-1]:
                node = node.get(segment) if isinstance(node, dict) else None
            if isinstance(node, dict) and path[-1] in node:
                node[path[-1]] = "[secret]"
    return state


def _step(op: str, urn: str, old: dict | None, new: dict | None, detailed: dict | None = None,
          replace_keys: list[str] | None = None, provider: str | None = None) -> dict:
    step: dict = {"op": op, "urn": urn}
    if provider:
        step["provider"] = provider
    if old is not None:
        step["oldState"] = old
    if new is not None:
        step["newState"] = new
    if detailed:
        step["diffReasons"] = sorted({str(parse_path(k)[0]) for k in detailed})
        if replace_keys:
            step["replaceReasons"] = sorted(replace_keys)
    step["detailedDiff"] = detailed or None
    return step


def document(world: World, *, show_sames: bool = True, duration_ns: int = 41_500_000_000) -> dict:
    steps: list[dict] = []
    secret = world.secret_paths
    for urn, state in world.checkpoint.items():  # R3
        s = _masked(state, secret.get(urn, []))
        steps.append(_step("refresh", urn, s, copy.deepcopy(s), provider=state.get("provider")))
    summary: dict[str, int] = {}
    goal = world.goal if not world.program_fails else {u: s for u, s in world.goal.items()
                                                        if s["type"] == STACK_TYPE}
    for urn, new in goal.items():
        old = world.cloud.get(urn)  # R4
        provider = new.get("provider")
        if urn in world.imports:  # R14
            step = _step("import", urn, None, _masked(new, secret.get(urn, [])), provider=provider)
        elif old is None:  # R5 (deleted outside) or declared anew
            step = _step("create", urn, None, _masked({**new, "outputs": {}}, secret.get(urn, [])), provider=provider)
        else:
            changes = input_diff(old.get("inputs") or {}, new.get("inputs") or {}, world.ignore_changes.get(urn, []))
            forcing = {k for k in changes if any(k[:len(f)] == f for f in FORCE_NEW.get(new["type"], ()))}
            if not changes:
                if not show_sames and new["type"] != STACK_TYPE:  # R6
                    continue
                same_new = {**new, "outputs": old.get("outputs", {})}
                step = _step("same", urn, _masked(old, secret.get(urn, [])), _masked(same_new, secret.get(urn, [])),
                             provider=provider)
            else:
                detailed = {_path(k): {"kind": v + ("-replace" if k in forcing else ""), "inputDiff": True}
                            for k, v in sorted(changes.items(), key=lambda kv: _path(kv[0]))}
                op = "replace" if forcing else "update"  # R9: the hidden replacement steps are not shown
                step = _step(op, urn, _masked(old, secret.get(urn, [])),
                             _masked({**new, "outputs": {}}, secret.get(urn, [])), detailed,
                             sorted({str(k[0]) for k in forcing}), provider=provider)
                if op == "replace" and old.get("protect") and new.get("protect"):  # R10
                    world.diagnostics.append({"urn": urn, "message": (
                        f"error: unable to replace resource \"{urn}\"\nas it is currently marked for protection. To "
                        "unprotect the resource, remove the `protect` flag from the resource in your Pulumi program "
                        "and run `pulumi up`\n"), "severity": "error"})
        steps.append(step)
        if step["op"] != "refresh":
            summary[step["op"]] = summary.get(step["op"], 0) + 1  # R13
    if not world.program_fails:
        for urn, old in world.cloud.items():  # declared no more: deleted by the next `up`
            if urn not in world.goal:
                steps.append(_step("delete", urn, _masked(old, secret.get(urn, [])), None,
                                   provider=old.get("provider")))
                summary["delete"] = summary.get("delete", 0) + 1
    out: dict = {"steps": steps}
    if world.diagnostics:
        out["diagnostics"] = world.diagnostics
    out["duration"] = duration_ns
    if summary:
        out["changeSummary"] = summary
    return out


# --- the cases -------------------------------------------------------------------------------------------

def _set(state: dict, path: tuple, value) -> None:
    for part in ("inputs", "outputs"):
        node = state[part]
        for segment in path[:-1]:
            node = node.setdefault(segment, {})
        if value is None:
            node.pop(path[-1], None)
        else:
            node[path[-1]] = copy.deepcopy(value)
        if part == "outputs" and path[0] == "labels":  # the derived maps follow `labels` (R1 of TF labels)
            for derived in ("effectiveLabels", "terraformLabels", "pulumiLabels"):
                state["outputs"][derived] = dict(state["outputs"].get("labels") or {})


def _acl(state: dict) -> list[dict]:
    return state["inputs"]["accesses"]


def _set_acl(state: dict, entries: list[dict]) -> None:
    _set(state, ("accesses",), entries)


@dataclass(frozen=True)
class Case:
    name: str
    stack: str  # whose plan
    change: Callable[[World], None]
    show_sames: bool = True
    about: str = ""


def _acl_added(w: World) -> None:
    s = w.by_name("mart-dataset", "cloud")
    _set_acl(s, [*_acl(s), {"role": "OWNER", "userByEmail": "alice@acme.com"}])


def _acl_removed(w: World) -> None:
    s = w.by_name("mart-dataset", "cloud")
    _set_acl(s, [e for e in _acl(s) if e.get("groupByEmail") != "data-readers@acme.com"])


def _acl_role_changed(w: World) -> None:
    s = w.by_name("mart-dataset", "cloud")
    _set_acl(s, [{**e, "role": "OWNER"} if e.get("groupByEmail") == "data-analysts@acme.com" else e for e in _acl(s)])


def _sql_edited(w: World) -> None:
    s = w.by_name("mart.revenue_mrr-transfer", "cloud")
    query = s["inputs"]["params"]["query"].replace("SUM(", "SUM(DISTINCT ", 1)
    _set(s, ("params", "query"), query)


def _schedule_changed(w: World) -> None:
    _set(w.by_name("mart.revenue_mrr-transfer", "cloud"), ("schedule",), "every day 09:10")


def _transfer_disabled(w: World) -> None:
    _set(w.by_name("mart.revenue_mrr-transfer", "cloud"), ("disabled",), True)


def _labels_changed(w: World) -> None:
    s = w.by_name("mart-dataset", "cloud")
    labels = dict(s["inputs"]["labels"])
    labels["environment"] = "production"  # changed
    labels["cost-center"] = "data"  # added
    del labels["layer"]  # removed
    _set(s, ("labels",), labels)


def _deleted(name: str) -> Callable[[World], None]:
    def change(w: World) -> None:
        del w.cloud[w.urn(name)]
    return change


def _dataset_deleted(w: World) -> None:
    # deleting a dataset deletes what is in it
    dataset_id = w.by_name("reporting-dataset", "cloud")["inputs"]["datasetId"]
    for urn, state in list(w.cloud.items()):
        if (state.get("inputs") or {}).get("datasetId") == dataset_id:
            del w.cloud[urn]


def _schema_changed(w: World) -> None:
    # a column added in the console: the table's schema is under ignore_changes
    s = w.by_name("mart.revenue_mrr-table", "cloud")
    schema = json.loads(s["inputs"]["schema"])
    _set(s, ("schema",), json.dumps([*schema, {"name": "note", "type": "STRING", "mode": "NULLABLE"}]))


def _deleted_and_undeclared(w: World) -> None:
    urn = w.urn("reporting.mrr_daily-view")
    del w.cloud[urn], w.goal[urn]
    del w.goal[w.urn("reporting.mrr_daily")]  # its component too: the view's files were removed


def _repartitioned(w: World) -> None:
    # the table was recreated by hand partitioned on another column
    _set(w.by_name("mart.revenue_mrr-table", "cloud"), ("timePartitioning", "field"), "customer_since")


def _files_changed(w: World) -> None:
    _set(w.by_name("mart-dataset", "goal"), ("description",), "The marts, rebuilt nightly.")
    _set(w.by_name("mart.revenue_mrr-transfer", "goal"), ("schedule",), "every day 04:40")


def _imported(w: World) -> None:
    urn = w.urn("reporting.mrr_daily-view")
    del w.checkpoint[urn], w.cloud[urn]  # made by hand, adopted by the files with `import`
    w.imports.add(urn)


def _diagnostics_only(w: World) -> None:
    w.checkpoint.clear(), w.cloud.clear(), w.goal.clear()
    w.diagnostics.append({"message": "error: could not load plugin for gcp provider 'default_10_2_0': no resource "
                                     "plugin 'pulumi-resource-gcp' found in the workspace at version v10.2.0\n",
                          "severity": "error"})


def _program_exception(w: World) -> None:
    w.program_fails = True
    w.diagnostics.append({"message": "error: Program failed with an unhandled exception:\nTraceback (most recent call "
                                     "last):\n  File \"infra/__main__.py\", line 12\nKeyError: 'warehouse:location'\n",
                          "severity": "error"})
    w.diagnostics.append({"message": "Running program '/work/infra' failed with an unhandled exception.\n",
                          "severity": "info#err"})


def _secret_edited(w: World) -> None:
    _sql_edited(w)
    urn = w.urn("mart.revenue_mrr-transfer")
    w.secret_paths[urn] = [("params", "query")]


def _nothing(w: World) -> None:
    w.diagnostics.append({"message": "warning: provider gcp: the `region` config is not set\n", "severity": "warning"})


CASES = (
    Case("acl_entry_added", "prod", _acl_added, about="an individual made OWNER of production_mart in the console"),
    Case("acl_entry_removed", "prod", _acl_removed, about="the readers' group taken off production_mart"),
    Case("acl_role_changed", "prod", _acl_role_changed, about="the analysts' group made OWNER instead of WRITER"),
    Case("sql_edited", "prod", _sql_edited, about="a scheduled query's SQL edited in the console"),
    Case("schedule_changed", "prod", _schedule_changed, about="its schedule changed in the console"),
    Case("transfer_disabled", "prod", _transfer_disabled, about="the scheduled query paused in the console"),
    Case("labels_changed", "prod", _labels_changed, about="a dataset's labels changed, added and removed"),
    Case("table_deleted", "prod", _deleted("mart.revenue_mrr-table"), about="a table dropped by hand"),
    Case("view_deleted", "prod", _deleted("reporting.mrr_daily-view"), about="a view dropped by hand"),
    Case("dataset_deleted", "prod", _dataset_deleted, about="a dataset deleted by hand (its view with it)"),
    Case("schema_changed", "prod", _schema_changed, about="a column added in the console (schema: ignore_changes)"),
    Case("deleted_and_undeclared", "prod", _deleted_and_undeclared,
         about="a view dropped by hand whose files were removed too"),
    Case("transfer_deleted", "prod", _deleted("mart.revenue_mrr-transfer"), about="a scheduled query deleted"),
    Case("replace_protected", "prod", _repartitioned, about="a table recreated partitioned differently (prod)"),
    Case("replace_unprotected", "dev", _repartitioned, about="the same in dev, where nothing is protected"),
    Case("not_applied", "prod", _files_changed, about="the files changed and no `up` ran yet"),
    Case("import", "prod", _imported, about="the files adopt a view made by hand with `import`"),
    Case("diagnostics_only", "prod", _diagnostics_only, about="a plugin failed to load: no step"),
    Case("program_exception", "prod", _program_exception, about="the program raised"),
    Case("secret", "prod", _secret_edited, about="a drifted value the provider marks secret"),
    Case("no_drift", "prod", _nothing, about="nothing changed; a warning only"),
    Case("no_drift_without_sames", "prod", _nothing, show_sames=False, about="the same, without --show-sames"),
)


def build(case: Case, plans: dict) -> dict:
    world = world_from_plan(plans[case.stack])
    case.change(world)
    if case.name == "diagnostics_only":
        return {"diagnostics": world.diagnostics}
    return document(world, show_sames=case.show_sames)


def write_fixtures(plans: dict) -> list[Path]:
    FIXTURES.mkdir(parents=True, exist_ok=True)
    written = []
    for case in CASES:
        path = FIXTURES / f"{case.name}.json"
        path.write_text(json.dumps(build(case, plans), indent=4) + "\n", encoding="utf-8")  # R1: 4 spaces
        written.append(path)
    (FIXTURES / "empty.json").write_text("{}\n", encoding="utf-8")
    return written


if __name__ == "__main__":
    from infra.plan.runtime import run_program

    root = Path(__file__).resolve().parent.parent
    paths = write_fixtures({s: run_program(root, s) for s in ("prod", "dev")})
    print(f"wrote {len(paths) + 1} fixtures into {FIXTURES}", file=sys.stderr)
