"""Scale benchmark of `check` and `plan` (issue "Performance: plan and check at scale").

For each N (default 100, 1000, 3000 tables) this script:

1. generates a synthetic warehouse in the project's own file format in a temporary directory: a
   copy of the real project (stack files, `infra/`, `datasets/`, `roles/`, `backups/`, the run
   date fixture, the layer and folder `_defaults.yaml` files) plus N generated scheduled queries
   and views under `scheduled_queries/<layer>/<folder>/<name>.{sql,yaml}`:
   ~40% staging tables reading the raw sources, ~50% mart/ML tables reading 1-3 staging tables or
   earlier marts (levels 1-3, scheduled 04:10 / 05:10 / 06:10 after staging at 03:10), ~10%
   reporting views over marts; every YAML declares exactly the SELECT's columns, in order;
2. measures, each in a fresh child process: `check --stack prod` wall time, `plan --stack prod
   --quiet --json FILE` wall time and peak RSS (from `os.wait4`'s rusage of that child), the
   resource count and the depth of the dependency graph (from the JSON);
3. measures the floor: a child process that registers the same number of resources of the same
   types under the same mock runtime (`infra.plan.runtime.run_program`), from a generated
   program with minimal inputs and no loading, analysis or components; and the same floor
   program with the warehouse program's garbage-collector policy (collector off once loaded),
   the like-for-like reference;
4. measures the replay: a child process that registers exactly the plan's resources (same
   types, names, inputs, parents and dependencies, read back from the plan JSON) under the same
   runtime, with no loading, analysis or components, and checks that it registered the same
   inputs; plan/replay is what loading, analysis and the components cost on top of the SDK's
   own cost of these registrations;
5. prints a table and the issue's targets.

Each child runs `--repeat` times (default 3) and the fastest run is reported (the machine's
noise only ever adds time); peak memory is the largest of the runs.

Run: `.venv/bin/python benchmarks/scale.py [--sizes 100,1000,3000] [--repeat 3] [--keep DIR] [--profile N]`.
Deterministic: a fixed seed per N; the temporary directories are removed at exit.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
SEED = 20261102
CHILD_TIMEOUT = 900  # seconds, per child process

# Copied from the real project (see tests/conftest.py::copy_project).
PROJECT_PARTS = ("Pulumi.yaml", "infra", "datasets", "roles", "backups", "platform", "tests/fixtures/_run.yaml")

MART_FOLDERS = ("core", "marketing", "product", "revenue", "spam", "support", "ua")
ML_FOLDERS = ("features",)
REPORTING_FOLDERS = ("tableau",)
# Raw source name -> staging folder (as in the real scheduled_queries/staging/).
STAGING_FOLDER = {"amplitude": "amplitude", "apollo": "apollo", "firestore": "backend", "ga4": "ga4",
                  "hubspot": "hubspot", "refiner": "refiner", "stripe": "stripe"}
MART_LEVEL_SCHEDULE = {1: "every day 04:10", 2: "every day 05:10", 3: "every day 06:10"}
ML_SCHEDULE = {2: "every day 05:10", 3: "every day 06:10"}

TARGETS = {"plan_floor_1000": 1.25, "growth": 3.3, "check_3000_s": 10.0, "peak_3000_mb": 1536.0, "depth": 6}


# --------------------------------------------------------------------------------------------
# Generation


@dataclass
class Table:
    key: str  # dataset.table, as SQL names it
    columns: list[tuple[str, str]]  # (name, BigQuery type)
    level: int = 0  # 0 staging, 1.. marts


@dataclass
class Generated:
    root: Path
    files: int
    counts: Counter = field(default_factory=Counter)


def _raw_sources() -> list[tuple[str, str, list[tuple[str, str]], str | None]]:
    """(source, table, [(column, type)], partition column) of every raw source table."""
    out = []
    for path in sorted((ROOT / "datasets" / "sources").glob("*.yaml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        for table, t in (doc.get("tables") or {}).items():
            # The generated tables are flat: nested and repeated columns are left out.
            cols = [(c["name"], c["type"]) for c in t["columns"]
                    if c["type"] not in ("STRUCT", "RECORD") and c.get("mode") != "REPEATED"]
            out.append((path.stem, table, cols, t.get("partition_column")))
    return out


def _copy_project(dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    for part in PROJECT_PARTS:
        src = ROOT / part
        (dest / part).parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dest / part, ignore=shutil.ignore_patterns("__pycache__"))
        elif src.exists():
            shutil.copy2(src, dest / part)
    for stack_file in ROOT.glob("Pulumi.*.yaml"):
        shutil.copy2(stack_file, dest / stack_file.name)
    # The real one-off copies name real tables, which a generated warehouse does not have.
    (dest / "backups" / "one_off_copies.yaml").write_text("copies: {}\n", encoding="utf-8")
    # The folder defaults (dataset, schedule, kind) of the real scheduled_queries/.
    for defaults in (ROOT / "scheduled_queries").rglob("_defaults.yaml"):
        target = dest / defaults.relative_to(ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(defaults, target)


def _yaml_columns(columns: list[tuple[str, str]]) -> str:
    return "".join(f"  - {{name: {n}, type: {t}, description: Generated column {n}.}}\n" for n, t in columns)


def _write(folder: Path, name: str, sql: str, yaml_text: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.sql").write_text(sql, encoding="utf-8")
    (folder / f"{name}.yaml").write_text(yaml_text, encoding="utf-8")


def generate(n: int, dest: Path) -> Generated:
    rng = random.Random(SEED + n)
    _copy_project(dest)
    sq = dest / "scheduled_queries"
    sources = _raw_sources()
    n_staging = max(1, round(n * 0.4))
    n_views = max(1, round(n * 0.1))
    n_marts = max(1, n - n_staging - n_views)
    gen = Generated(dest, 0)

    # Staging: one SELECT over one raw table, typed, with a STRING entity_id as the join key.
    staging: list[Table] = []
    for i in range(n_staging):
        source, raw, cols, partition = sources[i % len(sources)]
        name = f"stg_{source}_{raw}_{i:05d}"
        key_col = cols[0][0]
        picked = [c for c in cols[1:] if c[1] != "JSON"]
        picked = rng.sample(picked, k=min(len(picked), rng.randint(2, 6)))
        out_cols = [("entity_id", "STRING")]
        lines = [f"  CAST(s.{key_col} AS STRING) AS entity_id"]
        for c, t in picked:
            lines.append(f"  s.{c} AS {c}")
            out_cols.append((c, t))
        extra_yaml = ""
        where = ""
        if partition:
            # The cost guard: one day of the partitioned source, filtered on the alias.
            lines.insert(0, f"  DATE(s.{partition}) AS event_date")
            out_cols.insert(0, ("event_date", "DATE"))
            where = f"WHERE DATE(s.{partition}) = DATE_SUB(@run_date, INTERVAL 1 DAY)\n"
            extra_yaml = "incremental: true\npartitioning: {field: event_date, type: DAY}\n"
        sql = (f"-- Generated staging table {name} from {source}.{raw}.\nSELECT\n" + ",\n".join(lines)
               + f"\nFROM {source}.{raw} AS s\n" + where)
        yml = (f"description: Generated staging table {i} from {source}.{raw}.\n{extra_yaml}"
               f"clustering: [entity_id]\ncolumns:\n" + _yaml_columns(out_cols))
        _write(sq / "staging" / STAGING_FOLDER[source], name, sql, yml)
        staging.append(Table(f"stg_external.{name}", out_cols, 0))
        gen.counts["staging"] += 1

    # Marts (and ML): levels 1-3; level L reads 1-3 inputs, at least one of level L-1.
    marts_by_level: dict[int, list[Table]] = {0: staging, 1: [], 2: [], 3: []}
    n_ml = n_marts // 10
    for i in range(n_marts):
        is_ml = i >= n_marts - n_ml
        # ~50% level 1, ~30% level 2, ~20% level 3 (a level needs the one before it).
        r = rng.random()
        level = 1 if (r < 0.5 or not marts_by_level[1]) else 2 if (r < 0.8 or not marts_by_level[2]) else 3
        if is_ml:
            level = max(level, 2)
            if not marts_by_level[level - 1]:
                level = 2
        first = rng.choice(marts_by_level[level - 1])
        pool = [t for lv in range(0, level) for t in marts_by_level[lv][-200:]]
        inputs = [first] + [t for t in rng.sample(pool, k=min(len(pool), rng.randint(0, 2))) if t is not first]
        inputs = list({t.key: t for t in inputs}.values())
        if is_ml:
            folder_path, dataset, sched = sq / "ml" / rng.choice(ML_FOLDERS), "ml", ML_SCHEDULE[level]
            name = f"ml_gen_{i:05d}"
        else:
            folder = rng.choice(MART_FOLDERS)
            folder_path, dataset, sched = sq / "mart" / folder, "mart", MART_LEVEL_SCHEDULE[level]
            name = f"{folder}_gen_{i:05d}"
        out_cols = [("entity_id", "STRING")]
        lines = ["  t0.entity_id AS entity_id"]
        for j, t in enumerate(inputs):
            for c, typ in t.columns[1:3]:
                alias = f"t{j}_{c}"
                lines.append(f"  t{j}.{c} AS {alias}")
                out_cols.append((alias, typ))
        lines.append("  COUNT(*) AS row_count")
        out_cols.append(("row_count", "INT64"))
        group = ", ".join(str(k + 1) for k in range(len(out_cols) - 1))
        froms = f"FROM {inputs[0].key} AS t0\n" + "".join(
            f"LEFT JOIN {t.key} AS t{j} ON t{j}.entity_id = t0.entity_id\n" for j, t in enumerate(inputs) if j)
        sql = (f"-- Generated level-{level} table {name}.\nSELECT\n" + ",\n".join(lines) + "\n" + froms
               + f"GROUP BY {group}\n")
        sched_line = "" if (dataset == "mart" and level == 1) or (dataset == "ml" and level == 2) \
            else f"schedule: {sched}\n"
        yml = (f"description: Generated level-{level} {dataset} table {i}.\n{sched_line}"
               f"clustering: [entity_id]\ncolumns:\n" + _yaml_columns(out_cols))
        _write(folder_path, name, sql, yml)
        table = Table(f"{dataset}.{name}", out_cols, level)
        if dataset == "mart":
            marts_by_level[level].append(table)
        gen.counts[f"{dataset}_level{level}"] += 1

    # Reporting views over 1-2 marts.
    all_marts = [t for lv in (1, 2, 3) for t in marts_by_level[lv]]
    for i in range(n_views):
        inputs = rng.sample(all_marts, k=min(len(all_marts), rng.randint(1, 2)))
        name = f"view_gen_{i:05d}"
        out_cols = [("entity_id", "STRING")]
        lines = ["  v0.entity_id AS entity_id"]
        for j, t in enumerate(inputs):
            c, typ = t.columns[-1]
            lines.append(f"  v{j}.{c} AS v{j}_{c}")
            out_cols.append((f"v{j}_{c}", typ))
        froms = f"FROM {inputs[0].key} AS v0\n" + "".join(
            f"JOIN {t.key} AS v{j} ON v{j}.entity_id = v0.entity_id\n" for j, t in enumerate(inputs) if j)
        sql = f"-- Generated reporting view {name}.\nSELECT\n" + ",\n".join(lines) + "\n" + froms
        yml = f"description: Generated reporting view {i}.\ncolumns:\n" + _yaml_columns(out_cols)
        _write(sq / "reporting" / rng.choice(REPORTING_FOLDERS), name, sql, yml)
        gen.counts["views"] += 1

    # A dataset lists only the folders that hold queries: `check` refuses a listed folder with no directory.
    for layer in ("mart", "ml"):
        path = dest / "datasets" / f"{layer}.yaml"
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        doc["folders"] = [f for f in doc["folders"] if (sq / layer / f).is_dir()]
        path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")

    gen.files = sum(1 for p in dest.rglob("*") if p.is_file() and "infra" not in p.relative_to(dest).parts)
    return gen


# --------------------------------------------------------------------------------------------
# Measuring child processes


@dataclass
class ChildRun:
    seconds: float
    peak_mb: float
    returncode: int
    stdout: str
    stderr: str


def run_child(args: list[str], cwd: Path, timeout: float = CHILD_TIMEOUT) -> ChildRun:
    """Run one child, return its wall time and its own peak RSS (rusage of that pid only)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        env = {**os.environ, "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1"}
        start = time.perf_counter()
        proc = subprocess.Popen(args, cwd=cwd, stdout=out, stderr=err, env=env, start_new_session=True)
        timer = threading.Timer(timeout, lambda: os.killpg(proc.pid, signal.SIGKILL))
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return ChildRun(seconds, usage.ru_maxrss / 1024, proc.returncode,
                        out.read().decode(errors="replace"), err.read().decode(errors="replace"))


