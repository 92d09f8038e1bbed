"""The analysts' snapshot: published after each build, pseudonymous, and readable while a
build runs."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import time
from datetime import date
from pathlib import Path

import duckdb
import pytest
import yaml

from dagster_project import settings, snapshot
from dagster_project.snapshot import (
    PARTITIONED_MARTS,
    PERIOD_MARTS,
    PSEUDONYM_KEY_ENV,
    _period_rows,
    _period_scope,
    publish_snapshot,
    queue_snapshot_months,
    snapshot_paths,
)
from tests.conftest import ACCEPTANCE_CASE, KPI, PROJECT_ROOT, run_kpi, stored_methods

PUBLIC_MARTS = {
    "fct_staff_day",
    "staff_productivity",
    "agency_productivity",
    "worklog_evidence",
    "staffing_surplus",
    "kpi_scorecard",
}


def _columns(database: Path, table: str) -> set[str]:
    with duckdb.connect(str(database), read_only=True) as con:
        return {row[0] for row in con.execute(f"describe {table}").fetchall()}


def test_build_publishes_every_public_mart_with_pseudonymous_staff(
    acceptance_warehouse: Path,
) -> None:
    paths = snapshot_paths(acceptance_warehouse)
    with duckdb.connect(str(paths.database), read_only=True) as con:
        tables = {row[0] for row in con.execute("show tables").fetchall()}
        (march_staff,) = con.execute(
            "select staff_count from marts.agency_productivity where agency_code = 'STC' "
            "and period_type = 'month' and period_start = date '2025-03-01'"
        ).fetchone()
    assert tables >= PUBLIC_MARTS
    assert march_staff == 6
    columns = _columns(paths.database, "staff_productivity")
    assert "staff_key" in columns and "staff_id" not in columns
    for mart in PUBLIC_MARTS - set(PARTITIONED_MARTS):
        assert (paths.parquet_dir / f"{mart}.parquet").exists()
    for mart in PARTITIONED_MARTS:
        months = sorted(path.name for path in (paths.parquet_dir / mart).iterdir())
        # March and April 2025; a period mart's quarters and year start in January and April
        first_months = ["2025-01"] if mart in PERIOD_MARTS else []
        assert months == [f"{month}.parquet" for month in [*first_months, "2025-03", "2025-04"]]
        with duckdb.connect(str(paths.database), read_only=True) as con:
            in_table = con.execute(f"select count(*) from {mart}").fetchone()
            in_files = con.execute(
                f"select count(*) from read_parquet('{paths.parquet_dir / mart}/*.parquet')"
            ).fetchone()
        assert in_table == in_files


def _storage_version(database: Path) -> str:
    with duckdb.connect(str(database), read_only=True) as con:
        (tags,) = con.execute("select tags from duckdb_databases() where not internal").fetchone()
    return tags["storage_version"]


def test_the_warehouse_is_stored_in_the_faster_format_and_the_snapshot_in_the_older(
    acceptance_warehouse: Path,
) -> None:
    # analysts' tools may carry a DuckDB older than the build's (snapshot.py)
    assert _storage_version(acceptance_warehouse) == "v1.4.0+"
    assert _storage_version(snapshot_paths(acceptance_warehouse).database) == "v1.0.0+"


def test_a_build_leaves_the_warehouse_file_whole(
    acceptance_warehouse: Path, tmp_path: Path
) -> None:
    # The steps before the snapshot leave their writes in the write-ahead log; the snapshot,
    # the build's last writer, checkpoints them into the file, which can then be copied alone.
    assert not acceptance_warehouse.with_name(acceptance_warehouse.name + ".wal").exists()
    copy = tmp_path / "warehouse_alone.duckdb"
    shutil.copyfile(acceptance_warehouse, copy)
    with duckdb.connect(str(copy), read_only=True) as con:
        # written after dbt's close, by the build's bookkeeping
        (tested,) = con.execute("select count(*) from audit.tested_deliveries").fetchone()
        (pending,) = con.execute("select count(*) from audit.snapshot_pending").fetchone()
    assert tested == 1
    assert pending == 0


def test_dbt_creates_a_warehouse_in_the_format_kpi_does() -> None:
    # dbt run by hand on a new warehouse file creates it
    profiles = yaml.safe_load((PROJECT_ROOT / "dbt_models" / "profiles.yml").read_text())
    options = profiles["kpi_warehouse"]["outputs"]["duckdb"]["config_options"]
    assert options["storage_compatibility_version"] == settings.DUCKDB_STORAGE_VERSION


def test_partitioned_marts_are_the_month_partitioned_models() -> None:
    from dagster_project.assets.transformation import dbt_project

    manifest = json.loads(dbt_project.manifest_path.read_text())
    marts_meta = {
        node["name"]: node["config"].get("meta", {})
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["schema"] == "marts"
    }
    by_month = {
        name: meta["month_partition_column"]
        for name, meta in marts_meta.items()
        if "month_partition_column" in meta
    }
    by_period = {
        name: meta["period_partition_column"]
        for name, meta in marts_meta.items()
        if "period_partition_column" in meta
    }
    assert by_month | by_period == PARTITIONED_MARTS
    assert set(by_period) == PERIOD_MARTS


def test_a_rebuilt_month_republishes_its_month_quarter_and_year() -> None:
    scope = {date(2025, 5, 1): ["KH2", "KH1"], date(2025, 2, 1): None, date(2025, 1, 1): ["KH3"]}
    assert _period_scope(scope) == {
        # May for two people: their May, second quarter and 2025
        date(2025, 5, 1): ["KH1", "KH2"],
        date(2025, 4, 1): ["KH1", "KH2"],
        # February for everyone: February, and the first quarter's and the year's first month
        # (January's own rows included) for everyone, whatever KH3's January asked
        date(2025, 2, 1): None,
        date(2025, 1, 1): None,
    }
    assert _period_scope({date(2025, 12, 1): ["KH1"]}) == {
        date(2025, 12, 1): ["KH1"],
        date(2025, 10, 1): ["KH1"],
        date(2025, 1, 1): ["KH1"],
    }


def test_a_rebuilt_month_republishes_its_own_quarter_and_year_rows_only() -> None:
    scope = {date(2025, 4, 1): None, date(2025, 3, 1): ["KH2", "KH1"], date(2025, 2, 1): ["KH3"]}
    assert _period_rows(scope) == {
        # April for everyone: its month, the second quarter and the year, for everyone
        ("month", date(2025, 4, 1)): None,
        ("quarter", date(2025, 4, 1)): None,
        ("year", date(2025, 1, 1)): None,
        # March and February for some: their months and the first quarter for those people,
        # not January's month (the year's rows are everyone's already)
        ("month", date(2025, 3, 1)): ["KH1", "KH2"],
        ("month", date(2025, 2, 1)): ["KH3"],
        ("quarter", date(2025, 1, 1)): ["KH1", "KH2", "KH3"],
    }


def test_pseudonyms_are_stable_across_publishes(acceptance_warehouse: Path, tmp_path: Path) -> None:
    copy = tmp_path / "warehouse.duckdb"
    shutil.copyfile(acceptance_warehouse, copy)
    shutil.copyfile(acceptance_warehouse.parent / "pseudonym.key", tmp_path / "pseudonym.key")
    publish_snapshot(copy)
    query = "select staff_key from fct_staff_day order by staff_key"
    with duckdb.connect(str(snapshot_paths(copy).database), read_only=True) as con:
        republished = con.execute(query).fetchall()
    with duckdb.connect(str(snapshot_paths(acceptance_warehouse).database), read_only=True) as con:
        original = con.execute(query).fetchall()
    assert republished == original
    with duckdb.connect(str(snapshot_paths(copy).database), read_only=True) as con:
        (ids_leaked,) = con.execute(
            "select count(*) from fct_staff_day where staff_key like 'KH%'"
        ).fetchone()
    assert ids_leaked == 0


def test_analyst_query_succeeds_while_a_build_runs(
    acceptance_warehouse: Path, tmp_path: Path
) -> None:
    for item in acceptance_warehouse.parent.iterdir():
        if item.is_file():
            shutil.copyfile(item, tmp_path / item.name)
    warehouse = tmp_path / acceptance_warehouse.name
    publish_snapshot(warehouse)
    database = snapshot_paths(warehouse).database

    build = subprocess.Popen(
        [KPI, "build", "--raw", str(ACCEPTANCE_CASE / "raw"), "--warehouse", str(warehouse)],
        cwd=PROJECT_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    answered_during_build = 0
    try:
        while build.poll() is None:
            with duckdb.connect(str(database), read_only=True) as con:
                (rows,) = con.execute("select count(*) from marts.fct_staff_day").fetchone()
            assert rows == 536
            if build.poll() is None:
                answered_during_build += 1
            time.sleep(0.5)
    finally:
        if build.poll() is None:
            build.kill()
        _, stderr = build.communicate(timeout=60)
    assert build.returncode == 0, stderr[-3000:]
    assert answered_during_build >= 3


def test_a_warehouse_of_any_file_name_publishes_its_views(tmp_path: Path) -> None:
    # worklog_evidence is a view, which dbt-duckdb writes naming the warehouse's catalog after
    # its file: the snapshot must attach the warehouse under that name to read it.
    warehouse = tmp_path / "khanh-hoa 2025.duckdb"
    result = run_kpi("build", "--raw", str(ACCEPTANCE_CASE / "raw"), "--warehouse", str(warehouse))
    assert result.returncode == 0, result.stderr[-3000:]
    with duckdb.connect(str(warehouse), read_only=True) as con:
        (view_count,) = con.execute(
            "select count(*) from duckdb_views() where view_name = 'worklog_evidence'"
        ).fetchone() or (0,)
        (entries,) = con.execute("select count(*) from marts.worklog_evidence").fetchone() or (0,)
    assert view_count == 1 and entries > 0
    with duckdb.connect(str(snapshot_paths(warehouse).database), read_only=True) as con:
        (published,) = con.execute("select count(*) from worklog_evidence").fetchone() or (0,)
    assert published == entries


def test_every_person_id_column_gets_the_keyed_hash_of_its_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every person-id column holds the keyed hash of the row's own id, NULL staying NULL, in
    # full and incremental publishes alike, so analysts can join the marts on the keys.
    key = "test-key"
    monkeypatch.setenv(PSEUDONYM_KEY_ENV, key)

    def keyed(person_id: str | None) -> str | None:
        if person_id is None:
            return None
        return hashlib.sha256((key + person_id).encode()).hexdigest()[:16]

    reviews = [
        ("A", "t1", None, "Ann", "B"),
        (None, "t2", "C", "Bob", None),
        ("E", "t3", "A", None, "C"),
    ]
    warehouse = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema marts")
        con.execute(
            "create table marts.norm_review (reviewed_by varchar, task_code varchar, "
            "evaluator_staff_id varchar, full_name varchar, staff_id varchar)"
        )
        con.executemany("insert into marts.norm_review values (?, ?, ?, ?, ?)", reviews)
        con.execute("create table marts.fct_staff_day (staff_id varchar, work_date date, h int)")
        con.execute(
            "insert into marts.fct_staff_day values ('A', '2025-03-03', 1), "
            "('B', '2025-03-03', 2), ('A', '2025-04-01', 3), (null, '2025-04-02', 4)"
        )
    database = snapshot_paths(warehouse).database

    def published(table: str) -> tuple[list[str], set[tuple[object, ...]]]:
        with duckdb.connect(str(database), read_only=True) as con:
            columns = [row[0] for row in con.execute(f"describe {table}").fetchall()]
            return columns, set(con.execute(f"select * from {table}").fetchall())

    def expected_days() -> set[tuple[object, ...]]:
        with duckdb.connect(str(warehouse), read_only=True) as con:
            rows = con.execute("select * from marts.fct_staff_day").fetchall()
        return {(keyed(staff_id), *rest) for staff_id, *rest in rows}

    publish_snapshot(warehouse, include_names=False)
    assert published("norm_review") == (
        ["reviewed_by_key", "task_code", "evaluator_staff_key", "staff_key"],
        {(keyed(r), t, keyed(e), keyed(s)) for r, t, e, _, s in reviews},
    )
    assert published("fct_staff_day") == (["staff_key", "work_date", "h"], expected_days())

    publish_snapshot(warehouse, include_names=True)
    assert published("norm_review") == (
        ["reviewed_by_key", "task_code", "evaluator_staff_key", "full_name", "staff_key"],
        {(keyed(r), t, keyed(e), n, keyed(s)) for r, t, e, n, s in reviews},
    )

    # March rebuilt for A only, April for everyone, with a person the snapshot has not seen
    with duckdb.connect(str(warehouse)) as con:
        con.execute(
            "update marts.fct_staff_day set h = h + 10 "
            "where staff_id = 'A' or work_date >= date '2025-04-01'"
        )
        con.execute("insert into marts.fct_staff_day values ('D', '2025-04-03', 5)")
        queue_snapshot_months(
            con, {"entries": {date(2025, 3, 1): ["A"], date(2025, 4, 1): None}, "patterns": {}}
        )
    publish_snapshot(warehouse, include_names=False)
    assert published("fct_staff_day") == (["staff_key", "work_date", "h"], expected_days())


def _published_copy_with_a_month_to_republish(
    acceptance_warehouse: Path, tmp_path: Path
) -> tuple[Path, Path]:
    """A copy of the acceptance warehouse and its snapshot, with March rebuilt since the last
    publish (the next publish changes a copy of the snapshot): the warehouse and the snapshot
    database."""
    for item in acceptance_warehouse.parent.iterdir():
        if item.is_file():
            shutil.copyfile(item, tmp_path / item.name)
    shutil.copytree(acceptance_warehouse.parent / "marts", tmp_path / "marts")
    warehouse = tmp_path / acceptance_warehouse.name
    with duckdb.connect(str(warehouse)) as con:
        queue_snapshot_months(con, {"entries": {date(2025, 3, 1): None}})
    return warehouse, snapshot_paths(warehouse).database


def test_a_publish_starts_from_the_copy_prefetched_during_the_build(
    acceptance_warehouse: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    warehouse, database = _published_copy_with_a_month_to_republish(acceptance_warehouse, tmp_path)
    # only a publish that starts from a copy of this snapshot keeps the mark
    with duckdb.connect(str(database)) as con:
        con.execute("create table previous_snapshot_mark as select 1 as mark")
    copied_to: list[str] = []
    real_copyfile = shutil.copyfile

    def copyfile(src: Path, dst: Path) -> object:
        copied_to.append(Path(dst).name)
        return real_copyfile(src, dst)

    monkeypatch.setattr("dagster_project.snapshot.shutil.copyfile", copyfile)
    synced: list[str] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append(Path(os.readlink(f"/proc/self/fd/{fd}")).name)
        real_fsync(fd)

    monkeypatch.setattr("dagster_project.snapshot.os.fsync", fsync)

    snapshot.prefetch_previous_snapshot(warehouse)
    counts = publish_snapshot(warehouse)

    assert copied_to == [database.name + ".prefetched"]  # the publish made no copy of its own
    # on the disk before the publish's commit syncs it
    assert synced == [database.name + ".prefetched"]
    assert not (tmp_path / (database.name + ".prefetched")).exists()
    with duckdb.connect(str(database), read_only=True) as con:
        (rows,) = con.execute("select count(*) from fct_staff_day").fetchone() or (0,)
        (mark,) = con.execute("select mark from previous_snapshot_mark").fetchone() or (0,)
    assert rows == counts["fct_staff_day"] == 536
    assert mark == 1


def test_a_publish_under_a_new_pseudonym_key_republishes_every_month(
    acceptance_warehouse: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only March was rebuilt, but the key changed since the last publish: a copy of the
    previous snapshot would keep April under the old keys, and each person of both months
    would be two people in the analysts' joins."""
    warehouse, database = _published_copy_with_a_month_to_republish(acceptance_warehouse, tmp_path)
    monkeypatch.setenv(PSEUDONYM_KEY_ENV, "a key set since the last publish")

    publish_snapshot(warehouse)

    with duckdb.connect(str(warehouse), read_only=True) as con:
        (people,) = con.execute(
            "select count(distinct staff_id) from marts.fct_staff_day"
        ).fetchone()
    with duckdb.connect(str(database), read_only=True) as con:
        (keys,) = con.execute("select count(distinct staff_key) from fct_staff_day").fetchone()
        (months,) = con.execute(
            "select count(distinct date_trunc('month', work_date)) from fct_staff_day"
        ).fetchone()
    assert months == 2
    assert keys == people

    # the next publish under that key starts from this snapshot again (it keeps a mark)
    with duckdb.connect(str(database)) as con:
        con.execute("create table previous_snapshot_mark as select 1 as mark")
    with duckdb.connect(str(warehouse)) as con:
        queue_snapshot_months(con, {"entries": {date(2025, 3, 1): None}})
    publish_snapshot(warehouse)
    with duckdb.connect(str(database), read_only=True) as con:
        assert con.execute("select mark from previous_snapshot_mark").fetchone() == (1,)


