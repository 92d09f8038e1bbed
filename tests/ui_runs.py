"""Runs of the Dagster UI as a test needs them: started, with the process their worker
announced, so that the build guard, a backup or a compaction sees a run in progress."""

from __future__ import annotations

from dagster import DagsterInstance, DagsterRunStatus
from dagster._core.events import EngineEventData
from dagster._core.test_utils import create_run_for_test


def ui_run_announcing(instance: DagsterInstance, pid: int) -> str:
    """A started run of the UI whose worker announced process `pid`, as Dagster's does; its id."""
    run = create_run_for_test(instance, job_name="build_warehouse", status=DagsterRunStatus.STARTED)
    instance.report_engine_event(
        f"Started process for run (pid: {pid}).", run, EngineEventData.in_process(pid)
    )
    return run.run_id
