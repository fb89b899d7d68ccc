"""`backups coverage`: each table's class (irreplaceable, history, rebuildable, view), the policies
that really snapshot it, rebuildable tables whose inputs are not backed up, and each policy's
snapshot storage estimated by replaying the schedules (full copies for full rebuilds; data held by
several snapshots charged once, to the oldest; the live version not at all)."""

from __future__ import annotations

import datetime as dt

import pytest
from google.api_core.exceptions import NotFound

from infra.cli.backups import table_sizes
from infra.model.load import load_for_stack
from infra.ops.coverage import HISTORY, IRREPLACEABLE, REBUILDABLE, VIEW, coverage, render_coverage, ultimate_inputs
from infra.ops.snapshot_storage import GIB, estimate, render_storage
from tests.conftest import ROOT, copy_project, one_line_error, run_cli, run_cli_without_credentials

TUESDAY = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
SUNDAY = dt.datetime(2026, 11, 29, tzinfo=dt.UTC)  # weekly_snapshots runs at 06:20, the builds from 03:10


@pytest.fixture(scope="module")
def prod():
    return load_for_stack(ROOT, "prod")


def tables(rows) -> dict:
    return {t.key: t for r in rows for t in r.tables}


def test_every_table_has_its_class(prod):
    found = tables(coverage(prod))
    for s in prod.sources:
        for t in s.spec.tables:
            assert found[f"{s.name}.{t}"].value == IRREPLACEABLE
    for q in prod.queries:
        t = found[q.spec.key]
        if q.spec.is_view:
            assert t.value == VIEW
        elif q.spec.incremental or q.spec.write_disposition == "WRITE_APPEND":
            assert t.value == HISTORY, q.spec.key
        else:
            assert t.value == REBUILDABLE, q.spec.key
    assert found["mart.revenue_mrr"].why == "incremental: one day per run"
    assert found["stripe.invoices"].why == "a raw load by stitch"


def test_history_policies_snapshot_only_what_cannot_be_rebuilt(prod):
    found = tables(coverage(prod))
    assert found["mart.core_users"].snapshots == ("weekly_snapshots",)
    assert found["mart.core_users"].copies == ("dr_copy_eu",)
    assert set(found["mart.revenue_mrr"].snapshots) == {"daily_snapshots", "weekly_snapshots", "monthly_snapshots"}
    assert found["amplitude.events"].snapshots == ("daily_snapshots", "monthly_snapshots")
    assert all(t.snapshots for t in found.values() if t.value != VIEW)


def test_a_full_rebuild_reads_down_to_raw_and_history_tables(prod):
    inputs = ultimate_inputs(prod, "mart.core_users")
    assert inputs and all(k.split(".")[0] in {s.name for s in prod.sources} or prod.query(k).spec.incremental
                          for k in inputs)
    assert "firestore.users_raw_changelog" in inputs
    assert not [t for t in tables(coverage(prod)).values() if t.unprotected_inputs]


def test_a_rebuild_from_inputs_that_are_not_backed_up_is_named(tmp_path):
    project = copy_project(tmp_path / "p")
    coverage_file = project / "backups" / "coverage.yaml"
    text = coverage_file.read_text()
    coverage_file.write_text(text.replace("  stripe: [daily_snapshots, monthly_snapshots]",
                                          "  stripe: {exempt: Stitch can re-load the full history.}"))
    wh = load_for_stack(project, "prod")
    found = tables(coverage(wh))
    assert found["stripe.invoices"].snapshots == ()
    assert found["stg_external.stg_stripe_invoices"].unprotected_inputs == ("stripe.invoices",)
    assert found["mart.revenue_invoices_monthly"].unprotected_inputs == ("stripe.invoices",)
    assert found["mart.revenue_invoices_monthly"].why == "a full rebuild"
    out = render_coverage(wh, coverage(wh))
    assert "Rebuildable only from inputs that are not backed up: " in out
    assert "inputs not backed up: stripe.invoices" in out


def storage_of(wh, moment, sizes=None):
    storage, copies = estimate(wh, coverage(wh), moment, sizes)
    return {s.policy.name: s for s in storage}, {c.policy.name: c for c in copies}


