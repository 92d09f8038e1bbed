"""The warehouse connection and the dbt CLI, as Dagster resources."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cached_property
from importlib.metadata import version as installed_version
from pathlib import Path

import duckdb
from dagster import ConfigurableResource
from dagster_dbt import DbtCliResource
from packaging import version

from dagster_project import settings
from dagster_project.dbt_worker import real_dbt

# Every asset that writes the DuckDB file claims this pool. DuckDB allows one writing process
# per file, so the instance limits the pool to one slot (dagster.yaml) and definitions run
# each job's steps in-process, one after another.
WRITER_POOL = "duckdb_writer"

# Below this, a commit as large as a day's worklog checkpoints the file instead of writing the
# write-ahead log (a province year: 0.79 s against 0.01 s); DuckDB writes the rows of a large
# insert to the file before the commit, and the log refers to them (a day's worklog: 0.2 MB).
# Above it, a month's file of a full build still checkpoints at its commit: with 1GB, a province
# year's ingestion left dbt 210 MB of log to replay and took 0.3 GB more memory; with this,
# 72 MB and the same memory as DuckDB's default.
WAL_KEPT_CONFIG = {"checkpoint_threshold": "128MB"}


class WarehouseResource(ConfigurableResource):
    """The DuckDB warehouse file and the raw landing zone it is built from."""

    path: str
    raw_dir: str
    memory_limit: str = settings.DEFAULT_DUCKDB_MEMORY_LIMIT

    @property
    def warehouse_file(self) -> Path:
        return Path(self.path).resolve()

    @property
    def raw_path(self) -> Path:
        return Path(self.raw_dir).resolve()

    @property
    def spill_dir(self) -> Path:
        """Where DuckDB writes what does not fit in memory_limit, for this process and dbt."""
        return settings.spill_dir_for(self.warehouse_file)

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-write connection, closed on exit so that dbt can open the file next."""
        self.warehouse_file.parent.mkdir(parents=True, exist_ok=True)
        con = _connect_when_free(
            self.warehouse_file,
            {
                **settings.duckdb_config(self.spill_dir),
                "memory_limit": self.memory_limit,
                **WAL_KEPT_CONFIG,
            },
        )
        # A checkpoint costs more the bigger the file, whatever it writes (0.11 s for one row
        # at a province year, 0.03 s at three months): these connections' writes stay in the
        # write-ahead log for the next checkpoint instead, dbt's close after ingestion and the
        # snapshot's close after the planner, which is the build's last writer.
        con.execute("pragma disable_checkpoint_on_shutdown")
        try:
            yield con
        finally:
            con.close()


# How long a step waits for the process before it to let go of the warehouse file: dbt's
# process ends right after it closes the file (dbt_worker.py), which takes it a moment.
LOCK_WAIT_SECONDS = 10.0


def _connect_when_free(path: Path, config: dict[str, str | bool]) -> duckdb.DuckDBPyConnection:
    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    while True:
        try:
            return duckdb.connect(str(path), config=config)
        except duckdb.IOException as error:
            if not settings.held_by_another_process(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def warehouse_resource() -> WarehouseResource:
    return WarehouseResource(
        path=str(settings.warehouse_path()),
        raw_dir=str(settings.raw_dir()),
        memory_limit=settings.duckdb_memory_limit(),
    )


class KpiDbtCliResource(DbtCliResource):
    """dagster-dbt's resource without two start-up costs it pays before every dbt command,
    about 6 s of each build (3.2 s and 3.0 s here):
    - it runs `dbt --version` in a subprocess to learn dbt's version, while the dbt it runs is
      the dbt-core installed beside this interpreter (dbt_executable), whose version is known;
    - it loads the project and the profile into an in-process dbt adapter, which serves only
      to fetch row counts and column metadata, which these builds do not ask for.
    Both override private methods of the pinned dagster-dbt release (pyproject.toml);
    tests/test_definitions.py checks the version against `dbt --version`."""

    @cached_property
    def _cli_version(self) -> version.Version:
        return version.parse(installed_version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> None:  # type: ignore[override]
        return None


def dbt_executable() -> str:
    """`kpi-dbt`, installed beside this interpreter (whether or not the venv is activated):
    dbt, or the dbt process a `kpi build` started ahead (dagster_project/dbt_worker.py); dbt
    itself in an install that predates it."""
    client = Path(sys.executable).parent / "kpi-dbt"
    return str(client) if client.exists() else real_dbt()


def dbt_resource() -> DbtCliResource:
    return KpiDbtCliResource(
        project_dir=str(settings.DBT_PROJECT_DIR),
        profiles_dir=str(settings.DBT_PROJECT_DIR),
        dbt_executable=dbt_executable(),
    )
