"""The MetricFlow semantic layer answers the headline questions with the marts' numbers."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import PROJECT_ROOT
from tests.test_acceptance import EXPECTED

BIN = Path(sys.executable).parent
DBT_DIR = PROJECT_ROOT / "dbt_models"


def _expected_monthly(agency: str, month: str, column: str) -> float:
    return next(
        row[column]
        for row in EXPECTED["agency_productivity"]
        if row["agency_code"] == agency
        and row["period_type"] == "month"
        and row["period_start"] == month
    )


def test_mf_query_matches_agency_productivity(acceptance_warehouse: Path, tmp_path: Path) -> None:
    # A copy with the same file name: dbt-duckdb names the catalog after the file.
    warehouse = tmp_path / acceptance_warehouse.name
    shutil.copyfile(acceptance_warehouse, warehouse)
    env = {**os.environ, "KPI_WAREHOUSE": str(warehouse), "DBT_PROFILES_DIR": str(DBT_DIR)}
    subprocess.run([BIN / "dbt", "parse", "--quiet"], cwd=DBT_DIR, env=env, check=True)
    out = tmp_path / "result.csv"
    result = subprocess.run(
        [
            BIN / "mf",
            "query",
            "--metrics",
            "avg_daily_hours,utilization,credited_hours",
            "--group-by",
            "metric_time__month,staff_day__agency_code",
            "--csv",
            str(out),
        ],
        cwd=DBT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    rows = {
        (row["metric_time__month"][:10], row["staff_day__agency_code"]): row
        for row in csv.DictReader(out.open())
    }
    for agency in ("STC", "MTTQ", "UBND-CL"):
        for month in ("2025-03-01", "2025-04-01"):
            row = rows[(month, agency)]
            expected_avg = _expected_monthly(agency, month, "avg_daily_hours")
            expected_credited = _expected_monthly(agency, month, "credited_hours")
            assert abs(float(row["avg_daily_hours"]) - expected_avg) < 1e-6
            assert abs(float(row["credited_hours"]) - expected_credited) < 1e-6