def depth(resources: list[dict], with_parents: bool) -> int:
    """Nodes on the longest path of the DAG (a resource with no dependency has depth 1)."""
    edges = {r["urn"]: list(r.get("dependencies") or []) + ([r["parent"]] if with_parents and r.get("parent")
                                                            else []) for r in resources}

    @cache
    def d(urn: str) -> int:
        return 1 + max((d(u) for u in edges.get(urn, ()) if u in edges), default=0)

    sys.setrecursionlimit(max(10_000, 4 * len(edges)))
    return max((d(u) for u in edges), default=0)


# --------------------------------------------------------------------------------------------
# The floor: same number and types of resources, minimal inputs, same mock runtime.
# `{gc}`: what the program does with the garbage collector once it has imported what it needs.
# The floor proper keeps the `gc.freeze()` it has had from the first measurements; the
# like-for-like floor does what the warehouse program does (infra/resources/program.py).
FLOOR_GC = "gc.freeze()  # imported modules out of the collector's passes"
SAME_GC = "gc.collect()\ngc.disable()  # as the warehouse program does once it has loaded its declarations"

FLOOR_PROGRAM = '''\
"""Generated floor program: registers {total} resources with minimal inputs."""
import gc
import importlib
import inspect
import json
import pathlib

import pulumi
import pulumi_gcp  # noqa: F401 - the real program imports it too

COUNTS = json.loads(pathlib.Path(__file__).with_name("counts.json").read_text())
{gc}
# The inputs infra.plan.runtime.computed_outputs reads to compute these resources' outputs.
EXTRA = {{"gcp:serviceaccount/account:Account": {{"account_id": "x"}},
         "gcp:bigquery/dataset:Dataset": {{"dataset_id": "x"}}, "gcp:pubsub/topic:Topic": {{"name": "x"}}}}


def gcp_class(token):
    # gcp:bigquery/dataset:Dataset -> pulumi_gcp.bigquery.Dataset
    _, mod_file, cls = token.split(":")
    module = importlib.import_module("pulumi_gcp." + mod_file.split("/")[0])
    return getattr(module, cls), getattr(module, cls + "Args")


def minimal_args(args_cls):
    params = inspect.signature(args_cls.__init__).parameters.values()
    return {{p.name: "x" for p in params
            if not p.name.startswith("_") and p.name != "self" and p.default is inspect.Parameter.empty
            and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}}


for token, count in sorted(COUNTS.items()):
    if token.startswith("gcp:"):
        cls, args_cls = gcp_class(token)
        kwargs = {{**minimal_args(args_cls), **EXTRA.get(token, {{}})}}
        for i in range(count):
            cls(f"{{token.rsplit(':', 1)[1].lower()}}-{{i}}", **kwargs)
    else:
        for i in range(count):
            pulumi.ComponentResource(token, f"component-{{i}}", None, None)
'''

