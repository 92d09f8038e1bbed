"""The event log of the instance kpi prepares (build.write_instance_settings): pooled SQLite
connections that keep what Dagster's own storage keeps, and still let the UI follow a live run."""

import os
import threading
import time
from pathlib import Path

import pytest
from dagster import (
    AssetCheckKey,
    AssetCheckResult,
    AssetKey,
    DagsterInstance,
    EventLogEntry,
    asset,
    asset_check,
    job,
    materialize,
    op,
)
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

from dagster_project.build import prepare_instance, write_instance_settings
from dagster_project.event_log_storage import (
    EVENT_BATCH_SIZE,
    EVENT_BATCH_SIZE_ENV,
    PooledSqliteEventLogStorage,
)


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


@asset
def counted() -> int:
    return 1


@asset_check(asset=counted)
def counted_is_positive() -> AssetCheckResult:
    return AssetCheckResult(passed=True)


def _planned_events(instance: DagsterInstance, run_id: str) -> list[str]:
    planned = {"ASSET_MATERIALIZATION_PLANNED", "ASSET_CHECK_EVALUATION_PLANNED"}
    return sorted(
        e.dagster_event.event_type_value
        for e in instance.all_logs(run_id)
        if e.dagster_event is not None and e.dagster_event.event_type_value in planned
    )


def test_the_events_a_run_plans_are_written_as_one_batch(
    instance: DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    # as `kpi build` and `kpi ui` set it (build.prepare_instance)
    monkeypatch.setenv(EVENT_BATCH_SIZE_ENV, str(EVENT_BATCH_SIZE))
    storage = instance.event_log_storage
    assert isinstance(storage, PooledSqliteEventLogStorage)
    batches: list[int] = []
    store_event_batch = storage.store_event_batch

    def spy(events: list[EventLogEntry]) -> None:
        batches.append(len(events))
        store_event_batch(events)

    monkeypatch.setattr(storage, "store_event_batch", spy)
    result = materialize([counted, counted_is_positive], instance=instance)
    assert result.success
    assert batches == [2], "the asset's and the check's planned events, in one batch"
    assert _planned_events(instance, result.run_id) == [
        "ASSET_CHECK_EVALUATION_PLANNED",
        "ASSET_MATERIALIZATION_PLANNED",
    ]
    # mirrored in the index as one event at a time would be: the check's execution is recorded
    # (planned, then evaluated) and the asset's materialisation is found
    executions = storage.get_asset_check_execution_history(
        AssetCheckKey(AssetKey("counted"), "counted_is_positive"), limit=5
    )
    assert [e.run_id for e in executions] == [result.run_id]
    assert executions[0].status == AssetCheckExecutionRecordStatus.SUCCEEDED
    latest = instance.get_latest_materialization_event(AssetKey("counted"))
    assert latest is not None and latest.run_id == result.run_id


def _log_line(run_id: str, message: str) -> EventLogEntry:
    return EventLogEntry(
        error_info=None,
        level="INFO",
        user_message=message,
        run_id=run_id,
        timestamp=time.time(),
        dagster_event=None,
        job_name="tiny",
    )


def test_a_batch_that_fails_keeps_none_of_its_events(instance: DagsterInstance) -> None:
    result = tiny.execute_in_process(instance=instance)
    run = instance.get_run_by_id(result.run_id)
    assert run is not None
    storage = instance.event_log_storage
    assert isinstance(storage, PooledSqliteEventLogStorage)
    before = len(instance.all_logs(result.run_id))
    entries = [_log_line(result.run_id, f"batched event {n}") for n in range(2)]
    broken = _log_line(result.run_id, "not stored")
    path = storage.path_for_shard(result.run_id)
    os.utime(path, (0, 0))

    def store_event(event: EventLogEntry) -> None:
        if event is broken:
            raise RuntimeError("the disk is full")
        PooledSqliteEventLogStorage.store_event(storage, event)

    storage.store_event = store_event  # type: ignore[method-assign]
    with pytest.raises(RuntimeError, match="the disk is full"):
        storage.store_event_batch([*entries, broken])
    del storage.store_event
    assert len(instance.all_logs(result.run_id)) == before, "half a batch was kept"
    assert os.stat(path).st_mtime == 0

    storage.store_event_batch(entries)
    logged = [e.user_message for e in instance.all_logs(result.run_id)]
    assert logged[before:] == ["batched event 0", "batched event 1"]
    assert os.stat(path).st_mtime > 0, "a batch left the run file's time stamp alone"
    # one event at a time after a batch, from another thread
    written = threading.Thread(target=instance.report_engine_event, args=("after", run))
    written.start()
    written.join()
    assert len(instance.all_logs(result.run_id)) == before + 3


def test_kpi_sets_the_batch_size_for_its_instances(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # restored after the test: prepare_instance sets both for the process
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "elsewhere"))
    monkeypatch.delenv(EVENT_BATCH_SIZE_ENV, raising=False)
    with prepare_instance(tmp_path / "warehouse.duckdb"):
        assert os.environ[EVENT_BATCH_SIZE_ENV] == str(EVENT_BATCH_SIZE)
