"""The scripts that write each scheduled query's rows into its declared table by DML
(infra/resources/write_sql.py): their shape, and what they do in the local BigQuery."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

import pytest
import sqlglot
from google.cloud import bigquery

from infra.declarations.columns import Column
from infra.declarations.queries import Partitioning
from infra.local.runner import run_script, split_statements
from infra.model.load import load_for_stack
from infra.resources.write_sql import in_partition, write_script
from tests.conftest import ROOT

PROJECT = "acme-warehouse-dev"
RUN_DATE = dt.date(2026, 11, 2)


@pytest.fixture(scope="module")
def warehouse():
    return load_for_stack(ROOT, "dev")


def script_of(warehouse, key: str, **changes) -> str:
    query = warehouse.query(key)
    if changes:
        query = dataclasses.replace(query, spec=dataclasses.replace(query.spec, **changes))
    return write_script(query, f"p.d.{query.spec.name}")


def statements(script: str) -> list[str]:
    return [line for line in script.splitlines() if line and not line.startswith("--")]


def test_a_full_rebuild_replaces_every_row_in_one_transaction(warehouse):
    script = script_of(warehouse, "mart.core_users")
    assert "WRITE_TRUNCATE" not in script and "CREATE" not in script
    lines = statements(script)
    assert lines[0] == "BEGIN TRANSACTION;" and lines[1] == "DELETE FROM `p.d.core_users` WHERE TRUE;"
    assert lines[-1] == "COMMIT TRANSACTION;"
    columns = [c.name for c in warehouse.query("mart.core_users").spec.columns]
    assert f"INSERT INTO `p.d.core_users` ({', '.join(columns)})" in script
    assert f"SELECT {', '.join(columns)}\nFROM (\n" in script  # by name, whatever the SELECT's order
    # the file's SQL, byte for byte (with the stack's names), inside the parentheses
    assert warehouse.query("mart.core_users").sql.rstrip() in script


def test_an_incremental_build_replaces_its_day_and_fails_on_any_other(warehouse):
    script = script_of(warehouse, "mart.revenue_mrr")
    day = "DATE_SUB(@run_date, INTERVAL 1 DAY)"
    assert f"DELETE FROM `p.d.revenue_mrr` WHERE as_of_date = {day};" in script
    assert f"IF(as_of_date = {day}, as_of_date, ERROR(" in script
    assert "WHERE TRUE" not in script


def test_an_appending_build_deletes_nothing(warehouse):
    script = script_of(warehouse, "mart.core_users", write_disposition="WRITE_APPEND")
    assert "DELETE" not in script and "INSERT INTO `p.d.core_users`" in script


@pytest.mark.parametrize("column_type, expected", [
    ("DATE", "d = DATE_SUB(@run_date, INTERVAL 1 DAY)"),
    ("TIMESTAMP", "d >= TIMESTAMP(DATE_SUB(@run_date, INTERVAL 1 DAY)) "
                  "AND d < TIMESTAMP(DATE_ADD(DATE_SUB(@run_date, INTERVAL 1 DAY), INTERVAL 1 DAY))"),
    ("DATETIME", "d >= DATETIME(DATE_SUB(@run_date, INTERVAL 1 DAY)) "
                 "AND d < DATETIME(DATE_ADD(DATE_SUB(@run_date, INTERVAL 1 DAY), INTERVAL 1 DAY))"),
])
def test_the_day_of_an_incremental_build_is_a_pruning_range(column_type, expected):
    assert in_partition("d", column_type) == expected


def test_every_script_of_the_warehouse_parses_as_bigquery(warehouse):
    for query in warehouse.queries:
        if query.spec.is_view:
            continue
        script = write_script(query, f"{PROJECT}.dev_{query.spec.dataset}.{query.spec.name}")
        parsed = [s for s in sqlglot.parse(script, read="bigquery") if s is not None]
        kinds = [type(s).__name__ for s in parsed]
        assert kinds[0] == "Transaction" and kinds[-1] == "Commit" and "Insert" in kinds, (query.spec.key, kinds)


def test_views_are_not_written(warehouse):
    view = next(q for q in warehouse.queries if q.spec.is_view)
    with pytest.raises(ValueError):
        write_script(view, "p.d.v")


# --- in the local BigQuery --------------------------------------------------------------------------------

def _table(client, dataset: str, columns, partition: str | None = None) -> bigquery.Table:
    table = bigquery.Table(f"{PROJECT}.{dataset}.t", schema=[
        bigquery.SchemaField(c.name, c.type, mode=c.mode, description=c.description) for c in columns])
    if partition:
        table.time_partitioning = bigquery.TimePartitioning(field=partition)
    return client.create_table(table)


def _run(client, script: str, warehouse) -> None:
    run_time = dt.datetime(2026, 11, 2, 4, 10, tzinfo=dt.UTC)
    run_script(client, script, run_time, [bigquery.ScalarQueryParameter("run_date", "DATE", RUN_DATE),
                                          bigquery.ScalarQueryParameter("run_time", "TIMESTAMP", run_time)])


def _rows(client, dataset: str) -> list[dict]:
    return sorted((dict(r) for r in client.query(f"SELECT * FROM `{PROJECT}.{dataset}.t`").result()),
                  key=lambda r: sorted((k, str(v)) for k, v in r.items()))


@pytest.fixture
def dataset(emulator, request):
    client = emulator.client()
    dataset_id = "write_" + re.sub(r"\W", "_", request.node.name)[:60]
    client.create_dataset(bigquery.Dataset(f"{PROJECT}.{dataset_id}"))
    yield client, dataset_id
    client.delete_dataset(f"{PROJECT}.{dataset_id}", delete_contents=True, not_found_ok=True)


COLUMNS = (Column("day", "DATE", "REQUIRED", "The day."), Column("n", "INT64", "REQUIRED", "A count."))


def _query(warehouse, dataset: str, sql: str, incremental: bool):
    base = warehouse.query("mart.revenue_mrr")
    spec = dataclasses.replace(base.spec, name="t", columns=COLUMNS, incremental=incremental,
                               partitioning=Partitioning("day", "DAY", None, False) if incremental else None,
                               write_disposition="WRITE_TRUNCATE")
    return dataclasses.replace(base, spec=spec, sql=sql)


def test_a_rebuild_keeps_the_declared_schema_and_replaces_the_rows(dataset, warehouse):
    client, name = dataset
    _table(client, name, COLUMNS)
    client.query(f"INSERT INTO `{PROJECT}.{name}.t` (day, n) VALUES (DATE '2026-10-01', 9)").result()
    # the SELECT names its columns in another order: they are inserted by name
    query = _query(warehouse, name, "SELECT 3 AS n, DATE_SUB(@run_date, INTERVAL 1 DAY) AS day", incremental=False)
    _run(client, write_script(query, f"{PROJECT}.{name}.t"), warehouse)
    assert _rows(client, name) == [{"day": dt.date(2026, 11, 1), "n": 3}]
    schema = client.get_table(f"{PROJECT}.{name}.t").schema
    assert [(f.name, f.mode, f.description) for f in schema] == [(c.name, c.mode, c.description) for c in COLUMNS]


def test_an_incremental_build_replaces_only_its_day(dataset, warehouse):
    client, name = dataset
    _table(client, name, COLUMNS, partition="day")
    client.query(f"INSERT INTO `{PROJECT}.{name}.t` (day, n) VALUES (DATE '2026-10-31', 1), "
                 "(DATE '2026-11-01', 2)").result()
    query = _query(warehouse, name, "SELECT DATE_SUB(@run_date, INTERVAL 1 DAY) AS day, 5 AS n", incremental=True)
    _run(client, write_script(query, f"{PROJECT}.{name}.t"), warehouse)
    assert _rows(client, name) == [{"day": dt.date(2026, 10, 31), "n": 1}, {"day": dt.date(2026, 11, 1), "n": 5}]


def test_a_row_outside_the_day_fails_the_build_and_changes_nothing(dataset, warehouse):
    client, name = dataset
    _table(client, name, COLUMNS, partition="day")
    client.query(f"INSERT INTO `{PROJECT}.{name}.t` (day, n) VALUES (DATE '2026-11-01', 2)").result()
    query = _query(warehouse, name, "SELECT DATE '2026-10-01' AS day, 5 AS n", incremental=True)
    with pytest.raises(Exception, match="a row is outside the partition of 2026-11-01: day = 2026-10-01"):
        _run(client, write_script(query, f"{PROJECT}.{name}.t"), warehouse)
    assert _rows(client, name) == [{"day": dt.date(2026, 11, 1), "n": 2}]  # the DELETE was rolled back


def test_split_statements_of_a_generated_script(warehouse):
    script = script_of(warehouse, "mart.revenue_mrr")
    kinds = [s.splitlines()[-1].split()[0] if not s.startswith("INSERT") else "INSERT"
             for s in split_statements(script)]
    assert kinds == ["BEGIN", "DELETE", "INSERT", "COMMIT"]
