"""The Dagster definitions: the lineage ingestion → staging → marts, and dbt tests as checks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from dagster import AssetKey

from dagster_project.definitions import defs
from dagster_project.ingest import SOURCES

PUBLIC_MARTS = (
    "fct_staff_day",
    "staff_productivity",
    "agency_productivity",
    "worklog_evidence",
    "staffing_surplus",
    "kpi_scorecard",
)


def _asset_graph():  # noqa: ANN202 - Dagster's internal graph type
    return defs.resolve_asset_graph()


def test_one_ingestion_asset_per_raw_source() -> None:
    keys = _asset_graph().get_all_asset_keys()
    assert len(SOURCES) == 9
    for source in SOURCES:
        assert AssetKey(["raw", source]) in keys


def test_staging_models_read_the_ingestion_assets() -> None:
    graph = _asset_graph()
    staging = {key for key in graph.get_all_asset_keys() if key.path[-1].startswith("stg_")}
    assert len(staging) == 9
    upstream_of_staging = {parent for key in staging for parent in graph.get(key).parent_keys}
    assert upstream_of_staging == {AssetKey(["raw", source]) for source in SOURCES}


def test_public_marts_descend_from_the_worklog() -> None:
    graph = _asset_graph()
    worklog = AssetKey(["raw", "worklog"])
    reachable: set[AssetKey] = set()
    frontier = [worklog]
    while frontier:
        key = frontier.pop()
        for child in graph.get(key).child_keys:
            if child not in reachable:
                reachable.add(child)
                frontier.append(child)
    for mart in PUBLIC_MARTS:
        assert any(key.path[-1] == mart for key in reachable), mart


def test_dbt_tests_are_asset_checks_and_ingestion_reconciles() -> None:
    check_keys = _asset_graph().asset_check_keys
    checked_assets = {key.asset_key.path[-1] for key in check_keys}
    assert "fct_staff_day" in checked_assets
    assert "kpi_scorecard" in checked_assets
    ledger_checks = {key.asset_key for key in check_keys if key.name == "ledger_reconciles"}
    assert ledger_checks == {AssetKey(["raw", source]) for source in SOURCES}


def test_schedule_and_sensor_are_defined() -> None:
    assert defs.resolve_schedule_def("daily_build").execution_timezone == "Asia/Ho_Chi_Minh"
    assert defs.resolve_sensor_def("raw_files_sensor") is not None


def _landing_zone_with_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    raw = tmp_path / "raw"
    (raw / "worklog").mkdir(parents=True)
    (raw / "worklog" / "2025-03.csv").write_text("entry_id\n1\n")
    monkeypatch.setenv("KPI_RAW_DIR", str(raw))
    return raw


def tick(cursor: str | None) -> Any:
    """One evaluation of raw_files_sensor, its cursor as the last tick left it."""
    from dagster import build_sensor_context

    sensor = defs.resolve_sensor_def("raw_files_sensor")
    return sensor.evaluate_tick(build_sensor_context(cursor=cursor))


def test_raw_files_sensor_requests_a_build_once_the_landing_zone_has_settled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = _landing_zone_with_a_file(tmp_path, monkeypatch)

    arrived = tick(None)
    assert arrived.run_requests == [] and "settle" in (arrived.skip_message or "")
    settled = tick(arrived.cursor)
    assert len(settled.run_requests) == 1
    again = tick(settled.cursor)
    assert again.run_requests == [] and again.skip_message == "No new or changed files in raw/."

    # a file being copied in: it grows between two ticks, then stays as it is
    copying = raw / "worklog" / "2025-04.csv"
    copying.write_text("entry_id\n2\n")
    first_half = tick(again.cursor)
    copying.write_text("entry_id\n2\n3\n")
    second_half = tick(first_half.cursor)
    assert first_half.run_requests == [] and second_half.run_requests == []
    done = tick(second_half.cursor)
    assert len(done.run_requests) == 1
    assert done.run_requests[0].run_key != settled.run_requests[0].run_key


def test_raw_files_sensor_reads_the_cursor_of_the_earlier_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dagster_project.sensors import landing_zone_fingerprint

    _landing_zone_with_a_file(tmp_path, monkeypatch)
    built_before_the_upgrade = landing_zone_fingerprint()  # the old cursor: the fingerprint

    after_the_upgrade = tick(built_before_the_upgrade)

    assert after_the_upgrade.run_requests == []
    assert after_the_upgrade.skip_message == "No new or changed files in raw/."


def test_weekly_full_refresh_asks_dbt_for_a_full_refresh_in_a_valid_config() -> None:
    from dagster import build_schedule_context, validate_run_config

    schedule = defs.resolve_schedule_def("weekly_full_refresh")
    request = schedule.evaluate_tick(build_schedule_context()).run_requests[0]
    # raises when the job does not accept the config
    validate_run_config(defs.resolve_job_def("build_warehouse"), request.run_config)
    assert request.run_config["ops"]["kpi_dbt_models"]["config"]["full_refresh"] is True


def test_extract_schedules_ask_for_the_previous_period() -> None:
    from datetime import date

    from dagster_project.schedules import previous_month, previous_quarter

    assert defs.resolve_schedule_def("monthly_extracts").cron_schedule == "0 7 20 * *"
    assert previous_month(date(2025, 4, 20)) == "2025-03"
    assert previous_month(date(2026, 1, 20)) == "2025-12"
    assert previous_quarter(date(2025, 4, 20)) == "2025-Q1"
    assert previous_quarter(date(2026, 1, 20)) == "2025-Q4"
    assert defs.resolve_job_def("leadership_extracts") is not None


def test_analyst_snapshot_is_published_after_the_marts() -> None:
    graph = _asset_graph()
    snapshot = AssetKey(["publish", "analyst_snapshot"])
    # every table of `marts` is published: the snapshot comes after each of them
    marts = {key for key in graph.get_all_asset_keys() if key.path[0] == "marts"}
    assert AssetKey(["marts", "norm_review"]) in marts
    assert graph.get(snapshot).parent_keys == marts


def test_the_dbt_resource_knows_the_version_dbt_reports_without_asking_it() -> None:
    # KpiDbtCliResource skips dagster-dbt's `dbt --version` subprocess at every command and
    # takes the version of the dbt-core beside this interpreter: it must be the dbt it runs.
    import re
    import subprocess

    from dagster_project.resources import dbt_resource

    resource = dbt_resource()
    reported = subprocess.run(
        [resource.dbt_executable, "--version"], capture_output=True, text=True, check=True
    ).stdout
    match = re.search(r"(\d+\.\d+\.\d+)", reported)
    assert match is not None, reported
    assert str(resource._cli_version) == match.group(1)
