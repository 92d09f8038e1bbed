"""The same generated exports as CSV, as Excel workbooks and as the generator's mix of both
(Vietnamese headers and labels, decimal commas, DD/MM/YYYY dates, NFD text) give the same
warehouse: every mart row for row, and the same rows quarantined for the same reasons.

The acceptance case checks its forms against expected values (`test_acceptance_forms.py`); on
generated data the cells take values hand-made files do not, such as a submission stamped at
midnight, which an Excel cell holds as a date (it was quarantined from workbooks, and loaded
from CSV).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from tests.conftest import run_kpi
from tests.marts_expected import relation_differences, relations

GENERATED = ("--start", "2025-04-01", "--end", "2025-04-30", "--scale", "0.05", "--seed", "5")
FORMS = ("csv", "xlsx", "mixed")


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
    return built


@pytest.mark.parametrize("form", ["xlsx", "mixed"])
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
