"""dbt: seeds, staging, intermediate models and marts, with dbt tests as asset checks."""

import datetime as dt
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
from dagster import AssetCheckResult, AssetExecutionContext, Config, Failure, Output
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)
from pydantic import Field

from dagster_project import dbt_worker, progress, settings
from dagster_project.ingest.changes import (
    MonthScope,
    RebuildScope,
    clear_pending,
    months_to_rebuild,
    record_built_range,
)
from dagster_project.ingest.load import ensure_raw_tables
from dagster_project.resources import WRITER_POOL, WarehouseResource, dbt_resource
from dagster_project.snapshot import queue_snapshot_months
from dagster_project.unchanged_nodes import (
    project_digest,
    project_files,
    sources_changed_since,
    unaffected_nodes,
)

dbt_project = DbtProject(
    project_dir=settings.DBT_PROJECT_DIR,
    profiles_dir=settings.DBT_PROJECT_DIR,
)

PARTIAL_PARSE_FILE = "partial_parse.msgpack"
# The dbt step's log line that states what it rebuilds, as JSON after the prefix.
DBT_PLAN_LOG_PREFIX = "dbt build plan: "

_DBT_INPUTS = ("models", "macros", "tests", "dbt_project.yml", "profiles.yml")


def _dbt_input_files() -> list[Path]:
    return project_files(settings.DBT_PROJECT_DIR, _DBT_INPUTS, settings.SEEDS_DIR)


def _newest_input_mtime() -> float:
    return max((path.stat().st_mtime for path in _dbt_input_files()), default=0.0)


def ensure_manifest() -> Path:
    """Parse the dbt project when its manifest is missing or older than any of its files.

    The asset graph is read from the manifest, so a fresh clone or an edited model must not
    load stale definitions.
    """
    manifest = dbt_project.manifest_path
    if not manifest.exists() or manifest.stat().st_mtime < _newest_input_mtime():
        os.environ.setdefault(settings.WAREHOUSE_ENV, str(settings.warehouse_path()))
        dbt_resource().cli(["parse", "--quiet"], target_path=dbt_project.target_path).wait()
    return manifest


class KpiDbtTranslator(DagsterDbtTranslator):
    def get_group_name(self, dbt_resource_props: dict[str, Any]) -> str | None:
        # Groups follow the dbt layers: staging, intermediate, marts, seeds.
        if dbt_resource_props["resource_type"] == "seed":
            return "reference"
        fqn = dbt_resource_props.get("fqn", [])
        return fqn[1] if len(fqn) > 2 else "dbt"


# The log events that report a finished node, with its status and timing.
_NODE_RESULT_EVENTS = ("LogModelResult", "LogTestResult", "LogSeedResult", "LogSnapshotResult")


def _dbt_log_records(invocation_target: Path) -> Iterator[dict[str, Any]]:
    log = invocation_target / "dbt.log"
    if not log.exists():
        return
    for line in log.read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and "info" in record:
            yield record


def node_results(invocation_target: Path) -> list[dict[str, Any]]:
    """Each finished node of the build, in the shape of run_results.json's `results`, from
    the JSON lines of its dbt.log: the builds ask dbt not to write its JSON artifacts
    (DBT_NO_ARTIFACT_ARGS)."""
    results = []
    for record in _dbt_log_records(invocation_target):
        if record["info"].get("name") not in _NODE_RESULT_EVENTS:
            continue
        data = record.get("data", {})
        node = data.get("node_info", {})
        failures = data.get("num_failures")
        results.append(
            {
                "unique_id": node.get("unique_id"),
                "status": node.get("node_status"),
                "execution_time": data.get("execution_time"),
                "relation_name": (node.get("node_relation") or {}).get("relation_name"),
                "message": f"{failures} failing rows" if failures else None,
            }
        )
    return results


def _dbt_errors(invocation_target: Path) -> list[str]:
    """What failed, for a person: erroring or failing nodes, then the error lines of the log
    (a compilation error stops dbt before any node runs)."""
    failed = [
        f"{result['unique_id']}: {result['status']}"
        + (f": {result['message']}" if result["message"] else "")
        for result in node_results(invocation_target)
        if result["status"] in ("error", "fail")
    ]
    errors = [
        str(record.get("data", {}).get("exc") or record["info"].get("msg"))
        for record in _dbt_log_records(invocation_target)
        if record["info"].get("level") == "error"
    ]
    return failed + [error for error in errors if error not in failed]


