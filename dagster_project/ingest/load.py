"""Loading: raw tables, upsert, ingestion ledger and quarantine."""

from __future__ import annotations

import datetime as dt
import difflib
import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from .changes import PENDING_MONTHS_DDL, record_pending_months
from .contract import (
    CONTRACT,
    META_COLUMNS,
    REQUIRED_FOLDERS,
    SOURCE_LIST,
    SOURCES,
    Source,
    norm_label,
)
from .errors import FileRejected, IngestionError
from .parse import (
    RS,
    HeaderMap,
    key_match,
    lit,
    map_headers,
    problems_message_sql,
    q,
    typed_table_sql,
    unnamed_empty_columns,
)
from .readers import (
    StagedFile,
    classify_rejects,
    csv_error,
    file_format,
    read_csv_options,
    sha256_and_scan,
    sha256_of,
    stage_csv,
    stage_xlsx,
    write_records,
)

MAX_ROW_MESSAGES = 20  # per file in SourceResult.messages; all of them are in audit.quarantine
STG = "_ingest_stg"
TYPED = "_ingest_typed"
ROWS = "_ingest_rows"  # view over TYPED adding _row (spreadsheet row) and _rid (rowid)
KEYS = "_ingest_keys"
FAST = "_ingest_fast"  # CSV rows DuckDB's reader could cast
SLOW = "_ingest_slow"  # CSV records it set aside, re-read as text
GAPS = "_ingest_gaps"
RJ_SCAN = "_ingest_rejects_scan"
RJ_ERR = "_ingest_rejects"

LEDGER_DDL = """
CREATE TABLE IF NOT EXISTS audit.ingestion_ledger (
    delivery_id INTEGER PRIMARY KEY,
    source VARCHAR NOT NULL,
    path VARCHAR NOT NULL,
    sha256 VARCHAR NOT NULL,
    format VARCHAR,
    rows_read INTEGER NOT NULL,
    rows_loaded INTEGER NOT NULL,
    rows_quarantined INTEGER NOT NULL,
    status VARCHAR NOT NULL,
    message VARCHAR,
    loaded_at TIMESTAMP NOT NULL
)
"""
# The SHA-256 of each file as last read, with the size and modification time it had then: a
# file whose size and mtime are unchanged is not read again just to find that its bytes are
# already ingested (a province year is gigabytes of CSV to hash on every build).
FILE_STATS_DDL = """
CREATE TABLE IF NOT EXISTS audit.file_stats (
    source VARCHAR NOT NULL,
    path VARCHAR NOT NULL,
    size_bytes BIGINT NOT NULL,
    mtime_ns BIGINT NOT NULL,
    sha256 VARCHAR NOT NULL,
    PRIMARY KEY (source, path)
)
"""
QUARANTINE_DDL = """
CREATE TABLE IF NOT EXISTS audit.quarantine (
    source VARCHAR NOT NULL,
    path VARCHAR NOT NULL,
    row_number INTEGER,
    raw_values VARCHAR,
    reason_code VARCHAR NOT NULL,
    message VARCHAR NOT NULL,
    delivery_id INTEGER NOT NULL,
    quarantined_at TIMESTAMP NOT NULL
)
"""


@dataclass
class SourceResult:
    source: str
    files_seen: int = 0
    files_loaded: int = 0
    files_skipped: int = 0
    files_rejected: int = 0
    # files that changed while they were read (still being written): left for the next build
    files_deferred: int = 0
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    messages: list[str] = field(default_factory=list)
    # files that failed for a reason of the warehouse, not of their content: nothing of them
    # was committed, and a build must not report success without them
    failed: list[str] = field(default_factory=list)
    # why each file this build did not load was left out: `kpi build` prints them, since a
    # build that loads nothing of a file still succeeds
    not_loaded: list[str] = field(default_factory=list)

    def leave_out(self, message: str) -> None:
        self.messages.append(message)
        self.not_loaded.append(message)


def raw_table_ddl(source: Source, zstd_text: bool = False) -> str:
    """The raw table of a source. With `zstd_text` (a database whose storage version has ZSTD
    for text), its distinct-valued text columns are stored with ZSTD: DuckDB's own choice tries
    a dictionary on every value first (33 million worklog entry ids: 9.0 s of CPU to write, 3.6 s
    with ZSTD; 180 MB against 214 MB)."""
    zstd = {c.name for c in source.columns if zstd_text and c.distinct and c.sql_type == "VARCHAR"}
    cols = [
        f"{q(c.name)} {c.sql_type}" + (" USING COMPRESSION zstd" if c.name in zstd else "")
        for c in source.columns
    ]
    cols += [f"{name} {typ}" for name, typ in META_COLUMNS]
    return f"CREATE TABLE IF NOT EXISTS raw.{q(source.name)} ({', '.join(cols)})"


