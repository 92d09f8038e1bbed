"""Readers: one delivered file -> an all-text DuckDB staging table.

Every reader produces the same shape, so that typing and validation (``parse.py``) is a
single SQL path for CSV, CSV.GZ and XLSX:

* a TEMP table with one VARCHAR column ``c<i>`` per column of the file, in file order;
* ``row_expr``: the SQL expression giving the row number a spreadsheet user sees
  (header = row 1, first data row = 2);
* the header texts as found in the file;
* ``pre_rejects``: rows the reader itself could not split into fields (wrong number of
  fields in a CSV row), quarantined as ``wrong_field_count``.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import gzip
import hashlib
import io
import math
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa

from .errors import FileRejected

CHUNK = 1 << 22  # 4 MiB
# Plenty for a "very long text" cell, far from DuckDB's 2 MB default that would reject it.
MAX_LINE_SIZE = 1 << 25
# DuckDB reads a CSV in buffers of 16 x max_line_size by default: 512 MB here, so one thread
# parsed any file under half a gigabyte (a month of a province's documents), and each file
# allocated half a gigabyte afresh. Buffers of the line size are read by both threads (a month
# of documents: 0.43 s -> 0.20 s; of worklog: 1.75 s -> 1.41 s); a line may span two of them.
BUFFER_SIZE = MAX_LINE_SIZE


@dataclass
class PreReject:
    row: int
    raw_line: str
    message: str


@dataclass
class StagedFile:
    """All-text rows of one file, ready for the shared SQL path.

    ``source_sql`` is what to select from: a TEMP table, or (fast path for CSV) the
    ``read_csv(...)`` call itself, so that a clean CSV is parsed once and written once.
    ``row_expr`` gives the spreadsheet row number; None means "from the insertion order
    of the typed table" (DuckDB keeps file order with preserve_insertion_order).
    """

    source_sql: str
    headers: list[str]
    row_expr: str | None
    fmt: str
    pre_rejects: list[PreReject] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    needs_nfc: bool = True  # False: no combining marks in the file, values are NFC already


def file_format(path: Path) -> str | None:
    name = path.name.lower()
    if name.endswith(".csv.gz"):
        return "csv.gz"
    if name.endswith(".csv"):
        return "csv"
    if name.endswith(".xlsx"):
        return "xlsx"
    return None


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


# --------------------------------------------------------------------------- CSV


def _open_bytes(path: Path, fmt: str) -> io.BufferedIOBase:
    if fmt == "csv.gz":
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return path.open("rb")


def _scan_csv_bytes(path: Path, fmt: str, rel: str) -> bool:
    """Reject, before DuckDB sees it, what DuckDB would accept silently or explain badly.
    Returns whether the text may hold combining marks (then values need NFC)."""
    try:
        problem, combining = _scan_file(path, fmt, rel, None)
    except (OSError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise FileRejected("unreadable_file", f"{rel}: cannot read the file: {exc}") from exc
    if problem:
        raise problem
    return combining


def sha256_and_scan(path: Path, rel: str) -> tuple[str, FileRejected | None, bool]:
    """SHA-256 of a plain CSV and its byte checks in one read of the file."""
    h = hashlib.sha256()
    problem, combining = _scan_file(path, "csv", rel, h)
    return h.hexdigest(), problem, combining


# Lead bytes of U+0300..U+037F, the combining diacritics of NFD Vietnamese: a file without
# them is already NFC for Vietnamese text, and the costly per-value NFC can be skipped.
_COMBINING_LEADS = (b"\xcc", b"\xcd")


def _scan_file(
    path: Path, fmt: str, rel: str, h: hashlib._Hash | None
) -> tuple[FileRejected | None, bool]:
    with _open_bytes(path, fmt) as f:
        head = f.read(4)
        if h is not None:
            h.update(head)
        problem: FileRejected | None = None
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            problem = FileRejected(
                "bad_encoding", f"{rel}: file is UTF-16 encoded; save it as CSV UTF-8"
            )
        data = head
        offset = 0
        nonblank = False
        combining = False
        while data:
            if not combining:
                combining = any(b in data for b in _COMBINING_LEADS)
            if problem is None:
                pos = data.find(b"\x00")
                if pos >= 0:
                    problem = FileRejected(
                        "nul_bytes",
                        f"{rel}: NUL byte at line {_line_at(path, fmt, offset + pos)} (byte "
                        f"{offset + pos}); the file is binary or not UTF-8 text; export it again "
                        "as CSV UTF-8",
                    )
                if not nonblank and data.replace(codecs.BOM_UTF8, b"").strip():
                    nonblank = True
            if problem is not None and h is None:
                return problem, combining
            offset += len(data)
            data = f.read(CHUNK)
            if h is not None:
                h.update(data)
        if problem is None and not nonblank:
            problem = FileRejected("empty_file", f"{rel}: the file is empty (no header, no rows)")
        return problem, combining


def _line_at(path: Path, fmt: str, offset: int) -> int:
    """The line holding byte `offset`, counted in a second read of the file: counting every
    chunk's line breaks as it is hashed cost a third of the scan of a clean file (0.18 s of
    0.6 s a month's worklog at a province year), for the one byte a rejected file needs."""
    lines = 1
    with _open_bytes(path, fmt) as f:
        while offset > 0 and (data := f.read(min(CHUNK, offset))):
            lines += data.count(b"\n")
            offset -= len(data)
    return lines


