"""dbt: seeds, staging, intermediate models and marts, with dbt tests as asset checks."""

import datetime as dt
import json
import os
import shutil
from collections.abc import Iterator
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

from dagster_project import progress, settings
from dagster_project.ingest.changes import clear_pending, months_to_rebuild
from dagster_project.ingest.load import ensure_raw_tables
from dagster_project.resources import WRITER_POOL, WarehouseResource, dbt_resource
from dagster_project.snapshot import queue_snapshot_months

dbt_project = DbtProject(
    project_dir=settings.DBT_PROJECT_DIR,
    profiles_dir=settings.DBT_PROJECT_DIR,
)

_DBT_INPUTS = ("models", "macros", "tests", "dbt_project.yml", "profiles.yml")


def _newest_input_mtime() -> float:
    paths: list[Path] = []
    for name in _DBT_INPUTS:
        path = settings.DBT_PROJECT_DIR / name
        paths.extend(path.rglob("*") if path.is_dir() else [path])
    paths.extend(settings.SEEDS_DIR.rglob("*"))
    return max((p.stat().st_mtime for p in paths if p.is_file()), default=0.0)


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


def _dbt_errors(invocation_target: Path) -> list[str]:
    """What failed, for a person: erroring or failing nodes from run_results.json, else the
    error lines of the JSON log (a compilation error stops dbt before it writes results)."""
    run_results = invocation_target / "run_results.json"
    if run_results.exists():
        results = json.loads(run_results.read_text())["results"]
        failed = [
            f"{r['unique_id']}: {r['status']}: {(r.get('message') or '').strip()}"
            for r in results
            if r["status"] in ("error", "fail")
        ]
        if failed:
            return failed
    log = invocation_target / "dbt.log"
    errors: list[str] = []
    if log.exists():
        for line in log.read_text(errors="replace").splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if record.get("info", {}).get("level") == "error":
                errors.append(str(record.get("data", {}).get("exc") or record["info"]["msg"]))
    return errors


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


def _has_partitioned_tables(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether every month-partitioned model has a table to add months to."""
    partitioned = [
        (node["schema"], node.get("alias") or node["name"])
        for node in json.loads(dbt_project.manifest_path.read_text())["nodes"].values()
        if node["resource_type"] == "model"
        and node["config"].get("meta", {}).get("month_partition_column")
    ]
    existing = set(
        con.execute("SELECT table_schema, table_name FROM information_schema.tables").fetchall()
    )
    return all(table in existing for table in partitioned)


# A build of every month runs one dbt node at a time. Each DuckDB query already uses every
# core; two history-wide models side by side only share one memory_limit, spill, and push the
# process past it (at a province year: 6.6 GB of RSS with 2 threads; see bench/RESULTS.md).
# A build of a few months keeps the profile's 2 threads, for its many small nodes.
WHOLE_HISTORY_THREADS = ["--threads", "1"]


@dataclass
class RebuildPlan:
    dbt_args: list[str]
    months: list[dt.date] | None  # None: every month
    covered_delivery: int | None  # the latest queued delivery it covers; None: all
    # what the partitioned marts were rebuilt for, per scope and month (None: everything)
    mart_scopes: dict[str, dict[dt.date, list[str] | None]] | None = None


def plan_rebuild(con: duckdb.DuckDBPyConnection, config: DbtBuildConfig) -> RebuildPlan:
    """What this build rebuilds. A first build, or a full refresh, builds every month and
    covers the whole queue."""
    if config.full_refresh:
        return RebuildPlan(["--full-refresh"], None, None)
    if not _has_partitioned_tables(con):
        return RebuildPlan([], None, None)
    scope = months_to_rebuild(con, _extra_range(config))
    months_var = json.dumps(
        {
            "rebuild_months": [m.isoformat() for m in scope.months],
            "entry_months": {m.isoformat(): ids for m, ids in scope.entries.items()},
            "pattern_months": {m.isoformat(): ids for m, ids in scope.patterns.items()},
        }
    )
    mart_scopes = {"entries": scope.entries, "patterns": scope.patterns}
    return RebuildPlan(["--vars", months_var], scope.months, scope.latest_delivery, mart_scopes)


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
    os.environ[settings.WAREHOUSE_ENV] = str(warehouse.warehouse_file)
    os.environ[settings.DUCKDB_TEMP_DIR_ENV] = str(warehouse.spill_dir)
    with warehouse.connect() as con:
        ensure_raw_tables(con)
        plan = plan_rebuild(con, config)
    context.log.info(f"dbt build {' '.join(plan.dbt_args)[:2000] or '(every month)'}")
    _write_plan(warehouse.warehouse_file, plan.dbt_args)
    # Unit tests pin the SQL, not the data: they run in the test suite (make test), not in
    # every production build, as dbt recommends.
    threads = WHOLE_HISTORY_THREADS if plan.months is None else []
    invocation = dbt.cli(
        ["build", "--exclude-resource-type", "unit_test", *plan.dbt_args, *threads],
        context=context,
        raise_on_error=False,
    )
    for event in invocation.stream():
        if isinstance(event, Output):
            unique_id = event.metadata.get("unique_id")
            progress.report(f"dbt {getattr(unique_id, 'value', unique_id) or event.output_name}")
        elif isinstance(event, AssetCheckResult) and not event.passed:
            progress.report(f"dbt test failed: {event.check_name} on {event.asset_key}")
        yield event
    _keep_run_results(invocation.target_path, warehouse.warehouse_file)
    if not invocation.is_successful():
        failures = _dbt_errors(invocation.target_path)
        raise Failure(
            description="dbt build failed:\n" + ("\n".join(failures) or "see the dbt log"),
            metadata={"dbt_log": str(invocation.target_path / "dbt.log")},
        )
    with warehouse.connect() as con:
        con.begin()
        clear_pending(con, plan.covered_delivery)
        queue_snapshot_months(con, plan.mart_scopes)
        con.commit()


def _write_plan(warehouse_file: Path, args: list[str]) -> None:
    """What this build rebuilds, for `kpi build`'s summary and the benchmark."""
    if args[:1] == ["--vars"]:
        months = json.loads(args[1])

        def staff_counts(scope: dict[str, list[str] | None]) -> dict[str, int]:
            return {month: len(ids) for month, ids in scope.items() if ids is not None}

        plan = {
            "mode": "months",
            "months": months["rebuild_months"],
            # the months the entry and staff-day models rebuild for some staff only: how many
            "staff_scoped": staff_counts(months["entry_months"]),
            # the months only declaration_patterns rebuilds
            "patterns_only": [
                m for m in months["rebuild_months"] if m not in months["entry_months"]
            ],
            # the months declaration_patterns rebuilds for some staff only: how many
            "patterns_staff_scoped": staff_counts(months["pattern_months"]),
        }
    else:
        plan = {"mode": "full_refresh" if args else "first_build", "months": None}
    logs = warehouse_file.parent / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    (logs / "last_dbt_plan.json").write_text(json.dumps(plan))


def _keep_run_results(invocation_target: Path, warehouse_file: Path) -> None:
    """dbt's timings of the last build beside the warehouse, for `kpi build`'s profile."""
    run_results = invocation_target / "run_results.json"
    if run_results.exists():
        logs = warehouse_file.parent / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(run_results, logs / "last_dbt_run_results.json")
