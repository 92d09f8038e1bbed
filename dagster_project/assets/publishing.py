"""Publishing: the analysts' read-only snapshot of the marts, after every successful build."""

from dagster import AssetExecutionContext, AssetKey, MaterializeResult, asset

from dagster_project import progress
from dagster_project.assets.planning import IMPACT_KEY, PLAN_KEY
from dagster_project.assets.transformation import kpi_dbt_models
from dagster_project.resources import WRITER_POOL, WarehouseResource
from dagster_project.snapshot import publish_snapshot, snapshot_paths

# Every table of `marts` is in the snapshot: the dbt marts (the contract's and the review marts)
# and the planner's two. A run that rebuilds any of them publishes it.
SNAPSHOT_INPUTS = [
    *sorted(key for key in kpi_dbt_models.keys if key.path[0] == "marts"),
    PLAN_KEY,
    IMPACT_KEY,
]


@asset(
    key=AssetKey(["publish", "analyst_snapshot"]),
    group_name="publishing",
    deps=SNAPSHOT_INPUTS,
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
