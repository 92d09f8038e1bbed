"""The analysts' read-only snapshot of the marts, published atomically after each build.

DuckDB allows one writer per file, so analysts never query the warehouse itself: they query
`marts.duckdb` (and Parquet copies under `marts/`) beside it. Each publish writes a new file and
renames it over the old one, so a reader sees either the previous complete snapshot or the new
one, never a half-built state, and never blocks a build.

The snapshot's tables sit in its default schema, so in a session opened on `marts.duckdb`
both `staff_productivity` and `marts.staff_productivity` name the same table.
"""

from __future__ import annotations

import os
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb

PSEUDONYM_KEY_ENV = "KPI_PSEUDONYM_KEY"
INCLUDE_NAMES_ENV = "KPI_SNAPSHOT_NAMES"
# Columns holding a person's id: replaced by a keyed hash in the snapshot.
PERSON_ID_COLUMNS = ("staff_id", "reviewed_by", "evaluator_staff_id")
# Columns holding a person's name: left out unless the build is told otherwise.
PERSON_NAME_COLUMNS = ("full_name",)


@dataclass(frozen=True)
class SnapshotPaths:
    database: Path
    parquet_dir: Path


def snapshot_paths(warehouse: Path) -> SnapshotPaths:
    """The snapshot lives beside the warehouse, so one path locates both."""
    return SnapshotPaths(
        database=warehouse.parent / "marts.duckdb",
        parquet_dir=warehouse.parent / "marts",
    )


def pseudonym_key(warehouse: Path) -> str:
    """A secret kept beside the warehouse: the same person gets the same key in every
    snapshot, and the key cannot be turned back into the staff_id without it."""
    configured = os.environ.get(PSEUDONYM_KEY_ENV)
    if configured:
        return configured
    key_file = warehouse.parent / "pseudonym.key"
    if not key_file.exists():
        key_file.write_text(secrets.token_hex(32))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


def _select_list(columns: list[str], key: str, include_names: bool) -> str:
    selected = []
    for column in columns:
        if column in PERSON_ID_COLUMNS:
            hashed = f"sha256('{key}' || {column})"
            selected.append(
                f"case when {column} is null then null else substr({hashed}, 1, 16) end "
                f"as {column.removesuffix('_id')}_key"
            )
        elif column in PERSON_NAME_COLUMNS and not include_names:
            continue
        else:
            selected.append(f'"{column}"')
    return ", ".join(selected)


def publish_snapshot(warehouse: Path, include_names: bool | None = None) -> dict[str, int]:
    """Copy every table of the warehouse's `marts` schema into a fresh snapshot and swap it in.

    Returns the row count of each published table.
    """
    if include_names is None:
        include_names = os.environ.get(INCLUDE_NAMES_ENV) == "1"
    paths = snapshot_paths(warehouse)
    key = pseudonym_key(warehouse)
    staging_db = paths.database.with_name(paths.database.name + ".new")
    staging_parquet = paths.parquet_dir.with_name(paths.parquet_dir.name + ".new")
    staging_db.unlink(missing_ok=True)
    shutil.rmtree(staging_parquet, ignore_errors=True)
    staging_parquet.mkdir(parents=True)

    counts: dict[str, int] = {}
    with duckdb.connect(str(staging_db)) as con:
        con.execute(f"attach '{warehouse}' as warehouse (read_only)")
        tables = [
            name
            for (name,) in con.execute(
                "select table_name from information_schema.tables "
                "where table_catalog = 'warehouse' and table_schema = 'marts' "
                "order by table_name"
            ).fetchall()
        ]
        for table in tables:
            columns = [
                name
                for (name,) in con.execute(
                    "select column_name from information_schema.columns "
                    "where table_catalog = 'warehouse' and table_schema = 'marts' "
                    "and table_name = ? order by ordinal_position",
                    [table],
                ).fetchall()
            ]
            select_list = _select_list(columns, key, include_names)
            con.execute(
                f"create table main.{table} as "
                f"select {select_list} from warehouse.marts.{table}"
            )
            con.execute(
                f"copy main.{table} to '{staging_parquet / (table + '.parquet')}' "
                "(format parquet)"
            )
            (counts[table],) = con.execute(f"select count(*) from main.{table}").fetchone()
        con.execute("detach warehouse")

    # Rename, never rewrite in place: open readers keep the previous file until they close it.
    os.replace(staging_db, paths.database)
    retired = paths.parquet_dir.with_name(paths.parquet_dir.name + ".old")
    shutil.rmtree(retired, ignore_errors=True)
    if paths.parquet_dir.exists():
        os.replace(paths.parquet_dir, retired)
    os.replace(staging_parquet, paths.parquet_dir)
    shutil.rmtree(retired, ignore_errors=True)
    return counts
