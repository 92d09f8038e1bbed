"""The same models on Apache Spark: `kpi build --engine spark`.

Ingestion runs in Python and DuckDB as always, raw.* is exported to Parquet, and dbt builds
and tests every model on Spark (dbt-spark, session method: Spark in local mode). On the
acceptance case the six public marts must equal expected.json exactly as on DuckDB; there and on
a quarter of generated exports every mart must equal the DuckDB build's. Marked `spark`:
deselected by default (needs the extra `spark` and Java 17, and takes about six minutes);
`make test-spark` runs it.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import duckdb
import pytest

from dagster_project.engines.spark import spark_paths
from tests.conftest import ACCEPTANCE_CASE, run_kpi
from tests.marts_expected import (
    EXPECTED,
    MART_KEYS,
    duckdb_table,
    keyed,
    mart_differences,
    parquet_table,
    table_differences,
)

pytestmark = pytest.mark.spark

GENERATED_QUARTER = (
    "--start",
    "2025-04-01",
    "--end",
    "2025-06-30",
    "--scale",
    "0.05",
    "--seed",
    "11",
)


@pytest.fixture(scope="module")
def spark_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    warehouse = tmp_path_factory.mktemp("spark") / "warehouse.duckdb"
    started = time.monotonic()
    result = run_kpi(
        "build",
        "--engine",
        "spark",
        "--raw",
        str(ACCEPTANCE_CASE / "raw"),
        "--warehouse",
        str(warehouse),
        timeout=2700,
    )
    log = warehouse.parent / "logs" / "last_build.log"
    tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
    assert result.returncode == 0, (
        f"kpi build --engine spark failed:\n{result.stderr[-4000:]}{tail}"
    )
    print(f"\nkpi build --engine spark on the acceptance case: {time.monotonic() - started:.0f} s")
    return warehouse


def _spark_table(
    warehouse: Path, schema: str, table: str
) -> tuple[list[str], list[dict[str, Any]]]:
    table_dir = spark_paths(warehouse).table_dir(schema, table)
    assert table_dir.is_dir(), f"Spark did not write {schema}.{table} ({table_dir})"
    return parquet_table(table_dir)


@pytest.mark.parametrize("mart", sorted(MART_KEYS))
def test_spark_mart_matches_expected(spark_warehouse: Path, mart: str) -> None:
    _, rows = _spark_table(spark_warehouse, "marts", mart)
    problems = mart_differences(mart, keyed(mart, rows))
    assert not problems, "\n".join(problems)


def test_every_expected_column_is_published_on_spark(spark_warehouse: Path) -> None:
    for mart, rows in EXPECTED.items():
        columns, _ = _spark_table(spark_warehouse, "marts", mart)
        assert set(rows[0]) <= set(columns), f"marts.{mart} lacks {set(rows[0]) - set(columns)}"


def _engine_differences(spark_warehouse: Path, duckdb_warehouse: Path) -> list[str]:
    """Every dbt mart of a Spark build against the DuckDB build of the same files: same
    columns, same rows, numbers to 1e-9 (both engines compute in doubles and exact decimals;
    a difference beyond the last bits is a rule the engines read differently)."""
    with duckdb.connect(str(duckdb_warehouse), read_only=True) as con:
        dbt_marts = sorted(
            name
            for (name,) in con.execute(
                "select table_name from information_schema.tables where table_schema = 'marts'"
            ).fetchall()
            # the planner's tables are Python assets of the DuckDB engine, not dbt models
            if not name.startswith("redistribution_")
        )
    marts_dir = spark_paths(spark_warehouse).warehouse / "marts.db"
    assert sorted(p.name for p in marts_dir.iterdir()) == dbt_marts
    problems = []
    for mart in dbt_marts:
        columns, spark_rows = _spark_table(spark_warehouse, "marts", mart)
        duck_columns, duck_rows = duckdb_table(duckdb_warehouse, "marts", mart)
        # Spark puts a table's partition columns last: the order may differ, not the names.
        assert sorted(columns) == sorted(duck_columns), f"marts.{mart} columns differ"
        problems += [
            f"marts.{mart}: {problem}"
            for problem in table_differences(duck_columns, spark_rows, duck_rows, abs_tol=1e-9)
        ]
    return problems


def test_every_mart_equals_the_duckdb_build(
    spark_warehouse: Path, acceptance_warehouse: Path
) -> None:
    """The review marts too (they have no expected.json)."""
    problems = _engine_differences(spark_warehouse, acceptance_warehouse)
    assert not problems, "Spark and DuckDB differ:\n" + "\n".join(problems)


def test_generated_exports_give_the_same_marts_on_both_engines(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """A quarter of the demo generator's exports (every flag, messy forms, revisions): the
    acceptance case is small and hand-made; this is where rules meet data they were not
    written for."""
    root = tmp_path_factory.mktemp("spark-generated")
    raw = root / "raw"
    made = run_kpi("generate", "--out", str(raw), *GENERATED_QUARTER)
    assert made.returncode == 0, made.stderr[-3000:]
    warehouses = {engine: root / engine / "warehouse.duckdb" for engine in ("duckdb", "spark")}
    for engine, warehouse in warehouses.items():
        built = run_kpi(
            "build",
            "--engine",
            engine,
            "--raw",
            str(raw),
            "--warehouse",
            str(warehouse),
            timeout=2700,
        )
        assert built.returncode == 0, f"{engine} build failed:\n{built.stderr[-4000:]}"
    problems = _engine_differences(warehouses["spark"], warehouses["duckdb"])
    assert not problems, "Spark and DuckDB differ:\n" + "\n".join(problems)


def test_raw_export_holds_every_ingested_row(spark_warehouse: Path) -> None:
    raw_dir = spark_paths(spark_warehouse).raw
    with duckdb.connect(str(spark_warehouse), read_only=True) as con:
        tables = [
            name
            for (name,) in con.execute(
                "select table_name from information_schema.tables where table_schema = 'raw'"
            ).fetchall()
        ]
        for table in tables:
            (ingested,) = con.execute(f'select count(*) from raw."{table}"').fetchone()
            _, exported = parquet_table(raw_dir / table)
            assert len(exported) == ingested, table
