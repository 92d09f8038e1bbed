"""`kpi status`: the morning check of the person who runs the warehouse, read-only, and an exit
status a monitor can alert on."""

from __future__ import annotations

import os
import shlex
import shutil
import socket
import subprocess
from pathlib import Path

import duckdb
import pytest
from dagster import DagsterRunStatus
from dagster._core.events import EngineEventData
from dagster._core.test_utils import create_run_for_test

from dagster_project.build import prepare_instance
from dagster_project.build_guard import BUILD_TAG
from tests.conftest import ACCEPTANCE_CASE, PROJECT_ROOT, run_kpi


@pytest.fixture
def warehouse(acceptance_warehouse: Path, tmp_path: Path) -> Path:
    """A copy of the acceptance case's warehouse, with its run history and snapshot."""
    copy = tmp_path / "wh" / acceptance_warehouse.name
    shutil.copytree(acceptance_warehouse.parent, copy.parent)
    return copy


def _status(warehouse: Path) -> tuple[int, list[str]]:
    result = run_kpi("status", "--warehouse", str(warehouse))
    assert not result.stderr.strip() or result.returncode, result.stderr
    return result.returncode, result.stdout.splitlines()


def _line(lines: list[str], start: str) -> str:
    (line,) = [line for line in lines if line.startswith(start)]
    return line.removeprefix(start)


def test_status_reports_the_build_what_was_loaded_and_what_was_not(
    warehouse: Path, tmp_path: Path
) -> None:
    raw = tmp_path / "raw"
    shutil.copytree(ACCEPTANCE_CASE / "raw", raw)
    (raw / "worklog" / "2025-05.txt").write_text("not an export the contract accepts\n")
    built = run_kpi("build", "--raw", str(raw), "--warehouse", str(warehouse))
    assert built.returncode == 0, built.stderr[-3000:]

    code, lines = _status(warehouse)

    assert code == 0
    assert "succeeded (`kpi build`" in _line(lines, "Last build: ")
    assert _line(lines, "Runs in progress: ") == "none"
    data_files = [path for path in (ACCEPTANCE_CASE / "raw").rglob("*") if path.is_file()]
    with duckdb.connect(str(warehouse), read_only=True) as con:
        (first, last) = con.execute(
            "select cast(date_trunc('month', min(work_date)) as date), last_day(max(work_date)) "
            "from marts.worklog_evidence"
        ).fetchone()
        (quarantined,) = con.execute("select count(*) from audit.quarantine").fetchone()
    assert _line(lines, "Reporting range built: ") == f"{first} – {last} (the worklog's months)"
    assert _line(lines, "Exports loaded: ").startswith(f"{len(data_files)} files, ")
    assert _line(lines, "Files not loaded ").startswith("(1; delivered again corrected")
    (refused,) = [line for line in lines if "2025-05.txt" in line]
    assert refused.startswith("  worklog/2025-05.txt: unsupported file type; ")
    assert refused.endswith(" (unsupported)")
    # the acceptance case's one bad row, and the file above, kept whole
    assert quarantined == 2
    heading = "Rows quarantined: 2 (kept with their reasons), by source and reason:"
    at = lines.index(heading)
    assert sorted(lines[at + 1 : at + 3]) == [
        "  staff overlapping_assignment: 1",
        "  worklog unsupported_file: 1",
    ]
    assert _line(lines, "Months queued for the next build: ") == "none"
    assert _line(lines, "Analysts' snapshot: ").startswith(f"{warehouse.parent / 'marts.duckdb'}, ")
    assert _line(lines, "Latest backup: ").startswith(f"none in {warehouse.parent / 'backups'}")

    # the command it prints lists the quarantined row, pasted as printed
    see = _line(lines, "  see them: ")
    listed = subprocess.run(
        [*shlex.split(see), "--csv"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert listed.returncode == 0, listed.stderr
    assert len(listed.stdout.splitlines()) == 1 + quarantined

    backup = run_kpi("backup", "--warehouse", str(warehouse))
    assert backup.returncode == 0, backup.stderr
    code, lines = _status(warehouse)
    assert _line(lines, "Latest backup: ").startswith(f"{backup.stdout.strip()} (made ")


def test_status_names_why_the_last_build_failed_and_exits_1(
    warehouse: Path, tmp_path: Path
) -> None:
    raw = tmp_path / "raw"
    shutil.copytree(ACCEPTANCE_CASE / "raw", raw)
    shutil.rmtree(raw / "agencies")
    failed = run_kpi("build", "--raw", str(raw), "--warehouse", str(warehouse))
    assert failed.returncode != 0

    code, lines = _status(warehouse)

    assert code == 1
    last = _line(lines, "Last build: ")
    assert ", failure (`kpi build`" in last
    reason = lines[lines.index(f"Last build: {last}") + 1]
    assert reason.startswith("  ingest_raw_sources: ") and "required source folder" in reason


def test_status_while_a_build_writes_names_it_and_reads_the_rest(warehouse: Path) -> None:
    with duckdb.connect(str(warehouse)):  # a writer holds the file, as a build does
        code, lines = _status(warehouse)

    assert code == 0
    assert _line(lines, "Ledger, quarantine and queue: ").startswith(
        "not read, a build is writing the warehouse now"
    )
    assert _line(lines, "Last build: ").startswith("20")
    assert not [line for line in lines if line.startswith("Exports loaded")]


def test_status_without_a_warehouse_exits_1(tmp_path: Path) -> None:
    code, lines = _status(tmp_path / "none.duckdb")
    assert code == 1
    assert lines == [f"No warehouse at {tmp_path / 'none.duckdb'}: `kpi build` makes it."]


def test_status_tells_a_run_whose_process_is_gone_from_one_still_running(
    warehouse: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))  # prepare_instance sets it for the test
    ended = subprocess.Popen(["true"])
    ended.wait()
    with prepare_instance(warehouse) as instance:
        # a `kpi build` killed midway: its tag names its process
        killed_build = create_run_for_test(
            instance,
            job_name="build_warehouse",
            status=DagsterRunStatus.STARTED,
            tags={BUILD_TAG: f"pid {ended.pid} on {socket.gethostname()}"},
        )
        # runs of the UI: their run worker announces its process
        killed_ui, running = (
            create_run_for_test(instance, job_name=job, status=DagsterRunStatus.STARTED)
            for job in ("build_warehouse", "leadership_extracts")
        )
        for run, pid in ((killed_ui, ended.pid), (running, os.getpid())):
            instance.report_engine_event(
                f"Started process for run (pid: {pid}).", run, EngineEventData.in_process(pid)
            )

    code, lines = _status(warehouse)

    assert code == 0
    in_progress = _line(lines, "Runs in progress: ")
    gone = f"; its process {ended.pid} is gone: the next build marks it failed"
    assert f"build_warehouse (STARTED{gone}; run {killed_build.run_id})" in in_progress
    assert f"build_warehouse (STARTED{gone}; run {killed_ui.run_id})" in in_progress
    assert f"leadership_extracts (STARTED; run {running.run_id})" in in_progress
