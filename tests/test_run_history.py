"""Finished runs leave the Dagster run history after KPI_RUN_HISTORY_DAYS, with their files
(dagster_project/run_history.py): each build added 1.5 MB or more that Dagster kept for ever."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
from dagster import DagsterInstance, DagsterRun, DagsterRunStatus
from dagster._core.test_utils import create_run_for_test

from dagster_project import settings
from dagster_project.build import prepare_instance
from dagster_project.run_history import (
    RUN_HISTORY_DAYS_ENV,
    prune_run_history,
    run_history_days,
)
from tests.conftest import ACCEPTANCE_CASE, run_kpi

DAY = 86_400


def _run_with_history(instance: DagsterInstance, status: DagsterRunStatus) -> DagsterRun:
    """A run with an event in its own file and a captured log, as a build leaves them."""
    run = create_run_for_test(instance, job_name="build_warehouse", status=status)
    instance.report_engine_event("a step ran", run)
    logs = _home(instance) / "storage" / run.run_id / "compute_logs"
    logs.mkdir(parents=True)
    (logs / "step.out").write_text("dbt said things\n")
    return run


def _home(instance: DagsterInstance) -> Path:
    return Path(instance.root_directory)


def _files_of(instance: DagsterInstance, run: DagsterRun) -> list[Path]:
    home = _home(instance)
    candidates = [home / "history" / "runs" / f"{run.run_id}.db", home / "storage" / run.run_id]
    return [path for path in candidates if path.exists()]


def age_runs(warehouse: Path, days: float) -> None:
    """Move the creation time of every run in the warehouse's history `days` back."""
    with sqlite3.connect(settings.dagster_home_for(warehouse) / "history" / "runs.db") as con:
        con.execute(
            "update runs set create_timestamp = datetime(create_timestamp, ?)",
            (f"-{days} days",),
        )


def test_finished_runs_older_than_the_setting_leave_with_their_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))  # restored after; prepare_instance sets it
    instance = prepare_instance(tmp_path / "warehouse.duckdb")
    finished = _run_with_history(instance, DagsterRunStatus.SUCCESS)
    failed = _run_with_history(instance, DagsterRunStatus.FAILURE)
    running = _run_with_history(instance, DagsterRunStatus.STARTED)
    assert len(_files_of(instance, finished)) == 2

    assert prune_run_history(instance, 90) == [], "nothing is 90 days old yet"
    in_91_days = time.time() + 91 * DAY
    removed = prune_run_history(instance, 90, now=in_91_days)

    assert sorted(removed) == sorted([finished.run_id, failed.run_id])
    for run in (finished, failed):
        assert instance.get_run_by_id(run.run_id) is None
        assert _files_of(instance, run) == []
        # (reading a run's events opens its file: Dagster creates an empty one)
        assert instance.all_logs(run.run_id) == []
    # a run still going stays, whatever its age
    assert instance.get_run_by_id(running.run_id) is not None
    assert len(_files_of(instance, running)) == 2
    assert [event.message for event in instance.all_logs(running.run_id)] == ["a step ran"]
    assert prune_run_history(instance, None, now=in_91_days) == []
    instance.dispose()


def test_the_setting_is_a_whole_number_of_days(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(RUN_HISTORY_DAYS_ENV, raising=False)
    assert run_history_days() == 90
    monkeypatch.setenv(RUN_HISTORY_DAYS_ENV, " 30 ")
    assert run_history_days() == 30
    monkeypatch.setenv(RUN_HISTORY_DAYS_ENV, "0")
    assert run_history_days() is None
    monkeypatch.setenv(RUN_HISTORY_DAYS_ENV, "three months")
    with pytest.raises(ValueError, match="whole number of days"):
        run_history_days()


def test_a_build_with_a_bad_setting_does_not_start(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    result = run_kpi(
        "build", "--raw", str(ACCEPTANCE_CASE / "raw"), "--warehouse", str(warehouse),
        env={RUN_HISTORY_DAYS_ENV: "-5"},
    )  # fmt: skip
    assert result.returncode == 2
    assert f"Build not started: {RUN_HISTORY_DAYS_ENV}='-5'" in result.stderr
    assert not warehouse.exists()


def test_a_build_leaves_its_run_history_closed(acceptance_warehouse: Path) -> None:
    """Each run's SQLite file, left open at exit, kept a 4 MB write-ahead log beside it."""
    runs = settings.dagster_home_for(acceptance_warehouse) / "history" / "runs"
    assert list(runs.glob("*.db")), "the build recorded its run"
    assert sorted(path.name for path in runs.glob("*.db-wal")) == []