def _encoding_diagnosis(path: Path, fmt: str, rel: str) -> FileRejected:
    """Locate the first invalid UTF-8 byte to tell the person where and what it is."""
    dec = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    lines = 1
    with _open_bytes(path, fmt) as f:
        while chunk := f.read(CHUNK):
            try:
                dec.decode(chunk)
            except UnicodeDecodeError as exc:
                line = lines + chunk.count(b"\n", 0, exc.start)
                bad = chunk[exc.start : exc.start + 4]
                hint = (
                    "it looks like Windows-1258/1252 or another legacy code page"
                    if any(b >= 0x80 for b in bad)
                    else "invalid byte sequence"
                )
                return FileRejected(
                    "bad_encoding",
                    f"{rel}: not valid UTF-8 at line {line} (byte {offset + exc.start}: "
                    f"{bad.hex(' ')}); {hint}; save it as CSV UTF-8",
                )
            lines += chunk.count(b"\n")
            offset += len(chunk)
    return FileRejected("bad_encoding", f"{rel}: not valid UTF-8; save it as CSV UTF-8")


def _read_csv_header(path: Path, fmt: str, rel: str) -> list[str]:
    try:
        with _open_bytes(path, fmt) as raw:
            text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
            reader = csv.reader(text, delimiter=",", quotechar='"', strict=True)
            for row in reader:
                if any(cell.strip() for cell in row):
                    return row
                # a blank first line: DuckDB would not skip it as a header, so neither do we
                break
    except UnicodeDecodeError:
        raise _encoding_diagnosis(path, fmt, rel) from None
    except csv.Error as exc:
        raise FileRejected("malformed_csv", f"{rel}: cannot read the header row: {exc}") from exc
    raise FileRejected(
        "missing_header", f"{rel}: the first line is empty; row 1 must be the header"
    )


def _classify_duckdb_error(exc: Exception, path: Path, fmt: str, rel: str) -> FileRejected | None:
    msg = str(exc)
    first = next((ln for ln in msg.splitlines() if "Line" in ln), msg.splitlines()[0])
    line = re.search(r"Line: (\d+)", msg)
    where = f" at line {line.group(1)}" if line else ""
    low = msg.lower()
    if "unicode" in low or "utf" in low or "encoding" in low:
        return _encoding_diagnosis(path, fmt, rel)
    if "unterminated quote" in low:
        return FileRejected(
            "malformed_csv",
            f"{rel}: unterminated quoted value{where}; the file is truncated or a quote is "
            "not closed",
        )
    if "expected number of columns" in low or "columns" in low and "found" in low:
        return None  # row-level problem: handled by the tolerant second pass
    if "maximum line size" in low:
        return FileRejected("malformed_csv", f"{rel}: a line{where} is longer than 32 MiB")
    return FileRejected("malformed_csv", f"{rel}: cannot parse CSV{where}: {first.strip()}")


