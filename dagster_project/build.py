"""Headless builds: materialise every asset of the definitions in this process."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dagster import AssetCheckSeverity, DagsterEventType, DagsterInstance

from dagster_project import build_guard, progress, settings
from dagster_project.event_log_storage import EVENT_BATCH_SIZE, EVENT_BATCH_SIZE_ENV
from dagster_project.run_history import prune_run_history, run_history_days


@dataclass
class BuildScope:
    """What the dbt step rebuilds besides the months ingestion changed."""

    full_refresh: bool = False
    rebuild_from: str | None = None  # YYYY-MM
    rebuild_to: str | None = None

    def op_config(self) -> dict[str, object]:
        return {
            "full_refresh": self.full_refresh,
            "rebuild_from": self.rebuild_from,
            "rebuild_to": self.rebuild_to,
        }


@dataclass
class BuildOutcome:
    success: bool
    failures: list[tuple[str, str]] = field(default_factory=list)  # (asset or step, reason)
    log_file: Path | None = None
    timings_file: Path | None = None
    seconds: float = 0.0
    # what the run's dbt step rebuilt (RebuildPlan.summary), None when it did not run
    dbt_plan: dict[str, Any] | None = None
    # the files ingestion left out this build, each with why (files_left_out)
    not_loaded: list[str] = field(default_factory=list)
    # runs removed from the run history after the build (run_history), by a successful build
    runs_removed: list[str] = field(default_factory=list)

    @property
    def summary(self) -> str:
        plan = self.dbt_plan
        if plan is None:
            rebuilt = "models not run"
        elif plan["mode"] == "months":
            scoped = plan.get("staff_scoped", {})
            patterns = plan.get("patterns_only", [])
            months = [
                m[:7]
                + (f" ({scoped[m]} staff)" if m in scoped else "")
                + (" (declaration patterns)" if m in patterns else "")
                for m in plan["months"]
            ]
            rebuilt = "rebuilt months: " + (", ".join(months) if months else "none")
        else:
            rebuilt = "rebuilt every month"
            if plan.get("reason"):
                rebuilt += f": {plan['reason']}"
        return f"{rebuilt}; {self.seconds:.1f} s; timings in {self.timings_file}"


# Only the instance kpi prepares has it: the project's dagster.yaml without it is what a plain
# `dagster dev -w workspace.yaml` reads for its temporary instance, whose folder no setting
# names, so that instance keeps Dagster's own event log.
_POOLED_EVENT_LOG = """
# Dagster's SQLite event log with pooled connections and WAL-mode commits: the default opens a
# connection per event, about 12 s of a small build (dagster_project/event_log_storage.py).
event_log_storage:
  module: dagster_project.event_log_storage
  class: PooledSqliteEventLogStorage
  config:
    base_dir: {base_dir}
"""


def write_instance_settings(home: Path) -> None:
    """`home`/dagster.yaml: the project's instance settings and the pooled event log in `home`."""
    project_settings = (settings.PROJECT_ROOT / "dagster.yaml").read_text(encoding="utf-8")
    # where Dagster's own event log keeps its run files; a JSON string is a YAML string
    base_dir = json.dumps(str(home / "history" / "runs"))
    (home / "dagster.yaml").write_text(
        project_settings + _POOLED_EVENT_LOG.format(base_dir=base_dir), encoding="utf-8"
    )


def prepare_instance(warehouse: Path) -> DagsterInstance:
    """The Dagster instance beside the warehouse: its run history shows in `kpi ui`."""
    home = settings.dagster_home_for(warehouse)
    home.mkdir(parents=True, exist_ok=True)
    write_instance_settings(home)
    os.environ["DAGSTER_HOME"] = str(home)
    # the events a run plans, written as one batch (event_log_storage.store_event_batch); the
    # UI's processes (`kpi ui`) inherit the setting
    os.environ.setdefault(EVENT_BATCH_SIZE_ENV, str(EVENT_BATCH_SIZE))
    return DagsterInstance.get()