class DbtBuildConfig(Config):
    """How much to rebuild. By default only the months that ingestion changed since the last
    successful build (audit.pending_months); the Launchpad or `kpi build --from/--to` adds a
    range of months, `kpi build --full-refresh` rebuilds everything."""

    full_refresh: bool = Field(
        default=False, description="rebuild every table from scratch (dbt --full-refresh)"
    )
    rebuild_from: str | None = Field(
        default=None, description="first month to rebuild as well, YYYY-MM"
    )
    rebuild_to: str | None = Field(
        default=None, description="last month to rebuild as well, YYYY-MM (default: rebuild_from)"
    )


def _month(value: str, name: str) -> dt.date:
    try:
        return dt.datetime.strptime(value, "%Y-%m").date()
    except ValueError:
        raise Failure(description=f"{name} must be a month as YYYY-MM, not '{value}'") from None


def _extra_range(config: DbtBuildConfig) -> tuple[dt.date, dt.date] | None:
    if config.rebuild_from is None and config.rebuild_to is None:
        return None
    first = _month(config.rebuild_from or config.rebuild_to or "", "rebuild_from")
    last = _month(config.rebuild_to or config.rebuild_from or "", "rebuild_to")
    if last < first:
        raise Failure(description=f"rebuild_to {config.rebuild_to} is before {config.rebuild_from}")
    return first, last


def _models() -> list[dict[str, Any]]:
    """The project's models, from the manifest the build runs."""
    nodes = json.loads(dbt_project.manifest_path.read_text())["nodes"].values()
    return [node for node in nodes if node["resource_type"] == "model"]


def _partitioned_tables_present(con: duckdb.DuckDBPyConnection) -> tuple[int, int]:
    """How many of the month- or period-partitioned models have a table to add to, of how
    many."""
    partitioned = [
        (node["schema"], node.get("alias") or node["name"])
        for node in _models()
        if node["config"].get("meta", {}).get("month_partition_column")
        or node["config"].get("meta", {}).get("period_partition_column")
    ]
    existing = set(
        con.execute("SELECT table_schema, table_name FROM information_schema.tables").fetchall()
    )
    return sum(table in existing for table in partitioned), len(partitioned)


# The schemas only dbt writes to. marts also holds the planner's tables (planner/io.py), and
# raw and audit belong to ingestion.
DBT_ONLY_SCHEMAS = ["staging", "intermediate"]


