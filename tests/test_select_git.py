"""`changed:REF` on a scratch git repository (a copy of the project, committed once): which files
git says changed since REF (committed, uncommitted and untracked ones), which tables they declare,
what `graph` highlights, and what `check --select` reports; a bad ref or no repository is one line."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from infra.checks.changed import GitError, changed_files
from infra.checks.select import Declared, SelectorError, changed_keys, select, selection
from infra.model.load import load_for_stack
from tests.conftest import copy_project, one_line_error, run_cli

MRR = "mart.revenue_mrr"
MRR_SQL = "scheduled_queries/mart/revenue/revenue_mrr.sql"


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), "-c", "user.name=Test", "-c", "user.email=test@example.com",
                           "-c", "commit.gpgsign=false", *args], capture_output=True, text=True, check=True)
    return done.stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    project = copy_project(tmp_path / "project")
    git(project, "init", "-q", "-b", "main")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "base")
    return project


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1))


def test_nothing_changed_selects_nothing_and_is_no_error(repo):
    warehouse = load_for_stack(repo, "prod")
    assert changed_files(repo, "HEAD") == frozenset()
    assert select(warehouse, ["changed:HEAD"], repo) == frozenset()
    assert select(warehouse, ["changed:HEAD+"], repo) == frozenset()


def test_an_edited_sql_file_selects_its_table_and_plus_what_it_feeds(repo):
    edit(repo / MRR_SQL, "SELECT", "SELECT  -- reviewed\n ")
    warehouse = load_for_stack(repo, "prod")
    assert changed_files(repo, "HEAD") == {MRR_SQL}
    assert select(warehouse, ["changed:HEAD"], repo) == {MRR}
    assert select(warehouse, ["changed:HEAD+"], repo) == select(warehouse, [MRR + "+"]) > {MRR}
    chosen = selection(Declared.of(warehouse), ["changed:HEAD+"], repo)
    assert chosen.changed == {MRR}  # what to highlight: the table that changed, not those downstream


def test_committed_staged_and_untracked_changes_all_count(repo):
    yaml_file = repo / "scheduled_queries/mart/revenue/revenue_invoices_monthly.yaml"
    edit(yaml_file, "description:", "description:  ")
    git(repo, "commit", "-q", "-am", "one")  # committed since HEAD~1
    edit(repo / MRR_SQL, "SELECT", "SELECT ")
    git(repo, "add", MRR_SQL)  # staged
    new = repo / "scheduled_queries/mart/revenue/revenue_mrr_total"  # a new query, untracked
    new.with_suffix(".sql").write_text(
        "SELECT as_of_date, COUNT(*) AS customers FROM mart.revenue_mrr\n"
        "WHERE as_of_date = DATE_SUB(@run_date, INTERVAL 1 DAY) GROUP BY as_of_date\n")
    new.with_suffix(".yaml").write_text(
        "description: Customers with MRR per day.\ncolumns:\n"
        "  - {name: as_of_date, type: DATE, mode: REQUIRED, description: The day.}\n"
        "  - {name: customers, type: INT64, mode: REQUIRED, description: Customers.}\n"
        "schedule: every day 04:40\n")
    (repo / "notes.txt").write_text("ignored by selection: declares no table\n")
    (repo / ".gitignore").write_text("scratch/\n")
    (repo / "scratch").mkdir()
    (repo / "scratch" / "x.sql").write_text("SELECT 1\n")  # ignored by git: not a change
    files = changed_files(repo, "HEAD~1")
    assert files == {"scheduled_queries/mart/revenue/revenue_invoices_monthly.yaml", MRR_SQL,
                     "scheduled_queries/mart/revenue/revenue_mrr_total.sql",
                     "scheduled_queries/mart/revenue/revenue_mrr_total.yaml", "notes.txt", ".gitignore"}
    warehouse = load_for_stack(repo, "prod")
    assert select(warehouse, ["changed:HEAD~1"], repo) == {"mart.revenue_invoices_monthly", MRR,
                                                           "mart.revenue_mrr_total"}
    assert select(warehouse, ["changed:HEAD"], repo) == {MRR, "mart.revenue_mrr_total"}


def test_defaults_and_dataset_files_select_the_tables_they_shape(repo):
    edit(repo / "scheduled_queries/sync/census/_defaults.yaml", "\n", "\n# reviewed\n")
    edit(repo / "datasets/sources/stripe.yaml", "\n", "\n# reviewed\n")
    warehouse = load_for_stack(repo, "prod")
    census_queries = {q.spec.key for q in warehouse.queries if q.spec.file.startswith("scheduled_queries/sync/census/")}
    assert census_queries
    assert select(warehouse, ["changed:HEAD"], repo) == census_queries | select(warehouse, ["dataset:stripe"])
    git(repo, "checkout", "-q", "--", ".")
    edit(repo / "scheduled_queries/reporting/_defaults.yaml", "\n", "\n# reviewed\n")
    edit(repo / "datasets/ml.yaml", "\n", "\n# reviewed\n")
    assert select(warehouse, ["changed:HEAD"], repo) == select(warehouse, ["layer:reporting", "dataset:ml"])


def test_a_deleted_or_renamed_file_counts_by_both_names(repo):
    git(repo, "mv", "roles/data_reader.yaml", "roles/data_readers.yaml")
    (repo / "backups" / "one_off_copies.yaml").unlink()
    assert changed_files(repo, "HEAD") == {"roles/data_reader.yaml", "roles/data_readers.yaml",
                                           "backups/one_off_copies.yaml"}


def test_the_project_below_the_top_of_the_repository(tmp_path):
    top = tmp_path / "company"
    project = copy_project(top / "warehouse")
    (top / "other.txt").write_text("not the project's\n")
    git(top, "init", "-q")
    git(top, "add", "-A")
    git(top, "commit", "-q", "-m", "base")
    edit(project / MRR_SQL, "SELECT", "SELECT ")
    (top / "other.txt").write_text("changed, outside the project\n")
    (top / "new.txt").write_text("untracked, outside the project\n")
    assert changed_files(project, "HEAD") == {MRR_SQL}


@pytest.mark.parametrize("ref", ["no-such-branch", "HEAD~5", "--output=/tmp/x"])
def test_a_ref_git_does_not_know_is_one_line(repo, ref):
    with pytest.raises(GitError, match=re.escape(f"git knows no commit {ref!r}")):
        changed_files(repo, ref)
    line = one_line_error(run_cli("--root", str(repo), "graph", "--select", f"changed:{ref}"))
    assert line.startswith(f"graph: selector 'changed:{ref}': git knows no commit {ref!r}; fix: ")


def test_outside_a_git_checkout_changed_is_one_line(project):
    warehouse = load_for_stack(project, "prod")
    with pytest.raises(SelectorError, match="git cannot read"):
        changed_keys(Declared.of(warehouse), project, "HEAD")
    line = one_line_error(run_cli("--root", str(project), "check", "--select", "changed:HEAD"))
    assert line.startswith("check: selector 'changed:HEAD': git cannot read ") and "not a git repository" in line


def test_graph_highlights_what_changed(repo):
    edit(repo / MRR_SQL, "SELECT", "SELECT ")
    done = run_cli("--root", str(repo), "graph", "--select", "changed:HEAD+")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "  classDef changed fill:#fde68a,stroke:#b45309,stroke-width:2px" in lines
    assert lines[-1] == "  class mart__revenue_mrr changed"  # downstream of it is drawn, not highlighted
    assert "reporting__mrr_daily" in done.stdout
    whole = run_cli("--root", str(repo), "graph", "--changed", "HEAD").stdout.splitlines()
    assert whole[-1] == "  class mart__revenue_mrr changed" and len(whole) > 100
    dot = run_cli("--root", str(repo), "graph", "--format", "dot", "--changed", "HEAD").stdout
    assert '"mart.revenue_mrr" [shape=box, style=filled, fillcolor="#fde68a"' in dot
    assert dot.count("style=filled") == 1
    nothing = run_cli("--root", str(repo), "graph", "--changed", "HEAD", "--select", "changed:HEAD~0,layer:reporting")
    assert nothing.returncode == 0 and nothing.stdout.strip() == "flowchart LR"
    assert "the selection is empty" in nothing.stderr


def test_check_select_changed_reports_the_changed_files_problems_and_counts_the_rest(repo):
    edit(repo / "scheduled_queries/mart/core/core_users.yaml", "type: DATE", "type: DATEX")  # already on main
    git(repo, "commit", "-q", "-am", "a problem on main")
    git(repo, "checkout", "-q", "-b", "feature")
    edit(repo / MRR_SQL, "SELECT", "SELEC")  # the change under review breaks its SQL
    git(repo, "commit", "-q", "-am", "change")
    whole = run_cli("--root", str(repo), "check")
    assert whole.returncode == 1 and "2 problem(s) found." in whole.stderr
    done = run_cli("--root", str(repo), "check", "--select", "changed:main+")
    assert done.returncode == 1  # the exit code counts every problem
    lines = done.stderr.splitlines()
    assert lines[0].startswith(MRR_SQL + ":") and "does not parse" in lines[0]
    assert lines[1:] == ["1 other problem(s), outside the selection, not shown (run check without --select to see "
                         "them).", "2 problem(s) found."]
    # a changed file that declares no table (a role) is reported too
    edit(repo / "roles/data_reader.yaml", "title: Data Reader", "title: [Data Reader")
    done = run_cli("--root", str(repo), "check", "--select", "changed:main")
    assert any(line.startswith("roles/data_reader.yaml:") for line in done.stderr.splitlines()), done.stderr