def failure_reason(event: object) -> str:
    data = getattr(event, "event_specific_data", None)
    user_data = getattr(data, "user_failure_data", None)
    if user_data is not None and user_data.description:
        return user_data.description
    error = getattr(data, "error", None)
    if error is None:
        return "failed"
    # The innermost cause is the one a person can act on.
    while getattr(error, "cause", None) is not None:
        error = error.cause
    return error.message.strip()


def _step_seconds(records: list[Any]) -> dict[str, float]:
    """Wall time of each step, from its start event to its success or failure event."""
    started: dict[str, float] = {}
    seconds: dict[str, float] = {}
    for record in records:
        event = record.dagster_event
        if event is None or not event.step_key:
            continue
        if event.event_type == DagsterEventType.STEP_START:
            started[event.step_key] = record.timestamp
        elif event.step_key in started and event.event_type in (
            DagsterEventType.STEP_SUCCESS,
            DagsterEventType.STEP_FAILURE,
        ):
            seconds[event.step_key] = round(record.timestamp - started[event.step_key], 3)
    return seconds


def _asset_seconds(records: list[Any]) -> dict[str, float]:
    """Wall time of each asset that reports its own (`seconds` metadata): the raw sources, which
    share one step."""
    seconds: dict[str, float] = {}
    for record in records:
        event = record.dagster_event
        if event is None or event.event_type != DagsterEventType.ASSET_MATERIALIZATION:
            continue
        value = event.step_materialization_data.materialization.metadata.get("seconds")
        if value is not None and event.asset_key is not None:
            seconds[event.asset_key.to_user_string()] = float(value.value)
    return seconds


def files_left_out(records: list[Any]) -> list[str]:
    """Why each file the run's ingestion did not load was left out, as ingestion said it."""
    from dagster_project.assets.ingestion import NOT_LOADED_METADATA

    lines: list[str] = []
    for record in records:
        event = record.dagster_event
        if event is None or event.event_type != DagsterEventType.ASSET_MATERIALIZATION:
            continue
        value = event.step_materialization_data.materialization.metadata.get(NOT_LOADED_METADATA)
        if value is not None and value.value:
            lines.extend(str(value.value).splitlines())
    return lines


def dbt_plan_of(records: list[Any]) -> dict[str, Any] | None:
    """What the run's dbt step rebuilt, as it logged it; None when the run had no dbt step."""
    from dagster_project.assets.transformation import DBT_PLAN_LOG_PREFIX

    for record in records:
        message = record.user_message or ""
        if record.dagster_event is None and message.startswith(DBT_PLAN_LOG_PREFIX):
            return json.loads(message.removeprefix(DBT_PLAN_LOG_PREFIX))
    return None


def _dbt_node_seconds(run_results: Path, run_id: str) -> list[dict[str, object]]:
    """Each dbt node's time, when the dbt results kept beside the warehouse are this run's (a
    build started at the same time may have written its own since)."""
    if not run_results.exists():
        return []
    kept = json.loads(run_results.read_text())
    if kept.get("run_id") != run_id:
        return []
    nodes = []
    for result in kept["results"]:
        unique_id = result["unique_id"]
        resource_type = unique_id.split(".", 1)[0]
        nodes.append(
            {
                "unique_id": unique_id,
                "resource_type": resource_type,
                "layer": _dbt_layer(result, resource_type),
                "seconds": round(float(result.get("execution_time") or 0.0), 3),
                "status": result.get("status"),
            }
        )
    return nodes


def _dbt_layer(result: dict[str, Any], resource_type: str) -> str:
    if resource_type in ("test", "unit_test"):
        return resource_type
    relation = str(result.get("relation_name") or "")
    for layer in ("staging", "intermediate", "marts", "reference"):
        if f'"{layer}".' in relation or f".{layer}." in relation:
            return layer
    return resource_type


def write_timings(
    warehouse: Path,
    run_id: str,
    records: list[Any],
    total_seconds: float,
    dbt_plan: dict[str, Any] | None,
) -> Path:
    """Where the build's time went: each Dagster step, each asset that times itself, and each
    dbt node (`bench/` reads it)."""
    timings = {
        "total_s": round(total_seconds, 3),
        "dbt_plan": dbt_plan,
        "steps": _step_seconds(records),
        "assets": _asset_seconds(records),
        "dbt_nodes": _dbt_node_seconds(settings.dbt_run_results_file(warehouse), run_id),
    }
    path = warehouse.parent / "logs" / "build_timings.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(timings, indent=1))
    return path


