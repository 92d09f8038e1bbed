"""The demo dataset, built by the real pipeline: the pilot's published figures appear in the
marts, every agency of the pilot is there, and every kind of integrity flag shows up."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from tests.conftest import run_kpi

# The Department of Finance's published pilot figures for March 2025.
STC_STAFF = 84
STC_AVG_DAILY_HOURS = 5.5
STC_STAFF_OVER_8_HOURS = 6
PILOT_AGENCIES = 19
FLAGS = {
    "document_mismatch",
    "duplicate_suspect",
    "implausible_day",
    "late_submission",
    "missing_document",
    "missing_event",
    "no_assignment",
    "non_working_day",
    "on_leave",
    "unknown_staff",
    "unknown_task",
}


@pytest.fixture(scope="module")
def demo_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("demo")
    generated = run_kpi(
        "generate", "--out", str(root / "raw"), "--start", "2025-03-01", "--end", "2025-04-30"
    )
    assert generated.returncode == 0, generated.stderr[-3000:]
    warehouse = root / "warehouse.duckdb"
    built = run_kpi("build", "--raw", str(root / "raw"), "--warehouse", str(warehouse))
    assert built.returncode == 0, built.stderr[-3000:]
    return warehouse


def test_stc_march_2025_matches_the_published_pilot(demo_warehouse: Path) -> None:
    with duckdb.connect(str(demo_warehouse), read_only=True) as con:
        staff_count, avg_daily_hours, staff_over = con.execute(
            "select staff_count, avg_daily_hours, staff_over from marts.agency_productivity "
            "where agency_code = 'STC' and period_type = 'month' "
            "and period_start = date '2025-03-01'"
        ).fetchone()
    assert staff_count == STC_STAFF
    assert abs(avg_daily_hours - STC_AVG_DAILY_HOURS) <= 0.05
    assert staff_over == STC_STAFF_OVER_8_HOURS


def test_all_pilot_agencies_and_most_people_under_eight_hours(demo_warehouse: Path) -> None:
    with duckdb.connect(str(demo_warehouse), read_only=True) as con:
        agencies, over, under = con.execute(
            "select count(distinct agency_code), sum(staff_over), sum(staff_under) "
            "from marts.agency_productivity "
            "where period_type = 'month' and period_start = date '2025-03-01'"
        ).fetchone()
    assert agencies == PILOT_AGENCIES
    assert under > 10 * over


def test_every_kind_of_flag_appears(demo_warehouse: Path) -> None:
    with duckdb.connect(str(demo_warehouse), read_only=True) as con:
        seen = {
            flag
            for (flag,) in con.execute(
                "select distinct unnest(flags) from marts.worklog_evidence"
            ).fetchall()
        }
    assert seen == FLAGS


def test_broken_rows_are_quarantined_and_every_file_reconciles(demo_warehouse: Path) -> None:
    with duckdb.connect(str(demo_warehouse), read_only=True) as con:
        (quarantined,) = con.execute("select count(*) from audit.quarantine").fetchone()
        (unreconciled,) = con.execute(
            "select count(*) from audit.ingestion_ledger "
            "where rows_read <> rows_loaded + rows_quarantined"
        ).fetchone()
    assert quarantined > 0
    assert unreconciled == 0
