"""`plan` in review and CI: the earlier plan built from a git ref by that ref's own code
(`--base REF`), exit codes that say whether anything changes (`--detailed-exitcode`), and the diff
as one pull-request comment (`--format markdown`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from infra.plan.diff import diff_plans
from infra.plan.diff_render import COMMENT_LIMIT, render_markdown
from tests.conftest import ROOT, copy_project, one_line_error, run_cli
from tests.test_plan_diff import ADD_MEMBER, block, edit, plan_json


def git(repo: Path, *args: str) -> str:
    result = subprocess.run(["git", "-C", str(repo), "-c", "user.name=Test", "-c", "user.email=test@example.com",
                             "-c", "commit.gpgsign=false", *args], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def repository(tmp_path: Path) -> Path:
    """A git repository holding a copy of the project, everything committed."""
    repo = copy_project(tmp_path / "repo")
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "base")
    return repo


def plan_in(repo: Path, tmp: Path, *args: str) -> subprocess.CompletedProcess:
    """`python -m infra --root repo plan ...` (this checkout's code), its temporary files in `tmp`."""
    tmp.mkdir(exist_ok=True)
    env = dict(os.environ, TMPDIR=str(tmp))
    return subprocess.run([sys.executable, "-m", "infra", "--root", str(repo), "plan", *args], capture_output=True,
                          text=True, cwd=ROOT, env=env, timeout=300)


def assert_cleaned_up(repo: Path, tmp: Path) -> None:
    assert git(repo, "worktree", "list", "--porcelain").count("worktree ") == 1  # only the checkout
    assert list(tmp.iterdir()) == []


# --- 7. --base REF --------------------------------------------------------------------------------


def test_base_builds_the_earlier_plan_from_a_git_ref(tmp_path):
    repo = repository(tmp_path)
    edit(repo / "Pulumi.prod.yaml", *ADD_MEMBER)  # uncommitted: the current plan has it, HEAD's does not
    head = git(repo, "rev-parse", "HEAD").strip()
    result = plan_in(repo, tmp_path / "tmp", "--stack", "prod", "--quiet", "--base", "HEAD")
    assert result.returncode == 0, result.stderr
    assert f"Against the earlier plan (HEAD ({head[:12]})): 2 to add, 3 to change, 0 to remove." in result.stdout
    assert block(result.stdout, "mart-dataset ")[1:] == ["    accesses:", "      + WRITER group:analysts@acme.com"]
    assert_cleaned_up(repo, tmp_path / "tmp")
    assert (repo / "Pulumi.prod.yaml").read_text(encoding="utf-8").count("group:analysts@acme.com") == 1  # untouched


def test_base_runs_the_refs_own_code_not_this_one(tmp_path):
    """The ref's `infra` package is the one imported: here the ref's labels its resources
    `managed-by: pulumi-at-ref`, so every labelled resource differs from this code's plan."""
    repo = repository(tmp_path)
    edit(repo / "infra/vocabulary.py", 'MANAGED_BY = "pulumi"', 'MANAGED_BY = "pulumi-at-ref"')
    git(repo, "commit", "-qam", "the ref's own code")
    result = plan_in(repo, tmp_path / "tmp", "--stack", "prod", "--quiet", "--base", "HEAD")
    assert result.returncode == 0, result.stderr
    assert block(result.stdout, "mart-dataset ")[1:] == ['    ~ labels.managed-by: "pulumi-at-ref" -> "pulumi"']
    assert_cleaned_up(repo, tmp_path / "tmp")


def test_base_refuses_in_one_line_and_cleans_up(tmp_path):
    repo = repository(tmp_path)
    not_git = copy_project(tmp_path / "plain")
    line = one_line_error(plan_in(not_git, tmp_path / "t0", "--stack", "prod", "--base", "HEAD"))
    assert line.startswith(f"plan --base: git cannot read {not_git}: ") and line.endswith(
        "; fix: run it in a git checkout of the project, or compare with an earlier plan file (--diff OLD.json)")
    for ref in ("no-such-branch", "--version", "HEAD~5"):
        line = one_line_error(plan_in(repo, tmp_path / "t1", "--stack", "prod", f"--base={ref}"))
        assert line.startswith(f"plan --base: git knows no commit {ref!r}; fix: ")
    # the ref's own plan fails: one line, its first problem named, the worktree gone all the same
    edit(repo / "Pulumi.prod.yaml", "warehouse:location: US", "warehouse:location: Mars")
    git(repo, "commit", "-qam", "broken")
    edit(repo / "Pulumi.prod.yaml", "warehouse:location: Mars", "warehouse:location: US")
    line = one_line_error(plan_in(repo, tmp_path / "t2", "--stack", "prod", "--base", "HEAD"))
    assert line.startswith("plan --base: the plan of stack prod at HEAD (") and "failed: Pulumi.prod.yaml:" in line
    assert "Mars" in line and "; fix: " in line
    assert_cleaned_up(repo, tmp_path / "t2")


# --- 8. --detailed-exitcode -----------------------------------------------------------------------


def test_detailed_exitcode_says_whether_anything_changes(tmp_path):
    project = copy_project(tmp_path / "p")
    old = plan_json(project, "prod", tmp_path / "old.json")

    def code(*args: str) -> int:
        return run_cli("--root", str(project), "plan", "--stack", "prod", "--quiet", *args).returncode

    assert code("--diff", str(old), "--detailed-exitcode") == 0
    assert code("--diff", str(old)) == 0
    edit(project / "Pulumi.prod.yaml", *ADD_MEMBER)
    assert code("--diff", str(old), "--detailed-exitcode") == 2
    assert code("--diff", str(old)) == 0  # without the flag a change is no error
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    assert code("--diff", str(bad), "--detailed-exitcode") == 1
    dev = plan_json(project, "dev", tmp_path / "dev.json")
    assert code("--diff", str(dev), "--detailed-exitcode") == 1
    # usage errors exit 1 with the flag (2 would read as "changes"), 2 without it as for every command
    assert code("--detailed-exitcode") == 1
    assert code("--detailed-exitcode", "--diff", str(old), "--no-such-option") == 1
    assert code("--diff", str(old), "--base", "HEAD", "--detailed-exitcode") == 1
    assert code("--diff", str(old), "--no-such-option") == 2
    assert code("--format", "markdown") == 2


# --- 9. --format markdown -------------------------------------------------------------------------


def test_markdown_for_a_pull_request_comment(tmp_path):
    project = copy_project(tmp_path / "p")
    old = plan_json(project, "prod", tmp_path / "old.json")
    edit(project / "Pulumi.prod.yaml", *ADD_MEMBER)
    table = project / "scheduled_queries/mart/revenue/revenue_mrr"  # partitioned by another column: replaced
    edit(table.with_suffix(".yaml"), "field: as_of_date", "field: customer_since")
    edit(table.with_suffix(".yaml"), "  - {name: customer_id,",
         "  - {name: customer_since, type: DATE, description: First paid day.}\n  - {name: customer_id,")
    edit(table.with_suffix(".sql"), "customer_id,", "CAST(NULL AS DATE) AS customer_since,\n  customer_id,")
    result = run_cli("--root", str(project), "plan", "--stack", "prod", "--diff", str(old), "--format", "markdown")
    assert result.returncode == 0, result.stderr
    md = result.stdout
    assert md.startswith("### Plan diff of stack `prod`\n\nAgainst `")  # the Markdown alone: no tree, no counts
    assert "Resources by type" not in md
    assert "**2 to add, 5 to change, 0 to remove**" in md
    warning = md.index("> [!WARNING]")
    assert warning < md.index("#### Added") < md.index("#### Changed")
    assert "> - **DATA LOSS**: gcp:bigquery/table:Table mart.revenue\\_mrr-table: the provider would replace it" in md
    mart = md[md.index("<code>~ gcp:bigquery/dataset:Dataset mart-dataset</code>"):]
    assert mart.split("```diff\n", 1)[1].startswith("  accesses:\n+   WRITER group:analysts@acme.com\n```")
    replaced = md[md.index("<code>+- gcp:bigquery/table:Table mart.revenue_mrr-table</code> [replace]"):]
    _, applied, ignored = replaced.split("```diff\n", 2)
    assert applied.startswith('~ timePartitioning.field: "as_of_date" -> "customer_since"\n```')
    assert ignored.startswith('  schema:\n+   column customer_since DATE NULLABLE "First paid day."')
    assert "`ignoreChanges` keeps the old value of these (`schema`)" in replaced
    assert len(md.encode("utf-8")) <= COMMENT_LIMIT


def test_markdown_is_cut_to_fit_one_comment(prod_plan):
    new = prod_plan.as_json()
    old = {**new, "resources": [r for r in new["resources"] if r["type"] != "gcp:bigquery/dataset:Dataset"]}
    old["resources"] = [r for r in old["resources"] if not r["name"].startswith("mart.revenue_mrr-table")]
    copied = json.loads(json.dumps(new))
    diff = diff_plans(old, copied)
    command = "python -m infra plan --stack prod --base main"
    whole = render_markdown(diff, "prod", "`main`", command, limit=10**9)
    assert "Cut to fit" not in whole and whole.count("<code>+ ") == len(diff.of("add"))
    for limit in (3_000, 20_000, COMMENT_LIMIT):
        md = render_markdown(diff, "prod", "`main`", command, limit=limit)
        assert len(md.encode("utf-8")) <= limit
        shown = md.count("<code>+ ")
        if shown < len(diff.of("add")):
            assert md.rstrip().endswith(f"not shown. The whole diff: `{command}`")
            assert f"{len(diff.of('add')) - shown} resource(s) not shown" in md
        assert md.count("```") % 2 == 0 and md.count("<details>") == md.count("</details>")  # nothing cut in half
    everything = render_markdown(diff_plans({**new, "resources": []}, new), "prod", "`main`", command)
    assert len(everything.encode("utf-8")) <= COMMENT_LIMIT and "Cut to fit one GitHub comment" in everything
