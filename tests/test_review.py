"""`review --base REF`: the pull request's one comment, built offline: every stack's plan diff
against the ref's own plan, and the changed part of the lineage with what it feeds."""

from __future__ import annotations

from infra.plan.diff_render import COMMENT_LIMIT
from tests.conftest import run_cli
from tests.test_breaking import VIEW, repo  # noqa: F401  (the fixture)
from tests.test_columns import edit


def review(project, *extra: str):
    result = run_cli("--root", str(project), "review", "--base", "main", *extra)
    assert "Traceback" not in result.stderr
    return result


def test_one_comment_with_every_stacks_diff_and_the_changed_lineage(repo):  # noqa: F811
    edit(repo, f"{VIEW}.sql", "SUM(mrr_usd) AS mrr_usd", "ROUND(SUM(mrr_usd), 2) AS mrr_usd")
    result = review(repo)
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert text.splitlines()[0] == "<!-- warehouse-review -->"
    assert len(text.encode("utf-8")) <= COMMENT_LIMIT
    lineage = text.split("```mermaid\n", 1)[1].split("```", 1)[0]
    assert "reporting__mrr_daily" in lineage and "class reporting__mrr_daily changed" in lineage
    assert "mart__revenue_mrr" not in lineage  # upstream of the change: not part of it
    for stack in ("dev", "prod"):
        section = text.split(f"### Plan diff of stack `{stack}`", 1)[1]
        own = section.split("### Plan diff", 1)[0].splitlines()
        assert any(line.startswith("+") and "ROUND(SUM(mrr_usd), 2) AS mrr_usd" in line for line in own), own


def test_a_change_upstream_draws_what_it_feeds(repo):  # noqa: F811
    edit(repo, "scheduled_queries/mart/revenue/revenue_mrr.sql", "GROUP BY customer_id",
         "GROUP BY customer_id\n-- reviewed")
    lineage = review(repo, "--stack", "prod").stdout.split("```mermaid\n", 1)[1].split("```", 1)[0]
    assert "class mart__revenue_mrr changed" in lineage
    assert "reporting__mrr_daily" in lineage and "mart__revenue_mrr --> reporting__mrr_daily" in lineage


def test_nothing_changed(repo):  # noqa: F811
    result = review(repo, "--stack", "prod")
    assert result.returncode == 0
    assert "No table, view or raw source changed" in result.stdout and "**no changes**" in result.stdout


def test_a_bad_ref_is_one_line(repo):  # noqa: F811
    result = run_cli("--root", str(repo), "review", "--base", "no-such-ref")
    assert result.returncode == 1 and len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith("review: ") and "no-such-ref" in result.stderr
