"""Where things are: the repository's folders and the paths a build reads and writes.

Every entry point (the `kpi` CLI, the Dagster UI, the tests) resolves paths here, so that
`--raw`/`KPI_RAW_DIR` and `--warehouse`/`KPI_WAREHOUSE` mean the same everywhere.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_models"
SEEDS_DIR = PROJECT_ROOT / "seeds"
DBT_TARGET_DIR = DBT_PROJECT_DIR / "target"
# Each build's dbt command has a target folder of its own (its compiled SQL and dbt.log, kept
# for inspection), named after the dbt step; only the last ones are kept.
DBT_INVOCATION_PREFIX = "kpi_dbt_models-"
DBT_INVOCATIONS_KEPT = 20

RAW_DIR_ENV = "KPI_RAW_DIR"
WAREHOUSE_ENV = "KPI_WAREHOUSE"
DEFAULT_RAW_DIR = PROJECT_ROOT / "raw"
DEFAULT_WAREHOUSE = PROJECT_ROOT / "data" / "warehouse.duckdb"
EXPORTS_ENV = "KPI_EXPORTS_DIR"
BACKUP_DIR_ENV = "KPI_BACKUP_DIR"
DUCKDB_TEMP_DIR_ENV = "KPI_DUCKDB_TEMP_DIR"
DUCKDB_MEMORY_LIMIT_ENV = "KPI_DUCKDB_MEMORY_LIMIT"
# What a build rebuilds, as JSON, for dbt's macros (dbt_models/macros/incremental.sql)
REBUILD_PLAN_ENV = "KPI_DBT_REBUILD_PLAN"
# DuckDB's own share of a build's memory, in the ingestion process and in dbt's; raise it on a
# bigger server. DuckDB's process holds up to about 2 GB more than its limit (what its
# allocator and the written table hold outside it): a province year's build reached 6.2 GB of
# RSS at 4GB and 6.05 GB at 3.5GB, over the 6 GB that issue 7 allows.
DEFAULT_DUCKDB_MEMORY_LIMIT = "3GB"
DEFAULT_EXPORTS_DIR = PROJECT_ROOT / "exports"


def raw_dir() -> Path:
    return Path(os.environ.get(RAW_DIR_ENV) or DEFAULT_RAW_DIR).resolve()


def warehouse_path() -> Path:
    return Path(os.environ.get(WAREHOUSE_ENV) or DEFAULT_WAREHOUSE).resolve()


def exports_dir() -> Path:
    return Path(os.environ.get(EXPORTS_ENV) or DEFAULT_EXPORTS_DIR).resolve()


def backups_dir(warehouse: Path) -> Path:
    """Where backups of `warehouse` go unless told: $KPI_BACKUP_DIR, or backups/ beside it."""
    configured = os.environ.get(BACKUP_DIR_ENV)
    return Path(configured).resolve() if configured else warehouse.parent / "backups"


def duckdb_memory_limit() -> str:
    return os.environ.get(DUCKDB_MEMORY_LIMIT_ENV) or DEFAULT_DUCKDB_MEMORY_LIMIT


# DuckDB's allocator keeps freed memory for reuse, outside memory_limit: a year of a province's
# worklog took dbt's process to 6.4 GB of RSS under a 4 GB limit, and 5.3 GB with these (same
# build time). dbt's profile sets the same.
DUCKDB_ALLOCATOR_CONFIG: dict[str, str | bool] = {
    "allocator_background_threads": True,
    "allocator_flush_threshold": "64MB",
}


# The storage format of a database file a build creates: DuckDB's default stays readable by
# DuckDB 0.10, whose string compression costs more to write (a province year's worklog_evidence
# stored as a table: 22.8 s, 16.0 s in this format; same size). Fixed when the file is created:
# a warehouse created before keeps its format.
DUCKDB_STORAGE_VERSION = "v1.4.0"


def duckdb_config(spill_dir: Path) -> dict[str, str | bool]:
    """The settings of every DuckDB connection a build opens: its memory budget, the folder
    it spills to, an allocator that hands freed memory back, and the storage format of a file
    it creates."""
    return {
        "memory_limit": duckdb_memory_limit(),
        "temp_directory": str(spill_dir),
        "storage_compatibility_version": DUCKDB_STORAGE_VERSION,
        **DUCKDB_ALLOCATOR_CONFIG,
    }


# DuckDB's words for a database file that another process holds (its message names the process).
DUCKDB_FILE_HELD = "Could not set lock"


def held_by_another_process(error: BaseException) -> bool:
    """Whether a DuckDB error says another process holds the database file."""
    return DUCKDB_FILE_HELD in str(error)


def spill_dir_for(warehouse: Path) -> Path:
    """Where DuckDB writes what does not fit in memory_limit, in the build and in dbt."""
    return warehouse.parent / "duckdb_tmp"


# A build's dbt writes to the Dagster run log, the build's failure summary and log files, none
# of them a terminal: its messages without colours, which would show there as escape codes.
DBT_PLAIN_OUTPUT_ENV = {"DBT_USE_COLORS": "false"}


def dbt_environment(warehouse: Path) -> dict[str, str]:
    """What dbt reads from the environment to build `warehouse` (profiles.yml), and plain
    output."""
    return {
        WAREHOUSE_ENV: str(warehouse),
        DUCKDB_TEMP_DIR_ENV: str(spill_dir_for(warehouse)),
        **DBT_PLAIN_OUTPUT_ENV,
    }


def dbt_parse_state(warehouse: Path) -> Path:
    """dbt's partial parse of the last build of `warehouse`. dbt's partial parse is valid for
    one profile, and the profile holds the warehouse's path."""
    return warehouse.parent / "dbt_state" / "partial_parse.msgpack"


