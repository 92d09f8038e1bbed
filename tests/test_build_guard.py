"""A build stopped midway must not stop the next one, and two builds of one warehouse must not
run at once (dagster_project/build_guard.py).

A killed build used to leave its Dagster run started for ever, holding the writers' slot: every
later `kpi build` of the warehouse then waited for that slot without end, a core spinning and
nothing printed.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import duckdb
from dagster import DagsterInstance, DagsterRunStatus, materialize
from dagster._core.test_utils import create_run_for_test, instance_for_test

from dagster_project import settings
from dagster_project.assets.ingestion import ingest_raw_sources
from dagster_project.build_guard import (
    exclusive_build,
    process_alive,
    settle_abandoned_runs,
    settle_and_wait_for_runs,
)
from dagster_project.resources import WRITER_POOL, WarehouseResource
from tests.conftest import ACCEPTANCE_CASE, KPI, PROJECT_ROOT, run_dbt, run_kpi
from tests.marts_expected import relation_differences, relations
from tests.ui_runs import ui_run_announcing


def writer_slot_step(warehouse: Path) -> str | None:
    """The step holding the writers' slot in the warehouse's Dagster instance, if any."""
    index = settings.dagster_home_for(warehouse) / "history" / "runs" / "index.db"
    if not index.exists():
        return None
    try:
        with sqlite3.connect(f"file:{index}?mode=ro", uri=True, timeout=1) as con:
            row = con.execute(
                "select step_key from concurrency_slots where run_id is not null"
            ).fetchone()
    except sqlite3.OperationalError:  # the table is not there yet, or the file is busy
        return None
    return row[0] if row else None


def _kill_build_in_step(raw: Path, warehouse: Path, step: str) -> None:
    """Start `kpi build` and kill it (the whole process group, SIGKILL) while `step` runs."""
    build = subprocess.Popen(
        [KPI, "build", "--raw", str(raw), "--warehouse", str(warehouse)],
        cwd=PROJECT_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 600
        while writer_slot_step(warehouse) != step:
            assert build.poll() is None, f"the build ended before its step {step} was seen"
            assert time.monotonic() < deadline, f"step {step} never started"
            time.sleep(0.1)
        time.sleep(1.0)  # into the step: dbt has rebuilt some models and not the others
        assert build.poll() is None, f"the build ended during its step {step}"
    finally:
        os.killpg(build.pid, signal.SIGKILL)
        build.wait()


def test_a_build_killed_midway_does_not_stop_the_next_one(
    tmp_path: Path, acceptance_warehouse: Path
) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    raw = ACCEPTANCE_CASE / "raw"
    _kill_build_in_step(raw, warehouse, "kpi_dbt_models")
    assert writer_slot_step(warehouse) == "kpi_dbt_models", "the killed run holds the slot"

    again = run_kpi("build", "--raw", str(raw), "--warehouse", str(warehouse), timeout=600)

    assert again.returncode == 0, again.stderr[-3000:]
    assert "stopped unfinished: marked failed" in again.stderr
    assert writer_slot_step(warehouse) is None
    assert relations(warehouse, "marts") == relations(acceptance_warehouse, "marts")
    assert relation_differences(warehouse, acceptance_warehouse, "marts") == {}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("select count(*) from audit.pending_months").fetchone() == (0,)


def test_a_second_build_of_a_warehouse_stops_naming_the_first(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    with exclusive_build(warehouse):
        second = run_kpi(
            "build", "--raw", str(ACCEPTANCE_CASE / "raw"), "--warehouse", str(warehouse)
        )
    assert second.returncode == 1
    assert "another `kpi build`" in second.stderr
    assert f"pid {os.getpid()} " in second.stderr
    assert not warehouse.exists(), "the second build must not touch the warehouse"


def test_a_build_stopped_after_the_range_moved_still_builds_the_new_month_for_everyone(
    tmp_path: Path,
) -> None:
    """A month entering the reporting range is rebuilt for everyone, also when the build that
    delivered it stopped after dbt had rebuilt the range and before the staff-days."""
    generated = tmp_path / "generated"
    made = run_kpi(
        "generate", "--out", str(generated), "--start", "2025-04-01", "--end", "2025-05-31",
        "--scale", "0.05", "--seed", "3", "--formats", "csv",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr[-3000:]
    raw, warehouse = tmp_path / "raw", tmp_path / "stepwise" / "warehouse.duckdb"
    for path in sorted(generated.rglob("*.csv")):
        if "2025-05" not in path.name:
            (raw / path.parent.name).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, raw / path.parent.name / path.name)
    april = run_kpi("build", "--raw", str(raw), "--warehouse", str(warehouse))
    assert april.returncode == 0, april.stderr[-3000:]

    # May arrives; the build loads it, dbt rebuilds the reporting range, and the build stops.
    shutil.copytree(generated, raw, dirs_exist_ok=True)
    loaded = materialize(
        [ingest_raw_sources],
        resources={"warehouse": WarehouseResource(path=str(warehouse), raw_dir=str(raw))},
        instance=DagsterInstance.ephemeral(),
    )
    assert loaded.success
    ranged = run_dbt(
        "run", "--select", "int_reporting_range_derived", warehouse=warehouse, workdir=tmp_path
    )
    assert ranged.returncode == 0, ranged.stdout[-3000:]

    again = run_kpi("build", "--raw", str(raw), "--warehouse", str(warehouse))
    assert again.returncode == 0, again.stderr[-3000:]
    scratch = tmp_path / "scratch" / "warehouse.duckdb"
    once = run_kpi("build", "--raw", str(generated), "--warehouse", str(scratch))
    assert once.returncode == 0, once.stderr[-3000:]
    assert relation_differences(warehouse, scratch, "marts") == {}


def test_a_ui_run_is_settled_only_when_its_process_is_gone(tmp_path: Path) -> None:
    ended = subprocess.Popen(["true"])
    ended.wait()
    with instance_for_test(temp_dir=str(tmp_path)) as instance:
        running = ui_run_announcing(instance, os.getpid())
        dead = ui_run_announcing(instance, ended.pid)
        silent = create_run_for_test(
            instance, job_name="build_warehouse", status=DagsterRunStatus.STARTED
        ).run_id

        notes = settle_abandoned_runs(instance)

        status = {run_id: instance.get_run_by_id(run_id).status for run_id in (running, dead)}
        assert status == {running: DagsterRunStatus.STARTED, dead: DagsterRunStatus.FAILURE}
        assert instance.get_run_by_id(silent).status == DagsterRunStatus.STARTED
        assert [note for note in notes if dead in note] == [
            f"run {dead} (build_warehouse, not a run of `kpi build`) stopped unfinished, its "
            f"process (pid {ended.pid}) gone: marked failed; this build rebuilds what it left"
        ]


def test_a_pid_given_to_a_later_process_is_not_the_runs_process() -> None:
    assert process_alive(os.getpid(), started_by=time.time())
    # this process started after that moment: a run that announced this pid then had another
    assert not process_alive(os.getpid(), started_by=time.time() - 3600)


def test_a_process_ended_and_not_reaped_is_not_alive() -> None:
    """An orphaned run worker killed with the UI stays in the process table as a zombie until
    the machine's init reaps it, which some inits never do: a build then waited for it for ever."""
    ended = subprocess.Popen(["sleep", "600"])
    started_by = time.time()
    try:
        ended.kill()
        # not reaped: this process does not wait for it until the assertion has run
        deadline = time.monotonic() + 10
        while Path(f"/proc/{ended.pid}/stat").read_text().split(") ")[1][0] != "Z":
            assert time.monotonic() < deadline, "the killed process never ended"
            time.sleep(0.05)
        assert not process_alive(ended.pid, started_by=started_by)
    finally:
        ended.wait()


