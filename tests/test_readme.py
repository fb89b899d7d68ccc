"""The README's how-to examples are true: added to a copy of the project the way the README says,
every one of them passes `check` against every stack, the dataset's `folders:` routes its folder's
tables, and the pages it links to exist."""

from __future__ import annotations

import re

from infra.model.load import load_for_stack
from tests.conftest import ROOT, copy_project, run_cli

README = (ROOT / "README.md").read_text(encoding="utf-8")


def section(title: str) -> str:
    return README.split(f"### {title}\n", 1)[1].split("\n### ", 1)[0].split("\n## ", 1)[0]


def blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, re.S)


def test_the_readme_is_short_and_its_links_exist():
    assert len(README) < 20_000
    links = re.findall(r"\]\(([^)#]+)\)", README)
    assert len([link for link in links if link.startswith("docs/")]) >= 4
    missing = [link for link in links if not link.startswith("http") and not (ROOT / link).exists()]
    assert not missing, missing


def test_every_how_to_example_checks(tmp_path):
    project = copy_project(tmp_path / "project")
    # Add a dataset: `campaigns` (in a protected stack it needs coverage, as the README says).
    [dataset] = blocks(section("Add a dataset"), "yaml")
    (project / "datasets/campaigns.yaml").write_text(dataset)
    coverage = project / "backups/coverage.yaml"
    coverage.write_text(coverage.read_text().replace("datasets:\n", "datasets:\n  campaigns: [weekly_snapshots]\n", 1))
    # Add a role member: the new line under data_analyst, in every stack file.
    [member] = blocks(section("Add a role member"), "yaml")
    new = next(line for line in member.splitlines() if "# new" in line).split("#")[0].rstrip()
    for stack_file in project.glob("Pulumi.*.yaml"):
        text = stack_file.read_text()
        assert "    data_analyst:\n" in text
        stack_file.write_text(text.replace("    data_analyst:\n", f"    data_analyst:\n{new}\n", 1))
    # Add a scheduled query: the SQL and the YAML, where the README puts them.
    query = section("Add a scheduled query (a table) or a view")
    [sql], [spec] = blocks(query, "sql"), blocks(query, "yaml")
    folder = project / "scheduled_queries/mart/revenue"
    (folder / "revenue_mrr_total.sql").write_text(sql)
    (folder / "revenue_mrr_total.yaml").write_text(spec)
    # Add a backup policy: the policy, covering the revenue marts' dataset.
    policy, _ = blocks(section("Add a backup policy, or cover a dataset"), "yaml")
    (project / "backups/policies/revenue_4h.yaml").write_text(policy)
    assert "  mart: [" in coverage.read_text()
    coverage.write_text(coverage.read_text().replace("  mart: [", "  mart: [revenue_4h, ", 1))
    # Add a role: finance_analyst, with (no) members in every stack file.
    [role] = blocks(section("Add a role"), "yaml")
    (project / "roles/finance_analyst.yaml").write_text(role)
    for stack_file in project.glob("Pulumi.*.yaml"):
        text = stack_file.read_text()
        assert "  warehouse:members:\n" in text
        stack_file.write_text(text.replace("  warehouse:members:\n", "  warehouse:members:\n    finance_analyst: []\n"))
    # The dataset's folder, as its `folders:` says: a query there (the README's example again) writes to it.
    (project / "scheduled_queries/mart/campaigns").mkdir()
    (project / "scheduled_queries/mart/campaigns/campaigns_mrr_total.sql").write_text(sql)
    (project / "scheduled_queries/mart/campaigns/campaigns_mrr_total.yaml").write_text(spec)
    done = run_cli("--root", str(project), "check")
    assert done.returncode == 0, done.stderr
    assert "revenue_mrr_total" in run_cli("--root", str(project), "graph", "--stack", "prod").stdout
    written = {q.spec.name: q.spec.dataset for q in load_for_stack(project, "prod").queries}
    assert (written["campaigns_mrr_total"], written["revenue_mrr_total"]) == ("campaigns", "mart")


def test_the_dataset_example_needs_its_folder(tmp_path):
    """Without scheduled_queries/mart/campaigns/, the README's dataset fails `check`, as it says."""
    project = copy_project(tmp_path / "project")
    [dataset] = blocks(section("Add a dataset"), "yaml")
    (project / "datasets/campaigns.yaml").write_text(dataset)
    done = run_cli("--root", str(project), "check", "--stack", "dev")
    assert done.returncode == 1
    assert "datasets/campaigns.yaml:3: folders[0]: folder 'campaigns' has no directory" in done.stderr
