"""The scale benchmark's inputs stay valid: its generated warehouse passes `check` and plans, and
its replay program registers exactly what the plan registered (the claim plan/replay rests on).
Small N, in-process; the benchmark itself (timings) is `benchmarks/scale.py`, not a test."""

from __future__ import annotations

import gc
import importlib.util
import json
import sys
from collections import Counter
from pathlib import Path

import pytest
from google.protobuf import struct_pb2

from infra.model.load import load_for_stack
from infra.plan.runtime import computed_outputs, run_program, stack_config_strings

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def scale():
    spec = importlib.util.spec_from_file_location("scale_benchmark", ROOT / "benchmarks" / "scale.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(spec.name, None)


@pytest.fixture(scope="module")
def generated(scale, tmp_path_factory):
    return scale.generate(60, tmp_path_factory.mktemp("scale") / "n60")


def test_generated_warehouse_passes_check(generated):
    warehouse = load_for_stack(generated.root, "prod")  # raises ProblemsError listing every problem
    assert len(warehouse.queries) == 60
    assert sum(generated.counts.values()) == 60


def test_replay_registers_what_the_plan_registered(scale, generated, tmp_path):
    plan = run_program(generated.root, "prod")
    plan_json = tmp_path / "plan.json"
    plan_json.write_text(json.dumps(plan.as_json()), encoding="utf-8")
    resources = json.loads(plan_json.read_text(encoding="utf-8"))["resources"]
    # One table per query, one transfer per scheduled table (plus the backup transfers).
    counts = Counter(r["type"] for r in resources)
    assert counts["gcp:bigquery/table:Table"] == 60
    assert scale.depth(resources, with_parents=False) == 4

    replay_dir = tmp_path / "replay"
    scale.write_replay(replay_dir, plan_json)
    replayed = run_program(replay_dir, "prod", config=stack_config_strings(replay_dir, "prod")).as_json()
    assert scale.replay_differences(resources, replayed["resources"]) == []
    # The comparison is not vacuous: a changed input is reported.
    changed = json.loads(json.dumps(replayed["resources"]))
    table = next(r for r in changed if r["type"] == "gcp:bigquery/table:Table")
    table["inputs"]["description"] += " (changed)"
    assert scale.replay_differences(resources, changed) == [table["urn"]]


@pytest.mark.parametrize("same_gc", [False, True], ids=["floor", "floor-with-the-program-gc-policy"])
def test_floor_registers_as_many_resources_of_each_type(scale, generated, tmp_path, same_gc):
    plan = run_program(generated.root, "prod").as_json()
    counts = Counter(r["type"] for r in plan["resources"])
    scale.write_floor(tmp_path, counts, same_gc=same_gc)
    program = (tmp_path / "infra" / "__main__.py").read_text(encoding="utf-8")
    assert ("gc.disable()" in program) is same_gc
    floor = run_program(tmp_path, "prod", config=stack_config_strings(tmp_path, "prod")).as_json()
    assert Counter(r["type"] for r in floor["resources"]) == counts
    assert gc.isenabled()


def test_program_runs_with_the_collector_off_and_the_runtime_switches_it_back_on(monkeypatch):
    import infra.resources.program as program

    seen, declare = [], program.declare

    def spy(warehouse):
        seen.append(gc.isenabled())
        declare(warehouse)

    monkeypatch.setattr(program, "declare", spy)
    assert gc.isenabled()
    run_program(ROOT, "dev")
    assert seen == [False] and gc.isenabled()

    def fails(warehouse):
        seen.append(gc.isenabled())
        raise RuntimeError("declaring failed")

    monkeypatch.setattr(program, "declare", fails)
    with pytest.raises(Exception, match="declaring failed"):
        run_program(ROOT, "dev")
    assert seen == [False, False] and gc.isenabled()


def _struct(values: dict) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.update(values)
    return s


def test_computed_outputs_of_a_service_account_dataset_and_topic():
    rid, out = computed_outputs("gcp:serviceaccount/account:Account", "runner",
                                _struct({"accountId": "wh-runner", "project": "p1"}), "default")
    assert out["email"] == "wh-runner@p1.iam.gserviceaccount.com"
    assert out["member"] == "serviceAccount:wh-runner@p1.iam.gserviceaccount.com"
    assert rid == out["name"] == "projects/p1/serviceAccounts/wh-runner@p1.iam.gserviceaccount.com"
    assert computed_outputs("gcp:bigquery/dataset:Dataset", "mart", _struct({"datasetId": "prod_mart"}),
                            "p2") == ("projects/p2/datasets/prod_mart", {})
    assert computed_outputs("gcp:pubsub/topic:Topic", "t", _struct({"name": "runs"}), "p3")[0] == \
        "projects/p3/topics/runs"
    assert computed_outputs("gcp:bigquery/table:Table", "t1", _struct({}), "p") == ("t1-id", {})


def test_computed_outputs_without_the_inputs_they_read_fall_back_to_the_name():
    # A missing or non-string input (an unknown during preview, say) must not fail the registration.
    _, out = computed_outputs("gcp:serviceaccount/account:Account", "sa", _struct({"accountId": 3}), "p")
    assert out["email"] == "sa@p.iam.gserviceaccount.com"
    assert computed_outputs("gcp:bigquery/dataset:Dataset", "ds", _struct({}), "p")[0] == "projects/p/datasets/ds"
