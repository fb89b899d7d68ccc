"""Selection (`infra/checks/select.py`): dbt's grammar of node selection on the warehouse's lineage,
as a pure function, and `graph --select`, which draws only what is selected. What changed since a
git ref (`changed:`) is tested on a scratch git repository in test_select_git.py."""

from __future__ import annotations

import dataclasses
import re

import pytest

from infra.checks.select import Declared, SelectorError, select, selection
from infra.model.load import load_for_stack
from infra.problems import ProblemsError
from tests.conftest import ROOT, one_line_error, run_cli

MRR = "mart.revenue_mrr"


@pytest.fixture(scope="module")
def prod():
    return load_for_stack(ROOT, "prod")


def test_a_key_or_a_unique_table_name_selects_that_table(prod):
    assert select(prod, [MRR]) == {MRR}
    assert select(prod, ["revenue_mrr"]) == {MRR}
    assert select(prod, ["stripe.invoices"]) == {"stripe.invoices"}  # a raw source's table
    assert select(prod, ["invoices"]) == {"stripe.invoices"}


def test_plus_adds_everything_upstream_or_downstream(prod):
    upstream = prod.lineage.upstream
    assert select(prod, ["+" + MRR]) == {MRR, "stg_external.stg_stripe_subscriptions", "stripe.subscriptions"}
    downstream = select(prod, [MRR + "+"])
    assert MRR in downstream and "reporting.mrr_daily" in downstream
    assert all(MRR in upstream[k] or any(u in downstream for u in upstream[k]) for k in downstream - {MRR})
    assert select(prod, ["+" + MRR + "+"]) == select(prod, ["+" + MRR]) | downstream


def test_a_number_limits_how_many_steps_the_plus_goes(prod):
    key = "reporting.mrr_daily"
    parents = prod.lineage.upstream[key]
    assert select(prod, ["1+" + key]) == {key, *parents}
    grandparents = {g for p in parents for g in prod.lineage.upstream[p]}
    assert select(prod, ["2+" + key]) == {key, *parents, *grandparents}
    assert select(prod, ["1+" + key]) < select(prod, ["2+" + key]) <= select(prod, ["+" + key])
    source = "stripe.subscriptions"
    children = {k for k, ups in prod.lineage.upstream.items() if source in ups}
    assert select(prod, [source + "+1"]) == {source, *children}
    assert select(prod, ["0+" + MRR]) == {MRR}


def test_layer_folder_and_dataset_select_what_they_name(prod):
    reporting = select(prod, ["layer:reporting"])
    assert reporting and all(k.startswith("reporting.") for k in reporting)
    revenue = {q.spec.key for q in prod.queries if q.spec.folder == "revenue"}
    assert select(prod, ["folder:revenue"]) == revenue == select(prod, ["folder:mart/revenue"])
    assert select(prod, ["dataset:stripe"]) == {"stripe.customers", "stripe.invoices", "stripe.subscriptions"}
    assert select(prod, ["layer:source"]) == {k for k, n in prod.lineage.nodes.items() if n.kind == "source"}


def test_a_comma_intersects_and_a_space_or_a_repeat_unites(prod):
    both = select(prod, ["layer:staging,stg_stripe_*"])
    assert both == {"stg_external.stg_stripe_customers", "stg_external.stg_stripe_invoices",
                    "stg_external.stg_stripe_subscriptions"}
    assert select(prod, ["folder:revenue layer:reporting"]) == \
        select(prod, ["folder:revenue", "layer:reporting"]) == \
        select(prod, ["folder:revenue"]) | select(prod, ["layer:reporting"])
    assert select(prod, ["+reporting.mrr_daily,layer:staging"]) == {"stg_external.stg_stripe_subscriptions"}


def test_a_tables_files_are_its_sql_yaml_folder_defaults_and_dataset(prod):
    chosen = selection(Declared.of(prod), [MRR])
    assert chosen.files == {"scheduled_queries/mart/revenue/revenue_mrr.sql",
                            "scheduled_queries/mart/revenue/revenue_mrr.yaml",
                            "scheduled_queries/mart/revenue/_defaults.yaml", "scheduled_queries/mart/_defaults.yaml",
                            "datasets/mart.yaml"}
    assert selection(Declared.of(prod), ["stripe.invoices"]).files == {"datasets/sources/stripe.yaml"}


@pytest.mark.parametrize("selector, message", [
    ("revenue_mr", "there is no table 'revenue_mr' (did you mean 'revenue_mrr'?)"),
    ("mart.revenue_mr", "there is no table 'mart.revenue_mr' (did you mean 'mart.revenue_mrr'?)"),
    ("layer:mrt", "no table has layer 'mrt' (did you mean 'mart'?)"),
    ("folder:revenu", "no table has folder 'revenu' (did you mean 'revenue'?)"),
    ("dataset:strip", "no table has dataset 'strip' (did you mean 'stripe'?)"),
    ("tag:nightly", "unknown method 'tag'"),
    ("layer:", "layer: needs a value"),
    ("2+", "names nothing"),
    ("stg_nothing_*", "matches no table"),
    ("layer:staging,dataset:mart", "no table is selected by all of layer:staging, dataset:mart"),
    ("changed:main", "changed: needs the project's git checkout"),
])
def test_a_selector_naming_nothing_is_refused_in_one_line(prod, selector, message):
    with pytest.raises(SelectorError) as caught:
        select(prod, [selector])
    text = str(caught.value)
    assert text.startswith(f"selector {selector!r}: {message}") and "; fix: " in text and "\n" not in text


