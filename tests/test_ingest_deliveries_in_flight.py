"""Files caught on their way into raw/: renamed after a first build saw them, or still being
written while a build reads them. Neither may lose a row (dagster_project/ingest/load.py)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from dagster_project.ingest import ingest_source, load, stray_entries
from tests.conftest import run_kpi

CASE_A = Path(__file__).resolve().parent / "fixtures" / "case-a" / "raw"
DELIVERED = "worklog_1.csv"  # 1,326 rows


@pytest.fixture
def raw(tmp_path: Path) -> Path:
    folder = tmp_path / "raw"
    shutil.copytree(CASE_A, folder)
    return folder


def _worklog_rows(con: duckdb.DuckDBPyConnection) -> int:
    (count,) = con.execute("select count(*) from raw.worklog").fetchone()
    return count


def _ledger(con: duckdb.DuckDBPyConnection, path: str) -> list[tuple[str, int]]:
    return con.execute(
        "select status, rows_loaded from audit.ingestion_ledger where path = ? "
        "order by delivery_id",
        [f"worklog/{path}"],
    ).fetchall()


def _rows_of_the_whole_delivery(raw: Path) -> int:
    con = duckdb.connect()
    ingest_source(con, raw, "worklog")
    return _worklog_rows(con)


@pytest.mark.parametrize(
    ("first_name", "first_status"),
    [
        ("worklog_1.txt", "unsupported"),  # a name the contract does not accept
        (".worklog_1.csv.Xk3f9a", "unsupported"),  # rsync's file before its rename
        ("worklog_1.xlsx", "rejected"),  # CSV bytes under a workbook's name: unreadable
    ],
)
def test_a_file_rejected_for_its_name_is_loaded_under_an_accepted_one(
    raw: Path, first_name: str, first_status: str
) -> None:
    whole = _rows_of_the_whole_delivery(raw)
    delivered = raw / "worklog" / DELIVERED
    renamed = delivered.rename(delivered.with_name(first_name))
    con = duckdb.connect()
    ingest_source(con, raw, "worklog")
    assert _ledger(con, first_name) == [(first_status, 0)]
    assert _worklog_rows(con) < whole

    renamed.rename(delivered)
    again = ingest_source(con, raw, "worklog")

    assert again.files_loaded == 1
    assert _ledger(con, DELIVERED) == [("loaded", 1326)]
    assert _worklog_rows(con) == whole


def test_bytes_rejected_in_the_same_format_stay_a_duplicate(raw: Path) -> None:
    """Reading them again gives the same verdict: the ledger says so once more, as before."""
    bad = "entry_id,revision\nE1,1\n"  # a worklog file missing its required columns
    (raw / "worklog" / "a_bad.csv").write_text(bad)
    con = duckdb.connect()
    ingest_source(con, raw, "worklog")
    (raw / "worklog" / "b_bad_again.csv").write_text(bad)

    ingest_source(con, raw, "worklog")

    assert _ledger(con, "a_bad.csv") == [("rejected", 0)]
    assert _ledger(con, "b_bad_again.csv") == [("skipped_duplicate", 0)]


def test_a_file_skipped_as_a_duplicate_of_an_unsupported_name_is_loaded_now(raw: Path) -> None:
    """A warehouse built before the fix holds the skip; the next build loads the file."""
    whole = _rows_of_the_whole_delivery(raw)
    delivered = raw / "worklog" / DELIVERED
    renamed = delivered.rename(delivered.with_name("worklog_1.txt"))
    con = duckdb.connect()
    ingest_source(con, raw, "worklog")
    renamed.rename(delivered)
    # what the earlier version recorded for the renamed file
    con.execute(
        "insert into audit.ingestion_ledger "
        "select (select max(delivery_id) + 1 from audit.ingestion_ledger), source, "
        "'worklog/worklog_1.csv', sha256, 'csv', 0, 0, 0, 'skipped_duplicate', "
        "'same bytes as worklog/worklog_1.txt; skipped', loaded_at "
        "from audit.ingestion_ledger where path = 'worklog/worklog_1.txt'"
    )

    ingest_source(con, raw, "worklog")

    assert [status for status, _ in _ledger(con, DELIVERED)] == ["skipped_duplicate", "loaded"]
    assert _worklog_rows(con) == whole


def _written_on_while_read(monkeypatch: pytest.MonkeyPatch, path: Path, rest: str) -> None:
    """The next read of `path` sees the file as it is; the copy writes `rest` meanwhile."""
    read = load._build_typed

    def read_while_the_copy_goes_on(con, file, *args, **kwargs):  # type: ignore[no-untyped-def]
        try:
            return read(con, file, *args, **kwargs)
        finally:
            if file == path:
                with path.open("a", encoding="utf-8") as copy:
                    copy.write(rest)
                monkeypatch.setattr(load, "_build_typed", read)

    monkeypatch.setattr(load, "_build_typed", read_while_the_copy_goes_on)


@pytest.mark.parametrize(
    "written_so_far",
    [
        lambda text: text.index("\n", len(text) // 2) + 1,  # the first half of the rows
        lambda text: 40,  # half the header: read alone, a file missing its columns
    ],
    ids=["half the rows", "half the header"],
)
def test_a_file_still_being_written_is_left_for_the_next_build(
    raw: Path, monkeypatch: pytest.MonkeyPatch, written_so_far: Callable[[str], int]
) -> None:
    whole = _rows_of_the_whole_delivery(raw)
    delivered = raw / "worklog" / DELIVERED
    text = delivered.read_text(encoding="utf-8")
    cut = written_so_far(text)
    delivered.write_text(text[:cut], encoding="utf-8")
    _written_on_while_read(monkeypatch, delivered, text[cut:])
    con = duckdb.connect()

    during = ingest_source(con, raw, "worklog")

    assert (during.files_deferred, during.files_rejected) == (1, 0)
    assert f"worklog/{DELIVERED}: changed while it was read" in "\n".join(during.messages)
    assert _ledger(con, DELIVERED) == []
    assert con.execute("select count(*) from audit.quarantine").fetchone() == (0,)
    assert _worklog_rows(con) < whole

    after = ingest_source(con, raw, "worklog")

    assert (after.files_deferred, after.files_loaded) == (0, 1)
    assert _ledger(con, DELIVERED) == [("loaded", 1326)]
    assert _worklog_rows(con) == whole


def test_half_a_header_is_rejected_when_nothing_writes_the_file(raw: Path) -> None:
    """The same bytes, left as they are: a bad file, rejected and kept as before."""
    delivered = raw / "worklog" / DELIVERED
    delivered.write_text(delivered.read_text(encoding="utf-8")[:40], encoding="utf-8")

    result = ingest_source(duckdb.connect(), raw, "worklog")

    assert (result.files_deferred, result.files_rejected) == (0, 1)


def test_kpi_build_names_the_files_it_did_not_load(raw: Path, tmp_path: Path) -> None:
    """A build that loads nothing of a file still succeeds; the person running it is told."""
    delivered = raw / "worklog" / DELIVERED
    delivered.rename(delivered.with_name("worklog_1.txt"))
    (raw / "Leave").mkdir()
    shutil.copy(raw / "leave" / "leave.csv", raw / "Leave" / "leave-2025-04.csv")

    build = run_kpi(
        "build", "--raw", str(raw), "--warehouse", str(tmp_path / "wh" / "warehouse.duckdb")
    )

    assert build.returncode == 0, build.stderr[-3000:]
    assert "Not loaded (1 file; audit.ingestion_ledger keeps the rejected ones):\n" in build.stderr
    assert "  worklog/worklog_1.txt: unsupported file type;" in build.stderr
    assert (
        f"Outside the source folders of {raw} (not loaded):\n"
        "  Leave/: not a source folder (did you mean leave/?); its 1 file(s) were not loaded"
    ) in build.stderr


def test_entries_beside_the_source_folders_are_named(raw: Path) -> None:
    (raw / "worklogs" / "2025").mkdir(parents=True)
    (raw / "worklogs" / "2025" / "05.csv").write_text("entry_id\n")
    (raw / "exports-old").mkdir()
    (raw / "worklog-2025-05.csv").write_text("entry_id\n")
    (raw / "README.md").write_text("what each folder accepts\n")
    (raw / ".DS_Store").write_bytes(b"\0")

    strays = stray_entries(raw)

    assert [line.split(":")[0] for line in strays] == [
        "exports-old/",
        "worklog-2025-05.csv",
        "worklogs/",
    ]
    assert strays[0].startswith("exports-old/: not a source folder; its 0 file(s)")
    assert strays[2].startswith("worklogs/: not a source folder (did you mean worklog/?); its 1")
    assert stray_entries(CASE_A) == []