def test_a_build_waiting_for_a_ui_run_goes_on_when_that_runs_process_dies(tmp_path: Path) -> None:
    """The UI killed while a build waits for its run: the build marked the run's process gone
    only as it started, and then waited for the run's slot for ever."""
    worker = subprocess.Popen(["sleep", "600"])
    said: list[str] = []
    try:
        with instance_for_test(temp_dir=str(tmp_path)) as instance:
            run_id = ui_run_announcing(instance, worker.pid)
            instance.event_log_storage.set_concurrency_slots(WRITER_POOL, 1)
            claim = instance.event_log_storage.claim_concurrency_slot(
                WRITER_POOL, run_id, "kpi_dbt_models"
            )
            assert claim.is_claimed
            waiting = threading.Thread(
                target=settle_and_wait_for_runs,
                args=(instance, said.append),
                kwargs={"poll_seconds": 0.1},
                daemon=True,
            )
            waiting.start()
            time.sleep(1.0)
            assert waiting.is_alive(), "the build did not wait for the UI's run"
            assert len(said) == 1 and f"run {run_id} (build_warehouse" in said[0], said

            worker.kill()
            worker.wait()
            waiting.join(timeout=30)

            assert not waiting.is_alive(), "the build still waits for a run whose process died"
            assert instance.get_run_by_id(run_id).status == DagsterRunStatus.FAILURE
            assert not instance.event_log_storage.get_concurrency_run_ids()
            assert len(said) == 2 and f"its process (pid {worker.pid}) gone" in said[1], said
    finally:
        worker.kill()
        worker.wait()
