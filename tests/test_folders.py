"""`folders:` on a dataset routes tables: the queries of `scheduled_queries/<layer>/<folder>/` write to
the dataset of that layer that lists the folder, unless their own file or their folder's
`_defaults.yaml` says `dataset:`; the layer's `_defaults.yaml` comes after. Conflicts are problem
lines where they are written."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from infra.model.load import load_for_stack
from infra.plan.runtime import run_program
from infra.problems import ProblemsError
from tests.conftest import run_cli

CAMPAIGNS = """description: Campaign marts, read by the growth team.
layer: mart
folders: [campaigns]
"""
EXEMPT = "datasets:\n  campaigns:\n    exempt: Rebuilt every day from the marts by its own queries.\n"


def add_campaigns(project: Path, folders: str = "[campaigns]") -> Path:
    """A second mart dataset listing the folder `campaigns`, holding one query (a copy of
    revenue_mrr's files, as camp_mrr)."""
    (project / "datasets/campaigns.yaml").write_text(CAMPAIGNS.replace("[campaigns]", folders))
    coverage = project / "backups/coverage.yaml"
    coverage.write_text(coverage.read_text().replace("datasets:\n", EXEMPT, 1))
    folder = project / "scheduled_queries/mart/campaigns"
    folder.mkdir()
    for suffix in (".sql", ".yaml"):
        shutil.copy(project / f"scheduled_queries/mart/revenue/revenue_mrr{suffix}", folder / f"camp_mrr{suffix}")
    return folder


def problems_of(project: Path) -> list[str]:
    with pytest.raises(ProblemsError) as caught:
        load_for_stack(project, "prod")
    return [str(p) for p in caught.value.problems]


def datasets_of(project: Path) -> dict[str, str]:
    return {q.spec.key.split(".")[1]: q.spec.dataset for q in load_for_stack(project, "prod").queries}


def test_a_listed_folder_writes_to_the_dataset_that_lists_it(project):
    add_campaigns(project)
    written = datasets_of(project)
    assert written["camp_mrr"] == "campaigns"  # before mart/_defaults.yaml's `dataset: mart`
    assert written["revenue_mrr"] == "mart" and written["ml_churn_features"] == "ml"
    plan = run_program(project, "prod")
    tables = {r.inputs.get("tableId"): r.inputs.get("datasetId") for r in plan.resources
              if r.type == "gcp:bigquery/table:Table"}
    assert tables["camp_mrr"] == "production_campaigns"


def test_the_file_or_the_folder_defaults_naming_the_same_dataset_is_fine(project):
    folder = add_campaigns(project)
    (folder / "_defaults.yaml").write_text("dataset: campaigns\n")
    with (folder / "camp_mrr.yaml").open("a") as f:
        f.write("dataset: campaigns\n")
    assert datasets_of(project)["camp_mrr"] == "campaigns"


def test_routes_alone_rebuild_the_shipped_warehouse(project, prod_plan):
    """The shipped mart and ml datasets list every folder of their layer: without the layers'
    `dataset:` defaults, the plan is the same, resource for resource."""
    for layer in ("mart", "ml"):
        defaults = project / f"scheduled_queries/{layer}/_defaults.yaml"
        text = defaults.read_text()
        assert f"dataset: {layer}\n" in text
        defaults.write_text(text.replace(f"dataset: {layer}\n", ""))
    assert run_program(project, "prod").as_json() == prod_plan.as_json()


def test_an_unlisted_folder_falls_back_to_the_layer_default(project):
    mart = project / "datasets/mart.yaml"
    mart.write_text(mart.read_text().replace("folders: [core, marketing, product, revenue, spam, support, ua]",
                                             "folders: [core, marketing, product, spam, support, ua]"))
    assert datasets_of(project)["revenue_mrr"] == "mart"


def test_two_datasets_listing_one_folder_are_told_at_both_places(project):
    add_campaigns(project, "[campaigns, revenue]")
    assert problems_of(project) == [
        "datasets/campaigns.yaml:3: folders[1]: folder 'revenue' is also listed by datasets/mart.yaml:5: the queries "
        "of scheduled_queries/mart/revenue/ write to one dataset; fix: keep the folder in the `folders:` of one "
        "dataset only",
        "datasets/mart.yaml:5: folders[3]: folder 'revenue' is also listed by datasets/campaigns.yaml:3: the queries "
        "of scheduled_queries/mart/revenue/ write to one dataset; fix: keep the folder in the `folders:` of one "
        "dataset only"]


def test_a_listed_folder_without_a_directory_suggests_the_near_one(project):
    mart = project / "datasets/mart.yaml"
    mart.write_text(mart.read_text().replace("folders: [core, marketing, product, revenue, spam, support, ua]",
                                             "folders:\n  - core\n  - markting\n  - product\n  - revenue"))
    assert problems_of(project) == [
        "datasets/mart.yaml:7: folders[1]: folder 'markting' has no directory scheduled_queries/mart/markting/ "
        "(did you mean 'marketing'?); fix: add its queries under scheduled_queries/mart/markting/, or remove it "
        "from `folders:`"]


def test_a_query_naming_another_dataset_than_its_folders_is_a_problem(project):
    folder = add_campaigns(project)
    text = (folder / "camp_mrr.yaml").read_text()
    (folder / "camp_mrr.yaml").write_text(text + "dataset: mart\n")
    line = len(text.splitlines()) + 1
    assert problems_of(project) == [
        f"scheduled_queries/mart/campaigns/camp_mrr.yaml:{line}: dataset: 'mart' here, but datasets/campaigns.yaml "
        "lists folder 'campaigns' under `folders:`, so its queries write to 'campaigns'; fix: remove `dataset:` (or "
        "remove 'campaigns' from the `folders:` of datasets/campaigns.yaml)"]


def test_a_folder_default_naming_another_dataset_is_one_problem_at_its_line(project):
    add_campaigns(project)
    (project / "scheduled_queries/mart/revenue/_defaults.yaml").write_text("# Revenue marts.\ndataset: campaigns\n")
    assert problems_of(project) == [
        "scheduled_queries/mart/revenue/_defaults.yaml:2: dataset: 'campaigns' here, but datasets/mart.yaml lists "
        "folder 'revenue' under `folders:`, so its queries write to 'mart'; fix: remove `dataset:` (or remove "
        "'revenue' from the `folders:` of datasets/mart.yaml)"]


@pytest.mark.parametrize(("named", "what"), [
    ("stg_external", "a mart query writes to 'stg_external', a staging dataset"),
    ("mrat", "dataset 'mrat' is not a managed dataset (did you mean 'mart'?)"),
])
def test_a_dataset_of_another_layer_or_none_keeps_the_query_rules_line(project, named, what):
    query = project / "scheduled_queries/mart/revenue/revenue_mrr.yaml"
    query.write_text(query.read_text() + f"dataset: {named}\n")
    [line] = [p for p in problems_of(project) if p.startswith("scheduled_queries/mart/revenue/revenue_mrr.yaml")]
    assert what in line


def test_a_layer_default_that_every_route_overrides_is_still_checked(project):
    defaults = project / "scheduled_queries/mart/_defaults.yaml"
    defaults.write_text(defaults.read_text().replace("dataset: mart", "dataset: mrat"))
    assert problems_of(project) == [
        "scheduled_queries/mart/_defaults.yaml:2: dataset: dataset 'mrat' is not a managed dataset (did you mean "
        "'mart'?); fix: use one of: airflow, census, customer_io, mart, ml, reporting, stg_external"]


def test_check_exits_1_with_the_problem_lines(project):
    add_campaigns(project, "[campaigns, revenue]")
    result = run_cli("--root", str(project), "check", "--stack", "prod")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.count("is also listed by") == 2