def test_weekly_full_snapshots_cost_one_full_copy_per_kept_snapshot(prod):
    storage, _ = storage_of(prod, TUESDAY)
    weekly = storage["weekly_snapshots"]
    assert weekly.kept_per_table == 4
    rebuildable = {t.key for t in tables(coverage(prod)).values() if t.value == REBUILDABLE}
    assert set(weekly.full_copies) == rebuildable
    assert set(weekly.full_copies.values()) == {4}
    assert weekly.copies == 4 * len(rebuildable)
    # history policies keep no full copies: only the changed rows of what they snapshot
    assert storage["daily_snapshots"].copies == 0 and storage["monthly_snapshots"].copies == 0
    assert len(storage["daily_snapshots"].changed_data) == 23  # raw tables and incremental tables


def test_the_live_version_is_not_charged(prod):
    before = storage_of(prod, SUNDAY + dt.timedelta(hours=6))[0]["weekly_snapshots"]
    after = storage_of(prod, SUNDAY + dt.timedelta(hours=6, minutes=30))[0]["weekly_snapshots"]
    assert before.kept_per_table == after.kept_per_table == 4
    # 06:30: today's snapshot holds the table as it is now (built at 04:10): not charged yet
    assert set(before.full_copies.values()) == {4}
    assert set(after.full_copies.values()) == {3}


def test_data_in_several_snapshots_is_charged_to_the_oldest(tmp_path):
    project = copy_project(tmp_path / "p")
    daily = project / "backups" / "policies" / "daily_snapshots.yaml"
    daily.write_text(daily.read_text().replace("tables: history", "tables: all"))
    wh = load_for_stack(project, "prod")
    storage, _ = storage_of(wh, TUESDAY)
    both = set(storage["daily_snapshots"].full_copies) & set(storage["weekly_snapshots"].full_copies)
    assert {k.split(".")[0] for k in both} == {"mart", "stg_external"}
    # every daily build is held by the daily snapshot of its day: the weekly one (10 minutes later) adds nothing
    assert {storage["weekly_snapshots"].full_copies[k] for k in both} == {0}
    # 35 kept; today's holds the live table
    assert storage["daily_snapshots"].kept_per_table == 35
    assert {storage["daily_snapshots"].full_copies[k] for k in both} == {34}
    # where only the weekly policy applies, it keeps its 4 copies
    assert {n for k, n in storage["weekly_snapshots"].full_copies.items() if k not in both} == {4}


def test_sizes_make_bytes(prod):
    rows = coverage(prod)
    sizes = {t.table_id: GIB for t in tables(rows).values() if t.value == REBUILDABLE}
    missing = "acme-warehouse-prod.production_mart.core_users"
    sizes[missing] = None
    storage, copies = estimate(prod, rows, TUESDAY, sizes)
    weekly = next(s for s in storage if s.policy.name == "weekly_snapshots")
    assert weekly.unsized == ["mart.core_users"]
    assert weekly.bytes == 4 * GIB * (len(weekly.full_copies) - 1)
    out = render_storage(storage, copies, TUESDAY, sized=True)
    assert f"= {4 * (len(weekly.full_copies) - 1)}.00 GiB (size unknown: mart.core_users)" in out
    [dr] = copies
    assert dr.datasets == ["production_mart", "production_stg_external"]


def test_table_sizes_reads_each_table_once():
    class Table:
        num_bytes = 123

    class Client:
        def __init__(self):
            self.asked = []

        def get_table(self, table_id):
            self.asked.append(table_id)
            if table_id.endswith("gone"):
                raise NotFound("no such table")
            return Table()

    client = Client()
    assert table_sizes(client, ["p.d.a", "p.d.gone"]) == {"p.d.a": 123, "p.d.gone": None}
    assert client.asked == ["p.d.a", "p.d.gone"]


def test_coverage_lists_every_raw_source_with_its_policies(prod):
    result = run_cli("backups", "coverage", "--stack", "prod")
    assert result.returncode == 0, result.stderr
    for s in prod.sources:
        assert f"{s.dataset_id}  [policies: daily_snapshots, monthly_snapshots]" in result.stdout
    assert "Snapshot storage at " in result.stdout
    assert "22 rebuildable tables, each rewritten in full" in result.stdout


def test_sizes_need_credentials():
    line = one_line_error(run_cli_without_credentials("backups", "coverage", "--stack", "prod", "--sizes"))
    assert line.startswith("backups coverage: no Google Cloud credentials found for project acme-warehouse-prod")
