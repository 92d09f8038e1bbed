"""`kpi compact` (dagster_project/backup.py): after a full refresh the warehouse file holds the
space of every table it replaced; compacted, it gives that space back and holds every row it
held, in the same storage format, and builds on. A copy that differs, or a run in progress,
changes nothing."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from pathlib import Path

import duckdb
import pytest

from dagster_project import backup
from dagster_project.backup import BackupError, compact
from dagster_project.build import prepare_instance
from dagster_project.definitions import defs
from dagster_project.ingest.load import storage_version
from dagster_project.resources import WarehouseResource
from tests.conftest import ACCEPTANCE_CASE, run_kpi, stored_methods
from tests.marts_expected import mart_differences, relation_differences, relations
from tests.test_acceptance import MART_KEYS, _mart_rows
from tests.ui_runs import ui_run_announcing

FREE_SPACE_LINE = re.compile(r"^Free space inside the file: .*; `(?P<command>[^`]+)` gives it back")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _free_and_version(warehouse: Path) -> tuple[int, int, tuple[int, ...] | None]:
    """The free bytes inside the file, the bytes of all its blocks, and its storage version."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        block, free, total = con.execute(
            "select block_size, free_blocks, total_blocks from pragma_database_size() "
            "where database_name = current_database()"
        ).fetchone() or (0, 0, 0)
        return block * free, block * total, storage_version(con)