# `python DIR/run.py DIR [JSON]`: runs DIR's program under the plan runtime, prints the number of
# registrations and, given JSON, writes the plan there.
RUNNER = '''\
import json
import sys
from pathlib import Path
from infra.plan.runtime import run_program, stack_config_strings
root = Path(sys.argv[1])
plan = run_program(root, "prod", config=stack_config_strings(root, "prod"))
if len(sys.argv) > 2:
    Path(sys.argv[2]).write_text(json.dumps(plan.as_json()))
print(len(plan.resources))
'''

# `python -c PROFILER ARGS...`: `python -m infra ARGS...` with a cProfile of the program's run, top
# 25 by cumulative time (the plan runtime runs the program on a thread of its own, which
# `python -m cProfile` would not see).
PROFILER = '''\
import cProfile, pstats, sys
import infra.plan.runtime as runtime
from infra.cli import main
profile = cProfile.Profile()
on_thread = runtime._on_fresh_thread
def profiled(func, *args):
    def run(*a):
        profile.enable()
        try:
            return func(*a)
        finally:
            profile.disable()
    return on_thread(run, *args)
runtime._on_fresh_thread = profiled
sys.argv = ["infra", *sys.argv[1:]]
try:
    main()
finally:
    pstats.Stats(profile).sort_stats("cumtime").print_stats(25)
'''


