"""The benchmark's reading of how many months each row group of a partitioned table holds
(bench/bench_build.py, row_group_months): it parses DuckDB's storage info, whose text a DuckDB
upgrade could change, which would leave the benchmark's table empty without an error."""

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import duckdb

BENCH_SCRIPT = Path(__file__).resolve().parent.parent / "bench" / "bench_build.py"
# DuckDB's row group size: rows beyond it start a new row group
ROW_GROUP_ROWS = 122_880


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_build", BENCH_SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_row_groups_are_counted_by_the_months_they_hold(tmp_path: Path) -> None:
    bench = _bench()
    manifest = tmp_path / "manifest.json"
    model = {
        "resource_type": "model",
        "schema": "intermediate",
        "config": {"materialized": "incremental", "meta": {"month_partition_column": "work_date"}},
    }
    manifest.write_text(
        json.dumps(
            {
                "nodes": {
                    "model.p.in_month_order": {**model, "name": "in_month_order"},
                    "model.p.in_no_order": {**model, "name": "in_no_order"},
                    # a view has no row groups of its own
                    "model.p.a_view": {
                        **model,
                        "name": "a_view",
                        "config": {**model["config"], "materialized": "view"},
                    },
                }
            }
        )
    )
    tables = bench.partitioned_tables(manifest)
    assert tables == [
        ("intermediate", "in_month_order", "work_date"),
        ("intermediate", "in_no_order", "work_date"),
    ]

    warehouse = tmp_path / "warehouse.duckdb"
    # 1.5 row groups of January, then 1.5 of March: in order, the row groups hold January;
    # January and March; March. In no order, each holds January and March: a span of three
    # months (January to March) for a read's zone-map test, February's among them.
    rows = 3 * ROW_GROUP_ROWS
    days = (
        f"case when i < {rows // 2} then date '2025-01-01' + cast(i % 31 as integer) "
        f"else date '2025-03-01' + cast(i % 31 as integer) end"
    )
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema intermediate")
        con.execute(
            f"create table intermediate.in_month_order as "
            f"select {days} as work_date from range({rows}) as t(i) order by i"
        )
        con.execute(
            f"create table intermediate.in_no_order as "
            f"select {days} as work_date from range({rows}) as t(i) order by hash(i)"
        )

    figures = {row["table"]: row for row in bench.row_group_months(warehouse, tables)}
    assert figures["intermediate.in_month_order"] == {
        "table": "intermediate.in_month_order",
        "row_groups": 3,
        "one_month": 2,
        "two_months": 0,
        "more_months": 1,
        "most_months": 3,
    }
    assert figures["intermediate.in_no_order"] == {
        "table": "intermediate.in_no_order",
        "row_groups": 3,
        "one_month": 0,
        "two_months": 0,
        "more_months": 3,
        "most_months": 3,
    }
    assert "| `intermediate.in_no_order` | 3 | 0 | 0 | 3 | 3 |" in bench.row_group_lines(
        list(figures.values())
    )
