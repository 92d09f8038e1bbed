"""Property: whatever rows are corrupted, loaded + quarantined = read and no valid row is lost."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import duckdb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dagster_project.ingest import ingest_source, ledger_mismatches

SOURCE_FILE = (
    Path(__file__).resolve().parent / "fixtures" / "case-a" / "raw" / "worklog" / "worklog_1.csv"
)
with SOURCE_FILE.open(encoding="utf-8", newline="") as _f:
    _ALL = list(csv.reader(_f))
HEADER, ROWS = _ALL[0], _ALL[1:41]  # 40 valid rows with distinct keys
COL = {name: i for i, name in enumerate(HEADER)}

# (column, value, reason code) - each makes a valid row invalid in exactly one way
CORRUPTIONS = [
    ("work_date", "31/02/2025", "bad_date"),
    ("work_date", "03/03/25", "bad_date"),
    ("quantity", "-1", "out_of_range"),
    ("quantity", "1,5,0", "bad_decimal"),
    ("declared_minutes", "1441", "out_of_range"),
    ("declared_minutes", "ten", "bad_integer"),
    ("status", "finished", "unknown_enum"),
    ("entry_id", "  ", "missing_required"),
    ("submitted_at", "17:00", "bad_datetime"),
    ("revision", "0", "out_of_range"),
]


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    corrupted=st.dictionaries(
        st.integers(min_value=0, max_value=len(ROWS) - 1),
        st.integers(min_value=0, max_value=len(CORRUPTIONS) - 1),
        max_size=len(ROWS),
    ),
    crlf=st.booleans(),
)
def test_corrupted_rows_are_quarantined_and_valid_rows_loaded(
    tmp_path_factory, corrupted: dict[int, int], crlf: bool
) -> None:  # type: ignore[no-untyped-def]
    raw = tmp_path_factory.mktemp("raw")
    rows = [list(r) for r in ROWS]
    for i, c in corrupted.items():
        column, value, _ = CORRUPTIONS[c]
        rows[i][COL[column]] = value
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n" if crlf else "\n").writerows([HEADER, *rows])
    (raw / "worklog").mkdir()
    (raw / "worklog" / "w.csv").write_text(buf.getvalue(), encoding="utf-8")

    con = duckdb.connect()
    result = ingest_source(con, raw, "worklog")

    assert result.rows_read == len(ROWS)
    assert result.rows_loaded + result.rows_quarantined == result.rows_read
    assert ledger_mismatches(con) == []
    quarantined = dict(
        con.execute("SELECT row_number, reason_code FROM audit.quarantine").fetchall()
    )
    assert quarantined == {i + 2: CORRUPTIONS[c][2] for i, c in corrupted.items()}
    loaded = con.execute(
        "SELECT _source_row, entry_id, declared_minutes FROM raw.worklog ORDER BY 1"
    ).fetchall()
    expected = [
        (i + 2, r[COL["entry_id"]], int(r[COL["declared_minutes"]]))
        for i, r in enumerate(ROWS)
        if i not in corrupted
    ]
    assert loaded == expected
