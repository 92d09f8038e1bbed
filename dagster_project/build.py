"""Headless builds: materialise every asset of the definitions in this process."""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from dagster import AssetCheckSeverity, DagsterEventType, DagsterInstance

from dagster_project import progress, settings


@dataclass
class BuildOutcome:
    success: bool
    failures: list[tuple[str, str]] = field(default_factory=list)  # (asset or step, reason)
    log_file: Path | None = None


def prepare_instance(warehouse: Path) -> DagsterInstance:
    """The Dagster instance beside the warehouse: its run history shows in `kpi ui`."""
    home = settings.dagster_home_for(warehouse)
    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(settings.PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml")
    os.environ["DAGSTER_HOME"] = str(home)
    return DagsterInstance.get()


def _failure_reason(event: object) -> str:
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


def run_build(raw: Path, warehouse: Path, engine: str = "duckdb") -> BuildOutcome:
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
    # Dagster's console log stays quiet: the progress lines and the failure summary speak to
    # the person at the terminal, and the run log (`kpi ui`) keeps every detail.
    # dbt's own output (a line per node) goes to a log file beside the warehouse.
    log_file = warehouse.parent / "logs" / "last_build.log"
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("w") as log, contextlib.redirect_stdout(log):
        result = job.execute_in_process(
            instance=instance,
            raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}},
        )

    failures = [
        (event.step_key or "run", _failure_reason(event))
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
    return BuildOutcome(
        success=result.success and not failures, failures=failures, log_file=log_file
    )