@pytest.fixture(scope="module")
def refreshed_once(acceptance_warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the acceptance warehouse after a full refresh: every dbt table replaced."""
    warehouse = tmp_path_factory.mktemp("refreshed") / "wh" / "warehouse.duckdb"
    shutil.copytree(acceptance_warehouse.parent, warehouse.parent)
    result = run_kpi(
        "build",
        "--raw",
        str(ACCEPTANCE_CASE / "raw"),
        "--warehouse",
        str(warehouse),
        "--full-refresh",
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return warehouse


@pytest.fixture
def refreshed(refreshed_once: Path, tmp_path: Path) -> Path:
    warehouse = tmp_path / "wh" / "warehouse.duckdb"
    shutil.copytree(refreshed_once.parent, warehouse.parent)
    return warehouse


def test_compact_gives_back_the_free_space_and_keeps_every_row(
    refreshed: Path, tmp_path: Path
) -> None:
    before = tmp_path / "before" / "warehouse.duckdb"
    shutil.copytree(refreshed.parent, before.parent)
    free, total, version = _free_and_version(refreshed)
    assert free > 0.2 * total, "a full refresh leaves the replaced tables' space in the file"

    # kpi status says so, with the command to run on this warehouse
    status = run_kpi("status", "--warehouse", str(refreshed))
    assert status.returncode == 0, status.stderr
    (line,) = [m for m in map(FREE_SPACE_LINE.match, status.stdout.splitlines()) if m]
    command = line["command"].split()
    assert command[1:] == ["compact", "--warehouse", str(refreshed)]

    result = run_kpi(*command[1:])
    assert result.returncode == 0, result.stderr[-4000:]
    assert f"Compacted {refreshed}" in result.stderr

    assert refreshed.stat().st_size < before.stat().st_size - free / 2
    free_after, total_after, version_after = _free_and_version(refreshed)
    assert free_after < 0.05 * total_after
    assert version_after == version
    # the entry ids keep the compression the tables were created with (ingest.load)
    assert stored_methods(refreshed, "raw.worklog", "entry_id") == stored_methods(
        before, "raw.worklog", "entry_id"
    )
    for schema in ("raw", "audit", "staging", "intermediate", "marts"):
        assert relations(refreshed, schema) == relations(before, schema), schema
        assert relation_differences(before, refreshed, schema) == {}, schema
    again = run_kpi("status", "--warehouse", str(refreshed))
    assert not any(FREE_SPACE_LINE.match(line) for line in again.stdout.splitlines())
    assert not list(refreshed.parent.glob("*.compacting*"))

    # the compacted warehouse builds on: its views resolve, its ledger skips what it loaded
    build = run_kpi("build", "--raw", str(ACCEPTANCE_CASE / "raw"), "--warehouse", str(refreshed))
    assert build.returncode == 0, build.stderr[-4000:]
    assert "rebuilt months: none" in build.stderr
    problems = [
        problem
        for mart in MART_KEYS
        for problem in mart_differences(mart, _mart_rows(refreshed, mart))
    ]
    assert problems == []


def test_a_copy_that_differs_changes_nothing(
    refreshed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))  # compact's prepare_instance sets it
    original = _sha256(refreshed)
    monkeypatch.setattr(
        backup, "_copy_differences", lambda _con, _catalog: ['"raw"."worklog": 1 rows copied of 2']
    )
    with pytest.raises(BackupError, match="differs from the warehouse .*: the warehouse was not"):
        compact(refreshed)
    assert _sha256(refreshed) == original
    assert not list(refreshed.parent.glob("*.compacting*"))


def test_the_copy_is_checked_for_missing_tables_and_views_and_row_counts() -> None:
    """The check that stops a compaction whose copy differs, on a copy that lacks a table and
    a view and holds another table with rows missing."""
    with duckdb.connect(":memory:") as con:
        con.execute("attach ':memory:' as warehouse")
        con.execute(f"attach ':memory:' as {backup.COMPACTING_CATALOG}")
        con.execute("create schema warehouse.raw")
        con.execute("create table warehouse.raw.kept as select range as n from range(10)")
        con.execute("create table warehouse.raw.lost as select 1 as n")
        con.execute("create view warehouse.raw.evens as select n from warehouse.raw.kept")
        con.execute(f"create schema {backup.COMPACTING_CATALOG}.raw")
        con.execute(
            f"create table {backup.COMPACTING_CATALOG}.raw.kept as select range as n from range(9)"
        )

        assert backup._copy_differences(con, "warehouse") == [
            'table "raw"."lost" missing',
            'view "raw"."evens" missing',
            '"raw"."kept": 9 rows copied of 10',
        ]
        con.execute(f"insert into {backup.COMPACTING_CATALOG}.raw.kept values (9)")
        con.execute(f"create table {backup.COMPACTING_CATALOG}.raw.lost as select 1 as n")
        con.execute(f"create view {backup.COMPACTING_CATALOG}.raw.evens as select 1 as n")
        assert backup._copy_differences(con, "warehouse") == []


def test_the_compaction_job_runs_from_dagster_and_waits_for_no_run_but_its_own(
    refreshed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The UI's `compact_warehouse` (schedule `weekly_compaction`): its own run is in progress
    while it copies, which must not stop it; another run in progress must, as it stops `kpi
    compact`."""
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    instance = prepare_instance(refreshed)
    resources = {"warehouse": WarehouseResource(path=str(refreshed), raw_dir=str(tmp_path))}
    job = defs.resolve_job_def("compact_warehouse")
    assert defs.resolve_schedule_def("weekly_compaction").job_name == "compact_warehouse"
    size = refreshed.stat().st_size
    try:
        assert job.execute_in_process(instance=instance, resources=resources).success
        assert refreshed.stat().st_size < size

        other = ui_run_announcing(instance, os.getpid())
        compacted = _sha256(refreshed)
        refused = job.execute_in_process(
            instance=instance, resources=resources, raise_on_error=False
        )
        assert not refused.success
        (failure,) = [event for event in refused.all_events if event.is_step_failure]
        reason = failure.step_failure_data.user_failure_data.description
        assert f"run {other} (build_warehouse, STARTED) of {refreshed}" in reason
        assert "compact when it has finished" in reason
        from_cli = run_kpi("compact", "--warehouse", str(refreshed))
        assert from_cli.returncode == 1
        assert f"Not compacted: run {other}" in from_cli.stderr
        assert _sha256(refreshed) == compacted
    finally:
        instance.dispose()


def test_a_warehouse_in_an_older_storage_format_stays_in_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A warehouse created before the build chose DuckDB 1.4's format (settings) is compacted
    into a file older DuckDBs still open, with its views."""
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))  # compact's prepare_instance sets it
    warehouse = tmp_path / "older" / "warehouse.duckdb"
    warehouse.parent.mkdir()
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema raw")
        con.execute("create table raw.numbers as select range as n from range(300000)")
        con.execute("create view raw.evens as select n from raw.numbers where n % 2 = 0")
        con.execute("delete from raw.numbers where n >= 200000")
    free_before, _, version = _free_and_version(warehouse)

    result = compact(warehouse)

    free_after, _, version_after = _free_and_version(warehouse)
    assert (version, version_after) == ((1, 0, 0), (1, 0, 0))
    assert result.tables == 1
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("select count(*), sum(n) from raw.numbers").fetchone() == (
            200000,
            sum(range(200000)),
        )
        assert con.execute("select count(*) from raw.evens").fetchone() == (100000,)
    assert free_after <= free_before