def _program_dir(dest: Path, main_source: str) -> None:
    """A project directory with the real project and prod stack files, `infra/__main__.py` and
    the runner `run.py`."""
    (dest / "infra").mkdir(parents=True, exist_ok=True)
    shutil.copy2(ROOT / "Pulumi.yaml", dest / "Pulumi.yaml")
    shutil.copy2(ROOT / "Pulumi.prod.yaml", dest / "Pulumi.prod.yaml")
    (dest / "infra" / "__main__.py").write_text(main_source, encoding="utf-8")
    (dest / "run.py").write_text(RUNNER, encoding="utf-8")


def write_floor(dest: Path, counts: Counter, same_gc: bool = False) -> None:
    """The floor program; `same_gc`: with the warehouse program's garbage-collector policy."""
    custom = {t: c for t, c in counts.items() if t != "pulumi:pulumi:Stack"}
    _program_dir(dest, FLOOR_PROGRAM.format(total=sum(custom.values()), gc=SAME_GC if same_gc else FLOOR_GC))
    (dest / "infra" / "counts.json").write_text(json.dumps(custom), encoding="utf-8")


# --------------------------------------------------------------------------------------------
# The replay: exactly the plan's registrations, read back from its JSON, nothing else.

REPLAY_PROGRAM = '''\
"""Generated replay program: registers the resources of plan.json as they are recorded there."""
import gc
import importlib
import json
import pathlib
import re

import pulumi
import pulumi_gcp  # noqa: F401

# Inputs whose keys are user data (label names, transfer params), not property names.
MAPS = {{"labels", "params"}}
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def python_names(value, key=None):
    """The engine's camelCase inputs as the Python classes take them (snake_case, nested too)."""
    if isinstance(value, dict):
        if key in MAPS:
            return dict(value)
        return {{_CAMEL.sub("_", k).lower(): python_names(v, k) for k, v in value.items()}}
    if isinstance(value, list):
        return [python_names(v) for v in value]
    return value


def gcp_class(token):
    _, mod_file, cls = token.split(":")
    return getattr(importlib.import_module("pulumi_gcp." + mod_file.split("/")[0]), cls)


resources = json.loads(pathlib.Path(__file__).with_name("plan.json").read_text())["resources"]
by_urn = {{r["urn"]: r for r in resources}}
ordered, seen = [], set()


def visit(r):  # parents and dependencies first, as the program declares them
    if r["urn"] in seen:
        return
    seen.add(r["urn"])
    for urn in ([r["parent"]] if r.get("parent") else []) + list(r.get("dependencies") or []):
        if urn in by_urn:
            visit(by_urn[urn])
    ordered.append(r)


for r in resources:
    visit(r)
{gc}
made = {{}}
for r in ordered:
    if r["type"] == "pulumi:pulumi:Stack":
        continue
    opts = pulumi.ResourceOptions(
        parent=made.get(r.get("parent")), protect=r["protect"], ignore_changes=r["ignoreChanges"] or None,
        depends_on=[made[u] for u in r.get("dependencies") or [] if u in made] or None)
    if r["custom"]:
        made[r["urn"]] = gcp_class(r["type"])(r["name"], opts=opts, **python_names(r["inputs"]))
    else:
        made[r["urn"]] = pulumi.ComponentResource(r["type"], r["name"], None, opts)
'''

