"""Ingestion: the assets `raw/<source>`, all computed by one step, `ingest_raw_sources`.

Each raw source stays its own asset, with its own description, ledger check, metadata and
failure, but one multi-asset loads every selected source, in the order of `SOURCES`, on one
DuckDB connection. Every Dagster step adds its own overhead, and so did every connection's
close when it checkpointed the file (now left to dbt's: `WarehouseResource.connect`): with a
step and a connection per source, the one-day incremental build (`bench/`) paid both nine
times, mostly for sources that had nothing new.

Sharing the connection does not couple the sources: `ingest_source` writes each file in its own
transaction on an autocommit connection, so a source that fails leaves nothing half-written and
the next one starts clean. Every selected source is ingested even after another failed; the step
then fails once, naming each failed source, and dbt downstream is skipped as before.
"""

import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
from dagster import (
    AssetCheckKey,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    Failure,
    MaterializeResult,
    MetadataValue,
    multi_asset,
)

from dagster_project import progress
from dagster_project.ingest import (
    SOURCES,
    IngestionError,
    SourceResult,
    ensure_raw_tables,
    ingest_source,
    ledger_mismatches,
    stray_entries,
)
from dagster_project.resources import WRITER_POOL, WarehouseResource

INGESTION_STEP = "ingest_raw_sources"
LEDGER_CHECK = "ledger_reconciles"
NOTHING_LOADED = "(nothing of these files was loaded; the next build retries them)"
# The materialization's list of the files left out, one line each, for `kpi build` to print.
NOT_LOADED_METADATA = "files_not_loaded"


def raw_asset_key(source: str) -> AssetKey:
    return AssetKey(["raw", source])


def _raw_asset_spec(source: str) -> AssetSpec:
    return AssetSpec(
        raw_asset_key(source),
        description=(
            f"Loads every new file of `raw/{source}/` (CSV, CSV.GZ, XLSX) into `raw.{source}`, "
            "upserting by the source's key; rejected rows go to `audit.quarantine`, every file "
            "to `audit.ingestion_ledger`."
        ),
        kinds={"python", "duckdb"},
    )


def _ledger_check_spec(source: str) -> AssetCheckSpec:
    return AssetCheckSpec(
        LEDGER_CHECK,
        asset=raw_asset_key(source),
        blocking=True,
        description="Every file reconciles: rows read = rows loaded + rows quarantined.",
    )


def _ledger_check_result(con: duckdb.DuckDBPyConnection, source: str) -> AssetCheckResult:
    mismatches = ledger_mismatches(con, source)
    return AssetCheckResult(
        asset_key=raw_asset_key(source),
        check_name=LEDGER_CHECK,
        passed=not mismatches,
        severity=AssetCheckSeverity.ERROR,
        metadata={"mismatches": MetadataValue.md("\n".join(mismatches) or "none")},
        description="\n".join(mismatches) or None,
    )


def _materialization(
    result: SourceResult, seconds: float, check: AssetCheckResult | None
) -> MaterializeResult:
    return MaterializeResult(
        asset_key=raw_asset_key(result.source),
        metadata={
            "files_seen": result.files_seen,
            "files_loaded": result.files_loaded,
            "files_skipped": result.files_skipped,
            "files_rejected": result.files_rejected,
            "files_deferred": result.files_deferred,
            NOT_LOADED_METADATA: MetadataValue.text("\n".join(result.not_loaded)),
            "rows_read": result.rows_read,
            "rows_loaded": result.rows_loaded,
            "rows_quarantined": result.rows_quarantined,
            "messages": MetadataValue.md("\n".join(f"- {m}" for m in result.messages) or "none"),
            "seconds": round(seconds, 3),
        },
        check_results=[check] if check is not None else None,
    )


def _ingest_one(
    context: AssetExecutionContext,
    con: duckdb.DuckDBPyConnection,
    raw_dir: Path,
    source: str,
    with_check: bool,
) -> MaterializeResult | str:
    """The source's materialization, or why it failed."""
    started = time.perf_counter()
    try:
        result = ingest_source(con, raw_dir, source)
    except IngestionError as error:
        return str(error)
    except Exception as error:  # the other sources must still load
        # The reason alone would hide where it came from: the run log keeps the traceback.
        context.log.exception(f"raw/{source}: unexpected error")
        return f"{type(error).__name__}: {error}"
    check = _ledger_check_result(con, source) if with_check else None
    seconds = time.perf_counter() - started
    for message in result.messages:
        context.log.warning(message)
    if result.failed:
        # One line per source in the step's failure, which `kpi build` prints line by line.
        return "; ".join(result.failed) + " " + NOTHING_LOADED
    progress.report(
        f"raw/{source}: {result.files_loaded} file(s) loaded, "
        f"{result.files_skipped} already loaded, {result.rows_loaded:,} rows, "
        f"{result.rows_quarantined:,} quarantined"
        + (
            f", {result.files_deferred} still being written (left for the next build)"
            if result.files_deferred
            else ""
        )
    )
    return _materialization(result, seconds, check)


@multi_asset(
    name=INGESTION_STEP,
    description="Loads the new files of the selected raw sources, in the order of the raw "
    "contract, on one connection to the warehouse.",
    specs=[_raw_asset_spec(source) for source in SOURCES],
    check_specs=[_ledger_check_spec(source) for source in SOURCES],
    can_subset=True,
    group_name="ingestion",
    pool=WRITER_POOL,
)
def ingest_raw_sources(
    context: AssetExecutionContext, warehouse: WarehouseResource
) -> Iterator[MaterializeResult | AssetCheckResult]:
    selected = context.selected_asset_keys
    selected_checks = context.selected_asset_check_keys
    failures: list[str] = []
    for stray in stray_entries(warehouse.raw_path):
        context.log.warning(f"raw/{stray}")
    with warehouse.connect() as con:
        ensure_raw_tables(con)
        for source in SOURCES:
            key = raw_asset_key(source)
            with_check = AssetCheckKey(key, LEDGER_CHECK) in selected_checks
            if key in selected:
                outcome = _ingest_one(context, con, warehouse.raw_path, source, with_check)
                if isinstance(outcome, str):
                    failures.append(f"raw/{source}: {outcome}")
                else:
                    # Yielded as soon as it is known, so the UI shows each source as it lands.
                    yield outcome
            elif with_check:
                # A check re-run on its own reads the ledger; nothing is ingested for it.
                yield _ledger_check_result(con, source)
    if failures:
        raise Failure(description="\n".join(failures))


ingestion_assets = [ingest_raw_sources]
