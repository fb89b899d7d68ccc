"""The local run: the planned warehouse built in a local BigQuery emulator from fixture rows.

`run --local` plans the stack (the same mock-runtime run as `plan`), then, against the emulator:

1. creates every dataset, declared table and view the plan declares, with the inputs the plan
   holds (schema, partitioning, clustering, the view's SQL), and the raw sources' tables from
   their declarations;
2. loads the fixture rows (`tests/fixtures/<source>/<table>.jsonl`) into the raw sources;
3. runs every scheduled query in dependency order, with `@run_date` and `@run_time` set as the
   Data Transfer Service would: first its SELECT, whose result is checked against the declared
   columns (the contract: names and order, types, no NULL in a REQUIRED column, and for an
   incremental query rows only in its partition); then, when the contract holds, the script the
   plan's `DataTransferConfig` holds (not a copy of the files), which writes the rows into the
   declared table by DML (`infra/resources/write_sql.py`).

Incremental queries and scripts run on two run dates: first the day before the run date (with the
queries and views they read), then every query and view on the run date, which rebuilds every
table but theirs, so that what stays in the emulator is the run date's. Their tables hold history
(an incremental build replaces one partition, a script upserts), so the run date's build finds
the day before's rows, as production's would: an incremental query that reads its own earlier
partitions (`infra/checks/self_reads.py`) reads them there. Of two consecutive days one is not the 1st of a
month, so a query whose grain does not match its partition (a monthly `DATE_TRUNC` written into a
DAY partition replaced per day) fails on one of them. A query or view downstream of a failure
(through views too) is skipped, naming the failure, never checked on the rows it did not get; one
that returns no rows passes its contract with a warning (`Result.empty`).

Emulator gaps are worked around here, never in the SQL (docs/local-bigquery.md): the emulator
passes no query parameters to a multi-statement script, so a build's statements run one by
one, each byte for byte, and a scheduled script (`kind: script`, whose variables and temporary
tables live in one job) runs whole with the parameters written as literals (`gaps.py`); it does
not enforce REQUIRED on DML, which the contract check does before anything is written;
current-time functions read the run's moment (`gaps.py`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import json
import time
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from infra.local.contract import contract_problems, partition_problems
from infra.local.gaps import PARAMETER_TYPES, Schema, adapt_for_emulator, adapt_script, inline_parameters
from infra.local.names import address_of, local_schema
from infra.local.routines import (
    calls_any,
    create_routine,
    inline_query_parameters,
    temp_function_name,
    with_temp_functions,
)
from infra.model.backups import snapshot_table_name
from infra.model.warehouse import Warehouse
from infra.plan.runtime import Plan, Registration
from infra.vocabulary import DATASET_TYPE

__all__ = ["LocalRun", "LocalRunError", "Result", "contract_problems", "parameters_of", "read_run_date",
           "run_script", "split_statements"]

FIXTURES = Path("tests") / "fixtures"
_TIMEOUT = 120  # seconds for one local query; the fixtures are small


@dataclass
class Result:
    key: str  # dataset.table
    kind: str  # table, view, source, backup or routine
    rows: int = 0
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)
    run_date: dt.date | None = None  # the @run_date a table or view was built on
    incremental: bool = False
    skipped_for: tuple[str, ...] = ()  # the failed upstream queries or views that kept it from running

    @property
    def ok(self) -> bool:
        """Built, and its contract holds."""
        return not self.problems and not self.skipped_for

    @property
    def failed(self) -> bool:
        return bool(self.problems)

    @property
    def skipped(self) -> bool:
        return bool(self.skipped_for)

    @property
    def empty(self) -> bool:
        """A table or view whose contract holds on no rows at all: nothing was really checked."""
        return self.ok and self.kind in ("table", "view") and self.rows == 0


class LocalRunError(Exception):
    """The local run could not start (no emulator, unreadable fixtures)."""


def read_run_date(root: Path) -> dt.date:
    path = root / FIXTURES / "_run.yaml"
    try:
        return dt.date.fromisoformat(str(yaml.safe_load(path.read_text(encoding="utf-8"))["run_date"]))
    except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError) as exc:
        raise LocalRunError(f"{FIXTURES / '_run.yaml'}: no readable `run_date: \"YYYY-MM-DD\"` ({exc}); "
                            "fix: write the fixtures' run date there, or pass --run-date") from None


def parameters_of(statement: str) -> set[str]:
    """The names of the query parameters (`@run_date`) a statement uses; comments aside."""
    from sqlglot.dialects.bigquery import BigQuery
    from sqlglot.tokens import TokenType

    tokens = BigQuery().tokenize(statement)
    return {after.text.lower() for before, after in itertools.pairwise(tokens)
            if before.token_type == TokenType.PARAMETER}


def split_statements(script: str) -> list[str]:
    """The statements of a script, each its own text (comments before it included), split at the
    semicolons outside parentheses."""
    from sqlglot.dialects.bigquery import BigQuery
    from sqlglot.tokens import TokenType

    out, start, depth = [], 0, 0
    for token in BigQuery().tokenize(script):
        if token.token_type == TokenType.L_PAREN:
            depth += 1
        elif token.token_type == TokenType.R_PAREN:
            depth -= 1
        elif token.token_type == TokenType.SEMICOLON and depth == 0:
            out.append(script[start:token.start].strip())
            start = token.end + 1
    tail = script[start:].strip()
    if tail and any(not line.strip().startswith("--") for line in tail.splitlines() if line.strip()):
        out.append(tail)
    return [s for s in out if s]


def run_time_of(run_date: dt.date, time_of_day: int | None) -> dt.datetime:
    minutes = time_of_day or 0
    return dt.datetime.combine(run_date, dt.time(minutes // 60, minutes % 60), tzinfo=dt.UTC)


def previous_run_date(run_date: dt.date) -> dt.date:
    """The other run date of the incremental queries: the day before. Their partitions (the days
    before each) are consecutive days, so one of them is not the 1st of a month."""
    return run_date - dt.timedelta(days=1)


class LocalRun:
    """Builds the planned warehouse in an emulator through a `google.cloud.bigquery.Client`."""

    def __init__(self, root: Path, warehouse: Warehouse, plan: Plan, client: Any, run_date: dt.date,
                 progress: Callable[[Result], None] = lambda r: None, select: Collection[str] | None = None):
        """`select`: build only these tables and views and what they read (`run --local --select`);
        the snapshots then are not taken. None: everything."""
        self.root = root
        self.warehouse = warehouse
        self.plan = plan
        self.client = client
        self.run_date = run_date
        self.progress = progress
        self.by_name = {r.name: r for r in plan.resources}
        self.schema: Schema = local_schema(warehouse, plan)
        self.keys = self._with_upstream(select) if select is not None else None
        self.kept: set[str] = set()  # tables holding history, built on an earlier day: not recreated

    # -- set-up -----------------------------------------------------------------------------
    def create_datasets(self) -> None:
        from google.cloud import bigquery

        for r in self.plan.resources:
            if r.type == DATASET_TYPE:
                ds = bigquery.Dataset(f"{r.inputs['project']}.{r.inputs['datasetId']}")
                ds.location = r.inputs.get("location")
                ds.description = r.inputs.get("description")
                ds.labels = r.inputs.get("labels") or {}
                self.client.create_dataset(ds, exists_ok=True)
        for source in self.warehouse.sources:
            self.client.create_dataset(bigquery.Dataset(f"{source.project}.{source.dataset_id}"), exists_ok=True)

    def create_sources(self) -> list[Result]:
        from google.cloud import bigquery

        results = []
        for source in self.warehouse.sources:
            for name, spec in ((n, t) for t in source.spec.tables.values() for n in self._shards(source.name, t)):
                started = time.monotonic()
                table = bigquery.Table(f"{source.project}.{source.dataset_id}.{name}",
                                       schema=[_field(c.as_bigquery_json()) for c in spec.columns])
                if spec.partition_column:
                    table.time_partitioning = bigquery.TimePartitioning(field=spec.partition_column)
                    table.require_partition_filter = spec.require_partition_filter
                # Recreated, so that a second run in the same emulator starts from the fixtures again.
                self.client.delete_table(table, not_found_ok=True)
                self.client.create_table(table)
                rows = list(self._fixture_rows(source.name, name))
                if rows:
                    errors = self.client.insert_rows_json(table, rows)
                    if errors:
                        raise LocalRunError(f"fixture {source.name}/{name}.jsonl does not fit the table: {errors[:3]}")
                results.append(Result(f"{source.name}.{name}", "source", len(rows), time.monotonic() - started))
        return results

    def _shards(self, source: str, table) -> list[str]:
        """The tables to create for a source table: itself, or for a family (`events_*`) one shard
        per fixture file (`tests/fixtures/<source>/events_20261101.jsonl`), else an empty shard of
        the day before the run date, as a daily export would hold. The emulator reads a wildcard
        table and filters `_TABLE_SUFFIX` (docs/local-bigquery.md)."""
        if not table.family:
            return [table.name]
        shards = sorted(p.stem for p in (self.root / FIXTURES / source).glob(f"{table.prefix}*.jsonl"))
        return shards or [f"{table.prefix}{previous_run_date(self.run_date):%Y%m%d}"]

    def _fixture_rows(self, source: str, table: str) -> Iterator[dict]:
        path = self.root / FIXTURES / source / f"{table}.jsonl"
        if not path.is_file():
            return
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                try:
                    yield json.loads(line)
                except ValueError as exc:
                    raise LocalRunError(f"{path.relative_to(self.root)}:{number}: not JSON ({exc})") from None

    # -- the run ----------------------------------------------------------------------------
    def run(self) -> list[Result]:
        """Sources, then the incremental queries on the day before the run date (with what they
        read, whose results are reported only when they fail: the run date reports them all), then
        every query and view on the run date, then the snapshots. A table or view thus has one or
        two results, the run date's last."""
        self.create_datasets()
        results = self.create_sources()
        before = self._with_upstream(q.spec.key for q in self.warehouse.queries if _holds_history(q.spec))
        if self.keys is not None:
            before &= self.keys
        results += self._build(previous_run_date(self.run_date), before, report=lambda r: r.incremental or r.failed)
        results += self._build(self.run_date, self.keys)
        jobs = self.warehouse.backups.snapshots if self.warehouse.backups and self.keys is None else ()
        for job in jobs:
            result = self._snapshots(job)
            results.append(result)
            self.progress(result)
        return results

    def _build(self, day: dt.date, keys: set[str] | None = None,
               report: Callable[[Result], bool] = lambda r: True) -> list[Result]:
        """Every query and view (of `keys`, if given) on `day`, in dependency order; one
        downstream of a failure, directly or through others, is skipped naming the failure."""
        failed: set[str] = set()
        stopped: dict[str, tuple[str, ...]] = {}  # skipped key -> the failures upstream of it
        results = []
        for key in self.warehouse.lineage.order():
            if self.warehouse.routine(key) is not None and (keys is None or key in keys):
                result = self._routine(key, day)
                if result.failed:  # what calls it is skipped; a routine made is not worth a line
                    failed.add(key)
                    results.append(result)
                    self.progress(result)
                continue
            query = self.warehouse.query(key)
            if query is None or (keys is not None and key not in keys):
                continue
            upstream = set()
            for up in self.warehouse.lineage.upstream.get(key, ()):
                upstream.update({up} if up in failed else stopped.get(up, ()))
            if upstream:
                result = self._skip(key, day, tuple(sorted(upstream)))
                stopped[key] = result.skipped_for
            else:
                result = self._view(key, day) if query.spec.is_view else self._table(key, day)
                if result.failed:
                    failed.add(key)
            if report(result):
                results.append(result)
                self.progress(result)
        return results

    def _with_upstream(self, start: Iterable[str]) -> set[str]:
        """`start` and everything it reads, directly or not."""
        todo = list(start)
        keys: set[str] = set()
        while todo:
            key = todo.pop()
            if key not in keys:
                keys.add(key)
                todo.extend(self.warehouse.lineage.upstream.get(key, ()))
        return keys

    def _skip(self, key: str, day: dt.date, failed_upstream: tuple[str, ...]) -> Result:
        spec = self.warehouse.query(key).spec
        kind = "view" if spec.is_view else "table"
        result = Result(key, kind, run_date=day, incremental=_holds_history(spec), skipped_for=failed_upstream)
        self.kept.discard(key)
        # Declared, it exists whatever its build does: empty here, so that nothing reads an
        # earlier day's rows as this day's.
        with contextlib.suppress(Exception):
            self._create_table(self.by_name[f"{key}-{kind}"], day)
        return result

    def _snapshots(self, job) -> Result:
        """A snapshot policy's run, as the generated script would do it, table by table.

        Emulator gap: `CREATE SNAPSHOT TABLE` works there only without `FOR SYSTEM_TIME AS OF`
        and `OPTIONS(...)`, and not inside `EXECUTE IMMEDIATE`, so the loop runs here with the
        plain statement (the tables were just built: now is the run's point in time). The names
        are the script's, so `restore` finds these snapshots as it finds production ones."""
        by_name = {d.name: d for d in self.warehouse.datasets}
        backup = by_name[job.backup_dataset]
        result = Result(f"{backup.name} <- {job.policy.name}", "backup")
        started = time.monotonic()
        moment = run_time_of(self.run_date, job.policy.schedule.time_of_day)
        # Emulator gap: a dropped snapshot's name cannot be used again, so a second local run
        # keeps the snapshots of the first (the same run time over the same fixtures).
        existing = {t.table_id for t in self.client.list_tables(f"{backup.project}.{backup.dataset_id}")}
        for source in self.warehouse.snapshot_sources(job):
            for table in self.client.list_tables(f"{source.project}.{source.dataset_id}"):
                if table.table_type not in ("TABLE", "CLONE"):
                    continue
                if not source.takes(table.table_id):
                    continue  # a history policy: only the tables that cannot be rebuilt
                target = snapshot_table_name(source.dataset_id, table.table_id, job.policy.name, moment)
                if target in existing:
                    result.rows += 1  # same run, same name: taken by an earlier local run (see above)
                    continue
                try:
                    statement = (f"CREATE SNAPSHOT TABLE `{backup.project}.{backup.dataset_id}.{target}` "
                                 f"CLONE `{source.project}.{source.dataset_id}.{table.table_id}`")
                    self._query(statement).result(timeout=_TIMEOUT)
                    result.rows += 1
                except Exception as exc:
                    result.problems.append(f"{source.dataset_id}.{table.table_id}: {_first_line(exc)}")
        result.seconds = time.monotonic() - started
        return result

    def _create_table(self, r: Registration, day: dt.date) -> Any:
        from google.cloud import bigquery

        i = r.inputs
        table = bigquery.Table(f"{i['project']}.{i['datasetId']}.{i['tableId']}")
        table.description = i.get("description")
        if "view" in i:
            # A view is queried at the run's moment: midnight UTC of the run date.
            table.view_query = adapt_for_emulator(i["view"]["query"], run_time_of(day, None), self.schema)
            table.view_use_legacy_sql = i["view"].get("useLegacySql", False)
        else:
            table.schema = [_field(f) for f in json.loads(i["schema"])]
            tp = i.get("timePartitioning")
            if tp:
                table.time_partitioning = bigquery.TimePartitioning(type_=tp.get("type", "DAY"), field=tp.get("field"))
            if i.get("clusterings"):
                table.clustering_fields = i["clusterings"]
            if i.get("requirePartitionFilter"):
                table.require_partition_filter = True
        self.client.delete_table(table, not_found_ok=True)
        return self.client.create_table(table)

    def _routine(self, key: str, day: dt.date) -> Result:
        result = Result(key, "routine", run_date=day)
        try:
            create_routine(self.client, self.by_name[f"{key}-routine"].inputs)
        except Exception as exc:
            result.problems = [f"failed: {_first_line(exc)}"]
        return result

    def _view(self, key: str, day: dt.date) -> Result:
        spec = self.warehouse.query(key).spec
        result = Result(key, "view", run_date=day)
        started = time.monotonic()
        try:
            self._create_table(self.by_name[f"{key}-view"], day)
            job = self._query(f"SELECT * FROM `{address_of(self.warehouse, key)}`")
            rows = list(job.result(timeout=_TIMEOUT))
            result.rows = len(rows)
            result.problems = contract_problems(spec.columns, job.result(timeout=_TIMEOUT).schema, rows)
        except Exception as exc:
            result.problems = [f"failed: {_first_line(exc)}"]
        result.seconds = time.monotonic() - started
        return result

    def _table(self, key: str, day: dt.date) -> Result:
        from google.cloud import bigquery

        query = self.warehouse.query(key)
        spec = query.spec
        result = Result(key, "table", run_date=day, incremental=_holds_history(spec))
        started = time.monotonic()
        script = self.by_name[f"{key}-transfer"].inputs["params"]["query"]
        run_time = run_time_of(day, spec.schedule.time_of_day if spec.schedule else None)
        config = bigquery.QueryJobConfig(query_parameters=[
            bigquery.ScalarQueryParameter("run_date", PARAMETER_TYPES["run_date"], day),
            bigquery.ScalarQueryParameter("run_time", PARAMETER_TYPES["run_time"], run_time),
        ])
        try:
            if key not in self.kept:
                self._create_table(self.by_name[f"{key}-table"], day)
            if _holds_history(spec):
                self.kept.add(key)
            if spec.is_script:
                self._script(key, script, day, run_time, result)
                result.seconds = time.monotonic() - started
                return result
            select = query.select.rstrip().rstrip(";").rstrip()
            if select not in script:
                raise LocalRunError("the plan's script does not hold the query's SQL")
            adapted = adapt_for_emulator(select, run_time, self.schema)
            if query.temp_functions.strip():  # emulator gap: see infra/local/routines.py
                job = self._query(query.temp_functions + inline_query_parameters(adapted, config.query_parameters))
            else:
                job = self._query(adapted, config)
            rows = list(job.result(timeout=_TIMEOUT))
            schema = job.result(timeout=_TIMEOUT).schema
            result.rows = len(rows)
            result.problems = contract_problems(spec.columns, schema, rows)
            if spec.incremental and spec.partitioning is not None:
                partition = day - dt.timedelta(days=1)
                result.problems += partition_problems(spec.partitioning.field, partition, schema, rows)
            if not result.problems:
                run_script(self.client, script, run_time, config.query_parameters, self.schema)
        except Exception as exc:
            result.problems = [f"failed: {_first_line(exc)}"]
        result.seconds = time.monotonic() - started
        return result

    def _script(self, key: str, script: str, day: dt.date, run_time: dt.datetime, result: Result) -> None:
        """A scheduled script, as the plan holds it, in one job (emulator gap: no parameters in a
        multi-statement job, and its variables and temporary tables live in one job); then its table
        against the contract (no NULL in a REQUIRED column: the emulator does not enforce it)."""
        spec = self.warehouse.query(key).spec
        literal = inline_parameters(script, {"run_date": day, "run_time": run_time})
        self._query(adapt_script(split_statements(literal), run_time, self.schema)).result(timeout=_TIMEOUT)
        job = self._query(f"SELECT * FROM `{address_of(self.warehouse, key)}`")
        rows = list(job.result(timeout=_TIMEOUT))
        result.rows = len(rows)
        result.problems = contract_problems(spec.columns, job.result(timeout=_TIMEOUT).schema, rows)

    def _query(self, sql: str, config: Any = None) -> Any:
        return query_job(self.client, sql, config)


