"""The analysts' read-only snapshot of the marts, published atomically after each build.

DuckDB allows one writer per file, so analysts never query the warehouse itself: they query
`marts.duckdb` (and Parquet copies under `marts/`) beside it. Each publish writes a new file and
renames it over the old one, so a reader sees either the previous complete snapshot or the new
one, never a half-built state, and never blocks a build.

The snapshot's tables sit in its default schema, so in a session opened on `marts.duckdb`
both `staff_productivity` and `marts.staff_productivity` name the same table.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import threading
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from dagster_project import settings
from dagster_project.ingest.changes import MonthScope
from dagster_project.ingest.load import ZSTD_TEXT_STORAGE_VERSION, storage_version

PSEUDONYM_KEY_ENV = "KPI_PSEUDONYM_KEY"
INCLUDE_NAMES_ENV = "KPI_SNAPSHOT_NAMES"
# The snapshot is the file analysts open, in whatever DuckDB their tools carry: it keeps
# DuckDB's default storage format, readable from DuckDB 0.10.2 on (the warehouse's newer format
# would save 4.6 s of a province year's publish, settings.DUCKDB_STORAGE_VERSION).
SNAPSHOT_STORAGE_VERSION = "v0.10.2"
# Columns holding a person's id: replaced by a keyed hash in the snapshot.
PERSON_ID_COLUMNS = ("staff_id", "reviewed_by", "evaluator_staff_id")
# Columns holding a person's name: left out unless the build is told otherwise.
PERSON_NAME_COLUMNS = ("full_name",)
# Text columns whose values differ on every row: DuckDB tries a dictionary on every value
# first and never keeps it. In the snapshot's storage format they are stored with FSST, which
# DuckDB chooses anyway (a province year's 33 million entry ids: 8.8 s of CPU to write, 5.0 s
# with FSST named; the same 177 MB); in a format with ZSTD for text (v1.2.0 on), where FSST is
# only read, with ZSTD (ingest.load.raw_table_ddl).
DISTINCT_TEXT_COLUMNS = ("entry_id",)
# Codes, statuses and person keys: few values per row group, stored with the dictionary
# DuckDB chooses for them anyway in the snapshot's format, without trying FSST first (a
# province year's worklog_evidence and fct_staff_day: 22.3 s → 19.6 s to write, the same
# size). A format from v1.2.0 on has no such dictionary alone: DuckDB chooses there.
FEW_VALUES_TEXT_COLUMNS = (
    "agency_code",
    "evidence_status",
    "evidence_type",
    "position_group",
    "stage_code",
    "staff_key",
    "status",
    "task_code",
)


@dataclass(frozen=True)
class SnapshotPaths:
    database: Path
    parquet_dir: Path
    # how the snapshot in place was published (_publish_settings)
    settings: Path


def snapshot_paths(warehouse: Path) -> SnapshotPaths:
    """The snapshot lives beside the warehouse, so one path locates both."""
    return SnapshotPaths(
        database=warehouse.parent / "marts.duckdb",
        parquet_dir=warehouse.parent / "marts",
        settings=warehouse.parent / "marts.settings.json",
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


def _publish_settings(key: str, include_names: bool) -> dict[str, object]:
    """What the published rows depend on besides the warehouse: an incremental publish keeps
    the previous snapshot's other months, which must have been published the same way (under
    another key a person would be two people in the analysts' joins). The key itself is not
    written: a hash of it, under a label of its own."""
    fingerprint = hashlib.sha256(b"kpi snapshot pseudonym key\0" + key.encode()).hexdigest()
    return {"pseudonym_key_sha256": fingerprint[:16], "include_names": include_names}


def _published_settings(paths: SnapshotPaths) -> object:
    """The settings the snapshot in place was published with; None when unknown."""
    try:
        return json.loads(paths.settings.read_text())
    except (OSError, ValueError):
        return None


def _pseudonym(expr: str, key: str) -> str:
    return f"substr(sha256('{key}' || {expr}), 1, 16)"


# The pseudonyms of the people in the HR register, computed once per publish and joined: a
# keyed SHA-256 per published row cost 0.2 s per 800,000 rows (a month of fct_staff_day at a
# province scale). An id outside the register (an entry naming an unknown staff_id) is hashed
# where it occurs; the keys are the same either way.
PERSON_KEYS_DDL = """
create or replace temp table person_keys as
select staff_id as person_id, {pseudonym} as person_key
from (select distinct staff_id from "{catalog}".raw.staff where staff_id is not null)
"""


def _person_keys_sql(con: duckdb.DuckDBPyConnection, catalog: str, key: str) -> str:
    """The temp table person_keys of a connection to the snapshot (PERSON_KEYS_DDL), empty
    when the warehouse has no HR register."""
    if _has_table(con, catalog, "raw", "staff"):
        return PERSON_KEYS_DDL.format(catalog=catalog, pseudonym=_pseudonym("staff_id", key))
    return "create or replace temp table person_keys (person_id varchar, person_key varchar)"


def _published_rows(
    catalog: str,
    table: str,
    columns: list[str],
    key: str,
    include_names: bool,
    where: str | None = None,
) -> str:
    """The rows of a mart as the snapshot holds them: person ids as keyed hashes (person_keys,
    PERSON_KEYS_DDL), names left out unless asked for."""
    selected = []
    joins = []
    for column in columns:
        if column in PERSON_ID_COLUMNS:
            keys = f"{column}_keys"
            joins.append(
                f"left join person_keys as {keys} on mart_rows.{column} = {keys}.person_id"
            )
            selected.append(
                f"case when mart_rows.{column} is null then null "
                f"when {keys}.person_key is not null then {keys}.person_key "
                f"else {_pseudonym('mart_rows.' + column, key)} end "
                f"as {column.removesuffix('_id')}_key"
            )
        elif column in PERSON_NAME_COLUMNS and not include_names:
            continue
        else:
            selected.append(f'mart_rows."{column}"')
    filtered = f" where {where}" if where else ""
    return (
        f"select {', '.join(selected)} "
        f'from (select * from "{catalog}".marts.{table}{filtered}) as mart_rows ' + " ".join(joins)
    )


# Marts that grow with the worklog: published month by month, as `marts/<mart>/<YYYY-MM>.parquet`
# beside one table in `marts.duckdb`, so that a build which rebuilt a few months republishes
# only those (the dbt models with `month_partitioned()`; a test keeps the two lists equal).
PARTITIONED_MARTS = {
    "declaration_patterns": "period_start",
    "fct_staff_day": "work_date",
    "kpi_scorecard": "period_start",
    "staff_productivity": "period_start",
    "worklog_evidence": "work_date",
}
# Marts of reporting periods (months, quarters, years), partitioned by the month of
# period_start: a rebuilt month changes its month's, its quarter's and its year's rows (the dbt
# model they come from is period_partitioned()), which sit in the files of those periods' first
# months. A quarter's and a year's rows share the file of their first month.
PERIOD_MARTS = frozenset({"kpi_scorecard", "staff_productivity"})
# Which of a build's scopes each partitioned mart follows (dbt vars entry_months,
# pattern_months and scorecard_months): declaration_patterns also rebuilds the people whose
# submission batches changed, kpi_scorecard the months an evaluation or a document changed.
MART_SCOPES = {
    "declaration_patterns": "patterns",
    "fct_staff_day": "entries",
    "kpi_scorecard": "scorecard",
    "staff_productivity": "entries",
    "worklog_evidence": "entries",
}

# What the warehouse rebuilt that the snapshot does not show yet: months of a scope (see
# MART_SCOPES), and the staff members a month was rebuilt for (NULL: everyone); a NULL month:
# everything.
SNAPSHOT_PENDING_DDL = """
create table if not exists audit.snapshot_pending (
    month_start date,
    recorded_at timestamp not null,
    staff_id varchar,
    scope varchar
);
-- warehouses created before staff-scoped rebuilds
alter table audit.snapshot_pending add column if not exists staff_id varchar;
alter table audit.snapshot_pending add column if not exists scope varchar;
"""


def queue_snapshot_months(
    con: duckdb.DuckDBPyConnection, scopes: dict[str, MonthScope] | None
) -> None:
    """Remember what a build rebuilt, per scope, until a snapshot publishes it (None:
    everything)."""
    con.execute("create schema if not exists audit")
    con.execute(SNAPSHOT_PENDING_DDL)
    rows: list[tuple[date | None, str | None, str | None]] = (
        [(None, None, None)]
        if scopes is None
        else [
            (month, staff_id, name)
            for name, scope in scopes.items()
            for month, staff_ids in scope.items()
            for staff_id in (staff_ids if staff_ids is not None else [None])
        ]
    )
    con.execute(
        "insert into audit.snapshot_pending (month_start, recorded_at, staff_id, scope) "
        "select cast(unnest($months) as date), current_timestamp, "
        "cast(unnest($staff_ids) as varchar), cast(unnest($scopes) as varchar)",
        {
            "months": [row[0] for row in rows],
            "staff_ids": [row[1] for row in rows],
            "scopes": [row[2] for row in rows],
        },
    )


def _has_table(con: duckdb.DuckDBPyConnection, catalog: str, schema: str, table: str) -> bool:
    """Whether the attached warehouse `catalog` has the table."""
    row = con.execute(
        "select count(*) from information_schema.tables where table_catalog = ? "
        "and table_schema = ? and table_name = ?",
        [catalog, schema, table],
    ).fetchone()
    return bool(row and row[0])


def _pending_scopes(con: duckdb.DuckDBPyConnection, catalog: str) -> dict[str, MonthScope] | None:
    """What was rebuilt and not yet published, per scope, from the attached warehouse (None:
    everything)."""
    if not _has_table(con, catalog, "audit", "snapshot_pending"):
        return None
    rows = con.execute(
        "select scope, month_start, bool_or(staff_id is null), "
        "list(distinct staff_id order by staff_id) filter (where staff_id is not null) "
        f'from "{catalog}".audit.snapshot_pending group by scope, month_start'
    ).fetchall()
    # a NULL month, or a row queued before scopes existed: everything
    if any(month is None or name is None for name, month, _, _ in rows):
        return None
    scopes: dict[str, MonthScope] = {name: {} for name in set(MART_SCOPES.values())}
    for name, month, for_everyone, staff_ids in sorted(rows):
        scopes.setdefault(name, {})[month] = None if for_everyone else list(staff_ids)
    return scopes


def _add_staff(scopes: dict[Any, list[str] | None], key: Any, staff_ids: list[str] | None) -> None:
    """Widen scopes[key] by `staff_ids` (None: everyone, which no list narrows)."""
    if key in scopes and scopes[key] is None:
        return
    scopes[key] = None if staff_ids is None else sorted(set(scopes.get(key) or []) | set(staff_ids))


def _period_rows(scope: MonthScope) -> dict[tuple[str, date], list[str] | None]:
    """The rows (period_type, period_start) of a period mart that a rebuild of `scope` changed,
    for the same staff (None: everyone): each month's own, its quarter's and its year's, as the
    dbt models rebuild them (in_rebuilt_periods). The other periods starting in those months
    keep their rows: a new April changes 2025's year rows, not January's or the first
    quarter's."""
    rows: dict[tuple[str, date], list[str] | None] = {}
    for month, staff_ids in scope.items():
        quarter = date(month.year, (month.month - 1) // 3 * 3 + 1, 1)
        for period in (("month", month), ("quarter", quarter), ("year", date(month.year, 1, 1))):
            _add_staff(rows, period, staff_ids)
    return rows


def _period_scope(scope: MonthScope) -> MonthScope:
    """The months of period_start whose rows a rebuild of `scope` changed (PERIOD_MARTS): each
    month's own, its quarter's first month and its year's, for the same staff (None:
    everyone)."""
    periods: MonthScope = {}
    for (_, start), staff_ids in _period_rows(scope).items():
        _add_staff(periods, start, staff_ids)
    return periods


def _next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def _month_filter(column: str, months: list[date]) -> str:
    """Rows of the given months, as ranges on the bare column: DuckDB then skips the row
    groups of other months instead of computing each row's month (as the dbt macro
    in_rebuild_months does)."""
    if not months:
        return "false"
    ranges: list[list[date]] = []  # [first month, month after] of each run of months
    for month in sorted(set(months)):
        if ranges and ranges[-1][1] == month:
            ranges[-1][1] = _next_month(month)
        else:
            ranges.append([month, _next_month(month)])
    return " or ".join(
        f"({column} >= date '{first.isoformat()}' and {column} < date '{after.isoformat()}')"
        for first, after in ranges
    )


def _create_table(con: duckdb.DuckDBPyConnection, table: str, query: str) -> None:
    """Replace the snapshot table `table` by the rows of `query`, its text columns of
    DISTINCT_TEXT_COLUMNS and FEW_VALUES_TEXT_COLUMNS stored with the methods named there (a
    table created so keeps them for the rows an incremental publish inserts later)."""
    version = storage_version(con)
    if version is not None and version >= ZSTD_TEXT_STORAGE_VERSION:
        methods = dict.fromkeys(DISTINCT_TEXT_COLUMNS, "zstd")
    else:
        methods = {
            **dict.fromkeys(FEW_VALUES_TEXT_COLUMNS, "dictionary"),
            **dict.fromkeys(DISTINCT_TEXT_COLUMNS, "fsst"),
        }
    columns = con.execute(f"describe ({query})").fetchall()
    definitions = ", ".join(
        f'"{name}" {data_type}'
        + (
            f" using compression {methods[name]}"
            if name in methods and data_type == "VARCHAR"
            else ""
        )
        for name, data_type, *_ in columns
    )
    con.execute(f"create or replace table main.{table} ({definitions})")
    con.execute(f"insert into main.{table} {query}")


def _copy_to_parquet(con: duckdb.DuckDBPyConnection, query: str, path: Path) -> None:
    """Write the rows of `query` to a Parquet file in their order. Not turning
    preserve_insertion_order off for it (both threads then encode row groups at once, 0.84 s →
    0.64 s for a month of worklog_evidence): the setting is the whole database's, and the
    snapshot's tables are being filled at the same time."""
    con.execute(f"copy ({query}) to '{path}' (format parquet)")


def _replace_rows(
    con: duckdb.DuckDBPyConnection,
    catalog: str,
    table: str,
    columns: list[str],
    include_names: bool,
    key: str,
    rows: str,
    staff_ids: list[str] | None,
) -> None:
    """Replace the snapshot table's `rows` (a condition on the mart's columns) by the
    warehouse's, those of `staff_ids` only unless None."""
    if staff_ids is None:
        con.execute(f"delete from main.{table} where {rows}")
        con.execute(
            f"insert into main.{table} "
            + _published_rows(catalog, table, columns, key, include_names, rows)
        )
        return
    # the snapshot holds keyed hashes of staff_id (see _published_rows)
    con.execute(
        f"delete from main.{table} where {rows} and staff_key in "
        f"(select {_pseudonym('staff_id', key)} "
        "from (select unnest($staff_ids) as staff_id))",
        {"staff_ids": staff_ids},
    )
    con.execute(
        f"insert into main.{table} "
        + _published_rows(
            catalog,
            table,
            columns,
            key,
            include_names,
            f"{rows} and staff_id in (select unnest($staff_ids))",
        ),
        {"staff_ids": staff_ids},
    )


def _publish_by_month(
    con: duckdb.DuckDBPyConnection,
    catalog: str,
    table: str,
    column: str,
    columns: list[str],
    include_names: bool,
    scope: MonthScope | None,
    key: str,
) -> None:
    """Replace what was rebuilt of a partitioned mart (all of it when scope is None) in the
    snapshot table, the rows of the rebuilt staff members only in a month rebuilt for some."""
    if scope is None:
        _create_table(con, table, _published_rows(catalog, table, columns, key, include_names))
        return
    whole = [month for month, staff_ids in scope.items() if staff_ids is None]
    if whole:
        _replace_rows(
            con, catalog, table, columns, include_names, key, _month_filter(column, whole), None
        )
    for month, staff_ids in scope.items():
        if staff_ids is not None:
            rows = _month_filter(column, [month])
            _replace_rows(con, catalog, table, columns, include_names, key, rows, staff_ids)


def _publish_periods(
    con: duckdb.DuckDBPyConnection,
    catalog: str,
    table: str,
    columns: list[str],
    include_names: bool,
    periods: dict[tuple[str, date], list[str] | None],
    key: str,
) -> None:
    """Replace the rebuilt rows of a period mart (_period_rows) in the snapshot table: those
    periods' rows, of the rebuilt staff members only where a month was rebuilt for some.
    Republishing every period starting in a rebuilt month instead (a new April's year rows
    took January's and the first quarter's along) wrote 0.40 million rows for 0.22 million in a
    one-day build at 3 months: 0.36-0.41 s against 0.23 s for the two marts, on their own."""
    groups: dict[tuple[str, ...] | None, list[tuple[str, date]]] = {}
    for period, staff_ids in sorted(periods.items()):
        groups.setdefault(None if staff_ids is None else tuple(staff_ids), []).append(period)
    for staff_ids, group in groups.items():
        rows = (
            "("
            + " or ".join(
                f"(period_type = '{period_type}' and period_start = date '{start.isoformat()}')"
                for period_type, start in group
            )
            + ")"
        )
        chosen = None if staff_ids is None else list(staff_ids)
        _replace_rows(con, catalog, table, columns, include_names, key, rows, chosen)


@dataclass(frozen=True)
class _ParquetExport:
    """The Parquet copy of one mart: one file (`column` None), or a file per month of `column`
    (`months` None: every month; else those months rewritten, the others linked from
    `previous_dir`)."""

    table: str
    columns: list[str]
    target: Path  # the file, or the folder of a partitioned mart's months
    column: str | None = None
    months: list[date] | None = None
    previous_dir: Path | None = None


def _write_parquet_exports(
    exporter: duckdb.DuckDBPyConnection,
    catalog: str,
    key: str,
    include_names: bool,
    exports: list[_ParquetExport],
) -> None:
    """Write the snapshot's Parquet files from the warehouse's marts, the rows the snapshot's
    tables get (_published_rows), on a connection of their own: they are written while the
    snapshot database is filled and committed, where they were copied from its tables after
    each table's rows (publish of a one-day build at 3 months, three runs each: 3.55-3.69 s →
    3.41-3.55 s; of a full build: 8.8-9.2 s → 8.4-8.6 s)."""
    exporter.execute(_person_keys_sql(exporter, catalog, key))
    for export in exports:
        if export.column is None:
            _copy_to_parquet(
                exporter,
                _published_rows(catalog, export.table, export.columns, key, include_names),
                export.target,
            )
            continue
        export.target.mkdir(parents=True)
        rewritten = (
            {month.strftime("%Y-%m") for month in export.months}
            if export.months is not None
            else None
        )
        previous = export.previous_dir
        if rewritten is not None and previous is not None and previous.is_dir():
            for old in previous.glob("*.parquet"):
                if old.stem not in rewritten:
                    os.link(old, export.target / old.name)
        month_filter = (
            "" if export.months is None else f"where {_month_filter(export.column, export.months)} "
        )
        present = exporter.execute(
            f"select distinct cast(date_trunc('month', {export.column}) as date) "
            f'from "{catalog}".marts.{export.table} {month_filter}order by 1'
        ).fetchall()
        for (month,) in present:
            _copy_to_parquet(
                exporter,
                _published_rows(
                    catalog,
                    export.table,
                    export.columns,
                    key,
                    include_names,
                    _month_filter(export.column, [month]),
                ),
                export.target / (month.strftime("%Y-%m") + ".parquet"),
            )


def _mart_scope(table: str, scope: MonthScope) -> MonthScope:
    return _period_scope(scope) if table in PERIOD_MARTS else scope


@dataclass
class _Prefetch:
    thread: threading.Thread
    copy: Path
    errors: list[BaseException]


# The copies of published snapshots being made while their warehouses build, by warehouse.
_prefetches: dict[Path, _Prefetch] = {}


def _prefetch_path(warehouse: Path) -> Path:
    database = snapshot_paths(warehouse).database
    return database.with_name(database.name + ".prefetched")


def prefetch_previous_snapshot(warehouse: Path) -> None:
    """Start copying the published snapshot database in the background, for this build's
    publish to start from (an incremental publish changes a copy of the previous snapshot):
    made at the end of a one-day build, the copy of a province year's 880 MB took 1.7 s; made
    while the build ingests and runs dbt, it takes none of the build's time. Nothing else
    writes the snapshot before this build publishes it (one writer)."""
    warehouse = warehouse.resolve()
    database = snapshot_paths(warehouse).database
    if warehouse in _prefetches or not database.is_file():
        return
    prefetch = _Prefetch(threading.Thread(), _prefetch_path(warehouse), [])

    def copy() -> None:
        try:
            shutil.copyfile(database, prefetch.copy)
            # The publish's commit checkpoints the copy, and a checkpoint syncs the file: the
            # copy's pages still waiting for the disk were written inside the commit then (a
            # province year's 785 MB: the commit took 1.22 s, 0.91 s with the copy synced
            # here, while the build keeps the processors busy and the disk is free).
            with prefetch.copy.open("rb+") as written:
                os.fsync(written.fileno())
        except BaseException as error:  # noqa: BLE001 - reported to the publish, which copies
            prefetch.errors.append(error)

    prefetch.thread = threading.Thread(target=copy, name="snapshot-prefetch", daemon=True)
    prefetch.thread.start()
    _prefetches[warehouse] = prefetch


def _take_prefetched(warehouse: Path, destination: Path) -> bool:
    """Move this process's finished prefetch of the snapshot to `destination`; False when there
    is none. A copy left by another process is removed, never used."""
    prefetch = _prefetches.pop(warehouse.resolve(), None)
    if prefetch is not None:
        prefetch.thread.join()
        if not prefetch.errors and prefetch.copy.is_file():
            os.replace(prefetch.copy, destination)
            return True
    _prefetch_path(warehouse).unlink(missing_ok=True)
    return False


def discard_prefetched_snapshot(warehouse: Path) -> None:
    """Remove a prefetch the build did not use (it failed before publishing)."""
    prefetch = _prefetches.pop(warehouse.resolve(), None)
    if prefetch is not None:
        prefetch.thread.join()
        prefetch.copy.unlink(missing_ok=True)


def publish_snapshot(warehouse: Path, include_names: bool | None = None) -> dict[str, int]:
    """Copy every table of the warehouse's `marts` schema into a fresh snapshot and swap it in.

    After an incremental build only the rebuilt months of the partitioned marts are copied:
    the new snapshot starts as a copy of the previous one, unless that one was published with
    another pseudonym key or names setting. Returns the row count of each published table.
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
    # Attached under its file's name: the views dbt-duckdb creates (worklog_evidence) name the
    # tables they read with that catalog, and resolve under no other.
    catalog = warehouse.stem
    with duckdb.connect(":memory:") as probe:
        probe.execute(f"attach '{warehouse}' as \"{catalog}\" (read_only)")
        scopes = _pending_scopes(probe, catalog)
        (published_at,) = probe.execute("select current_timestamp").fetchone() or (None,)
    publish_settings = _publish_settings(key, include_names)
    incremental = (
        scopes is not None
        and paths.database.exists()
        and paths.parquet_dir.is_dir()
        and _published_settings(paths) == publish_settings
    )
    prefetched = _take_prefetched(warehouse, staging_db)
    if incremental and not prefetched:
        shutil.copyfile(paths.database, staging_db)
    elif not incremental:
        staging_db.unlink(missing_ok=True)
    # the build's memory budget and spill folder: DuckDB's default would be 80% of the RAM
    limits = {
        **settings.duckdb_config(settings.spill_dir_for(warehouse)),
        "storage_compatibility_version": SNAPSHOT_STORAGE_VERSION,
    }
    with duckdb.connect(str(staging_db), config=limits) as con:
        con.execute(f"attach '{warehouse}' as \"{catalog}\" (read_only)")
        tables = {
            name: [
                column
                for (column,) in con.execute(
                    "select column_name from information_schema.columns "
                    "where table_catalog = ? and table_schema = 'marts' "
                    "and table_name = ? order by ordinal_position",
                    [catalog, name],
                ).fetchall()
            ]
            for (name,) in con.execute(
                "select table_name from information_schema.tables "
                "where table_catalog = ? and table_schema = 'marts' "
                "order by table_name",
                [catalog],
            ).fetchall()
        }
        published = {
            name
            for (name,) in con.execute(
                "select table_name from information_schema.tables "
                "where table_catalog = current_database() and table_schema = 'main'"
            ).fetchall()
        }
        # What each partitioned mart republishes: the rebuilt months, or all of it when the
        # previous snapshot lacks it or held it in one file (a mart published by month since:
        # its other months have no file to keep).
        mart_scopes = {
            table: _mart_scope(table, scopes[MART_SCOPES[table]])
            if incremental
            and scopes is not None
            and table in published
            and (paths.parquet_dir / table).is_dir()
            else None
            for table in tables
            if table in PARTITIONED_MARTS
        }
        exports = [
            _ParquetExport(
                table,
                columns,
                staging_parquet / table,
                PARTITIONED_MARTS[table],
                None if mart_scopes[table] is None else sorted(mart_scopes[table]),
                paths.parquet_dir / table,
            )
            if table in PARTITIONED_MARTS
            else _ParquetExport(table, columns, staging_parquet / (table + ".parquet"))
            for table, columns in tables.items()
        ]
        # The Parquet files are written from the warehouse by a second connection to the same
        # DuckDB (its memory budget and threads) in a thread of its own, while this one fills
        # the snapshot database.
        exporter = con.cursor()
        export_errors: list[BaseException] = []

        def export() -> None:
            try:
                _write_parquet_exports(exporter, catalog, key, include_names, exports)
            except BaseException as error:  # noqa: BLE001 - raised again by the publish
                export_errors.append(error)

        export_thread = threading.Thread(target=export, name="snapshot-parquet", daemon=True)
        export_thread.start()
        try:
            # An incremental publish runs in one transaction: the file is renamed into place
            # only once complete, so each statement's own commit (a WAL write and an fsync)
            # buys nothing (at 3 months of a province, the new month of worklog_evidence:
            # 0.51 s → 0.18 s). A full publish commits table by table: in one transaction it
            # took 12.4–13 s instead of 10.6 s at 3 months.
            if incremental:
                con.begin()
            con.execute(_person_keys_sql(con, catalog, key))
            for table, columns in tables.items():
                if table in PERIOD_MARTS and mart_scopes[table] is not None and scopes is not None:
                    _publish_periods(
                        con,
                        catalog,
                        table,
                        columns,
                        include_names,
                        _period_rows(scopes[MART_SCOPES[table]]),
                        key,
                    )
                elif table in PARTITIONED_MARTS:
                    _publish_by_month(
                        con,
                        catalog,
                        table,
                        PARTITIONED_MARTS[table],
                        columns,
                        include_names,
                        mart_scopes[table],
                        key,
                    )
                else:
                    _create_table(
                        con, table, _published_rows(catalog, table, columns, key, include_names)
                    )
                (counts[table],) = con.execute(f"select count(*) from main.{table}").fetchone()
            if incremental:
                con.commit()
        except BaseException:
            exporter.interrupt()
            raise
        finally:
            export_thread.join()
            exporter.close()
        if export_errors:
            raise export_errors[0]
        con.execute(f'detach "{catalog}"')
    # Rename, never rewrite in place: open readers keep the previous file until they close it.
    # The settings go first and come back last: a publish stopped in between leaves none, and
    # the next one publishes everything.
    paths.settings.unlink(missing_ok=True)
    os.replace(staging_db, paths.database)
    retired = paths.parquet_dir.with_name(paths.parquet_dir.name + ".old")
    shutil.rmtree(retired, ignore_errors=True)
    if paths.parquet_dir.exists():
        os.replace(paths.parquet_dir, retired)
    os.replace(staging_parquet, paths.parquet_dir)
    shutil.rmtree(retired, ignore_errors=True)
    staged_settings = paths.settings.with_name(paths.settings.name + ".new")
    staged_settings.write_text(json.dumps(publish_settings))
    os.replace(staged_settings, paths.settings)
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema if not exists audit")
        con.execute(SNAPSHOT_PENDING_DDL)
        con.execute("delete from audit.snapshot_pending where recorded_at <= ?", [published_at])
        # The build's last writer: the planner's and the bookkeeping's writes, left in the
        # write-ahead log (resources.WarehouseResource.connect), go into the file here.
        con.execute("checkpoint")
    return counts
