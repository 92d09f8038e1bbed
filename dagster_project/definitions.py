"""The map of the warehouse: what Dagster loads (`dagster dev -w workspace.yaml`, `kpi build`)."""

from __future__ import annotations

from dagster import Definitions, in_process_executor

from dagster_project.assets.ingestion import ingestion_assets
from dagster_project.assets.planning import redistribution_planner
from dagster_project.assets.publishing import analyst_snapshot
from dagster_project.assets.transformation import kpi_dbt_models
from dagster_project.jobs import backup_warehouse, compact_warehouse, leadership_extracts
from dagster_project.resources import dbt_resource, warehouse_resource
from dagster_project.schedules import build_everything, schedules
from dagster_project.sensors import sensors

defs = Definitions(
    assets=[*ingestion_assets, kpi_dbt_models, redistribution_planner, analyst_snapshot],
    jobs=[build_everything, leadership_extracts, backup_warehouse, compact_warehouse],
    schedules=schedules,
    sensors=sensors,
    resources={"warehouse": warehouse_resource(), "dbt": dbt_resource()},
    # Steps of a run go one after another in one process: the DuckDB file has one writer.
    executor=in_process_executor,
)