def csv_error(exc: Exception, path: Path, fmt: str, rel: str) -> FileRejected:
    """A DuckDB error reading a CSV, as a rejection of the file naming the line."""
    return _classify_duckdb_error(exc, path, fmt, rel) or FileRejected(
        "malformed_csv", f"{rel}: cannot parse CSV: {str(exc).splitlines()[0]}"
    )


def stage_csv(
    path: Path, fmt: str, rel: str, bytes_checked: bool = False, needs_nfc: bool = True
) -> StagedFile:
    """Check the bytes and the header; the rows are read by the typed query itself."""
    if not bytes_checked:
        needs_nfc = _scan_csv_bytes(path, fmt, rel)
    headers = _read_csv_header(path, fmt, rel)
    opts = read_csv_options(path, fmt, len(headers))
    return StagedFile(
        f"read_csv({opts}, ignore_errors=true)", headers, None, fmt, needs_nfc=needs_nfc
    )


def read_csv_options(path: Path, fmt: str, ncols: int, types: dict[int, str] | None = None) -> str:
    types = types or {}
    cols = ", ".join(f"'c{i}': '{types.get(i, 'VARCHAR')}'" for i in range(ncols))
    return (
        f"{_sql_str(str(path))}, header=true, auto_detect=false, columns={{{cols}}}, "
        f"delim=',', quote='\"', escape='\"', strict_mode=true, "
        f"compression={'gzip' if fmt == 'csv.gz' else 'none'}, "
        f"max_line_size={MAX_LINE_SIZE}, buffer_size={BUFFER_SIZE}"
    )


_FIELD_COUNT = ("MISSING COLUMNS", "TOO MANY COLUMNS")


def classify_rejects(
    rejects: list[tuple[int, str, str, str]], path: Path, fmt: str, rel: str, ncols: int
) -> tuple[list[tuple[int, str]], list[PreReject]]:
    """DuckDB's rejected records (line = spreadsheet row, error type, raw record, message).

    Returns the records to re-read as text (a value DuckDB could not cast: the flexible
    SQL path decides) and the rows with a wrong number of fields; raises for a problem of
    the whole file (encoding, unterminated quote).
    """
    by_line: dict[int, list[tuple[str, str, str]]] = {}
    for line, etype, csv_line, emsg in rejects:
        by_line.setdefault(int(line), []).append((str(etype), str(csv_line), str(emsg)))
    cast: list[tuple[int, str]] = []
    pre: list[PreReject] = []
    for line in sorted(by_line):
        errs = by_line[line]
        types = {e[0] for e in errs}
        if "INVALID ENCODING" in types:
            raise _encoding_diagnosis(path, fmt, rel)
        if "UNQUOTED VALUE" in types or "UNTERMINATED QUOTE" in types:
            raise FileRejected(
                "malformed_csv",
                f"{rel}: unterminated quoted value at line {line}; the file is truncated or "
                "a quote is not closed",
            )
        field_count = [e for e in errs if e[0] in _FIELD_COUNT]
        if field_count:
            _, csv_line, emsg = field_count[0]
            pre.append(
                PreReject(
                    line,
                    csv_line,
                    f"{rel} row {line}: {emsg.strip()} (header has {ncols} columns)",
                )
            )
        elif types == {"CAST"}:
            cast.append((line, errs[0][1]))
        else:
            etype, _, emsg = errs[0]
            raise FileRejected(
                "malformed_csv",
                f"{rel}: cannot parse CSV at line {line}: {etype.lower()}: {emsg}",
            )
    return cast, pre


def write_records(path: Path, ncols: int, records: list[str]) -> None:
    """A CSV of raw records (as DuckDB kept them) under a neutral header c0..cN."""
    with path.open("w", encoding="utf-8", newline="") as f:
        f.write(",".join(f"c{i}" for i in range(ncols)) + "\n")
        for r in records:
            f.write(r if r.endswith("\n") else r + "\n")