# The first storage version with ZSTD for text: in a file of an earlier one, DuckDB stores a
# column asked for ZSTD uncompressed.
ZSTD_TEXT_STORAGE_VERSION = (1, 2, 0)


def storage_version(con: duckdb.DuckDBPyConnection) -> tuple[int, ...] | None:
    """The storage version of the connection's database file (e.g. (1, 4, 0)), None for an
    in-memory database."""
    row = con.execute(
        "SELECT tags['storage_version'] FROM duckdb_databases() "
        "WHERE database_name = current_database()"
    ).fetchone()
    numbers = re.findall(r"\d+", str(row[0])) if row and row[0] else []
    return tuple(int(number) for number in numbers[:3]) if numbers else None


def ensure_raw_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create schemas ``raw``/``audit``, every ``raw.<source>`` and the audit tables if missing."""
    con.execute("CREATE SCHEMA IF NOT EXISTS raw")
    con.execute("CREATE SCHEMA IF NOT EXISTS audit")
    version = storage_version(con)
    zstd_text = version is not None and version >= ZSTD_TEXT_STORAGE_VERSION
    for source in SOURCE_LIST:
        con.execute(raw_table_ddl(source, zstd_text))
    con.execute(LEDGER_DDL)
    con.execute(FILE_STATS_DDL)
    con.execute(QUARANTINE_DDL)
    con.execute(PENDING_MONTHS_DDL)


def _insert_columns(
    con: duckdb.DuckDBPyConnection, table: str, first: list[object], second: list[object]
) -> None:
    """Insert two columns in one statement: `executemany` runs one statement per row and
    costs seconds per hundred rows on a large warehouse."""
    con.execute(
        f"INSERT INTO {table} SELECT unnest($first), unnest($second)",
        {"first": first, "second": second},
    )


def ledger_mismatches(con: duckdb.DuckDBPyConnection, source: str | None = None) -> list[str]:
    """One line per ledger row (of one source, or all) whose counts do not reconcile, and per
    quarantine mismatch."""
    rows = con.execute(
        """
        SELECT l.delivery_id, l.path, l.rows_read, l.rows_loaded, l.rows_quarantined,
               (SELECT count(*) FROM audit.quarantine qq
                WHERE qq.delivery_id = l.delivery_id AND qq.row_number IS NOT NULL) AS q_rows
        FROM audit.ingestion_ledger l
        WHERE $source IS NULL OR l.source = $source
        ORDER BY l.delivery_id
        """,
        {"source": source},
    ).fetchall()
    out = []
    for did, path, read, loaded, quarantined, q_rows in rows:
        if read != loaded + quarantined:
            out.append(
                f"{path} (delivery {did}): rows_read {read} != rows_loaded {loaded} "
                f"+ rows_quarantined {quarantined}"
            )
        elif q_rows != quarantined:
            out.append(
                f"{path} (delivery {did}): ledger says {quarantined} rows quarantined, "
                f"audit.quarantine holds {q_rows}"
            )
    return out


def _now() -> dt.datetime:
    # UTC, naive: DuckDB TIMESTAMP has no zone and the warehouse must not depend on the host's
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class _Transaction:
    """One file's writes, all or nothing.

    DuckDB cannot nest transactions, and a failed BEGIN aborts the caller's transaction,
    so ``ingest_source`` needs a connection in autocommit mode (checked up front).
    """

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    def __enter__(self) -> _Transaction:
        self.con.begin()
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.con.commit()
        else:
            self.con.rollback()


def _next_delivery_id(con: duckdb.DuckDBPyConnection) -> int:
    row = con.execute(
        "SELECT coalesce(max(delivery_id), 0) + 1 FROM audit.ingestion_ledger"
    ).fetchone()
    assert row is not None
    return int(row[0])


def _ledger(
    con: duckdb.DuckDBPyConnection,
    did: int,
    source: str,
    rel: str,
    sha: str,
    fmt: str | None,
    counts: tuple[int, int, int],
    status: str,
    message: str,
    now: dt.datetime,
) -> None:
    con.execute(
        "INSERT INTO audit.ingestion_ledger VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [did, source, rel, sha, fmt, *counts, status, message, now],
    )


def _quarantine_file(
    con: duckdb.DuckDBPyConnection,
    did: int,
    source: str,
    rel: str,
    reason: str,
    message: str,
    now: dt.datetime,
) -> None:
    con.execute(
        "INSERT INTO audit.quarantine VALUES (?, ?, NULL, NULL, ?, ?, ?, ?)",
        [source, rel, reason, message, did, now],
    )


def ingest_source(con: duckdb.DuckDBPyConnection, raw_dir: Path, source: str) -> SourceResult:
    """Ingest every file of ``raw_dir/<source>/`` (recursively, lexical order of the path).

    Raises IngestionError when ``agencies/`` or ``staff/`` is missing (or holds no file
    while nothing was ever loaded for it) and for an unknown source name.
    """
    if source not in CONTRACT:
        raise IngestionError(f"unknown source '{source}'; expected one of {', '.join(CONTRACT)}")
    spec = CONTRACT[source]
    raw_dir = Path(raw_dir)
    result = SourceResult(source)
    try:
        con.begin()
    except duckdb.TransactionException as exc:
        raise IngestionError(
            "ingest_source needs a connection without an open transaction (autocommit): "
            "each file is loaded in its own transaction"
        ) from exc
    con.rollback()
    ensure_raw_tables(con)
    folder = raw_dir / source
    if not folder.is_dir():
        if source in REQUIRED_FOLDERS:
            raise IngestionError(
                f"required source folder '{folder}' is missing: a build needs {source}/ "
                f"in the raw directory '{raw_dir}'"
            )
        result.messages.append(f"{source}/: no folder, no rows")
        return result
    files = sorted(
        (p for p in folder.rglob("*") if p.is_file()),
        key=lambda p: p.relative_to(raw_dir).as_posix(),
    )
    if not files and source in REQUIRED_FOLDERS:
        loaded = con.execute(f"SELECT count(*) FROM raw.{q(source)}").fetchone()
        if not loaded or loaded[0] == 0:
            raise IngestionError(
                f"required source folder '{folder}' is empty and nothing was loaded for "
                f"{source} before: a build needs at least one {source} file"
            )
    for path in files:
        result.files_seen += 1
        _ingest_file(con, raw_dir, path, spec, result)
    return result


def stray_entries(raw_dir: Path) -> list[str]:
    """What the raw folder holds beside its source folders, which no build loads: a folder
    named `Worklog` or `worklogs`, an export dropped at the top. Said at every build, since
    it is nothing a ledger could keep. Hidden entries and a README are left alone."""
    if not raw_dir.is_dir():
        return []
    strays = []
    for entry in sorted(raw_dir.iterdir()):
        name = entry.name
        if name in SOURCES or name.startswith(".") or name.upper().startswith("README"):
            continue
        if not entry.is_dir():
            strays.append(f"{name}: a file beside the source folders, not in one; not loaded")
            continue
        files = sum(1 for p in entry.rglob("*") if p.is_file())
        close = difflib.get_close_matches(name.lower(), SOURCES, n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]}/?)" if close else ""
        strays.append(
            f"{name}/: not a source folder{hint}; its {files} file(s) were not loaded "
            f"(the sources: {', '.join(SOURCES)})"
        )
    return strays


def _deliveries_of(
    con: duckdb.DuckDBPyConnection, source: str, sha: str, rel: str, fmt: str | None
) -> list[tuple[Any, ...]]:
    """The ledger's deliveries of these bytes that settle a file of them under this name, with
    the file's own earlier deliveries; empty when the file must be read. Bytes are settled by a
    delivery that loaded them, whatever its name (the contract's "already loaded"), or one that
    rejected them in the same format (reading them again gives the same verdict). A rejection
    in another format judged the name, not the bytes: `2025-05.txt`, reported unsupported, then
    renamed `2025-05.csv`, is loaded (it used to be skipped as a duplicate of the .txt)."""
    deliveries = con.execute(
        "SELECT delivery_id, path, status, message, sha256, format FROM audit.ingestion_ledger "
        "WHERE source = ? AND sha256 = ? ORDER BY delivery_id",
        [source, sha],
    ).fetchall()

    def settles(delivery: tuple[Any, ...]) -> bool:
        _, _, status, _, _, delivered_as = delivery
        return status == "loaded" or (status in ("rejected", "unsupported") and delivered_as == fmt)

    if not any(settles(delivery) for delivery in deliveries):
        return []
    return [d[:5] for d in deliveries if settles(d) or d[1] == rel]


def _unchanged_file_deliveries(
    con: duckdb.DuckDBPyConnection, source: str, path: Path, rel: str, fmt: str | None
) -> list[tuple[Any, ...]]:
    """The deliveries that settle the file (_deliveries_of) when its size and mtime are those
    recorded when it was last hashed; empty when it must be read (new, changed, or unsettled)."""
    try:
        stat = path.stat()
    except OSError:
        return []
    known = con.execute(
        "SELECT sha256 FROM audit.file_stats "
        "WHERE source = ? AND path = ? AND size_bytes = ? AND mtime_ns = ?",
        [source, rel, stat.st_size, stat.st_mtime_ns],
    ).fetchone()
    return _deliveries_of(con, source, known[0], rel, fmt) if known else []


def _ingest_file(
    con: duckdb.DuckDBPyConnection, raw_dir: Path, path: Path, spec: Source, result: SourceResult
) -> None:
    rel = path.relative_to(raw_dir).as_posix()
    fmt = file_format(path)
    precheck: FileRejected | None = None
    needs_nfc = True
    read_from: os.stat_result | None = None
    prev = _unchanged_file_deliveries(con, spec.name, path, rel, fmt)
    if not prev:
        try:
            # the size and mtime from before the read: a file still being written while it is
            # hashed then differs from them next time, and is read again
            read_from = stat = path.stat()
            if fmt == "csv":
                sha, precheck, needs_nfc = sha256_and_scan(path, rel)
            else:
                sha = sha256_of(path)
        except OSError as exc:
            result.files_rejected += 1
            result.leave_out(f"{rel}: cannot read the file: {exc}")
            return
        con.execute(
            "INSERT OR REPLACE INTO audit.file_stats VALUES (?, ?, ?, ?, ?)",
            [spec.name, rel, stat.st_size, stat.st_mtime_ns, sha],
        )
        prev = _deliveries_of(con, spec.name, sha, rel, fmt)
    else:
        sha = prev[0][4]
    if prev:
        result.files_skipped += 1
        first = prev[0]
        if any(p[1] == rel for p in prev):
            if first[2] in ("rejected", "unsupported"):
                result.messages.append(
                    f"{rel}: unchanged since delivery {first[0]}, still {first[2]}: {first[3]}"
                )
            return
        with _Transaction(con):
            did = _next_delivery_id(con)
            msg = f"{rel}: same bytes as {first[1]} (delivery {first[0]}, {first[2]}); skipped"
            _ledger(con, did, spec.name, rel, sha, fmt, (0, 0, 0), "skipped_duplicate", msg, _now())
        result.messages.append(msg)
        return

    now = _now()
    try:
        if fmt is None:
            msg = (
                f"{rel}: unsupported file type; a source folder accepts .csv, .csv.gz "
                "and .xlsx files only"
            )
            _record_rejection(
                con, spec.name, rel, sha, None, "unsupported", "unsupported_file", msg, now
            )
            result.files_rejected += 1
            result.leave_out(msg)
            return
        # reading and typing happen before the transaction: a failed statement would abort
        # it, and nothing durable is written until the file is known to be readable
        try:
            if precheck is not None:
                raise precheck
            staged = _build_typed(
                con, path, rel, fmt, spec, bytes_checked=fmt == "csv", needs_nfc=needs_nfc
            )
        except FileRejected as rej:
            if _changed_since(path, read_from):
                _defer(result, rel)
                return
            _record_rejection(
                con, spec.name, rel, sha, fmt, "rejected", rej.reason, rej.message, now
            )
            result.files_rejected += 1
            result.leave_out(rej.message)
            return
        if _changed_since(path, read_from):
            _defer(result, rel)
            return
        if spec.name == "staff":
            _quarantine_overlaps(con)
        with _Transaction(con):
            did = _next_delivery_id(con)
            counts, notes, row_msgs = _write_file(con, staged, rel, spec, did, now)
            read, loaded, quarantined = counts
            summary = f"{rel}: {read} rows read, {loaded} loaded, {quarantined} quarantined"
            message = "; ".join([summary, *notes])
            _ledger(con, did, spec.name, rel, sha, fmt, counts, "loaded", message, now)
        result.files_loaded += 1
        result.rows_read += read
        result.rows_loaded += loaded
        result.rows_quarantined += quarantined
        result.messages.append(summary)
        result.messages.extend(notes)
        result.messages.extend(row_msgs)
    except (duckdb.Error, OSError, ValueError) as exc:
        # an unexpected failure on one file must not hide the others; nothing of it was
        # committed, so the file is retried on the next build
        result.files_rejected += 1
        message = f"{rel}: could not be ingested: {type(exc).__name__}: {exc}"
        result.messages.append(message)
        result.failed.append(message)
    finally:
        con.execute(f"DROP VIEW IF EXISTS {ROWS}")
        for t in (STG, TYPED, KEYS, FAST, SLOW, GAPS, f"{GAPS}_m", RJ_ERR, RJ_SCAN):
            con.execute(f"DROP TABLE IF EXISTS {t}")


def _changed_since(path: Path, read_from: os.stat_result | None) -> bool:
    """Whether the file is no longer the one whose reading began at `read_from`: a copy still
    under way, or a file replaced or removed meanwhile."""
    if read_from is None:
        return False
    try:
        now = path.stat()
    except OSError:
        return True
    return (now.st_size, now.st_mtime_ns) != (read_from.st_size, read_from.st_mtime_ns)


def _defer(result: SourceResult, rel: str) -> None:
    """What was read of a file that changed meanwhile is dropped, nothing of it recorded: the
    next build reads the file as it is then (its size and mtime differ from those hashed)."""
    result.files_deferred += 1
    result.leave_out(
        f"{rel}: changed while it was read (still being written?); not loaded, the next build "
        "reads it again"
    )


def _record_rejection(
    con: duckdb.DuckDBPyConnection,
    source: str,
    rel: str,
    sha: str,
    fmt: str | None,
    status: str,
    reason: str,
    message: str,
    now: dt.datetime,
) -> None:
    with _Transaction(con):
        did = _next_delivery_id(con)
        _ledger(con, did, source, rel, sha, fmt, (0, 0, 0), status, message, now)
        _quarantine_file(con, did, source, rel, reason, message, now)


def _stage(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    rel: str,
    fmt: str,
    spec: Source,
    bytes_checked: bool,
    needs_nfc: bool,
) -> StagedFile:
    if fmt == "xlsx":
        hmap = spec.header_map()

        def kind_of(h: str) -> str | None:
            name = hmap.get(norm_label(h))
            return spec.column(name).kind if name else None

        return stage_xlsx(con, path, rel, STG, kind_of)
    return stage_csv(path, fmt, rel, bytes_checked, needs_nfc)


# what DuckDB's CSV reader casts itself; integers come as DOUBLE because its INTEGER cast
# rounds '45.5' to 46, and SQL then keeps whole numbers only
_NATIVE_TYPES = {"date": "DATE", "datetime": "TIMESTAMP", "decimal": "DOUBLE", "int": "DOUBLE"}


def _build_typed(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    rel: str,
    fmt: str,
    spec: Source,
    bytes_checked: bool = False,
    needs_nfc: bool = True,
) -> StagedFile:
    """Create TYPED and the ROWS view over it; returns what the reader found."""
    staged = _stage(con, path, rel, fmt, spec, bytes_checked, needs_nfc)
    hmap = map_headers(spec, staged.headers, rel)
    try:
        drop = set(unnamed_empty_columns(con, staged, hmap))
    except duckdb.Error as exc:
        raise csv_error(exc, path, fmt, rel) from None
    hmap.extras = [(k, i) for k, i in hmap.extras if i not in drop]
    if hmap.extras:
        staged.notes.extend(hmap.notes)
    if staged.row_expr is not None:  # XLSX: the reader numbered the rows
        con.execute(typed_table_sql(spec, staged, hmap, TYPED))
        con.execute(f"CREATE OR REPLACE TEMP VIEW {ROWS} AS SELECT rowid AS _rid, * FROM {TYPED}")
        return staged
    _build_typed_csv(con, path, rel, fmt, spec, staged, hmap)
    return staged


def _build_typed_csv(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    rel: str,
    fmt: str,
    spec: Source,
    staged: StagedFile,
    hmap: HeaderMap,
) -> None:
    """CSV: DuckDB's reader casts dates, date-times and numbers while it parses (as fast as
    a plain ``read_csv``) and sets aside, with their row numbers, the records it cannot
    cast or split; those few go through the flexible all-text path (DD/MM/YYYY, "1,5",
    bad values with their reason), the rest is checked in SQL."""
    ncols = len(staged.headers)
    types: dict[int, str] = {}
    native: set[str] = set()
    for col in spec.columns:
        idx = hmap.canonical.get(col.name)
        if idx is not None and col.kind in _NATIVE_TYPES:
            types[idx] = _NATIVE_TYPES[col.kind]
            native.add(col.name)
    fast = StagedFile(
        f"read_csv({read_csv_options(path, fmt, ncols, types)}, ignore_errors=true, "
        f"store_rejects=true, rejects_scan='{RJ_SCAN}', rejects_table='{RJ_ERR}')",
        staged.headers,
        None,
        fmt,
        needs_nfc=staged.needs_nfc,
    )
    try:
        con.execute(typed_table_sql(spec, fast, hmap, FAST, frozenset(native)))
        rejects = con.execute(
            f"SELECT line, error_type, csv_line, error_message FROM {RJ_ERR} ORDER BY line"
        ).fetchall()
    except duckdb.Error as exc:
        raise csv_error(exc, path, fmt, rel) from None
    finally:
        con.execute(f"DROP TABLE IF EXISTS {RJ_ERR}")
        con.execute(f"DROP TABLE IF EXISTS {RJ_SCAN}")
    cast, staged.pre_rejects = classify_rejects(rejects, path, fmt, rel, ncols)
    # rowids follow insertion (= file) order, from an offset inside a transaction
    base_row = con.execute(f"SELECT coalesce(min(rowid), 0) FROM {FAST}").fetchone()
    base = int(base_row[0]) if base_row else 0
    if not cast and not staged.pre_rejects:
        con.execute(f"ALTER TABLE {FAST} RENAME TO {TYPED}")
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW {ROWS} AS SELECT rowid AS _rid, "
            f"CAST(rowid - {base} + 2 AS INTEGER) AS _row, * FROM {TYPED}"
        )
        return
    # Kept row r (0-based) follows set-aside row R_i (i = 1..m, sorted) iff r >= R_i - i - 1;
    # DuckDB's reject "line" counts records, so it is the spreadsheet row number.
    lines = sorted([ln for ln, _ in cast] + [p.row for p in staged.pre_rejects])
    con.execute(f"CREATE OR REPLACE TEMP TABLE {GAPS} (t BIGINT, n INTEGER)")
    _insert_columns(
        con, GAPS, [r - i - 1 for i, r in enumerate(lines, 1)], list(range(1, len(lines) + 1))
    )
    select_fast = (
        f"SELECT CAST(f.rowid - {base} + 2 + coalesce(g.n, 0) AS INTEGER) AS _row, f.* "
        f"FROM {FAST} f ASOF LEFT JOIN (SELECT t, max(n) AS n FROM {GAPS} GROUP BY t) g "
        f"ON f.rowid - {base} >= g.t"
    )
    if cast:
        with tempfile.TemporaryDirectory(prefix="kpi_ingest_") as tmp:
            records = Path(tmp) / "records.csv"
            write_records(records, ncols, [r for _, r in cast])
            slow = StagedFile(
                f"read_csv({read_csv_options(records, 'csv', ncols)})", staged.headers, None, fmt
            )
            con.execute(typed_table_sql(spec, slow, hmap, SLOW))
        con.execute(f"CREATE OR REPLACE TEMP TABLE {GAPS}_m (k BIGINT, line INTEGER)")
        _insert_columns(con, f"{GAPS}_m", list(range(len(cast))), [ln for ln, _ in cast])
        slow_base_row = con.execute(f"SELECT coalesce(min(rowid), 0) FROM {SLOW}").fetchone()
        slow_base = int(slow_base_row[0]) if slow_base_row else 0
        select_slow = (
            f" UNION ALL SELECT m.line AS _row, s.* FROM {SLOW} s "
            f"JOIN {GAPS}_m m ON s.rowid - {slow_base} = m.k"
        )
    else:
        select_slow = ""
    con.execute(f"CREATE OR REPLACE TEMP TABLE {TYPED} AS {select_fast}{select_slow}")
    con.execute(f"CREATE OR REPLACE TEMP VIEW {ROWS} AS SELECT rowid AS _rid, * FROM {TYPED}")
    for t in (FAST, SLOW, GAPS, f"{GAPS}_m"):
        con.execute(f"DROP TABLE IF EXISTS {t}")


def _write_file(
    con: duckdb.DuckDBPyConnection,
    staged: StagedFile,
    rel: str,
    spec: Source,
    did: int,
    now: dt.datetime,
) -> tuple[tuple[int, int, int], list[str], list[str]]:
    notes = list(staged.notes)

    key_t = ", ".join(q("t_" + k) for k in spec.key)
    src = lit(spec.name)
    rel_l = lit(rel)
    # one scan: counts, and a cheap exact test for duplicate keys (distinct 64-bit key
    # hashes; only when two hashes are equal are the real keys compared, below)
    row = con.execute(
        f"SELECT count(*), count(*) FILTER (WHERE _err <> ''), "
        f"count(*) FILTER (WHERE _err = '') - count(DISTINCT _kh) FILTER (WHERE _err = '') "
        f"FROM {TYPED}"
    ).fetchone()
    assert row is not None
    n_staged, n_bad, same_hash = int(row[0]), int(row[1]), int(row[2])
    if n_bad:
        con.execute(
            f"INSERT INTO audit.quarantine SELECT {src}, {rel_l}, _row, _raw, "
            f"split_part(_err, {RS}, 1), {problems_message_sql(rel)}, {did}, ? "
            f"FROM {ROWS} WHERE _err <> '' ORDER BY _row",
            [now],
        )
    for pr in staged.pre_rejects:
        con.execute(
            "INSERT INTO audit.quarantine VALUES (?, ?, ?, ?, 'wrong_field_count', ?, ?, ?)",
            [
                spec.name,
                rel,
                pr.row,
                json.dumps({"_line": pr.raw_line}, ensure_ascii=False),
                pr.message,
                did,
                now,
            ],
        )
    n_bad += len(staged.pre_rejects)
    n_read = n_staged + len(staged.pre_rejects)
    n_good = n_read - n_bad

    has_dups = False
    if same_hash:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {KEYS} AS SELECT {key_t}, count(*) AS _n "
            f"FROM {TYPED} WHERE _err = '' GROUP BY ALL HAVING count(*) > 1"
        )
        dup = con.execute(f"SELECT count(*) FROM {KEYS}").fetchone()
        has_dups = bool(dup and dup[0])
    stored = con.execute(f"SELECT count(*) FROM (SELECT 1 FROM raw.{q(spec.name)} LIMIT 1)")
    has_stored = bool((stored.fetchone() or (0,))[0])
    record_pending_months(con, spec, TYPED, has_stored, did, now)
    if has_stored and _stored_keys_may_overlap(con, spec):
        key_eq = key_match(spec, "r", "n", right_prefix="t_")
        con.execute(
            f"DELETE FROM raw.{q(spec.name)} r USING (SELECT DISTINCT {key_t} FROM {TYPED} "
            f"WHERE _err = '') n WHERE {key_eq}"
        )
    cols = ", ".join(q("t_" + c.name) for c in spec.columns)
    # no ORDER BY when the file's order will do: TYPED is in file order, and sorting millions
    # of rows would cost more than the copy itself
    order = _cluster_order(con, spec)
    if order is None and has_dups:
        order = "_row"
    # within one file the later row wins, as if each row were its own delivery
    latest = (
        f"QUALIFY row_number() OVER (PARTITION BY {key_t} ORDER BY _row DESC) = 1"
        if has_dups
        else ""
    )
    insert = (
        f"INSERT INTO raw.{q(spec.name)} SELECT {cols}, _extra, {rel_l}, _row, {did}, ? "
        f"FROM {ROWS} WHERE _err = '' {latest} {f'ORDER BY {order}' if order else ''}"
    )
    if order:
        con.execute(insert, [now])
    else:
        _insert_by_row_group(con, insert, [now])
    if has_dups:
        notes.append(_superseded_note(con, spec, rel))

    row_msgs = [p.message for p in staged.pre_rejects[:MAX_ROW_MESSAGES]]
    if n_bad > len(staged.pre_rejects):
        row_msgs += [
            r[0]
            for r in con.execute(
                f"SELECT {problems_message_sql(rel)} FROM {ROWS} WHERE _err <> '' "
                f"ORDER BY _row LIMIT {MAX_ROW_MESSAGES}"
            ).fetchall()
        ]
        codes = con.execute(
            f"SELECT split_part(_err, {RS}, 1) c, count(*) FROM {TYPED} WHERE _err <> '' "
            "GROUP BY c ORDER BY c"
        ).fetchall()
    else:
        codes = []
    if staged.pre_rejects:
        codes.append(("wrong_field_count", len(staged.pre_rejects)))
    if codes:
        notes.append("quarantined: " + ", ".join(f"{c} {n}" for c, n in codes))
    if n_bad > len(row_msgs):
        row_msgs.append(
            f"{rel}: {n_bad - len(row_msgs)} more quarantined rows, see audit.quarantine "
            f"(delivery_id {did})"
        )
    return (n_read, n_good, n_bad), notes, row_msgs


def _insert_by_row_group(
    con: duckdb.DuckDBPyConnection, insert: str, parameters: list[object]
) -> None:
    """Run `insert`, a copy of the typed table in its order, without DuckDB keeping that order
    row by row. Read by both threads, a file reaches the typed table in pieces, one per CSV
    buffer, each ending in a partly filled row group. An insert that keeps the order keeps
    those row groups too and leaves them to the commit, which then checkpoints the warehouse
    (a month of a province's worklog: 1 s). Without it, each thread fills whole row groups
    from whole row groups of the typed table, each in its order: a row group holds a few
    stretches of the file (one month and a narrow run of people, for the zone maps), and
    every row keeps its file row in `_source_row`. With BUFFER_SIZE, a province year's
    ingestion took 58-59 s instead of 65-67 s (two runs each, in turns)."""
    row = con.execute("SELECT current_setting('preserve_insertion_order')").fetchone()
    kept = bool(row and row[0])
    con.execute("SET preserve_insertion_order = false")
    try:
        con.execute(insert, parameters)
    finally:
        con.execute(f"SET preserve_insertion_order = {str(kept).lower()}")


def _cluster_order(con: duckdb.DuckDBPyConnection, spec: Source) -> str | None:
    """The ORDER BY that stores a file's rows by month, then staff member (Source.cluster),
    or None when the file is in that order already (or its source has none).

    The dbt models keep the order of the rows they read instead of sorting them (sorting a
    province year's credited entries cost 16 s), and a month rebuilt for a few people finds
    their rows through the zone maps of staff_id, which point at a few row groups only when
    the rows are stored in that order. The KPI tool exports a month person by person: the
    check (one aggregate by month and person, then a window over those groups) spares the sort
    of files that are (0.1 s for a month of a province)."""
    if spec.cluster is None:
        return None
    date_column, staff_column = (q("t_" + name) for name in spec.cluster)
    month = f"date_trunc('month', {date_column})"
    row = con.execute(
        f"SELECT count(*) FROM (SELECT first_row, lag(last_row) OVER "
        f"(ORDER BY month_start, staff_id) AS previous_last_row FROM (SELECT {month} AS "
        f"month_start, {staff_column} AS staff_id, min(_row) AS first_row, max(_row) AS "
        f"last_row FROM {ROWS} WHERE _err = '' GROUP BY ALL)) "
        f"WHERE first_row < previous_last_row"
    ).fetchone()
    if not row or not row[0]:
        return None
    return f"{month}, {staff_column}, _row"


def _stored_keys_may_overlap(con: duckdb.DuckDBPyConnection, spec: Source) -> bool:
    """Whether a stored row may share its key with a valid row of the file: none can when no
    stored value of the key's first column lies between the file's smallest and largest. A
    month's worklog carries entry ids issued after the stored ones, and the zone maps answer
    from the row groups' statistics, where replacing rows with the same key hashes every key
    of the file and probes the table (0.45 s a file at a province year)."""
    first = spec.key[0]
    column = spec.column(first)
    if not column.never_null or column.sql_type != "VARCHAR":
        return True
    low, high = con.execute(
        f"SELECT min({q('t_' + first)}), max({q('t_' + first)}) FROM {TYPED} WHERE _err = ''"
    ).fetchone() or (None, None)
    if low is None:
        return False
    # literals, not parameters: the zone maps skip row groups for constant bounds
    found = con.execute(
        f"SELECT 1 FROM raw.{q(spec.name)} WHERE {q(first)} BETWEEN {lit(low)} AND {lit(high)} "
        "LIMIT 1"
    ).fetchone()
    return found is not None


def _superseded_note(con: duckdb.DuckDBPyConnection, spec: Source, rel: str) -> str:
    key_t = ", ".join(q("t_" + k) for k in spec.key)
    label = " || ', ' || ".join(
        f"{lit(k + '=')} || coalesce(CAST({q('t_' + k)} AS VARCHAR), 'NULL')" for k in spec.key
    )
    total = con.execute(f"SELECT sum(_n - 1) FROM {KEYS} WHERE _n > 1").fetchone()
    n = int(total[0]) if total and total[0] else 0
    examples = con.execute(
        f"SELECT {label}, list(_row ORDER BY _row) FROM {ROWS} WHERE _err = '' "
        f"AND ({key_t}) IN (SELECT ({key_t}) FROM {KEYS} WHERE _n > 1) "
        f"GROUP BY {key_t} ORDER BY min(_row) LIMIT 5"
    ).fetchall()
    shown = "; ".join(
        f"row{'s' if len(rows) > 2 else ''} {', '.join(map(str, rows[:-1]))} superseded by "
        f"row {rows[-1]} ({key})"
        for key, rows in examples
    )
    return (
        f"duplicate_key_in_file: {n} row{'s' if n > 1 else ''} of {rel} superseded by a later "
        f"row with the same key (counted as loaded, the later row wins): {shown}"
    )


def _quarantine_overlaps(con: duckdb.DuckDBPyConnection) -> None:
    """Two assignments of one person overlapping in time: the later-delivered one is an error.

    Rows are taken in delivery order (earlier deliveries, then this file row by row); a row
    overlapping an assignment accepted before it is quarantined and does not block the
    rows after it. The staff file is small (one row per assignment), so this rule runs in
    Python over the already typed rows.
    """
    cands = con.execute(
        f"SELECT _rid, _row, t_staff_id, t_assignment_start, t_assignment_end FROM {ROWS} "
        f"WHERE _err = '' QUALIFY row_number() OVER (PARTITION BY t_staff_id, "
        f"t_assignment_start ORDER BY _row DESC) = 1 ORDER BY _row"
    ).fetchall()
    if not cands:
        return
    existing = con.execute(
        f"""
        SELECT staff_id, assignment_start, assignment_end, _source_file, _source_row
        FROM raw.staff r
        WHERE staff_id IN (SELECT t_staff_id FROM {TYPED})
          AND NOT EXISTS (SELECT 1 FROM {TYPED} c WHERE c._err = ''
                          AND c.t_staff_id = r.staff_id
                          AND c.t_assignment_start = r.assignment_start)
        """
    ).fetchall()
    accepted: dict[str, list[tuple[dt.date, dt.date, str]]] = {}

    def span(start: dt.date, end: dt.date | None) -> str:
        return f"{start} to {end or 'ongoing'}"

    for sid, start, end, file, row in existing:
        accepted.setdefault(sid, []).append(
            (start, end or dt.date.max, f"{file} row {row} ({span(start, end)})")
        )
    bad: list[tuple[int, str]] = []
    for rid, row, sid, start, end in cands:
        stop = end or dt.date.max
        other = next((x for x in accepted.get(sid, []) if x[0] <= stop and start <= x[1]), None)
        if other is None:
            accepted.setdefault(sid, []).append(
                (start, stop, f"row {row} of this file ({span(start, end)})")
            )
        else:
            text = f"assignment {span(start, end)} overlaps {other[2]}"
            bad.append((rid, f"overlapping_assignment\x1eassignment_start\x1e{text}"))
    if bad:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {KEYS} (rid BIGINT, err VARCHAR)")
        _insert_columns(con, KEYS, [rid for rid, _ in bad], [err for _, err in bad])
        con.execute(f"UPDATE {TYPED} SET _err = k.err FROM {KEYS} k WHERE {TYPED}.rowid = k.rid")
        con.execute(f"DROP TABLE {KEYS}")
