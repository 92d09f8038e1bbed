"""The acceptance case's expected marts, and how built marts are compared with them.

Shared by the DuckDB acceptance tests (`test_acceptance.py`, `test_acceptance_forms.py`) and
the Spark ones (`test_spark.py`), so that "the same marts" means the same thing on both engines;
and two warehouses compared whole (`relation_differences`: built step by step against built at
once, one form of the exports against another).
expected.json was computed independently from metrics.md; nothing here is derived from the
models' own output.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pyarrow

from tests.conftest import ACCEPTANCE_CASE

EXPECTED: dict[str, list[dict[str, Any]]] = json.loads(
    (ACCEPTANCE_CASE / "expected.json").read_text()
)

MART_KEYS: dict[str, tuple[str, ...]] = {
    "fct_staff_day": ("staff_id", "work_date"),
    "staff_productivity": ("staff_id", "agency_code", "period_type", "period_start"),
    "agency_productivity": ("agency_code", "period_type", "period_start"),
    "staffing_surplus": ("agency_code", "position_group", "period_type", "period_start"),
    "worklog_evidence": ("entry_id",),
    "kpi_scorecard": ("staff_id", "agency_code", "period_type", "period_start"),
}

Rows = dict[tuple[Any, ...], dict[str, Any]]


def plain(value: Any) -> Any:
    """A value as expected.json writes it: dates as ISO text."""
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def same(expected: Any, actual: Any, abs_tol: float = 1e-6) -> bool:
    if expected is None or actual is None:
        return expected is None and actual is None
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected is actual
    if isinstance(expected, (int, float)) and isinstance(actual, (int, float)):
        return math.isclose(expected, actual, rel_tol=0, abs_tol=abs_tol)
    if isinstance(expected, list):
        return list(actual) == expected
    return expected == actual


def _rows(cursor: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    columns = [d[0] for d in cursor.description]
    return [dict(zip(columns, map(plain, row), strict=True)) for row in cursor.fetchall()]


def keyed(mart: str, rows: Iterable[dict[str, Any]]) -> Rows:
    keys = MART_KEYS[mart]
    return {tuple(row[k] for k in keys): row for row in rows}


def duckdb_mart_rows(warehouse: Path, mart: str) -> Rows:
    """The rows of marts.<mart> in a DuckDB warehouse, by the mart's key."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return keyed(mart, _rows(con.execute(f"select * from marts.{mart}")))


def duckdb_table(
    warehouse: Path, schema: str, table: str
) -> tuple[list[str], list[dict[str, Any]]]:
    """Columns and rows of a table of a DuckDB warehouse."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        cursor = con.execute(f'select * from "{schema}"."{table}"')
        columns = [d[0] for d in cursor.description]
        return columns, _rows(cursor)


def parquet_table(table_dir: Path) -> tuple[list[str], list[dict[str, Any]]]:
    """Columns and rows of a table that Spark wrote as Parquet files in one folder (in
    `column=value/` sub-folders when the table is partitioned)."""
    files = str(table_dir / "**" / "*.parquet").replace("'", "''")
    with duckdb.connect() as con:
        cursor = con.execute(f"select * from read_parquet('{files}', hive_partitioning = true)")
        columns = [d[0] for d in cursor.description]
        return columns, _rows(cursor)


def mart_differences(mart: str, actual: Rows) -> list[str]:
    """What differs between a built mart and expected.json: missing and extra keys, values."""
    expected = keyed(mart, EXPECTED[mart])
    missing = sorted(set(expected) - set(actual))
    extra = sorted(set(actual) - set(expected))
    differences = [
        f"{key} {column}: expected {value!r}, got {actual[key].get(column)!r}"
        for key, row in expected.items()
        if key in actual
        for column, value in row.items()
        if not same(value, actual[key].get(column))
    ]
    problems = []
    if missing:
        problems.append(f"{len(missing)} rows missing from marts.{mart}: {missing[:10]}")
    if extra:
        problems.append(f"{len(extra)} unexpected rows in marts.{mart}: {extra[:10]}")
    if differences:
        problems.append(f"{len(differences)} values differ:\n" + "\n".join(differences[:30]))
    return problems


def _sort_key(row: Sequence[Any]) -> tuple[Any, ...]:
    # Floats rounded, lists as tuples and None first, so equal tables sort the same way.
    def part(value: Any) -> tuple[int, Any]:
        if value is None:
            return (0, "")
        if isinstance(value, float):
            return (1, round(value, 6))
        if isinstance(value, list):
            return (2, tuple(value))
        return (3, str(value))

    return tuple(part(v) for v in row)


def table_differences(
    columns: Sequence[str],
    left: list[dict[str, Any]],
    right: list[dict[str, Any]],
    abs_tol: float = 1e-6,
) -> list[str]:
    """Two tables with no declared key compared as multisets of rows, floats to `abs_tol`."""
    if len(left) != len(right):
        return [f"{len(left)} rows against {len(right)}"]
    ordered_left = sorted(([r[c] for c in columns] for r in left), key=_sort_key)
    ordered_right = sorted(([r[c] for c in columns] for r in right), key=_sort_key)
    return [
        f"row {i}: {a} against {b}"
        for i, (a, b) in enumerate(zip(ordered_left, ordered_right, strict=True))
        if not all(same(x, y, abs_tol) for x, y in zip(a, b, strict=True))
    ][:20]


def relations(database: Path, schema: str) -> list[str]:
    """The tables and views of `schema` in a DuckDB file."""
    with duckdb.connect(str(database), read_only=True) as con:
        return [
            name
            for (name,) in con.execute(
                "select table_name from information_schema.tables where table_schema = ? "
                "order by table_name",
                [schema],
            ).fetchall()
        ]


def _relation_rows(database: Path, relation: str) -> pyarrow.Table:
    """The relation's rows, read through a connection of its own: the marts that are views
    name the catalog of their file, which two warehouses may share. Numbers are compared
    exactly: a number that depends on the order rows were added in is what these comparisons
    are for (sums are exact, `type_exact_number`)."""
    with duckdb.connect(str(database), read_only=True) as con:
        return con.execute(f"select * from {relation}").fetch_arrow_table()


def relation_differences(left: Path, right: Path, schema: str) -> dict[str, tuple[int, int, int]]:
    """Two DuckDB files compared relation by relation of `schema`, as multisets of rows: per
    relation whose rows differ, (rows only left, rows only right, rows left)."""
    found = {}
    with duckdb.connect(":memory:") as con:
        for name in relations(left, schema):
            con.register("left_rows", _relation_rows(left, f"{schema}.{name}"))
            con.register("right_rows", _relation_rows(right, f"{schema}.{name}"))
            (only_left,) = con.execute(
                "select count(*) from (from left_rows except all from right_rows)"
            ).fetchone()
            (only_right,) = con.execute(
                "select count(*) from (from right_rows except all from left_rows)"
            ).fetchone()
            (rows,) = con.execute("select count(*) from left_rows").fetchone()
            if only_left or only_right:
                found[name] = (only_left, only_right, rows)
    return found
