"""Publishing: the analysts' read-only snapshot of the marts, after every successful build."""

from dagster import AssetExecutionContext, AssetKey, MaterializeResult, asset

from dagster_project import progress
from dagster_project.resources import WRITER_POOL, WarehouseResource
from dagster_project.snapshot import publish_snapshot, snapshot_paths

PUBLIC_MARTS = (
    "fct_staff_day",
    "staff_productivity",
    "agency_productivity",
    "worklog_evidence",
    "staffing_surplus",
    "kpi_scorecard",
)


@asset(
    key=AssetKey(["publish", "analyst_snapshot"]),
    group_name="publishing",
    # Every table of `marts`, the planner's included, is in the snapshot.
    deps=[
        *(AssetKey(["marts", mart]) for mart in PUBLIC_MARTS),
        AssetKey(["marts", "redistribution_plan"]),
        AssetKey(["marts", "redistribution_impact"]),
    ],
    pool=WRITER_POOL,
    kinds={"duckdb", "parquet"},
    description=(
        "Copies every table of `marts` into `marts.duckdb` and `marts/*.parquet` beside the "
        "warehouse and swaps them in atomically; staff ids become pseudonymous keys."
    ),
)
def analyst_snapshot(
    context: AssetExecutionContext, warehouse: WarehouseResource
) -> MaterializeResult:
    counts = publish_snapshot(warehouse.warehouse_file)
    paths = snapshot_paths(warehouse.warehouse_file)
    progress.report(f"publish/analyst_snapshot: {len(counts)} tables -> {paths.database}")
    return MaterializeResult(
        metadata={
            "database": str(paths.database),
            "parquet_dir": str(paths.parquet_dir),
            **{f"rows_{table}": count for table, count in counts.items()},
        }
    )
