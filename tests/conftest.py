"""Shared fixtures: one warehouse built from the acceptance case for the whole session."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

TESTS_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = TESTS_DIR.parent
ACCEPTANCE_CASE = TESTS_DIR / "fixtures" / "case-a"
KPI = str(Path(sys.executable).parent / "kpi")


def run_kpi(
    *args: str, env: dict[str, str] | None = None, timeout: float = 900
) -> subprocess.CompletedProcess[str]:
    """Run the `kpi` CLI as a user would, in its own process."""
    return subprocess.run(
        [KPI, *args],
        cwd=PROJECT_ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def run_dbt(
    *args: str, warehouse: Path, workdir: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a dbt command on `warehouse`, with its target and logs under `workdir`."""
    return subprocess.run(
        [
            str(Path(sys.executable).parent / "dbt"),
            *args,
            "--target-path",
            str(workdir / "target"),
            "--log-path",
            str(workdir / "logs"),
        ],
        cwd=PROJECT_ROOT / "dbt_models",
        env={**os.environ, "KPI_WAREHOUSE": str(warehouse), **(env or {})},
        capture_output=True,
        text=True,
        timeout=900,
    )


@pytest.fixture(scope="session")
def acceptance_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    warehouse = tmp_path_factory.mktemp("acceptance") / "warehouse.duckdb"
    result = run_kpi("build", "--raw", str(ACCEPTANCE_CASE / "raw"), "--warehouse", str(warehouse))
    assert result.returncode == 0, f"kpi build failed:\n{result.stderr[-4000:]}"
    return warehouse


def stored_methods(database: Path, table: str, column: str) -> set[str]:
    """The compression methods DuckDB stores the text segments of `column` of `table` with."""
    with duckdb.connect(str(database), read_only=True) as con:
        found = con.execute(
            f"select distinct compression from pragma_storage_info('{table}') "
            f"where column_name = '{column}' and segment_type = 'VARCHAR'"
        ).fetchall()
    return {method for (method,) in found}