def test_no_selector_at_all_is_refused(prod):
    for selectors in ([], [""], ["  "]):
        with pytest.raises(SelectorError, match="selects nothing"):
            select(prod, selectors)


def test_a_table_name_of_two_datasets_must_be_written_with_its_dataset(prod):
    declared = Declared.of(prod)
    stripe = next(s for s in declared.sources if s.name == "stripe")
    twin = dataclasses.replace(stripe, tables={**stripe.tables, "revenue_mrr": None})
    declared = dataclasses.replace(declared, sources=tuple(twin if s is stripe else s for s in declared.sources))
    with pytest.raises(SelectorError, match=re.escape("of several datasets: mart.revenue_mrr, stripe.revenue_mrr")):
        selection(declared, ["revenue_mrr"])
    assert selection(declared, [MRR]).keys == {MRR}


def test_a_query_whose_yaml_did_not_load_is_still_selected_by_its_name_folder_and_layer(project):
    users = project / "scheduled_queries/mart/core/core_users.yaml"
    users.write_text(users.read_text().replace("type: DATE", "type: DATEX", 1))
    with pytest.raises(ProblemsError) as caught:
        load_for_stack(project, "prod")
    declared = caught.value.declared
    assert declared.unloaded == ("mart/core/core_users",) and declared.lineage is not None
    for selector in ("core_users", "mart.core_users", "folder:core", "layer:mart", "core_*"):
        chosen = selection(declared, [selector])
        assert chosen.unloaded == {"mart/core/core_users"}, selector
        assert {"scheduled_queries/mart/core/core_users.yaml", "scheduled_queries/mart/core/core_users.sql"} <= \
            chosen.files
        assert all("/" not in key for key in chosen.keys)  # only tables that loaded are keys
    assert selection(declared, ["dataset:mart"]).unloaded == set()  # its dataset is unknown


def test_check_select_without_any_stack_file_shows_everything(project):
    stack = project / "Pulumi.prod.yaml"
    stack.write_text(stack.read_text().replace("config:", "config: [", 1))
    done = run_cli("--root", str(project), "check", "--stack", "prod", "--select", "mart.revenue_mrr")
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    assert lines[0].startswith("check: --select is ignored: no stack file loaded")
    assert lines[1].startswith("Pulumi.prod.yaml:") and lines[-1] == f"{len(lines) - 2} problem(s) found."


def test_graph_select_draws_only_the_selection_small_enough_to_paste():
    whole = run_cli("graph", "--stack", "prod").stdout.splitlines()
    assert len(whole) > 100  # the issue: 127 lines, too many for a pull request
    done = run_cli("graph", "--stack", "prod", "--select", "+mart.revenue_mrr+")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) <= 20, done.stdout
    drawn = {line.strip().split("[", 1)[0] for line in lines if "[" in line}
    assert drawn == {"stripe__subscriptions", "stg_external__stg_stripe_subscriptions", "mart__revenue_mrr",
                     "reporting__mrr_daily"}
    edges = {line.strip() for line in lines if "-->" in line}
    assert edges == {"stripe__subscriptions --> stg_external__stg_stripe_subscriptions",
                     "stg_external__stg_stripe_subscriptions --> mart__revenue_mrr",
                     "mart__revenue_mrr --> reporting__mrr_daily"}
    assert "classDef" not in done.stdout  # nothing changed is highlighted without --changed
    dot = run_cli("graph", "--stack", "prod", "--format", "dot", "--select", "folder:revenue").stdout
    assert '"mart.revenue_mrr" [shape=box];' in dot
    assert not [line for line in dot.splitlines() if " -> " in line]  # no edge between the two


def test_graph_select_an_edge_leaves_out_what_is_not_selected():
    done = run_cli("graph", "--stack", "prod", "--select", "mart.revenue_mrr reporting.mrr_daily")
    assert [line.strip() for line in done.stdout.splitlines() if "-->" in line] == \
        ["mart__revenue_mrr --> reporting__mrr_daily"]


def test_graph_refuses_a_bad_selector_in_one_line():
    line = one_line_error(run_cli("graph", "--select", "layer:mrt"))
    assert line.startswith("graph: selector 'layer:mrt': no table has layer 'mrt' (did you mean 'mart'?); fix: ")


def test_check_refuses_a_bad_selector_in_one_line_before_checking():
    line = one_line_error(run_cli("check", "--select", "revenue_mr", "--format", "json"))
    assert line.startswith("check: selector 'revenue_mr': there is no table 'revenue_mr' (did you mean "
                           "'revenue_mrr'?); fix: ")
