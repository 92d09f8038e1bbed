"""The same generated exports as CSV, as Excel workbooks and as the generator's mix of both
(Vietnamese headers and labels, decimal commas, DD/MM/YYYY dates, NFD text) give the same
warehouse: every mart row for row, and the same rows quarantined for the same reasons.

The same CSV files with their rows in another order ("shuffled") give the same warehouse too:
the contract breaks ties by delivery order only between rows of one key, so a build whose
numbers moved with the order of unrelated rows would pick rows by accident (a window without a
total order, an `any_value`).

The acceptance case checks its forms against expected values (`test_acceptance_forms.py`); on
generated data the cells take values hand-made files do not, such as a submission stamped at
midnight, which an Excel cell holds as a date (it was quarantined from workbooks, and loaded
from CSV).
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

import duckdb
import pytest

from tests.conftest import run_kpi
from tests.marts_expected import relation_differences, relations

GENERATED = ("--start", "2025-04-01", "--end", "2025-04-30", "--scale", "0.05", "--seed", "5")
FORMS = ("csv", "xlsx", "mixed")
# The leading columns of each source's key, which the generator writes first (the contract's
# column order): rows that share them keep their order when a file is shuffled, so that
# revisions, re-declared keys and overlapping assignments resolve as delivered.
KEY_GROUP_COLUMNS = {"positions": 2, "tasks": 2}


def _csv_rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8-sig") as source:
        return list(csv.reader(source))


def _write_shuffled_copy(raw: Path, shuffled: Path, seed: int) -> None:
    rng = random.Random(seed)
    for path in sorted(raw.rglob("*.csv")):
        header, *rows = _csv_rows(path)
        width = KEY_GROUP_COLUMNS.get(path.parent.name, 1)
        group_rank: dict[tuple[str, ...], float] = {}
        for row in rows:
            group_rank.setdefault(tuple(row[:width]), rng.random())
        rows.sort(key=lambda row: group_rank[tuple(row[:width])])
        target = shuffled / path.relative_to(raw)
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("w", newline="", encoding="utf-8") as copy:
            writer = csv.writer(copy)
            writer.writerow(header)
            writer.writerows(rows)


@pytest.fixture(scope="module")
def warehouses(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("generated-forms")
    built = {}
    for form in FORMS:
        raw = root / form / "raw"
        made = run_kpi("generate", "--out", str(raw), *GENERATED, "--formats", form)
        assert made.returncode == 0, made.stderr[-3000:]
        warehouse = root / form / "warehouse.duckdb"
        result = run_kpi("build", "--raw", str(raw), "--warehouse", str(warehouse))
        assert result.returncode == 0, f"kpi build failed:\n{result.stderr[-4000:]}"
        built[form] = warehouse
    shuffled = root / "shuffled" / "raw"
    _write_shuffled_copy(root / "csv" / "raw", shuffled, seed=1)
    original, permuted = (
        _csv_rows(folder / "worklog" / "2025-04.csv") for folder in (root / "csv" / "raw", shuffled)
    )
    assert original != permuted and sorted(original) == sorted(permuted)
    warehouse = root / "shuffled" / "warehouse.duckdb"
    result = run_kpi("build", "--raw", str(shuffled), "--warehouse", str(warehouse))
    assert result.returncode == 0, f"kpi build failed:\n{result.stderr[-4000:]}"
    built["shuffled"] = warehouse
    return built


@pytest.mark.parametrize("form", ["xlsx", "mixed", "shuffled"])
def test_every_mart_equals_the_csv_build(warehouses: dict[str, Path], form: str) -> None:
    assert relations(warehouses[form], "marts") == relations(warehouses["csv"], "marts")
    assert relation_differences(warehouses[form], warehouses["csv"], "marts") == {}


def _quarantined(warehouse: Path) -> list[tuple[str, int, str]]:
    """(source, row, reason) of each quarantined row: files differ in name and extension."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(
            "select source, row_number, reason_code from audit.quarantine order by all"
        ).fetchall()


@pytest.mark.parametrize("form", ["xlsx", "mixed"])
def test_the_same_rows_are_quarantined_for_the_same_reasons(
    warehouses: dict[str, Path], form: str
) -> None:
    csv_rows = _quarantined(warehouses["csv"])
    assert csv_rows, "the generator's broken rows are part of what is compared"
    assert _quarantined(warehouses[form]) == csv_rows


def _quarantined_values(warehouse: Path) -> list[tuple[str, str, str]]:
    """(source, reason, raw values) of each quarantined row: shuffled rows change number."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(
            "select source, reason_code, raw_values from audit.quarantine order by all"
        ).fetchall()


def test_shuffled_rows_are_quarantined_for_the_same_reasons(
    warehouses: dict[str, Path],
) -> None:
    csv_rows = _quarantined_values(warehouses["csv"])
    assert csv_rows
    assert _quarantined_values(warehouses["shuffled"]) == csv_rows
