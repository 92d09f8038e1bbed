"""Jobs that are not asset materialisations: the leadership extracts, and the backups and
compactions of the warehouse file."""
# No `from __future__ import annotations`: Dagster reads the op's type hints at runtime.

from pathlib import Path

from dagster import Config, Failure, OpExecutionContext, job, op

from dagster_project import build_guard, settings
from dagster_project.resources import WRITER_POOL, WarehouseResource


class ExtractConfig(Config):
    period: str  # "YYYY-MM" or "YYYY-Qn"


# Reading the warehouse while a build writes it is refused by DuckDB: the extracts take the
# writer's slot too, so they wait for a running build instead of failing.
@op(pool=WRITER_POOL)
def write_leadership_extracts(
    context: OpExecutionContext, config: ExtractConfig, warehouse: WarehouseResource
) -> None:
    from dagster_project.extracts import ExtractError, write_extracts

    try:
        manifest = write_extracts(warehouse.warehouse_file, config.period, settings.exports_dir())
    except ExtractError as error:
        raise Failure(description=str(error)) from error
    context.log.info(f"{len(manifest.files)} files for {config.period} in {settings.exports_dir()}")


@job(description="Writes the leadership workbooks (one per agency, one province summary).")
def leadership_extracts() -> None:
    write_leadership_extracts()


class BackupConfig(Config):
    # the folder the backups go in; none: $KPI_BACKUP_DIR, or backups/ beside the warehouse
    to: str | None = None
    # then remove the oldest backups of this warehouse there beyond this many; none: remove none
    keep: int | None = 14


# The backup takes the writer's slot, so it waits for a running build instead of failing; a
# run still in progress that does not hold the slot (between its steps) makes it fail, naming
# the run, as `kpi backup` does.
@op(pool=WRITER_POOL)
def back_up_warehouse(
    context: OpExecutionContext, config: BackupConfig, warehouse: WarehouseResource
) -> None:
    from dagster_project.backup import BackupError, back_up

    destination = (
        Path(config.to).resolve() if config.to else settings.backups_dir(warehouse.warehouse_file)
    )
    try:
        result = back_up(
            warehouse.warehouse_file, destination, config.keep, own_run_id=context.run_id
        )
    except (BackupError, build_guard.BuildInProgress) as problem:
        raise Failure(description=str(problem)) from problem
    context.log.info(
        f"Backup made: {result.folder} ({result.loaded_files} exports loaded, the last at "
        f"{result.last_loaded_at}; {result.seconds:.1f} s). Restore it with: kpi restore "
        f"{result.folder}"
    )
    for note in [*result.settled_runs, *(f"Removed {old}" for old in result.removed)]:
        context.log.info(note)
    for unfinished in result.removed_unfinished:
        context.log.info(f"Removed what a stopped backup left: {unfinished}")


@job(description="Copies the warehouse and its pseudonym key into a new, checksummed folder.")
def backup_warehouse() -> None:
    back_up_warehouse()


# Like the backup: the writer's slot, and no other run of the warehouse in progress.
@op(pool=WRITER_POOL)
def compact_warehouse_file(context: OpExecutionContext, warehouse: WarehouseResource) -> None:
    from dagster_project.backup import BackupError, compact
    from dagster_project.disk_space import size_text

    try:
        result = compact(warehouse.warehouse_file, own_run_id=context.run_id)
    except (BackupError, build_guard.BuildInProgress) as problem:
        raise Failure(description=str(problem)) from problem
    for note in result.settled_runs:
        context.log.info(note)
    context.log.info(
        f"Compacted {warehouse.warehouse_file}: {size_text(result.bytes_before)} → "
        f"{size_text(result.bytes_after)} ({result.tables} tables; {result.seconds:.1f} s)"
    )


@job(description="Rewrites the warehouse file without the free space DuckDB keeps in it.")
def compact_warehouse() -> None:
    compact_warehouse_file()