def _holds_history(spec: Any) -> bool:
    """An incremental table (one partition a run) or a script's (it writes what it decides): its
    rows of an earlier run stay for the next one."""
    return spec.incremental or spec.is_script


def query_job(client: Any, sql: str, config: Any = None) -> Any:
    """A query job without the client's long retries: the emulator answers some failures with
    HTTP 500, which the client would otherwise retry for ten minutes."""
    from google.api_core.retry import Retry

    return client.query(sql, job_config=config, retry=Retry(deadline=_TIMEOUT), job_retry=None)


def run_script(client: Any, script: str, clock: dt.datetime, parameters: list, schema: Schema | None = None) -> None:
    """A scheduled build's script, statement by statement (emulator gap: a multi-statement job gets
    no query parameters), each with the parameters it uses; a failed statement rolls the
    transaction back, as BigQuery does with a script that fails inside a transaction."""
    from google.cloud import bigquery

    temps: list[str] = []  # the script's temporary functions, declared again where called (routines.py)
    try:
        for statement in split_statements(script):
            if temp_function_name(statement):
                temps.append(statement)
                continue
            # Only the parameters a statement uses: the emulator refuses any others.
            used = [p for p in parameters if p.name in parameters_of(statement)]
            adapted = adapt_for_emulator(statement, clock, schema)
            if temps and calls_any(statement, [temp_function_name(t) for t in temps]):
                adapted, used = with_temp_functions(temps, adapted, used), []
            config = bigquery.QueryJobConfig(query_parameters=used)
            query_job(client, adapted, config).result(timeout=_TIMEOUT)
    except Exception:
        # The emulator may have ended the transaction itself.
        with contextlib.suppress(Exception):
            query_job(client, "ROLLBACK TRANSACTION").result(timeout=_TIMEOUT)
        raise


def _field(column: dict):
    from google.cloud import bigquery

    return bigquery.SchemaField.from_api_repr(column)  # a RECORD with its `fields`, recursively


def _first_line(exc: Exception) -> str:
    text = getattr(exc, "message", None) or str(exc)
    return text.strip().splitlines()[0][:300] if text.strip() else type(exc).__name__
