"""The Parquet export that feeds the Spark engine (no Spark needed: DuckDB reads it back)."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import duckdb

from dagster_project.engines.spark import export_raw_to_parquet, spark_paths
from dagster_project.ingest import SOURCES, ensure_raw_tables
from tests.marts_expected import parquet_table

NFD = unicodedata.normalize("NFD", "Xử lý văn bản đến")


def _warehouse(tmp_path: Path) -> Path:
    warehouse = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        ensure_raw_tables(con)
        con.execute(
            "insert into raw.worklog (entry_id, revision, staff_id, work_date, task_code, "
            "quantity, description, status, _source_file, _source_row, _delivery_id) values "
            "('E1', 1, 'KH1', date '2025-03-10', 'T01', 1.5, ?, 'approved', "
            "'worklog/a.csv', 2, 1)",
            [NFD],
        )
    return warehouse


def test_every_raw_table_is_exported_with_every_column(tmp_path: Path) -> None:
    warehouse = _warehouse(tmp_path)
    out = spark_paths(warehouse).raw
    with duckdb.connect(str(warehouse)) as con:
        counts = export_raw_to_parquet(con, out)
        for source in SOURCES:
            raw_columns = [d[0] for d in con.execute(f"select * from raw.{source}").description]
            columns, rows = parquet_table(out / source)
            assert columns == raw_columns, source
            assert len(rows) == counts[source], source
    assert counts["worklog"] == 1
    assert out == tmp_path / "spark" / "raw"


def test_free_text_is_written_in_nfc(tmp_path: Path) -> None:
    """Spark SQL has no Unicode normalisation; DuckDB's models apply NFC when they compare
    descriptions, so the export does it for Spark."""
    warehouse = _warehouse(tmp_path)
    out = spark_paths(warehouse).raw
    with duckdb.connect(str(warehouse)) as con:
        export_raw_to_parquet(con, out)
        (stored,) = con.execute("select description from raw.worklog").fetchone()
    _, rows = parquet_table(out / "worklog")
    assert stored == NFD  # the warehouse keeps what was delivered
    assert rows[0]["description"] == unicodedata.normalize("NFC", NFD)


def test_a_new_export_replaces_the_folder_whole(tmp_path: Path) -> None:
    warehouse = _warehouse(tmp_path)
    out = spark_paths(warehouse).raw
    with duckdb.connect(str(warehouse)) as con:
        export_raw_to_parquet(con, out)
        con.execute("delete from raw.worklog")
        export_raw_to_parquet(con, out)
    _, rows = parquet_table(out / "worklog")
    assert rows == []
    assert sorted(p.name for p in out.iterdir()) == sorted(SOURCES)
    assert [p.name for p in (out / "worklog").iterdir()] == ["part-00000.parquet"]


def test_spark_definitions_read_the_export() -> None:
    """The Spark build's graph: raw/<source> → spark/raw/<source> (Parquet) → spark/staging."""
    from dagster import AssetKey

    from dagster_project.engines.spark import JOB_NAME, spark_definitions

    defs = spark_definitions()
    graph = defs.resolve_asset_graph()
    keys = graph.get_all_asset_keys()
    for source in SOURCES:
        export = AssetKey(["spark", "raw", source])
        assert set(graph.get(export).parent_keys) == {AssetKey(["raw", source])}
    staging = {key for key in keys if key.path[-1].startswith("stg_")}
    assert {key.path[0] for key in staging} == {"spark"}
    parents = {parent for key in staging for parent in graph.get(key).parent_keys}
    assert parents == {AssetKey(["spark", "raw", source]) for source in SOURCES}
    assert AssetKey(["spark", "marts", "fct_staff_day"]) in keys
    assert {key.asset_key.path[0] for key in graph.asset_check_keys} >= {"spark"}
    assert defs.resolve_job_def(JOB_NAME) is not None
