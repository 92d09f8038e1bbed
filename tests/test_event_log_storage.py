"""The event log of the instance kpi prepares (build.write_instance_settings): pooled SQLite
connections that keep what Dagster's own storage keeps, and still let the UI follow a live run."""

import os
import threading
from pathlib import Path

import pytest
from dagster import DagsterInstance, EventLogEntry, job, op

from dagster_project.build import write_instance_settings
from dagster_project.event_log_storage import PooledSqliteEventLogStorage


@op
def answer() -> int:
    return 42


@job
def tiny() -> None:
    answer()


@pytest.fixture
def instance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> DagsterInstance:
    home = tmp_path / "dagster_home"
    home.mkdir()
    write_instance_settings(home)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with DagsterInstance.get() as inst:
        yield inst


def test_runs_are_recorded_and_read_back_by_another_instance(instance: DagsterInstance) -> None:
    storage = instance.event_log_storage
    assert isinstance(storage, PooledSqliteEventLogStorage)
    assert Path(storage._base_dir) == Path(os.environ["DAGSTER_HOME"]) / "history" / "runs"

    result = tiny.execute_in_process(instance=instance)
    assert result.success
    kinds = {e.dagster_event.event_type_value for e in instance.all_logs(result.run_id)}
    assert {"PIPELINE_START", "STEP_OUTPUT", "PIPELINE_SUCCESS"} <= kinds

    # a second process (the UI) opening the same folder sees the run and its events
    with DagsterInstance.from_ref(instance.get_ref()) as other:
        assert other.get_run_by_id(result.run_id) is not None
        assert len(other.all_logs(result.run_id)) == len(instance.all_logs(result.run_id))


def test_writes_touch_the_run_file_and_reads_do_not(instance: DagsterInstance) -> None:
    result = tiny.execute_in_process(instance=instance)
    storage = instance.event_log_storage
    assert isinstance(storage, PooledSqliteEventLogStorage)
    path = storage.path_for_shard(result.run_id)
    os.utime(path, (0, 0))

    instance.all_logs(result.run_id)
    assert os.stat(path).st_mtime == 0, "a read changed the file's time stamp"

    run = instance.get_run_by_id(result.run_id)
    assert run is not None
    instance.report_engine_event("written after the run", run)
    assert os.stat(path).st_mtime > 0, "a write left the file's time stamp alone"


def test_a_watcher_sees_new_events_of_a_live_run(instance: DagsterInstance) -> None:
    # the UI follows a run by watching its database file
    result = tiny.execute_in_process(instance=instance)
    run = instance.get_run_by_id(result.run_id)
    assert run is not None
    storage = instance.event_log_storage
    seen = threading.Event()

    def on_event(entry: EventLogEntry, _cursor: str) -> None:
        if entry.dagster_event is not None and entry.dagster_event.message == "watched event":
            seen.set()

    storage.watch(result.run_id, None, on_event)
    try:
        instance.report_engine_event("watched event", run)
        assert seen.wait(timeout=10), "the watcher was not told of the new event"
    finally:
        storage.end_watch(result.run_id, on_event)
