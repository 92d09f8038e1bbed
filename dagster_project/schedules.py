"""When the warehouse rebuilds on its own."""

from __future__ import annotations

from dagster import AssetSelection, DefaultScheduleStatus, ScheduleDefinition, define_asset_job

TIMEZONE = "Asia/Ho_Chi_Minh"

build_everything = define_asset_job(
    "build_warehouse",
    selection=AssetSelection.all(),
    description="Ingest new exports, then build and test every dbt model.",
)

# Exports land overnight; the warehouse is fresh when offices open.
daily_build = ScheduleDefinition(
    name="daily_build",
    job=build_everything,
    cron_schedule="0 6 * * *",
    execution_timezone=TIMEZONE,
    default_status=DefaultScheduleStatus.STOPPED,
    description="Every day at 06:00 Vietnam time.",
)

schedules = [daily_build]
