"""One test per bad input of ``tests/bad_inputs/`` (see its README) plus XLSX cases.

Each test asserts the reason recorded, that the other rows or files were loaded, and that
the ledger reconciles (rows_read = rows_loaded + rows_quarantined).
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pytest
import xlsxwriter

from dagster_project.ingest import SourceResult, ingest_source, ledger_mismatches

BAD = Path(__file__).resolve().parent / "bad_inputs"


@dataclass(frozen=True)
class Expect:
    status: str  # ledger status of the file
    reason: str | None = None  # file-level reason code, or the code of every quarantined row
    quarantined: dict[int, str] = field(default_factory=dict)  # row number -> reason code
    loaded_rows: tuple[int, ...] = ()  # _source_row of the rows in the raw table
    message: str = ""  # a fragment of the ledger message


CASES: dict[str, Expect] = {
    "bad_date_31_02": Expect("loaded", quarantined={3: "bad_date"}, loaded_rows=(2, 4)),
    "two_digit_year": Expect("loaded", quarantined={3: "bad_date"}, loaded_rows=(2, 4)),
    "time_without_date": Expect("loaded", quarantined={3: "bad_datetime"}, loaded_rows=(2, 4)),
    "negative_quantity": Expect("loaded", quarantined={3: "out_of_range"}, loaded_rows=(2, 4)),
    "zero_quantity": Expect("loaded", quarantined={3: "out_of_range"}, loaded_rows=(2, 4)),
    "minutes_over_1440": Expect("loaded", quarantined={3: "out_of_range"}, loaded_rows=(2, 4)),
    "revision_zero": Expect("loaded", quarantined={3: "out_of_range"}, loaded_rows=(2, 4)),
    "unknown_enum": Expect("loaded", quarantined={3: "unknown_enum"}, loaded_rows=(2, 4)),
    "missing_key": Expect("loaded", quarantined={3: "missing_required"}, loaded_rows=(2, 4)),
    "bad_decimal": Expect("loaded", quarantined={3: "bad_decimal"}, loaded_rows=(2, 4)),
    "bad_integer": Expect("loaded", quarantined={3: "bad_integer"}, loaded_rows=(2, 4)),
    "decimal_comma_and_labels": Expect("loaded", loaded_rows=(2, 3, 4)),
    "duplicate_key_in_file": Expect(
        "loaded", loaded_rows=(3, 4), message="duplicate_key_in_file: 1 row"
    ),
    "truncated_csv": Expect("rejected", "malformed_csv", message="unterminated quoted value"),
    "wrong_delimiter": Expect("rejected", "missing_column", message="wrong delimiter?"),
    "duplicate_header": Expect("rejected", "duplicate_column", message="both mean entry_id"),
    "extra_columns": Expect("loaded", loaded_rows=(2, 3, 4), message="'Ghi chú', 'column_16'"),
    "missing_required_column": Expect(
        "rejected", "missing_column", message="missing required column staff_id"
    ),
    "empty_file": Expect("rejected", "empty_file", message="empty"),
    "header_only": Expect("loaded", message="0 rows read"),
    "utf16": Expect("rejected", "bad_encoding", message="UTF-16"),
    "windows_1258": Expect("rejected", "bad_encoding", message="not valid UTF-8 at line 2"),
    "invalid_utf8": Expect("rejected", "bad_encoding", message="not valid UTF-8 at line 3"),
    "nul_bytes": Expect("rejected", "nul_bytes", message="NUL byte at line 3"),
    "corrupt_xlsx": Expect("rejected", "corrupt_xlsx", message="cannot open as an Excel"),
    "unsupported_file": Expect("unsupported", "unsupported_file", message="unsupported file"),
    "wrong_field_count": Expect(
        "loaded",
        quarantined={3: "wrong_field_count", 5: "wrong_field_count"},
        loaded_rows=(2, 4, 6),
    ),
    "very_long_text": Expect("loaded", loaded_rows=(2, 3, 4)),
    "gzip_csv": Expect("loaded", loaded_rows=(2, 3)),
    "bom_and_crlf": Expect("loaded", loaded_rows=(2, 3)),
    "vietnamese_headers_nfd": Expect("loaded", loaded_rows=(2, 3)),
    "end_before_start": Expect("loaded", quarantined={3: "end_before_start"}, loaded_rows=(2, 4)),
    "list_only_empty_items": Expect(
        "loaded", quarantined={3: "missing_required"}, loaded_rows=(2,)
    ),
    "leave_end_before_start": Expect(
        "loaded", quarantined={3: "end_before_start"}, loaded_rows=(2,)
    ),
    "bad_bool": Expect("loaded", quarantined={3: "bad_bool"}, loaded_rows=(2, 4)),
    "half_day_multi_day": Expect("loaded", quarantined={3: "half_day_multi_day"}, loaded_rows=(2,)),
    "bad_period": Expect("loaded", quarantined={3: "bad_period"}, loaded_rows=(2, 4)),
    "score_out_of_range": Expect(
        "loaded", quarantined={3: "out_of_range", 4: "out_of_range"}, loaded_rows=(2,)
    ),
    "negative_headcount": Expect("loaded", quarantined={3: "out_of_range"}, loaded_rows=(2,)),
    "zero_standard_minutes": Expect("loaded", quarantined={3: "out_of_range"}, loaded_rows=(2, 4)),
    "overlapping_assignment": Expect(
        "loaded", quarantined={3: "overlapping_assignment"}, loaded_rows=(2, 4)
    ),
    "assignment_end_before_start": Expect(
        "loaded", quarantined={2: "end_before_start"}, loaded_rows=(3,)
    ),
    "bad_agency_type": Expect("loaded", quarantined={3: "unknown_enum"}, loaded_rows=(2,)),
}


def _source_of(case_dir: Path) -> str:
    (source,) = [p.name for p in case_dir.iterdir() if p.is_dir()]
    return source


def check(con: duckdb.DuckDBPyConnection, source: str, result: SourceResult, exp: Expect) -> None:
    ledger = con.execute(
        "SELECT status, rows_read, rows_loaded, rows_quarantined, message, delivery_id "
        "FROM audit.ingestion_ledger ORDER BY delivery_id"
    ).fetchall()
    assert len(ledger) == 1, ledger
    status, read, loaded, quarantined, message, did = ledger[0]
    assert status == exp.status, message
    assert exp.message in message
    assert ledger_mismatches(con) == []
    assert read == loaded + quarantined
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (
        read,
        loaded,
        quarantined,
    )
    q = con.execute(
        "SELECT row_number, reason_code, message, delivery_id, raw_values "
        "FROM audit.quarantine ORDER BY row_number"
    ).fetchall()
    if exp.status != "loaded":
        assert [(r[0], r[1]) for r in q] == [(None, exp.reason)]
        assert result.files_rejected == 1 and result.files_loaded == 0
        assert exp.message in q[0][2] and exp.message in " ".join(result.messages)
        return
    assert {r[0]: r[1] for r in q} == exp.quarantined
    for row_number, _, msg, qdid, raw_values in q:
        assert f"row {row_number}" in msg  # the message names the file and the row
        assert source in msg
        assert qdid == did
        assert json.loads(raw_values)
    rows = con.execute(f"SELECT _source_row FROM raw.{source} ORDER BY _source_row").fetchall()
    assert tuple(r[0] for r in rows) == exp.loaded_rows


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input(case: str) -> None:
    case_dir = BAD / case
    source = _source_of(case_dir)
    con = duckdb.connect()
    result = ingest_source(con, case_dir, source)
    check(con, source, result, CASES[case])


def test_catalogue_is_complete() -> None:
    on_disk = {p.name for p in BAD.iterdir() if p.is_dir()}
    assert on_disk == set(CASES)
    readme = (BAD / "README.md").read_text(encoding="utf-8")
    for case in CASES:
        assert f"`{case}`" in readme, case


# ------------------------------------------------------------------ value checks


def _rows(case: str, sql: str) -> list[tuple[object, ...]]:
    case_dir = BAD / case
    con = duckdb.connect()
    ingest_source(con, case_dir, _source_of(case_dir))
    return con.execute(sql).fetchall()


def test_labels_decimal_comma_and_lists_are_normalised() -> None:
    rows = _rows(
        "decimal_comma_and_labels",
        "SELECT quantity, status, work_date, submitted_at, document_ref FROM raw.worklog "
        "ORDER BY _source_row",
    )
    assert rows == [
        (1.5, "approved", dt.date(2025, 3, 3), dt.datetime(2025, 3, 3, 17, 0), None),
        (1.0, "submitted", dt.date(2025, 3, 4), dt.datetime(2025, 3, 4, 17, 5), None),
        (1.0, "cancelled", dt.date(2025, 3, 3), dt.datetime(2025, 3, 3, 17, 0),
         "125/STC-NS;126/STC-NS"),
    ]  # fmt: skip


def test_vietnamese_nfd_headers_and_defaults() -> None:
    rows = _rows(
        "vietnamese_headers_nfd", "SELECT entry_id, revision, quantity FROM raw.worklog ORDER BY 1"
    )
    assert rows == [("E00001", 1, 1.0), ("E00002", 1, 1.0)]


def test_extra_columns_kept_as_json() -> None:
    rows = _rows("extra_columns", "SELECT _extra FROM raw.worklog ORDER BY _source_row")
    assert [json.loads(r[0]) for r in rows] == [{"Ghi chú": f"note {i}"} for i in range(3)]


def test_very_long_text_kept_whole() -> None:
    rows = _rows("very_long_text", "SELECT max(length(description)) FROM raw.worklog")
    assert rows[0][0] == len("dài " * 300_000) - 1  # trimmed


def test_list_with_empty_items_is_normalised() -> None:
    rows = _rows("list_only_empty_items", "SELECT participant_staff_ids FROM raw.events")
    assert rows == [("KH001;KH002",)]


def test_duplicate_key_in_file_keeps_later_row() -> None:
    rows = _rows("duplicate_key_in_file", "SELECT entry_id, declared_minutes FROM raw.worklog")
    assert sorted(rows) == [("E00001", 99), ("E00003", 30)]  # row 3 (99) beats row 2


def test_wrong_field_count_keeps_raw_line() -> None:
    rows = _rows(
        "wrong_field_count",
        "SELECT row_number, raw_values FROM audit.quarantine ORDER BY row_number",
    )
    assert json.loads(rows[1][1]) == {"_line": "E00004,1,KH001"}


# ------------------------------------------------------------------------- XLSX

WORKLOG_HEADER = [
    "entry_id", "revision", "staff_id", "work_date", "task_code", "stage_code", "quantity",
    "declared_minutes", "description", "document_ref", "status", "submitted_at", "reviewed_by",
    "reviewed_at",
]  # fmt: skip


def _write_xlsx(path: Path, build) -> None:  # type: ignore[no-untyped-def]
    path.parent.mkdir(parents=True, exist_ok=True)
    wb = xlsxwriter.Workbook(str(path))
    build(wb)
    wb.close()


def _worklog_row(ws, wb, r: int, entry: str, date_fmt) -> None:  # type: ignore[no-untyped-def]
    ws.write_string(r, 0, entry)
    ws.write_number(r, 1, 1)
    ws.write_string(r, 2, "KH001")
    ws.write_datetime(r, 3, dt.datetime(2025, 3, 3), date_fmt)
    ws.write_string(r, 4, "T04")
    ws.write_formula(r, 6, "=1+1", None, 2)  # cached value 2
    ws.write_string(r, 7, "45")  # number stored as text
    ws.write_string(r, 10, "Đã duyệt")
    ws.write_datetime(r, 11, dt.datetime(2025, 3, 3, 17, 30), date_fmt)


def _ingest_one(tmp_path: Path) -> tuple[duckdb.DuckDBPyConnection, SourceResult]:
    con = duckdb.connect()
    return con, ingest_source(con, tmp_path, "worklog")


def test_xlsx_several_sheets_formulas_dates_and_text_numbers(tmp_path: Path) -> None:
    def build(wb) -> None:  # type: ignore[no-untyped-def]
        fmt = wb.add_format({"num_format": "dd/mm/yyyy hh:mm"})
        ws = wb.add_worksheet("Nhật ký")
        ws.write_row(0, 0, WORKLOG_HEADER)
        _worklog_row(ws, wb, 1, "X1", fmt)
        _worklog_row(ws, wb, 2, "X2", fmt)
        other = wb.add_worksheet("Hướng dẫn")
        other.write_row(0, 0, ["not", "data"])

    _write_xlsx(tmp_path / "worklog" / "w.xlsx", build)
    con, result = _ingest_one(tmp_path)
    assert "only the first sheet 'Nhật ký' was read; ignored sheets: 'Hướng dẫn'" in " ".join(
        result.messages
    )
    rows = con.execute(
        "SELECT entry_id, work_date, quantity, declared_minutes, status, submitted_at, "
        "_source_row FROM raw.worklog ORDER BY 1"
    ).fetchall()
    assert rows[0] == ("X1", dt.date(2025, 3, 3), 2.0, 45, "approved",
                       dt.datetime(2025, 3, 3, 17, 30), 2)  # fmt: skip
    assert len(rows) == 2 and ledger_mismatches(con) == []
    assert con.execute("SELECT format FROM audit.ingestion_ledger").fetchone() == ("xlsx",)


def test_a_quantity_above_100000_is_quarantined_as_out_of_range(tmp_path: Path) -> None:
    """The warehouse counts credited minutes as fixed-point numbers: a quantity (or a norm)
    above 100,000 is a typo that would not fit them, and is kept in quarantine with its
    reason."""
    worklog = tmp_path / "worklog" / "w.csv"
    worklog.parent.mkdir(parents=True)
    worklog.write_text(
        "entry_id,staff_id,work_date,task_code,quantity,status\n"
        "E1,KH001,2025-03-03,T01,100000,approved\n"
        "E2,KH001,2025-03-03,T01,100000.5,approved\n"
        "E3,KH001,2025-03-03,T01,1e12,approved\n",
        encoding="utf-8",
    )
    con, _ = _ingest_one(tmp_path)
    assert con.execute("SELECT entry_id, quantity FROM raw.worklog").fetchall() == [
        ("E1", 100_000.0)
    ]
    quarantined = con.execute(
        "SELECT row_number, reason_code, message FROM audit.quarantine ORDER BY row_number"
    ).fetchall()
    assert [(row, reason) for row, reason, _ in quarantined] == [
        (3, "out_of_range"),
        (4, "out_of_range"),
    ]
    assert "<= 100000" in quarantined[0][2]


def test_xlsx_date_time_cells_at_midnight_are_that_midnight(tmp_path: Path) -> None:
    """A date-time cell whose time is 00:00 (a submission stamped at midnight) reads as the
    same value a CSV export of it holds, not as a date that a datetime column rejects."""

    def build(wb) -> None:  # type: ignore[no-untyped-def]
        ws = wb.add_worksheet()
        ws.write_row(0, 0, WORKLOG_HEADER)
        for row, num_format in ((1, "yyyy-mm-dd hh:mm:ss"), (2, "dd/mm/yyyy")):
            fmt = wb.add_format({"num_format": num_format})
            _worklog_row(ws, wb, row, f"X{row}", fmt)
            ws.write_datetime(row, 11, dt.datetime(2025, 3, 4), fmt)
            ws.write_datetime(row, 13, dt.datetime(2025, 3, 5, 0, 0), fmt)

    _write_xlsx(tmp_path / "worklog" / "w.xlsx", build)
    con, _ = _ingest_one(tmp_path)
    assert con.execute("SELECT count(*) FROM audit.quarantine").fetchone() == (0,)
    rows = con.execute(
        "SELECT entry_id, work_date, submitted_at, reviewed_at FROM raw.worklog ORDER BY 1"
    ).fetchall()
    assert rows == [
        ("X1", dt.date(2025, 3, 3), dt.datetime(2025, 3, 4), dt.datetime(2025, 3, 5)),
        ("X2", dt.date(2025, 3, 3), dt.datetime(2025, 3, 4), dt.datetime(2025, 3, 5)),
    ]


def test_xlsx_empty_first_row_keeps_excel_row_numbers(tmp_path: Path) -> None:
    def build(wb) -> None:  # type: ignore[no-untyped-def]
        fmt = wb.add_format({"num_format": "yyyy-mm-dd"})
        ws = wb.add_worksheet()
        ws.write_row(1, 0, WORKLOG_HEADER)
        _worklog_row(ws, wb, 2, "X1", fmt)
        ws.write_string(3, 0, "X2")  # a row with a bad date string
        ws.write_string(3, 2, "KH001")
        ws.write_string(3, 3, "31/02/2025")
        ws.write_string(3, 4, "T04")
        ws.write_string(3, 10, "approved")

    _write_xlsx(tmp_path / "worklog" / "w.xlsx", build)
    con, result = _ingest_one(tmp_path)
    assert con.execute("SELECT _source_row FROM raw.worklog").fetchall() == [(3,)]
    q = con.execute("SELECT row_number, reason_code FROM audit.quarantine").fetchall()
    assert q == [(4, "bad_date")]
    assert "row 2 was read as the header" in " ".join(result.messages)
    assert ledger_mismatches(con) == []


def test_xlsx_merged_header_cells_become_extra_columns(tmp_path: Path) -> None:
    def build(wb) -> None:  # type: ignore[no-untyped-def]
        fmt = wb.add_format({"num_format": "yyyy-mm-dd"})
        ws = wb.add_worksheet()
        ws.write_row(0, 0, WORKLOG_HEADER)
        ws.merge_range(0, 14, 0, 15, "Ghi chú")
        _worklog_row(ws, wb, 1, "X1", fmt)
        ws.write_string(1, 14, "a")
        ws.write_string(1, 15, "b")

    _write_xlsx(tmp_path / "worklog" / "w.xlsx", build)
    con, result = _ingest_one(tmp_path)
    (extra,) = con.execute("SELECT _extra FROM raw.worklog").fetchone()  # type: ignore[misc]
    assert json.loads(extra) == {"Ghi chú": "a", "column_16": "b"}
    assert result.rows_loaded == 1 and ledger_mismatches(con) == []


def test_xlsx_missing_required_column_rejected(tmp_path: Path) -> None:
    def build(wb) -> None:  # type: ignore[no-untyped-def]
        ws = wb.add_worksheet()
        ws.write_row(0, 0, ["entry_id", "work_date"])
        ws.write_row(1, 0, ["X1", "2025-03-03"])

    _write_xlsx(tmp_path / "worklog" / "w.xlsx", build)
    (tmp_path / "worklog" / "z.csv").write_text(
        ",".join(WORKLOG_HEADER) + "\nE1,1,KH001,2025-03-03,T04,,1,30,,,approved,,,\n",
        encoding="utf-8",
    )
    con, result = _ingest_one(tmp_path)
    assert result.files_rejected == 1 and result.files_loaded == 1  # the other file loads
    q = con.execute("SELECT path, reason_code FROM audit.quarantine").fetchall()
    assert q == [("worklog/w.xlsx", "missing_column")]
    assert con.execute("SELECT count(*) FROM raw.worklog").fetchone() == (1,)


def test_bad_files_do_not_stop_the_good_ones(tmp_path: Path) -> None:
    for case in ("utf16", "truncated_csv", "bad_date_31_02", "unsupported_file"):
        src = BAD / case / "worklog"
        for f in src.iterdir():
            dst = tmp_path / "worklog" / f"{case}_{f.name}"
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(f, dst)
    con, result = _ingest_one(tmp_path)
    assert (result.files_seen, result.files_loaded, result.files_rejected) == (4, 1, 3)
    assert result.rows_loaded == 2 and result.rows_quarantined == 1
    assert ledger_mismatches(con) == []


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz"])
def test_nul_byte_past_the_first_chunk_names_its_line(tmp_path: Path, suffix: str) -> None:
    # The scan reads 4 MiB at a time and counts lines only once it finds the byte: the line
    # number must still count the chunks before it.
    row = "E{},1,KH001,2025-03-03,T04,,1,30,{},,approved,,,\n"
    rows = [row.format(i, "x" * 60) for i in range(60_000)]
    rows[50_000] = row.format(50_000, "bad\x00byte")
    text = ",".join(WORKLOG_HEADER) + "\n" + "".join(rows)
    path = tmp_path / "worklog" / f"w{suffix}"
    path.parent.mkdir(parents=True)
    data = text.encode("utf-8")
    nul_offset = data.index(b"\x00")
    assert nul_offset > 1 << 22  # past the first 4 MiB chunk
    path.write_bytes(gzip.compress(data) if suffix == ".csv.gz" else data)
    con, result = _ingest_one(tmp_path)
    assert result.files_rejected == 1
    (message,) = con.execute("SELECT message FROM audit.ingestion_ledger").fetchone()  # type: ignore[misc]
    assert f"NUL byte at line 50002 (byte {nul_offset})" in message
