"""The ingestion step: one multi-asset that loads only the selected raw sources, each of which
succeeds or fails on its own."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
from dagster import AssetKey, DagsterInstance, ExecuteInProcessResult, materialize

from dagster_project.assets.ingestion import INGESTION_STEP, LEDGER_CHECK, ingest_raw_sources
from dagster_project.ingest import SOURCES
from dagster_project.resources import WarehouseResource
from tests.conftest import ACCEPTANCE_CASE


def _materialize(raw: Path, warehouse: Path, *sources: str) -> ExecuteInProcessResult:
    return materialize(
        [ingest_raw_sources],
        selection=[AssetKey(["raw", source]) for source in sources],
        resources={"warehouse": WarehouseResource(path=str(warehouse), raw_dir=str(raw))},
        instance=DagsterInstance.ephemeral(),
        raise_on_error=False,
    )


def _materialized(result: ExecuteInProcessResult) -> set[str]:
    return {
        event.asset_key.path[-1]
        for event in result.get_asset_materialization_events()
        if event.asset_key is not None
    }


def _raw_rows(warehouse: Path) -> dict[str, int]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return {
            source: con.execute(f'SELECT count(*) FROM raw."{source}"').fetchone()[0]
            for source in SOURCES
        }


def test_a_subset_of_sources_loads_only_those_sources(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"

    result = _materialize(ACCEPTANCE_CASE / "raw", warehouse, "agencies", "positions")

    assert result.success
    assert [e.step_key for e in result.all_events if e.is_step_success] == [INGESTION_STEP]
    assert _materialized(result) == {"agencies", "positions"}
    checks = result.get_asset_check_evaluations()
    assert {(c.asset_key.path[-1], c.check_name) for c in checks} == {
        ("agencies", LEDGER_CHECK),
        ("positions", LEDGER_CHECK),
    }
    assert all(c.passed for c in checks)
    for event in result.get_asset_materialization_events():
        assert event.materialization.metadata["seconds"].value >= 0
    rows = _raw_rows(warehouse)
    assert rows["agencies"] > 0
    assert rows["positions"] > 0
    assert {source: n for source, n in rows.items() if n} == {
        "agencies": rows["agencies"],
        "positions": rows["positions"],
    }


def test_a_failed_source_fails_the_step_by_name_after_the_others_load(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    shutil.copytree(ACCEPTANCE_CASE / "raw", raw)
    shutil.rmtree(raw / "agencies")
    warehouse = tmp_path / "warehouse.duckdb"

    # agencies comes first in SOURCES: the sources after it still load.
    result = _materialize(raw, warehouse, "agencies", "positions", "staff")

    assert not result.success
    assert _materialized(result) == {"positions", "staff"}
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    assert failure.step_key == INGESTION_STEP
    user_failure = failure.step_failure_data.user_failure_data
    assert user_failure is not None
    lines = user_failure.description.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("raw/agencies: required source folder")
    rows = _raw_rows(warehouse)
    assert rows["agencies"] == 0
    assert rows["positions"] > 0
    assert rows["staff"] > 0


def test_ingestion_leaves_its_writes_in_the_log_for_the_next_reader(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"

    result = _materialize(ACCEPTANCE_CASE / "raw", warehouse, "agencies", "worklog")

    assert result.success
    # no checkpoint at the connection's close: dbt's, next, takes these writes into the file
    assert warehouse.with_name(warehouse.name + ".wal").stat().st_size > 0
    rows = _raw_rows(warehouse)
    assert rows["agencies"] > 0
    assert rows["worklog"] > 0