def test_a_prefetched_copy_left_by_another_process_is_not_used(
    acceptance_warehouse: Path, tmp_path: Path
) -> None:
    warehouse, database = _published_copy_with_a_month_to_republish(acceptance_warehouse, tmp_path)
    # a build that died while prefetching left half a copy
    leftover = tmp_path / (database.name + ".prefetched")
    leftover.write_bytes(database.read_bytes()[:4096])

    counts = publish_snapshot(warehouse)

    assert not leftover.exists()
    with duckdb.connect(str(database), read_only=True) as con:
        (rows,) = con.execute("select count(*) from fct_staff_day").fetchone() or (0,)
    assert rows == counts["fct_staff_day"] == 536


def test_text_columns_are_stored_with_the_method_they_take(
    acceptance_warehouse: Path, tmp_path: Path
) -> None:
    # A text whose values all differ: DuckDB's dictionary is tried on each and never kept
    # (int_worklog_entries_credited, ingest.load.raw_table_ddl, snapshot.DISTINCT_TEXT_COLUMNS).

    for table, column in [
        ("raw.worklog", "entry_id"),
        ("raw.documents", "doc_id"),
        ("intermediate.int_worklog_entries_credited", "entry_id"),
        ("intermediate.int_worklog_entries_flagged", "entry_id"),
    ]:
        assert stored_methods(acceptance_warehouse, table, column) == {"ZSTD"}, table
    # The snapshot's tables keep their methods for the rows a later publish adds: values DuckDB
    # would store otherwise (few entry ids, every staff key different) are stored with them.
    snapshot = tmp_path / "marts.duckdb"
    shutil.copyfile(snapshot_paths(acceptance_warehouse).database, snapshot)
    with duckdb.connect(str(snapshot)) as con:
        con.execute(
            "insert into worklog_evidence (entry_id) select 'KK' || (i % 2) from range(200000) "
            "as ids(i)"
        )
        con.execute(
            "insert into fct_staff_day (staff_key) select md5(cast(i as varchar)) "
            "from range(200000) as keys(i)"
        )
        con.execute("checkpoint")
    assert stored_methods(snapshot, "worklog_evidence", "entry_id") == {"FSST"}
    assert stored_methods(snapshot, "fct_staff_day", "staff_key") == {"Dictionary"}
