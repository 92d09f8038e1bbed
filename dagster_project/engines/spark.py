"""Apache Spark as the engine of the dbt models: `kpi build --engine spark`.

Ingestion stays in Python and DuckDB, exactly as on the DuckDB engine (the same assets, the
same ledger and quarantine in the DuckDB file). Then every validated raw table is exported to
Parquet, one folder per table, and `dbt build --target spark` runs the same models on Spark,
where `raw.<table>` is an external table over that folder (the on-run-start hook of
`dbt_models/macros/spark_compat.sql`).

Everything Spark writes lives in one folder beside the DuckDB warehouse, `spark/`:

    spark/raw/<table>/part-00000.parquet   the export of raw.<table>
    spark/warehouse/<schema>.db/<table>/   the Spark SQL warehouse (Parquet tables)
    spark/metastore_db/, spark/derby.log   the local (Derby) metastore of the session method

On a cluster (`method: thrift`, README "National deployment on Spark") the same layout maps to
object storage and a shared metastore; only the dbt profile and KPI_SPARK_RAW_DIR change.
"""
# No `from __future__ import annotations`: Dagster reads the assets' type hints at runtime.

import os
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
from dagster import (
    AssetCheckResult,
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    Definitions,
    Failure,
    MaterializeResult,
    Output,
    define_asset_job,
    in_process_executor,
    multi_asset,
)
from dagster_dbt import DagsterDbtTranslatorSettings, DbtCliResource, dbt_assets

from dagster_project import progress, settings
from dagster_project.ingest import CONTRACT, SOURCES
from dagster_project.resources import (
    WRITER_POOL,
    KpiDbtCliResource,
    WarehouseResource,
    warehouse_resource,
)

# The dbt target of the Spark build: `spark` (local mode) unless KPI_SPARK_TARGET names another
# target of type spark, e.g. a cluster's thrift target.
DBT_TARGET = "spark"
DBT_TARGET_ENV = "KPI_SPARK_TARGET"
JOB_NAME = "build_warehouse_spark"
# dbt's profile reads these (dbt_models/profiles.yml, target `spark`).
SPARK_DIR_ENV = "KPI_SPARK_DIR"
SPARK_RAW_DIR_ENV = "KPI_SPARK_RAW_DIR"
SPARK_LOG4J_ENV = "KPI_SPARK_LOG4J"
# Every asset key of the Spark build starts with this, so that its runs and the DuckDB
# engine's share one Dagster instance without mixing their materialisations.
KEY_PREFIX = "spark"
# The local metastore (Derby, embedded) admits one Spark session at a time.
SPARK_POOL = "spark_session"


@dataclass(frozen=True)
class SparkPaths:
    root: Path

    @property
    def raw(self) -> Path:
        """The Parquet export of raw.*, one folder per table."""
        return self.root / "raw"

    @property
    def warehouse(self) -> Path:
        """spark.sql.warehouse.dir: the tables dbt builds on Spark."""
        return self.root / "warehouse"

    def table_dir(self, schema: str, table: str) -> Path:
        return self.warehouse / f"{schema}.db" / table


def spark_paths(warehouse_file: Path) -> SparkPaths:
    """The Spark folder beside the DuckDB warehouse (never in the repository root)."""
    return SparkPaths(Path(warehouse_file).resolve().parent / "spark")


def use_spark(warehouse_file: Path) -> SparkPaths:
    """Point dbt's `spark` target (and this process) at the Spark folder of this warehouse."""
    paths = spark_paths(warehouse_file)
    paths.root.mkdir(parents=True, exist_ok=True)
    os.environ[SPARK_DIR_ENV] = str(paths.root)
    os.environ[SPARK_RAW_DIR_ENV] = str(paths.raw)
    os.environ[SPARK_LOG4J_ENV] = str(settings.DBT_PROJECT_DIR / "spark-log4j2.properties")
    os.environ.update(settings.DBT_PLAIN_OUTPUT_ENV)
    return paths


def missing_requirements() -> str | None:
    """Why this machine cannot run the Spark engine, or None: the extra and a Java runtime."""
    import importlib.util

    for module in ("pyspark", "dbt.adapters.spark"):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed; install the extra: pip install -e '.[spark]'"
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        return "no Java runtime (Spark needs Java 17): put java on the PATH or set JAVA_HOME"
    return None


def _export_columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    """The select list of the export: every column of raw.<table>, free text in NFC.

    Ingestion normalises text to NFC except long free text (`nfc=False` in the contract);
    DuckDB's models normalise that with nfc_normalize when they compare it, but Spark SQL has
    no NFC function, so the export writes those columns in NFC: the marts come out the same.
    """
    columns = [
        name
        for (name,) in con.execute(
            "select column_name from information_schema.columns "
            "where table_schema = 'raw' and table_name = ? order by ordinal_position",
            [table],
        ).fetchall()
    ]
    spec = CONTRACT.get(table)
    free_text = {c.name for c in spec.columns if not c.nfc} if spec else set()
    return [
        f'nfc_normalize("{name}") as "{name}"' if name in free_text else f'"{name}"'
        for name in columns
    ]