# -------------------------------------------------------------------------- XLSX

_MIDNIGHT = dt.time(0, 0)


def _cell_text(value: object, kind: str | None) -> str | None:
    """Excel cell -> the text form the CSV path accepts."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        # Excel stores time as a fraction of a day: round away float noise
        value = (value + dt.timedelta(microseconds=500_000)).replace(microsecond=0)
        if kind == "period":
            return f"{value.year:04d}-{value.month:02d}"
        if kind == "date" and value.time() == _MIDNIGHT:
            return value.date().isoformat()
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dt.date):
        if kind == "period":
            return f"{value.year:04d}-{value.month:02d}"
        # calamine reads a date-time cell at midnight as a date, whatever its number format: in
        # a datetime column it is that midnight (its date alone would be rejected as no time)
        if kind == "datetime":
            return f"{value.isoformat()} 00:00:00"
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.strftime("%H:%M:%S")
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer():
            return str(int(value))
        return repr(value)
    return str(value)


def stage_xlsx(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    rel: str,
    table: str,
    kind_of_header: Callable[[str], str | None],
) -> StagedFile:
    from python_calamine import CalamineWorkbook

    try:
        wb = CalamineWorkbook.from_path(str(path))
        names = list(wb.sheet_names)
        if not names:
            raise FileRejected("empty_file", f"{rel}: the workbook has no sheet")
        sheet = wb.get_sheet_by_index(0)
        data = sheet.to_python(skip_empty_area=False)
    except FileRejected:
        raise
    except Exception as exc:  # calamine raises several unrelated types for broken files
        raise FileRejected(
            "corrupt_xlsx",
            f"{rel}: cannot open as an Excel workbook (.xlsx): {type(exc).__name__}: {exc}",
        ) from None
    notes = []
    if len(names) > 1:
        notes.append(
            f"{rel}: only the first sheet '{names[0]}' was read; ignored sheets: "
            + ", ".join(f"'{n}'" for n in names[1:])
        )
    # skip_empty_area=False keeps the sheet anchored at A1, so list index + 1 = Excel row
    header_idx = next((i for i, r in enumerate(data) if any(c not in (None, "") for c in r)), None)
    if header_idx is None:
        raise FileRejected("empty_file", f"{rel}: the first sheet '{names[0]}' is empty")
    if header_idx > 0:
        notes.append(
            f"{rel}: rows 1..{header_idx} of sheet '{names[0]}' are empty; "
            f"row {header_idx + 1} was read as the header"
        )

    def width(r: list[object]) -> int:
        return next((k + 1 for k in range(len(r) - 1, -1, -1) if r[k] not in (None, "")), 0)

    body = [
        (i + 1, r) for i, r in enumerate(data[header_idx + 1 :], start=header_idx + 1) if width(r)
    ]
    # cells right of the last header still count: kept as unnamed extra columns, not dropped
    ncols = max([width(data[header_idx])] + [width(r) for _, r in body])
    header_cells = list(data[header_idx]) + [None] * ncols
    headers = [_cell_text(c, None) or "" for c in header_cells[:ncols]]
    kinds = [kind_of_header(h) for h in headers]
    columns: list[list[str | None]] = [[] for _ in range(ncols)]
    row_numbers = [n for n, _ in body]
    for _, r in body:
        for j in range(ncols):
            columns[j].append(_cell_text(r[j], kinds[j]) if j < len(r) else None)
    arrays = {"_row": pa.array(row_numbers, pa.int32())}
    for j in range(ncols):
        arrays[f"c{j}"] = pa.array(columns[j], pa.string())
    arrow = pa.table(arrays)
    con.register(f"{table}_arrow", arrow)
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT * FROM {table}_arrow")
    finally:
        con.unregister(f"{table}_arrow")
    return StagedFile(table, headers, "_row", "xlsx", notes=notes)
