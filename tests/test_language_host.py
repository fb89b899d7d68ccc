"""`infra/` runs the way Pulumi's Python language host runs it, from any working directory.

The child process below does what `pulumi-language-python-exec` does: config from the
`PULUMI_CONFIG` environment variable through `set_all_config`, the runtime configured (here with
Pulumi's mock monitor instead of the engine's), `os.chdir` to `--pwd`, and
`run_in_stack(lambda: runpy.run_path(PROGRAM, run_name="__main__"))`. The repository is taken off
`sys.path` first, so the program must find its own package the way it would in a bare
`pulumi install` virtualenv (which does not install this repository as a package).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

from infra.plan.runtime import stack_config_strings

HOST = textwrap.dedent(r'''
    import asyncio, importlib.util, json, os, runpy, sys
    repo, program, pwd = sys.argv[1:4]
    sys.path[:] = [p for p in sys.path if os.path.realpath(p or ".") != repo]
    sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in type(f).__module__.lower()
                        and "editable" not in repr(f).lower()]
    for mod in [m for m in sys.modules if m == "infra" or m.startswith("infra.")]:
        del sys.modules[mod]
    assert importlib.util.find_spec("infra") is None, "infra must not be importable before the program runs"
    import pulumi
    from pulumi.runtime import mocks, settings
    class Mocks(pulumi.runtime.Mocks):
        def new_resource(self, args):
            return args.name + "-id", dict(args.inputs)
        def call(self, args):
            return {}, None
    registered = []
    class Monitor(mocks.MockMonitor):
        def RegisterResource(self, request):
            registered.append((request.type, request.name))
            return super().RegisterResource(request)
    loop = asyncio.new_event_loop(); asyncio.set_event_loop(loop)
    pulumi.runtime.set_all_config(pulumi.runtime.get_config_env(), pulumi.runtime.get_config_secret_keys_env())
    monitor = Monitor(Mocks())
    settings.configure(mocks.MockSettings(monitor=monitor, engine=mocks.MockEngine(None),
        monitor_features=set(monitor.GetDeploymentInfo(None).supportedFeatures),
        project="warehouse", stack="prod", dry_run=True, parallel=4, organization=None, callbacks=None))
    sys.argv = [program]
    os.chdir(pwd)
    try:
        loop.run_until_complete(pulumi.runtime.run_in_stack(lambda: runpy.run_path(program, run_name="__main__")))
    except pulumi.RunError as e:
        print("RUNERROR " + str(e)); print(json.dumps(registered)); sys.exit(1)
    print(json.dumps(registered))
''')


def run_host(root, program, pwd, config):
    env = dict(os.environ, PULUMI_CONFIG=json.dumps(config), PULUMI_CONFIG_SECRET_KEYS="[]")
    env.pop("PYTHONPATH", None)
    return subprocess.run([sys.executable, "-c", HOST, str(root), program, str(pwd)], capture_output=True,
                          text=True, env=env, cwd=str(pwd), timeout=120)


def test_program_runs_from_another_directory_like_the_language_host(root, tmp_path):
    result = run_host(root, str(root / "infra"), tmp_path, stack_config_strings(root, "prod"))
    assert result.returncode == 0, result.stderr + result.stdout
    registered = json.loads(result.stdout.strip().splitlines()[-1])
    names = {name for t, name in registered if t == "gcp:bigquery/dataset:Dataset"}
    assert names == {f"{n}-dataset" for n in ("airflow", "census", "customer_io", "mart", "ml", "reporting",
                                              "stg_external", "backup_us_28d", "backup_us_35d", "backup_us_400d",
                                              "dr_mart", "dr_stg_external")}


def test_program_with_relative_main_and_project_root_as_pwd(root):
    """`main: infra/` is resolved against the project directory, which is the program's pwd."""
    result = run_host(root, "infra/", root, stack_config_strings(root, "prod"))
    assert result.returncode == 0, result.stderr + result.stdout


def test_bad_config_stops_with_run_error_before_any_resource(root, tmp_path):
    config = stack_config_strings(root, "prod")
    config["warehouse:members"] = json.dumps({"admin": ["user:Boss@acme.com"]})
    result = run_host(root, str(root / "infra"), tmp_path, config)
    assert result.returncode == 1
    assert "RUNERROR" in result.stdout and "Traceback" not in result.stdout + result.stderr
    assert "upper-case" in result.stdout
    registered = json.loads(result.stdout.strip().splitlines()[-1])
    assert registered == [["pulumi:pulumi:Stack", "warehouse-prod"]]
