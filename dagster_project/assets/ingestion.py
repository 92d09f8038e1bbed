"""Ingestion: one asset per raw source, each loading `raw/<source>/` into `raw.<source>`."""


from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
)

from dagster_project import progress
from dagster_project.ingest import (
    SOURCES,
    IngestionError,
    ensure_raw_tables,
    ingest_source,
    ledger_mismatches,
)
from dagster_project.resources import WRITER_POOL, WarehouseResource

LEDGER_CHECK = "ledger_reconciles"


def raw_asset_key(source: str) -> AssetKey:
    return AssetKey(["raw", source])


def build_ingestion_asset(source: str) -> AssetsDefinition:
    key = raw_asset_key(source)

    @asset(
        key=key,
        group_name="ingestion",
        pool=WRITER_POOL,
        kinds={"python", "duckdb"},
        description=(
            f"Loads every new file of `raw/{source}/` (CSV, CSV.GZ, XLSX) into `raw.{source}`, "
            "upserting by the source's key; rejected rows go to `audit.quarantine`, every file "
            "to `audit.ingestion_ledger`."
        ),
        check_specs=[
            AssetCheckSpec(
                LEDGER_CHECK,
                asset=key,
                blocking=True,
                description="Every file reconciles: rows read = rows loaded + rows quarantined.",
            )
        ],
    )
    def _ingest(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
        with warehouse.connect() as con:
            ensure_raw_tables(con)
            try:
                result = ingest_source(con, warehouse.raw_path, source)
            except IngestionError as error:
                raise Failure(description=str(error)) from error
            mismatches = ledger_mismatches(con, source)
        for message in result.messages:
            context.log.warning(message)
        if result.failed:
            raise Failure(
                description="\n".join(result.failed)
                + "\n(nothing of these files was loaded; the next build retries them)"
            )
        progress.report(
            f"raw/{source}: {result.files_loaded} file(s) loaded, "
            f"{result.files_skipped} already loaded, {result.rows_loaded:,} rows, "
            f"{result.rows_quarantined:,} quarantined"
        )
        return MaterializeResult(
            metadata={
                "files_seen": result.files_seen,
                "files_loaded": result.files_loaded,
                "files_skipped": result.files_skipped,
                "files_rejected": result.files_rejected,
                "rows_read": result.rows_read,
                "rows_loaded": result.rows_loaded,
                "rows_quarantined": result.rows_quarantined,
                "messages": MetadataValue.md(
                    "\n".join(f"- {m}" for m in result.messages) or "none"
                ),
            },
            check_results=[
                AssetCheckResult(
                    check_name=LEDGER_CHECK,
                    passed=not mismatches,
                    severity=AssetCheckSeverity.ERROR,
                    metadata={"mismatches": MetadataValue.md("\n".join(mismatches) or "none")},
                    description="\n".join(mismatches) or None,
                )
            ],
        )

    return _ingest


ingestion_assets = [build_ingestion_asset(source) for source in SOURCES]
