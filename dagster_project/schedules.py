"""When the warehouse rebuilds on its own."""

from __future__ import annotations

from datetime import date

from dagster import (
    AssetSelection,
    DefaultScheduleStatus,
    RunRequest,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    define_asset_job,
    schedule,
)

from dagster_project.build_guard import BUILD_JOB_NAME
from dagster_project.jobs import backup_warehouse, compact_warehouse, leadership_extracts

TIMEZONE = "Asia/Ho_Chi_Minh"

build_everything = define_asset_job(
    BUILD_JOB_NAME,
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
    description="Every day at 06:00 Vietnam time: only the months that new exports touch.",
)

# What no export queues (a change of the seeds or of the dbt vars) is caught up once a week,
# when nobody reads the marts.
weekly_full_refresh = ScheduleDefinition(
    name="weekly_full_refresh",
    job=build_everything,
    cron_schedule="0 2 * * 0",
    execution_timezone=TIMEZONE,
    default_status=DefaultScheduleStatus.STOPPED,
    run_config={"ops": {"kpi_dbt_models": {"config": {"full_refresh": True}}}},
    description="Sundays at 02:00 Vietnam time: every model rebuilt from scratch.",
)

# Before the day's build: a build that went wrong can be undone to the morning's warehouse, and
# the exports it loaded load again at the next build. Keeps 14 backups (the job's config).
nightly_backup = ScheduleDefinition(
    name="nightly_backup",
    job=backup_warehouse,
    cron_schedule="0 5 * * *",
    execution_timezone=TIMEZONE,
    default_status=DefaultScheduleStatus.STOPPED,
    description=(
        "Every day at 05:00 Vietnam time, before the day's build: a backup of the warehouse into "
        "$KPI_BACKUP_DIR (or backups/ beside it), keeping the 14 latest."
    ),
)


# After the weekly full refresh, which leaves the file about twice what it stores (DuckDB keeps
# the space of the tables it replaced), and before the nightly backup copies it.
weekly_compaction = ScheduleDefinition(
    name="weekly_compaction",
    job=compact_warehouse,
    cron_schedule="0 4 * * 0",
    execution_timezone=TIMEZONE,
    default_status=DefaultScheduleStatus.STOPPED,
    description="Sundays at 04:00 Vietnam time: the warehouse file rewritten without the free "
    "space DuckDB keeps in it.",
)


def previous_month(today: date) -> str:
    year, month = (today.year, today.month - 1) if today.month > 1 else (today.year - 1, 12)
    return f"{year:04d}-{month:02d}"


def previous_quarter(today: date) -> str:
    quarter = (today.month - 1) // 3  # the quarter before today's, 0 meaning last year's Q4
    return f"{today.year:04d}-Q{quarter}" if quarter else f"{today.year - 1:04d}-Q4"


def _extract_request(period: str) -> RunRequest:
    return RunRequest(
        run_key=f"extracts-{period}",
        run_config={"ops": {"write_leadership_extracts": {"config": {"period": period}}}},
        tags={"period": period},
    )


# Reports are due on the 25th: the previous month's workbooks are ready on the 20th at 07:00.
@schedule(
    job=leadership_extracts,
    cron_schedule="0 7 20 * *",
    execution_timezone=TIMEZONE,
    default_status=DefaultScheduleStatus.STOPPED,
    description="The previous month's leadership workbooks, on the 20th at 07:00.",
)
def monthly_extracts(context: ScheduleEvaluationContext) -> RunRequest:
    return _extract_request(previous_month(context.scheduled_execution_time.date()))


@schedule(
    job=leadership_extracts,
    cron_schedule="0 7 20 1,4,7,10 *",
    execution_timezone=TIMEZONE,
    default_status=DefaultScheduleStatus.STOPPED,
    description="The previous quarter's leadership workbooks, on the 20th after each quarter.",
)
def quarterly_extracts(context: ScheduleEvaluationContext) -> RunRequest:
    return _extract_request(previous_quarter(context.scheduled_execution_time.date()))


schedules = [
    daily_build,
    weekly_full_refresh,
    nightly_backup,
    weekly_compaction,
    monthly_extracts,
    quarterly_extracts,
]
