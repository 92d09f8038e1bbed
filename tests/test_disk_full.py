"""A build that runs out of disk space says so and loses nothing (dagster_project/disk_space.py).

Before, half the builds that filled their disk ended in a 100-line traceback of SQLite under
Dagster's run history ("disk I/O error"), naming neither the disk nor what to do.
"""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from dagster_project import cli, disk_space, extracts
from dagster_project.build import BuildOutcome
from tests.conftest import ACCEPTANCE_CASE, run_kpi
from tests.marts_expected import relation_differences, relations

DUCKDB_WAL_FULL = (
    "TransactionException: TransactionContext Error: Failed to commit: Could not write file "
    '"/data/warehouse.duckdb.wal": No space left on device'
)


@pytest.mark.parametrize(
    "message",
    [
        DUCKDB_WAL_FULL,
        "sqlite3.OperationalError: database or disk is full",
        "OSError: [Errno 28] No space left on device: 'logs/last_build.log'",
    ],
)
def test_each_writers_words_for_a_full_disk_are_recognised(tmp_path: Path, message: str) -> None:
    said = disk_space.full_disk(["raw/worklog: could not be ingested", message], tmp_path)

    assert said is not None and said.startswith(f"the disk holding {tmp_path} is full (")


def test_a_disk_io_error_is_a_full_disk_only_when_the_disk_has_little_room(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    message = "sqlalchemy.exc.OperationalError: (sqlite3.OperationalError) disk I/O error"
    monkeypatch.setattr(disk_space, "free_bytes", lambda path: 50 * 1024**3)
    assert disk_space.full_disk([message], tmp_path) is None

    monkeypatch.setattr(disk_space, "free_bytes", lambda path: 3 * 1024**2)
    assert (
        disk_space.full_disk([message], tmp_path)
        == f"the disk holding {tmp_path} is full (3 MB free now)"
    )


def test_other_failures_are_not_taken_for_a_full_disk(tmp_path: Path) -> None:
    failures = ['Binder Error: Referenced column "staff_id" not found', "check failed"]

    assert disk_space.full_disk(failures, tmp_path) is None


def _run_history_full() -> Exception:
    """What Dagster raises when SQLite cannot write the run history: the SQLite error wrapped."""
    try:
        try:
            raise sqlite3.OperationalError("database or disk is full")
        except sqlite3.OperationalError as cause:
            raise RuntimeError(
                "(sqlite3.OperationalError) database or disk is full\n[SQL: …]"
            ) from cause
    except RuntimeError as error:
        return error


def test_a_build_stopped_by_a_full_disk_says_so_without_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def full(*args: object) -> BuildOutcome:
        raise _run_history_full()

    monkeypatch.setattr(cli, "_execute_build", full)

    status = cli._build(tmp_path / "raw", tmp_path / "warehouse.duckdb")

    err = capsys.readouterr().err
    assert status == 1
    assert f"Build failed: the disk holding {tmp_path} is full (" in err
    assert "(OperationalError: database or disk is full)" in err
    assert "Nothing is lost" in err and "run `kpi build` again" in err


def test_a_failed_step_that_ran_out_of_space_gets_the_same_advice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    failed = BuildOutcome(success=False, failures=[("ingest_raw_sources", DUCKDB_WAL_FULL)])
    monkeypatch.setattr(cli, "_execute_build", lambda *args: failed)

    status = cli._build(tmp_path / "raw", tmp_path / "warehouse.duckdb")

    err = capsys.readouterr().err
    assert status == 1
    assert f"  ingest_raw_sources: {DUCKDB_WAL_FULL}" in err
    assert f"The build stopped because the disk holding {tmp_path} is full (" in err


def test_an_error_other_than_a_full_disk_is_not_hidden(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object) -> BuildOutcome:
        raise KeyError("asset_key")

    monkeypatch.setattr(cli, "_execute_build", broken)

    with pytest.raises(KeyError):
        cli._build(tmp_path / "raw", tmp_path / "warehouse.duckdb")


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A file system of 6 MB (a tmpfs): too small for the acceptance case's build (30 MB)."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    mount_point = tmp_path / "small-disk"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def test_a_build_on_a_full_disk_fails_clearly_and_the_next_one_finishes_it(
    small_disk: Path, acceptance_warehouse: Path
) -> None:
    warehouse = small_disk / "warehouse" / "warehouse.duckdb"
    build = ("build", "--raw", str(ACCEPTANCE_CASE / "raw"), "--warehouse", str(warehouse))

    stopped = run_kpi(*build, timeout=600)

    assert stopped.returncode == 1
    assert f"the disk holding {warehouse.parent} is full" in stopped.stderr, stopped.stderr[-3000:]
    assert "Traceback" not in stopped.stderr

    subprocess.run(["mount", "-o", "remount,size=300m", str(small_disk)], check=True)
    again = run_kpi(*build, timeout=600)

    assert again.returncode == 0, again.stderr[-3000:]
    assert relations(warehouse, "marts") == relations(acceptance_warehouse, "marts")
    assert relation_differences(warehouse, acceptance_warehouse, "marts") == {}


def test_workbooks_stopped_by_a_full_disk_say_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def full(*args: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(extracts, "write_extracts", full)
    args = cli.make_parser().parse_args(
        [
            "extract",
            "--period",
            "2025-03",
            "--warehouse",
            str(tmp_path / "w.duckdb"),
            "--out",
            str(tmp_path / "exports"),
        ]
    )

    status = args.handler(args)

    err = capsys.readouterr().err
    assert status == 1
    assert f"Extract failed: the disk holding {tmp_path / 'exports'} is full (" in err
    assert "run `kpi extract` again" in err