def drop_retired_relations(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Drop the tables and views of the schemas only dbt writes to that no model of the
    project defines any more (a model merged into another or renamed by an upgrade), so that
    they neither keep their space (an entry model is gigabytes at a province year) nor get
    read by mistake as current."""
    built = {
        (node["schema"], (node.get("alias") or node["name"]).lower())
        for node in _models()
        if node["config"].get("materialized") != "ephemeral"
    }
    stored = con.execute(
        "select table_schema, table_name, table_type from information_schema.tables "
        "where table_catalog = current_database() and list_contains(?, table_schema)",
        [DBT_ONLY_SCHEMAS],
    ).fetchall()
    retired = []
    for schema, name, table_type in stored:
        if (schema, name.lower()) not in built:
            kind = "view" if table_type == "VIEW" else "table"
            con.execute(f'drop {kind} "{schema}"."{name}"')
            retired.append(f"{schema}.{name}")
    return retired


# The build's dbt.log keeps what each node did and every warning and error (the lines a failure
# report reads), not dbt's debug lines: those log every SQL statement, ten times as many lines,
# and logging was 16 % of the dbt process's busy samples in a one-day build (bench/RESULTS.md).
# The SQL each node ran stays in the invocation's target/run folder.
DBT_LOG_FILE_ARGS = ["--log-level-file", "info"]

# dbt writes manifest.json, semantic_manifest.json, the graph and run_results.json into each
# invocation's target folder, 0.4-0.7 s of every build (measured on a trivial `dbt run`): the
# asset graph comes from the manifest of `dbt parse` (ensure_manifest) and what each node did
# from the log (node_results), so nothing reads them. The partial parse file is still written.
DBT_NO_ARTIFACT_ARGS = ["--no-write-json"]

# A build of every month runs one dbt node at a time. Each DuckDB query already uses every
# core; two history-wide models side by side only share one memory_limit, spill, and push the
# process past it (at a province year: 6.6 GB of RSS with 2 threads; see bench/RESULTS.md).
# A build of a few months keeps the profile's 2 threads, for its many small nodes.
WHOLE_HISTORY_THREADS = ["--threads", "1"]


@dataclass(frozen=True)
class RebuildPlan:
    """What a build rebuilds: every month (a first build, or a full refresh), or the months
    and staff members of `scope`."""

    mode: str  # "first_build", "full_refresh" or "months"
    scope: RebuildScope | None = None
    # The latest delivery loaded before this build: its tests cover every row up to it.
    loaded_through_delivery: int = 0
    # The latest delivery a successful build has tested: the tests of raw sources check the
    # rows of later deliveries only (macros/incremental.sql). None: they check every row.
    tested_through_delivery: int | None = None
    # The digest of the dbt project's files this build runs (unchanged_nodes.py).
    project_digest: str | None = None
    # `fqn:` selectors of the nodes nothing changed for since the last successful build.
    unaffected: tuple[str, ...] = ()
    # why a build nobody asked to rebuild everything does (PROJECT_CHANGED)
    reason: str | None = None

    @property
    def dbt_args(self) -> list[str]:
        if self.mode == "full_refresh":
            return ["--full-refresh"]
        if self.unaffected:
            # cautious: a test is left out with its model only when it reads nothing else
            # (one argument: dagster-dbt passes on a single value after --exclude)
            return ["--exclude", " ".join(self.unaffected), "--indirect-selection", "cautious"]
        return []

    @property
    def months(self) -> list[dt.date] | None:
        """None: every month."""
        return None if self.scope is None else self.scope.months

    @property
    def covered_delivery(self) -> int | None:
        """The latest queued delivery the build covers; None: all of them."""
        return None if self.scope is None else self.scope.latest_delivery

    @property
    def mart_scopes(self) -> dict[str, MonthScope] | None:
        """What the partitioned marts rebuild, per scope (None: everything)."""
        if self.scope is None:
            return None
        return {
            "entries": self.scope.entries,
            "patterns": self.scope.patterns,
            "scorecard": dict.fromkeys(self.scope.scorecard_months),
        }

    def dbt_plan(self) -> str | None:
        """The plan for dbt's macros (macros/incremental.sql), as JSON."""
        if self.scope is None:
            return None

        def by_month(scope: MonthScope) -> dict[str, list[str] | None]:
            return {month.isoformat(): ids for month, ids in scope.items()}

        return json.dumps(
            {
                "rebuild_months": [month.isoformat() for month in self.scope.months],
                "entry_months": by_month(self.scope.entries),
                "pattern_months": by_month(self.scope.patterns),
                "scorecard_months": by_month(dict.fromkeys(self.scope.scorecard_months)),
                "tested_through_delivery": self.tested_through_delivery,
            }
        )

    def summary(self) -> dict[str, Any]:
        """For `kpi build`'s summary and the benchmark (the dbt step logs it)."""
        if self.scope is None:
            summary: dict[str, Any] = {"mode": self.mode, "months": None}
            if self.reason:
                summary["reason"] = self.reason
            return summary

        def staff_counts(scope: MonthScope) -> dict[str, int]:
            return {m.isoformat(): len(ids) for m, ids in scope.items() if ids is not None}

        return {
            "mode": self.mode,
            "months": [month.isoformat() for month in self.scope.months],
            # the months the entry and staff-day models rebuild for some staff only: how many
            "staff_scoped": staff_counts(self.scope.entries),
            # the months only declaration_patterns rebuilds
            "patterns_only": [
                month.isoformat()
                for month in self.scope.patterns
                if month not in self.scope.entries
            ],
            # the months only kpi_scorecard rebuilds (an evaluation, a document due in them)
            "scorecard_only": [
                month.isoformat()
                for month in sorted(self.scope.scorecard)
                if month not in self.scope.entries and month not in self.scope.patterns
            ],
            # the months declaration_patterns rebuilds for some staff only: how many
            "patterns_staff_scoped": staff_counts(self.scope.patterns),
            # dbt nodes left out: nothing they read changed since the last successful build
            "unaffected_nodes": len(self.unaffected),
        }


# The deliveries whose rows a successful build has tested (see RebuildPlan).
TESTED_DELIVERIES_DDL = """
create table if not exists audit.tested_deliveries (
    through_delivery_id integer not null,
    tested_at timestamp not null,
    project_digest varchar
);
-- warehouses built before builds left unaffected nodes out
alter table audit.tested_deliveries add column if not exists project_digest varchar;
"""


# Why a build rebuilds every month on its own.
PROJECT_CHANGED = (
    "the dbt project changed since the last successful build (an upgrade, or an edit of a model, "
    "macro, test, seed, dbt_project.yml or profiles.yml)"
)
TABLES_MISSING = "a month-partitioned table of the project is missing from the warehouse"
NO_BUILD_RECORDED = (
    "no successful build of this warehouse is recorded (a first build stopped midway, or a "
    "warehouse of an earlier version)"
)


def _loaded_through_delivery(con: duckdb.DuckDBPyConnection) -> int:
    row = con.execute("SELECT coalesce(max(delivery_id), 0) FROM audit.ingestion_ledger")
    return int((row.fetchone() or (0,))[0])


def _tested_through_delivery(con: duckdb.DuckDBPyConnection) -> int | None:
    con.execute("create schema if not exists audit")
    con.execute(TESTED_DELIVERIES_DDL)
    row = con.execute("select max(through_delivery_id) from audit.tested_deliveries").fetchone()
    return None if not row or row[0] is None else int(row[0])


def _last_project_digest(con: duckdb.DuckDBPyConnection) -> str | None:
    """The project digest of the last successful build (None before digests were kept)."""
    row = con.execute(
        "select project_digest from audit.tested_deliveries order by tested_at desc limit 1"
    ).fetchone()
    return None if not row else row[0]


def current_project_digest() -> str:
    return project_digest(_dbt_input_files(), settings.PROJECT_ROOT)


def record_tested_deliveries(con: duckdb.DuckDBPyConnection, plan: RebuildPlan) -> None:
    """Remember that every row loaded before this build has passed its source's tests."""
    con.execute(TESTED_DELIVERIES_DDL)
    con.execute(
        "insert into audit.tested_deliveries (through_delivery_id, tested_at, project_digest) "
        "values (?, current_timestamp, ?)",
        [plan.loaded_through_delivery, plan.project_digest],
    )


def plan_rebuild(con: duckdb.DuckDBPyConnection, config: DbtBuildConfig) -> RebuildPlan:
    """What this build rebuilds. A first build, or a full refresh, builds every month and
    covers the whole queue, and tests every raw row."""
    loaded = _loaded_through_delivery(con)
    digest = current_project_digest()
    if config.full_refresh:
        return RebuildPlan("full_refresh", loaded_through_delivery=loaded, project_digest=digest)
    present, partitioned = _partitioned_tables_present(con)
    if present == 0:
        return RebuildPlan("first_build", loaded_through_delivery=loaded, project_digest=digest)
    extra = _extra_range(config)
    tested = _tested_through_delivery(con)
    if tested is None:
        reason: str | None = NO_BUILD_RECORDED
    elif _last_project_digest(con) != digest:
        reason = PROJECT_CHANGED
    elif present < partitioned:
        reason = TABLES_MISSING
    else:
        reason = None
    if reason is not None:
        # The months nothing was delivered for keep what the project that built them made: an
        # upgrade that fixes a model, or changes a seed or a var, would apply to new months only
        # (and one that changes a table's columns would stop the build).
        return RebuildPlan(
            "full_refresh", loaded_through_delivery=loaded, project_digest=digest, reason=reason
        )
    unaffected: list[str] = []
    # A range asked for is rebuilt with every node: it is how a person repairs months.
    if extra is None:
        manifest = json.loads(dbt_project.manifest_path.read_text())
        unaffected = unaffected_nodes(manifest, sources_changed_since(con, manifest, tested))
    return RebuildPlan(
        "months",
        months_to_rebuild(con, extra),
        loaded_through_delivery=loaded,
        tested_through_delivery=tested,
        project_digest=digest,
        unaffected=tuple(unaffected),
    )


@dbt_assets(
    manifest=ensure_manifest(),
    project=dbt_project,
    dagster_dbt_translator=KpiDbtTranslator(
        settings=DagsterDbtTranslatorSettings(enable_asset_checks=True)
    ),
    pool=WRITER_POOL,
)
def kpi_dbt_models(
    context: AssetExecutionContext,
    dbt: DbtCliResource,
    warehouse: WarehouseResource,
    config: DbtBuildConfig,
) -> Iterator[Any]:
    # dbt runs in a subprocess and finds the warehouse through the profile's env_var.
    os.environ.update(settings.dbt_environment(warehouse.warehouse_file))
    with warehouse.connect() as con:
        ensure_raw_tables(con)
        plan = plan_rebuild(con, config)
    # the dbt process `kpi build` started ahead, ready with this project parsed, if any
    worker = dbt_worker.take(warehouse.warehouse_file)
    # In the run's own log, where `kpi build` reads it back for its summary: a file beside the
    # warehouse would be another build's when two run at once.
    context.log.info(
        DBT_PLAN_LOG_PREFIX
        + json.dumps({**plan.summary(), "dbt_started_ahead": worker is not None})
    )
    # Unit tests pin the SQL, not the data: they run in the test suite (make test), not in
    # every production build, as dbt recommends.
    threads = WHOLE_HISTORY_THREADS if plan.months is None else []
    target = (
        worker.target_path
        if worker is not None
        else _invocation_target(context, warehouse.warehouse_file)
    )
    with _rebuild_plan_in_environment(plan.dbt_plan()), dbt_worker.serving(worker):
        invocation = dbt.cli(
            [
                "build",
                "--exclude-resource-type",
                "unit_test",
                *DBT_LOG_FILE_ARGS,
                *DBT_NO_ARTIFACT_ARGS,
                *plan.dbt_args,
                *threads,
            ],
            context=context,
            raise_on_error=False,
            target_path=target,
        )
    for event in invocation.stream():
        if isinstance(event, Output):
            unique_id = event.metadata.get("unique_id")
            progress.report(f"dbt {getattr(unique_id, 'value', unique_id) or event.output_name}")
        elif isinstance(event, AssetCheckResult) and not event.passed:
            progress.report(f"dbt test failed: {event.check_name} on {event.asset_key}")
        yield event
    _keep_node_results(invocation.target_path, warehouse.warehouse_file, context.run.run_id)
    _keep_parse_state(invocation.target_path, warehouse.warehouse_file)
    if not invocation.is_successful():
        failures = _dbt_errors(invocation.target_path)
        raise Failure(
            description="dbt build failed:\n" + ("\n".join(failures) or "see the dbt log"),
            metadata={"dbt_log": str(invocation.target_path / "dbt.log")},
        )
    with warehouse.connect() as con:
        con.begin()
        clear_pending(con, plan.covered_delivery)
        record_built_range(con)
        record_tested_deliveries(con, plan)
        queue_snapshot_months(con, plan.mart_scopes)
        retired = drop_retired_relations(con)
        con.commit()
    if retired:
        context.log.info(f"dropped tables of models no longer in the project: {retired}")


@contextmanager
def _rebuild_plan_in_environment(dbt_plan: str | None) -> Iterator[None]:
    """Hand the plan to the dbt process in an environment variable rather than as --vars.
    dbt parses the whole project again whenever its vars change, about 8 s at every build,
    while the macros read the variable only when executing, which partial parsing ignores."""
    previous = os.environ.pop(settings.REBUILD_PLAN_ENV, None)
    if dbt_plan is not None:
        os.environ[settings.REBUILD_PLAN_ENV] = dbt_plan
    try:
        yield
    finally:
        os.environ.pop(settings.REBUILD_PLAN_ENV, None)
        if previous is not None:
            os.environ[settings.REBUILD_PLAN_ENV] = previous


def _invocation_target(context: AssetExecutionContext, warehouse_file: Path) -> Path:
    """The dbt target folder of this build, holding the partial parse of this warehouse's
    last build. dbt's partial parse is valid for one profile, and the profile holds the
    warehouse's path: the project's own file (from `dbt parse`) names the default warehouse,
    so any other warehouse would parse the project from scratch at every build."""
    return settings.new_dbt_invocation_target(
        f"{context.run.run_id[:7]}-{uuid.uuid4().hex[:7]}", warehouse_file
    )


def _keep_parse_state(invocation_target: Path, warehouse_file: Path) -> None:
    parsed = invocation_target / PARTIAL_PARSE_FILE
    if parsed.exists():
        state = settings.dbt_parse_state(warehouse_file)
        state.parent.mkdir(parents=True, exist_ok=True)
        partial = state.with_suffix(".partial")
        shutil.copyfile(parsed, partial)
        partial.replace(state)


def _keep_node_results(invocation_target: Path, warehouse_file: Path, run_id: str) -> None:
    """dbt's timings of the last build beside the warehouse, for `kpi build`'s profile (of its
    own run only: the run id says whose they are) and the next build's node order."""
    run_results = settings.dbt_run_results_file(warehouse_file)
    run_results.parent.mkdir(parents=True, exist_ok=True)
    results = {"run_id": run_id, "results": node_results(invocation_target)}
    run_results.write_text(json.dumps(results, indent=1))