def write_replay(dest: Path, plan_json: Path) -> None:
    _program_dir(dest, REPLAY_PROGRAM.format(gc=SAME_GC))
    shutil.copy2(plan_json, dest / "infra" / "plan.json")


def replay_differences(plan: list[dict], replayed: list[dict]) -> list[str]:
    """Resources whose URN, inputs or dependencies differ between the plan and its replay."""
    key = {r["urn"]: (r["inputs"], sorted(r["dependencies"])) for r in plan}
    again = {r["urn"]: (r["inputs"], sorted(r["dependencies"])) for r in replayed}
    return sorted(u for u in key.keys() | again.keys() if key.get(u) != again.get(u))


# --------------------------------------------------------------------------------------------


@dataclass
class Row:
    n: int
    files: int
    resources: int
    check_s: float
    plan_s: float
    floor_s: float
    floor_same_gc_s: float
    replay_s: float
    peak_mb: float
    depth_deps: int
    depth_parents: int
    floor_resources: int
    ok: bool
    notes: list[str]

    @property
    def ratio(self) -> float:
        return self.plan_s / self.floor_s if self.floor_s else float("nan")

    @property
    def same_gc_ratio(self) -> float:
        return self.plan_s / self.floor_same_gc_s if self.floor_same_gc_s else float("nan")

    @property
    def replay_ratio(self) -> float:
        return self.plan_s / self.replay_s if self.replay_s else float("nan")