def dbt_template_cache(warehouse: Path) -> Path:
    """The Jinja templates the dbt worker of the last build of `warehouse` compiled
    (dbt_worker.reuse_compiled_templates)."""
    return warehouse.parent / "dbt_state" / "jinja_templates.marshal"


def dbt_run_results_file(warehouse: Path) -> Path:
    """dbt's node results of the warehouse's last build: written by the dbt step, read for the
    build's timings and by the dbt worker to order the next build's nodes."""
    return warehouse.parent / "logs" / "last_dbt_run_results.json"


def dagster_home_for(warehouse: Path) -> Path:
    """Run history lives beside the warehouse it describes, so each warehouse has its own."""
    return warehouse.parent / "dagster_home"


def use_paths(raw: Path | None = None, warehouse: Path | None = None) -> tuple[Path, Path]:
    """Fix the paths of this process (and of dbt, which reads them from the environment)."""
    if raw is not None:
        os.environ[RAW_DIR_ENV] = str(Path(raw).resolve())
    if warehouse is not None:
        os.environ[WAREHOUSE_ENV] = str(Path(warehouse).resolve())
    return raw_dir(), warehouse_path()


def new_dbt_invocation_target(suffix: str, warehouse: Path) -> Path:
    """The target folder of one build's dbt command, holding the partial parse of the last
    build of `warehouse` (dbt_parse_state), after removing the oldest others."""
    prune_dbt_invocations(DBT_TARGET_DIR)
    target = DBT_TARGET_DIR / f"{DBT_INVOCATION_PREFIX}{suffix}"
    target.mkdir(parents=True, exist_ok=True)
    state = dbt_parse_state(warehouse)
    if state.exists():
        shutil.copyfile(state, target / state.name)
    return target


def prune_dbt_invocations(
    target_dir: Path, keep: int = DBT_INVOCATIONS_KEPT, min_age_s: float = 3600.0
) -> list[Path]:
    """Remove the dbt invocation folders of `target_dir` beyond the `keep` newest: each build
    leaves a few MB (one machine had 898 folders, 6.8 GB), which would otherwise pile up. A
    folder written to in the last `min_age_s` stays: another build (of another warehouse) may
    be using it."""
    if not target_dir.is_dir():
        return []
    # another build may be pruning at the same time: a folder gone meanwhile is skipped
    modified: dict[Path, float] = {}
    for entry in target_dir.glob(DBT_INVOCATION_PREFIX + "*"):
        try:
            if entry.is_dir():
                modified[entry] = entry.stat().st_mtime
        except OSError:
            continue
    now = time.time()
    removed = []
    for folder in sorted(modified, key=modified.__getitem__, reverse=True)[keep:]:
        if now - modified[folder] >= min_age_s:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed
