"""dbt's unit tests (the `unit_tests:` beside each model), which production builds leave out.

They pin each rule on hand-made rows; dbt needs the models' parents built to know their
columns, so they run against a copy of the acceptance warehouse.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.conftest import run_dbt


def test_every_dbt_unit_test_passes(acceptance_warehouse: Path, tmp_path: Path) -> None:
    # same file name: dbt-duckdb's views name their catalog after it
    warehouse = tmp_path / acceptance_warehouse.name
    shutil.copyfile(acceptance_warehouse, warehouse)
    target = tmp_path / "target"
    result = run_dbt("test", "--select", "test_type:unit", warehouse=warehouse, workdir=tmp_path)
    assert result.returncode == 0, result.stdout[-4000:]
    results = json.loads((target / "run_results.json").read_text())["results"]
    # run_results also lists the on-run-start hook, which is no unit test
    unit_tests = [r for r in results if r["unique_id"].startswith("unit_test.")]
    assert len(unit_tests) >= 19, "the project's unit tests were not all selected"
    failed = [r["unique_id"] for r in unit_tests if r["status"] != "pass"]
    assert not failed, f"unit tests not passing: {failed}"
