"""The acceptance case: `kpi build` must reproduce every row and number of expected.json.

expected.json was computed independently from metrics.md; nothing here is derived from the
models' own output. The comparison itself lives in `tests/marts_expected.py`, shared with the
Spark engine's acceptance test (`test_spark.py`).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from tests.marts_expected import EXPECTED, MART_KEYS, mart_differences
from tests.marts_expected import duckdb_mart_rows as _mart_rows
from tests.marts_expected import plain as _plain
from tests.marts_expected import same as _same

# Re-exported for the tests that compare other builds of the case the same way.
__all__ = ["EXPECTED", "MART_KEYS", "_mart_rows", "_plain", "_same"]


@pytest.mark.parametrize("mart", sorted(MART_KEYS))
def test_mart_matches_expected(acceptance_warehouse: Path, mart: str) -> None:
    problems = mart_differences(mart, _mart_rows(acceptance_warehouse, mart))
    assert not problems, "\n".join(problems)


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
