"""Jobs that are not asset materialisations: the leadership extracts."""
# No `from __future__ import annotations`: Dagster reads the op's type hints at runtime.

from dagster import Config, Failure, OpExecutionContext, job, op

from dagster_project import settings
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