def export_raw_to_parquet(
    con: duckdb.DuckDBPyConnection, out_dir: Path, tables: tuple[str, ...] = SOURCES
) -> dict[str, int]:
    """Write each raw.<table> to `<out_dir>/<table>/part-00000.parquet`; rows per table.

    Each table's folder is replaced whole (written beside it, then renamed), so a reader never
    sees a half-written export.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    for table in tables:
        staging = out_dir / f".{table}.writing"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        select = ", ".join(_export_columns(con, table))
        target = str(staging / "part-00000.parquet").replace("'", "''")
        con.execute(
            f"copy (select {select} from raw.\"{table}\") to '{target}' "
            "(format parquet, compression zstd)"
        )
        (counts[table],) = con.execute(f'select count(*) from raw."{table}"').fetchone()
        final = out_dir / table
        previous = out_dir / f".{table}.previous"
        shutil.rmtree(previous, ignore_errors=True)
        if final.exists():
            final.rename(previous)
        staging.rename(final)
        shutil.rmtree(previous, ignore_errors=True)
    return counts


# --- Dagster: the Spark build as its own definitions ------------------------------------------


def spark_key(*parts: str) -> AssetKey:
    return AssetKey([KEY_PREFIX, *parts])


@multi_asset(
    name="raw_parquet_export",
    specs=[
        AssetSpec(
            spark_key("raw", source),
            deps=[AssetKey(["raw", source])],
            group_name="spark_sources",
            kinds={"duckdb", "parquet"},
            description=f"raw.{source} exported to Parquet: the Spark source table "
            f"raw.{source} (external, over this folder).",
        )
        for source in SOURCES
    ],
    pool=WRITER_POOL,
)
def raw_parquet_export(
    context: AssetExecutionContext, warehouse: WarehouseResource
) -> Iterator[MaterializeResult]:
    out_dir = spark_paths(warehouse.warehouse_file).raw
    with warehouse.connect() as con:
        counts = export_raw_to_parquet(con, out_dir)
    progress.report(f"spark/raw: {len(counts)} tables exported to Parquet in {out_dir}")
    for source, rows in counts.items():
        yield MaterializeResult(
            asset_key=spark_key("raw", source),
            metadata={"rows": rows, "path": str(out_dir / source)},
        )


def _spark_dbt_assets() -> Any:
    # Imported here: the transformation module parses the dbt project when first imported.
    from dagster_project.assets.transformation import (
        KpiDbtTranslator,
        _dbt_errors,
        dbt_project,
        ensure_manifest,
    )

    class SparkDbtTranslator(KpiDbtTranslator):
        # The same asset graph under the prefix `spark`; dbt's sources become the Parquet
        # export's assets (spark/raw/<source>).
        def get_asset_key(self, dbt_resource_props: dict[str, Any]) -> AssetKey:
            return super().get_asset_key(dbt_resource_props).with_prefix(KEY_PREFIX)

        def get_group_name(self, dbt_resource_props: dict[str, Any]) -> str | None:
            group = super().get_group_name(dbt_resource_props)
            return f"spark_{group}" if group else None

    @dbt_assets(
        manifest=ensure_manifest(),
        project=dbt_project,
        name="kpi_dbt_models_spark",
        dagster_dbt_translator=SparkDbtTranslator(
            settings=DagsterDbtTranslatorSettings(enable_asset_checks=True)
        ),
        pool=SPARK_POOL,
    )
    def kpi_dbt_models_spark(
        context: AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource
    ) -> Iterator[Any]:
        use_spark(warehouse.warehouse_file)
        # The Spark build rebuilds every month (no months to rebuild are planned for it):
        # --full-refresh makes that a plain create-table-as-select, so a month that lost all
        # its rows is not left behind in its partition.
        invocation = dbt.cli(["build", "--full-refresh"], context=context, raise_on_error=False)
        for event in invocation.stream():
            if isinstance(event, Output):
                unique_id = event.metadata.get("unique_id")
                name = getattr(unique_id, "value", unique_id) or event.output_name
                progress.report(f"dbt (spark) {name}")
            elif isinstance(event, AssetCheckResult) and not event.passed:
                progress.report(f"dbt test failed: {event.check_name} on {event.asset_key}")
            yield event
        if not invocation.is_successful():
            failures = _dbt_errors(invocation.target_path)
            raise Failure(
                description="dbt build on Spark failed:\n"
                + ("\n".join(failures) or "see the dbt log"),
                metadata={"dbt_log": str(invocation.target_path / "dbt.log")},
            )

    return kpi_dbt_models_spark


def spark_dbt_resource() -> DbtCliResource:
    return KpiDbtCliResource(
        project_dir=str(settings.DBT_PROJECT_DIR),
        profiles_dir=str(settings.DBT_PROJECT_DIR),
        target=os.environ.get(DBT_TARGET_ENV) or DBT_TARGET,
        dbt_executable=str(Path(sys.executable).parent / "dbt"),
    )


def spark_definitions() -> Definitions:
    """Ingestion (as on DuckDB), the Parquet export and the dbt models on Spark.

    The planner and the analysts' DuckDB snapshot read the marts from the DuckDB file, so they
    belong to the DuckDB engine's definitions and are not part of this build.
    """
    from dagster_project.assets.ingestion import ingestion_assets

    job = define_asset_job(
        JOB_NAME,
        description="Ingest new exports (DuckDB), export raw.* to Parquet, build and test "
        "every dbt model on Spark.",
    )
    return Definitions(
        assets=[*ingestion_assets, raw_parquet_export, _spark_dbt_assets()],
        jobs=[job],
        resources={"warehouse": warehouse_resource(), "dbt": spark_dbt_resource()},
        executor=in_process_executor,
    )