def best(runs: list[ChildRun]) -> ChildRun:
    """The fastest run, with the largest peak memory of all runs; a failed run if any failed."""
    failed = [r for r in runs if r.returncode != 0]
    if failed:
        return failed[0]
    fastest = min(runs, key=lambda r: r.seconds)
    fastest.peak_mb = max(r.peak_mb for r in runs)
    return fastest


def run_best(args: list[str], repeat: int) -> ChildRun:
    """Run a child `repeat` times (stopping at a failure); see `best`."""
    runs: list[ChildRun] = []
    for _ in range(repeat):
        runs.append(run_child(args, cwd=ROOT))
        if runs[-1].returncode != 0:
            break
    return best(runs)


def measure(n: int, work: Path, profile: bool, repeat: int) -> Row:
    notes: list[str] = []
    t0 = time.perf_counter()
    gen = generate(n, work / f"n{n}")
    root = gen.root
    print(f"[N={n}] generated {gen.files} files in {time.perf_counter() - t0:.1f} s: "
          f"{dict(sorted(gen.counts.items()))}", flush=True)

    chk = run_best([PYTHON, "-m", "infra", "--root", str(root), "check", "--stack", "prod"], repeat)
    print(f"[N={n}] check: {chk.seconds:.2f} s, rc={chk.returncode}, peak {chk.peak_mb:.0f} MB", flush=True)
    if chk.returncode != 0:
        notes.append("check FAILED: " + (chk.stdout + chk.stderr).strip()[:2000])

    # plan, the floors and replay are compared with each other: their runs are interleaved (plan,
    # floor, floor with the program's GC policy, replay, plan, ...) so that a slower stretch of a
    # shared machine slows them all alike.
    plan_json = work / f"plan-{n}.json"
    plan_args = [PYTHON, "-m", "infra", "--root", str(root), "plan", "--stack", "prod", "--quiet",
                 "--json", str(plan_json)]
    first_plan = run_child(plan_args, cwd=ROOT)
    resources: list[dict] = []
    if first_plan.returncode != 0 or not plan_json.exists():
        notes.append("plan FAILED: " + (first_plan.stdout + first_plan.stderr).strip()[-2000:])
    else:
        resources = json.loads(plan_json.read_text(encoding="utf-8"))["resources"]
    counts = Counter(r["type"] for r in resources)
    floor_dir, same_gc_dir, replay_dir = work / f"floor-{n}", work / f"floor-same-gc-{n}", work / f"replay-{n}"
    write_floor(floor_dir, counts)
    write_floor(same_gc_dir, counts, same_gc=True)
    floor_args = [PYTHON, str(floor_dir / "run.py"), str(floor_dir)]
    same_gc_args = [PYTHON, str(same_gc_dir / "run.py"), str(same_gc_dir)]
    replay_args = [PYTHON, str(replay_dir / "run.py"), str(replay_dir), str(replay_dir / "replayed.json")]
    runs: dict[str, list[ChildRun]] = {"plan": [first_plan], "floor": [], "same_gc": [], "replay": []}
    if resources:
        write_replay(replay_dir, plan_json)
        for i in range(repeat):
            for what, args in (("plan", plan_args), ("floor", floor_args), ("same_gc", same_gc_args),
                               ("replay", replay_args)):
                if what == "plan" and i == 0:
                    continue
                if runs[what] and runs[what][-1].returncode != 0:
                    continue  # failed once: not run again
                runs[what].append(run_child(args, cwd=ROOT))
    not_run = ChildRun(0.0, 0.0, 1, "", "not run")
    pl = best(runs["plan"])
    fl, sg, rp = (best(runs[what]) if runs[what] else not_run for what in ("floor", "same_gc", "replay"))
    print(f"[N={n}] plan: {pl.seconds:.2f} s, rc={pl.returncode}, peak {pl.peak_mb:.0f} MB", flush=True)

    floor_resources = int(fl.stdout.strip() or 0) if fl.returncode == 0 else 0
    print(f"[N={n}] floor: {fl.seconds:.2f} s, rc={fl.returncode}, {floor_resources} resources, "
          f"peak {fl.peak_mb:.0f} MB", flush=True)
    if fl.returncode != 0:
        notes.append("floor FAILED: " + fl.stderr.strip()[-2000:])
    elif floor_resources != len(resources):
        notes.append(f"floor registered {floor_resources} resources, plan {len(resources)}")
    print(f"[N={n}] floor with the program's GC policy: {sg.seconds:.2f} s, rc={sg.returncode}, "
          f"peak {sg.peak_mb:.0f} MB", flush=True)
    if sg.returncode != 0:
        notes.append("floor with the program's GC policy FAILED: " + sg.stderr.strip()[-2000:])

    replay_ok = False
    if rp.returncode == 0:
        replayed = json.loads((replay_dir / "replayed.json").read_text(encoding="utf-8"))["resources"]
        differ = replay_differences(resources, replayed)
        replay_ok = not differ
        if differ:
            notes.append(f"replay differs from the plan in {len(differ)} resource(s), e.g. {differ[:3]}")
    else:
        notes.append("replay FAILED: " + rp.stderr.strip()[-2000:])
    print(f"[N={n}] replay: {rp.seconds:.2f} s, rc={rp.returncode}, same registrations as the plan: "
          f"{'yes' if replay_ok else 'NO'}", flush=True)

    if profile:
        prof = run_child([PYTHON, "-c", PROFILER, "--root", str(root), "plan", "--stack", "prod", "--quiet",
                          "--json", str(work / f"plan-{n}-prof.json")], cwd=ROOT)
        lines = prof.stdout.splitlines()
        start = next((i for i, line in enumerate(lines) if "ncalls" in line), 0)
        print(f"[N={n}] cProfile of plan (wall {prof.seconds:.1f} s under the profiler), top 25 by cumtime:")
        print("\n".join(lines[max(0, start - 3):start + 26]), flush=True)

    return Row(n, gen.files, len(resources), chk.seconds, pl.seconds, fl.seconds, sg.seconds, rp.seconds,
               pl.peak_mb, depth(resources, False), depth(resources, True), floor_resources,
               chk.returncode == 0 and pl.returncode == 0 and fl.returncode == 0 and sg.returncode == 0
               and replay_ok, notes)