# Dagster's executor warns through Python logging, to the terminal: a build that leaves a mart's
# tests out because nothing it reads changed gets one line per blocking check that "emitted no
# result" (18 for a build with nothing new). They go to the build's log file instead.
_EXECUTION_PLAN_LOGGER = "dagster._core.execution.plan.active"


@contextlib.contextmanager
def _engine_warnings_to(log: Any) -> Iterator[None]:
    logger = logging.getLogger(_EXECUTION_PLAN_LOGGER)
    handler = logging.StreamHandler(log)
    propagate = logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


@dataclass
class PreparedBuild:
    """A build's Dagster instance and job, loaded (prepare_build) and ready to run."""

    warehouse: Path
    engine: str
    instance: DagsterInstance
    job: Any  # dagster.JobDefinition
    started: float  # when preparing began: the build's time counts from there


def prepare_build(raw: Path, warehouse: Path, engine: str = "duckdb") -> PreparedBuild:
    """Load the instance and the definitions of a build (most of the Dagster, dagster-dbt and
    dbt modules are imported here)."""
    started = time.time()
    raw, warehouse = settings.use_paths(raw, warehouse)
    if sys.stderr.isatty():
        os.environ.setdefault(progress.PROGRESS_ENV, "1")
    instance = prepare_instance(warehouse)

    # Imported here: the definitions read the paths fixed above.
    if engine == "spark":
        from dagster_project.engines import spark

        spark.use_spark(warehouse)
        job = spark.spark_definitions().resolve_job_def(spark.JOB_NAME)
    else:
        from dagster_project.definitions import defs
        from dagster_project.schedules import build_everything

        job = defs.resolve_job_def(build_everything.name)
    return PreparedBuild(warehouse, engine, instance, job, started)


def execute_build(prepared: PreparedBuild, scope: BuildScope | None = None) -> BuildOutcome:
    """Run the build's job; the caller holds the warehouse's build lock (build_guard)."""
    scope = scope or BuildScope()
    warehouse, instance = prepared.warehouse, prepared.instance
    build_guard.settle_and_wait_for_runs(instance, lambda note: print(f"  {note}", file=sys.stderr))
    # Dagster's console log stays quiet: the progress lines and the failure summary speak to
    # the person at the terminal, and the run log (`kpi ui`) keeps every detail.
    # dbt's own output (a line per node) goes to a log file beside the warehouse.
    log_file = warehouse.parent / "logs" / "last_build.log"
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with (
        log_file.open("w") as log,
        contextlib.redirect_stdout(log),
        _engine_warnings_to(log),
    ):
        run_config: dict[str, Any] = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
        if prepared.engine == "duckdb":
            run_config["ops"] = {"kpi_dbt_models": {"config": scope.op_config()}}
        result = prepared.job.execute_in_process(
            instance=instance,
            raise_on_error=False,
            run_config=run_config,
            tags={build_guard.BUILD_TAG: build_guard.build_tag_value()},
        )

    failures = [
        (event.step_key or "run", failure_reason(event))
        for event in result.all_events
        if event.is_step_failure
    ]
    failures += [
        (
            f"{event.asset_check_evaluation_data.asset_key.to_user_string()}"
            f" check {event.asset_check_evaluation_data.check_name}",
            event.asset_check_evaluation_data.description or "check failed",
        )
        for event in result.all_events
        if event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION
        and not event.asset_check_evaluation_data.passed
        and event.asset_check_evaluation_data.severity == AssetCheckSeverity.ERROR
    ]
    seconds = time.time() - prepared.started
    records = instance.all_logs(result.run_id)
    plan = dbt_plan_of(records)
    success = result.success and not failures
    return BuildOutcome(
        success=success,
        failures=failures,
        log_file=log_file,
        timings_file=write_timings(warehouse, result.run_id, records, seconds, plan),
        seconds=seconds,
        dbt_plan=plan,
        not_loaded=files_left_out(records),
        # a failing warehouse keeps its history for whoever looks into it
        runs_removed=prune_run_history(instance, run_history_days()) if success else [],
    )
