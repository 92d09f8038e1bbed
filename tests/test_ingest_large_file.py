"""A worklog file larger than DuckDB's CSV buffer: read by both threads in pieces, it loses no
row, numbers each row as in the file, keeps a cell of several megabytes whole, and is stored in
row groups that each hold a narrow run of its people."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import duckdb

from dagster_project.ingest import ingest_source, ledger_mismatches
from dagster_project.ingest.readers import BUFFER_SIZE

SOURCE_FILE = (
    Path(__file__).resolve().parent / "fixtures" / "case-a" / "raw" / "worklog" / "worklog_1.csv"
)
LONG_DESCRIPTION = "mô tả rất dài " * 250_000  # 3.75 million characters, past DuckDB's 2 MB
BAD_EVERY = 40_000  # a row DuckDB's reader cannot cast, in every buffer
ROWS_PER_PERSON = 500
ROW_GROUP_SIZE = 122_880


def _write_worklog(path: Path) -> tuple[int, set[int], int]:
    """About three buffers of worklog rows, in month and person order: a bad declared_minutes
    every BAD_EVERY rows and the long description on the row that crosses the end of the
    first buffer. Returns the rows written, the file rows of the bad ones and the long one's."""
    with SOURCE_FILE.open(encoding="utf-8", newline="") as source:
        header, template = list(csv.reader(source))[:2]
    column = {name: i for i, name in enumerate(header)}
    line = io.StringIO()
    writer = csv.writer(line, lineterminator="\n")
    bad_rows: set[int] = set()
    long_row = 0
    size = 0
    index = 0
    with path.open("wb") as target:
        target.write((",".join(header) + "\n").encode())
        while size < 2.5 * BUFFER_SIZE:
            row = list(template)
            row[column["entry_id"]] = f"E{index:07d}"
            row[column["revision"]] = "1"
            row[column["staff_id"]] = f"KH{index // ROWS_PER_PERSON:06d}"
            file_row = index + 2
            if index and index % BAD_EVERY == 0:
                row[column["declared_minutes"]] = "ten"
                bad_rows.add(file_row)
            if not long_row and size > BUFFER_SIZE - 2_000_000:
                row[column["description"]] = LONG_DESCRIPTION
                long_row = file_row
            line.seek(0)
            line.truncate()
            writer.writerow(row)
            encoded = line.getvalue().encode()
            target.write(encoded)
            size += len(encoded)
            index += 1
    return index, bad_rows, long_row


def test_a_file_of_several_buffers_loads_every_row_at_its_file_row(tmp_path: Path) -> None:
    (tmp_path / "worklog").mkdir()
    rows, bad_rows, long_row = _write_worklog(tmp_path / "worklog" / "big.csv")
    assert len(bad_rows) >= 3 and long_row

    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"), config={"threads": 2})
    result = ingest_source(con, tmp_path, "worklog")

    assert result.failed == []
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (
        rows,
        rows - len(bad_rows),
        len(bad_rows),
    )
    assert ledger_mismatches(con) == []
    quarantined = con.execute(
        "SELECT row_number, reason_code FROM audit.quarantine ORDER BY row_number"
    ).fetchall()
    assert quarantined == [(row, "bad_integer") for row in sorted(bad_rows)]
    # each entry id names the file row it was written on
    misnumbered, loaded = con.execute(
        "SELECT count(*) FILTER (WHERE _source_row <> CAST(substr(entry_id, 2) AS INTEGER) + 2), "
        "count(*) FROM raw.worklog"
    ).fetchone() or (None, None)
    assert (misnumbered, loaded) == (0, rows - len(bad_rows))
    (description,) = con.execute(
        "SELECT description FROM raw.worklog WHERE _source_row = ?", [long_row]
    ).fetchone() or (None,)
    assert description == LONG_DESCRIPTION.strip()

    # Stored in whole row groups, each of a few stretches of the file: a row group's people
    # span at most two row groups' worth (rows in no order would span all of them).
    con.execute("CHECKPOINT")
    stats = con.execute(
        "SELECT stats FROM pragma_storage_info('raw.worklog') "
        "WHERE column_name = 'staff_id' AND segment_type = 'VARCHAR'"
    ).fetchall()
    spans = [
        int(found.group(2)) - int(found.group(1))
        for (text,) in stats
        if (found := re.search(r"Min: KH(\d+), Max: KH(\d+)", text))
    ]
    assert len(spans) == len(stats) >= 4
    assert max(spans) <= 2 * ROW_GROUP_SIZE // ROWS_PER_PERSON < rows // ROWS_PER_PERSON