def report(rows: list[Row]) -> None:
    print()
    head = (f"{'N':>6} {'files':>7} {'resources':>9} {'check s':>8} {'plan s':>8} {'floor s':>8} {'floor-gc s':>10} "
            f"{'replay s':>8} {'plan/floor':>10} {'plan/floor-gc':>13} {'plan/replay':>11} {'peak MB':>8} "
            f"{'depth':>6} {'depth+parent':>12}")
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r.n:>6} {r.files:>7} {r.resources:>9} {r.check_s:>8.2f} {r.plan_s:>8.2f} {r.floor_s:>8.2f} "
              f"{r.floor_same_gc_s:>10.2f} {r.replay_s:>8.2f} {r.ratio:>10.2f} {r.same_gc_ratio:>13.2f} "
              f"{r.replay_ratio:>11.2f} {r.peak_mb:>8.0f} {r.depth_deps:>6} {r.depth_parents:>12}"
              + ("" if r.ok else "  (FAILED)"))
    by_n = {r.n: r for r in rows}
    print()
    print("Targets (issue):")

    def verdict(ok: bool | None) -> str:
        return "n/a" if ok is None else "MET" if ok else "NOT MET"

    r1000, r3000 = by_n.get(1000), by_n.get(3000)
    val = f"{r1000.ratio:.2f}" if r1000 else "-"
    print(f"  plan/floor at N=1000 <= {TARGETS['plan_floor_1000']}: {val:>8}  "
          f"{verdict(r1000.ratio <= TARGETS['plan_floor_1000'] if r1000 else None)}")
    if r1000:
        print(f"  (for reference, not targets) at N=1000: plan/floor-gc {r1000.same_gc_ratio:.2f}: against a floor "
              f"with the program's GC policy (collector off); plan/replay {r1000.replay_ratio:.2f}: loading, "
              f"analysis and components over the SDK's own cost of the same registrations")
    if r1000 and r3000:
        g_check, g_plan = r3000.check_s / r1000.check_s, r3000.plan_s / r1000.plan_s
        g_floor = r3000.floor_s / r1000.floor_s
        target = TARGETS["growth"]
        print(f"  growth check 3000/1000 <= {target}: {g_check:>8.2f}  {verdict(g_check <= target)}")
        print(f"  growth plan  3000/1000 <= {TARGETS['growth']}: {g_plan:>8.2f}  {verdict(g_plan <= TARGETS['growth'])}"
              f"   (floor grows {g_floor:.2f}, resources {r3000.resources / max(1, r1000.resources):.2f})")
    else:
        print("  growth 3000/1000: n/a (needs both sizes)")
    val = f"{r3000.check_s:.2f}" if r3000 else "-"
    print(f"  check at N=3000 < {TARGETS['check_3000_s']:.0f} s: {val:>8}  "
          f"{verdict(r3000.check_s < TARGETS['check_3000_s'] if r3000 else None)}")
    val = f"{r3000.peak_mb:.0f}" if r3000 else "-"
    print(f"  plan peak at N=3000 < {TARGETS['peak_3000_mb']:.0f} MB: {val:>8}  "
          f"{verdict(r3000.peak_mb < TARGETS['peak_3000_mb'] if r3000 else None)}")
    depths = sorted({r.depth_deps for r in rows if r.resources})
    print(f"  depth (dependencies) <= {TARGETS['depth']} and independent of N: {depths}  "
          f"{verdict(bool(depths) and max(depths) <= TARGETS['depth'] and len(depths) == 1)}")
    for r in rows:
        for note in r.notes:
            print(f"\n[N={r.n}] {note}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100,1000,3000", help="comma-separated table counts")
    parser.add_argument("--keep", type=Path, help="generate into this directory and keep it")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each child; the fastest is reported")
    parser.add_argument("--profile", type=int, action="append", default=[],
                        help="also print a cProfile (top 25 by cumtime) of plan at this N")
    ns = parser.parse_args(argv)
    sizes = [int(s) for s in ns.sizes.split(",") if s.strip()]
    work = ns.keep or Path(tempfile.mkdtemp(prefix="warehouse-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, sizes {sizes}, best of {max(1, ns.repeat)} "
          f"run(s) each, work dir {work}", flush=True)
    rows = []
    try:
        for n in sizes:
            rows.append(measure(n, work, n in ns.profile, max(1, ns.repeat)))
    finally:
        if ns.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    report(rows)
    return 0 if all(r.ok for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
