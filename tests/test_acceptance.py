"""The acceptance case: `kpi build` must reproduce every row and number of expected.json.

expected.json was computed independently from metrics.md; nothing here is derived from the
models' own output.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.conftest import ACCEPTANCE_CASE

EXPECTED = json.loads((ACCEPTANCE_CASE / "expected.json").read_text())

MART_KEYS = {
    "fct_staff_day": ("staff_id", "work_date"),
    "staff_productivity": ("staff_id", "agency_code", "period_type", "period_start"),
    "agency_productivity": ("agency_code", "period_type", "period_start"),
    "staffing_surplus": ("agency_code", "position_group", "period_type", "period_start"),
    "worklog_evidence": ("entry_id",),
    "kpi_scorecard": ("staff_id", "agency_code", "period_type", "period_start"),
}


def _plain(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _same(expected: Any, actual: Any) -> bool:
    if expected is None or actual is None:
        return expected is None and actual is None
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected is actual
    if isinstance(expected, (int, float)) and isinstance(actual, (int, float)):
        return math.isclose(expected, actual, rel_tol=0, abs_tol=1e-6)
    if isinstance(expected, list):
        return list(actual) == expected
    return expected == actual


def _mart_rows(warehouse: Path, mart: str) -> dict[tuple[Any, ...], dict[str, Any]]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        cursor = con.execute(f"select * from marts.{mart}")
        columns = [d[0] for d in cursor.description]
        rows = [dict(zip(columns, map(_plain, row), strict=True)) for row in cursor.fetchall()]
    keys = MART_KEYS[mart]
    return {tuple(row[k] for k in keys): row for row in rows}


@pytest.mark.parametrize("mart", sorted(MART_KEYS))
def test_mart_matches_expected(acceptance_warehouse: Path, mart: str) -> None:
    actual = _mart_rows(acceptance_warehouse, mart)
    expected = {tuple(row[k] for k in MART_KEYS[mart]): row for row in EXPECTED[mart]}

    missing = sorted(set(expected) - set(actual))
    extra = sorted(set(actual) - set(expected))
    differences = [
        f"{key} {column}: expected {value!r}, got {actual[key].get(column)!r}"
        for key, row in expected.items()
        if key in actual
        for column, value in row.items()
        if not _same(value, actual[key].get(column))
    ]
    assert not missing, f"{len(missing)} rows missing from marts.{mart}: {missing[:10]}"
    assert not extra, f"{len(extra)} unexpected rows in marts.{mart}: {extra[:10]}"
    assert not differences, f"{len(differences)} values differ:\n" + "\n".join(differences[:30])


def test_every_expected_column_is_published(acceptance_warehouse: Path) -> None:
    for mart, rows in EXPECTED.items():
        with duckdb.connect(str(acceptance_warehouse), read_only=True) as con:
            published = {
                name
                for (name,) in con.execute(
                    "select column_name from information_schema.columns "
                    "where table_schema = 'marts' and table_name = ?",
                    [mart],
                ).fetchall()
            }
        assert set(rows[0]) <= published, f"marts.{mart} lacks {set(rows[0]) - published}"
