"""The acceptance case rewritten into the contract's other forms must give the same marts.

Forms: Vietnamese headers (one file in NFD), XLSX with real date cells, UTF-8 BOM,
`DD/MM/YYYY` dates, quoted decimal commas, Vietnamese enum labels, `.csv.gz`, the worklog split
into several files, and the same bytes re-delivered under another name.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import shutil
import unicodedata
from pathlib import Path

import pytest
import xlsxwriter

from dagster_project.ingest import CONTRACT
from tests.conftest import ACCEPTANCE_CASE, run_kpi
from tests.test_acceptance import EXPECTED, MART_KEYS, _mart_rows, _same


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _vietnamese(source: str, row: dict[str, str], day_first: bool = True) -> dict[str, str]:
    """Vietnamese headers, enum labels, DD/MM/YYYY dates and decimal commas."""
    spec = CONTRACT[source]
    out: dict[str, str] = {}
    for column in spec.columns:
        value = row.get(column.name, "")
        if value and column.kind == "enum" and column.enum.get(value):
            value = column.enum[value][0]
        elif value and column.kind in ("date", "datetime") and day_first:
            date_part, _, time_part = value.partition(" ")
            year, month, day = date_part.split("-")
            value = f"{day}/{month}/{year}" + (f" {time_part}" if time_part else "")
        elif value and column.kind == "decimal" and "." in value:
            value = value.replace(".", ",")
        out[column.label] = value
    return out


def _write_csv(
    path: Path, rows: list[dict[str, str]], bom: bool = False, nfd: bool = False
) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    text = buffer.getvalue()
    if nfd:
        text = unicodedata.normalize("NFD", text)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))


def _write_xlsx(path: Path, source: str, rows: list[dict[str, str]]) -> None:
    """Vietnamese headers and real Excel date cells."""
    spec = CONTRACT[source]
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet("Dữ liệu")
    date_format = workbook.add_format({"num_format": "dd/mm/yyyy"})
    for col, column in enumerate(spec.columns):
        sheet.write_string(0, col, column.label)
    for row_number, row in enumerate(rows, start=1):
        for col, column in enumerate(spec.columns):
            value = row.get(column.name, "")
            if not value:
                continue
            if column.kind == "date":
                sheet.write_datetime(row_number, col, dt.datetime.fromisoformat(value), date_format)
            elif column.kind == "enum" and column.enum.get(value):
                sheet.write_string(row_number, col, column.enum[value][0])
            else:
                sheet.write_string(row_number, col, value)
    workbook.close()


def _rewrite_case(target: Path) -> None:
    source_dir = ACCEPTANCE_CASE / "raw"
    # agencies, positions, staff, tasks: XLSX with date cells and Vietnamese labels
    for source in ("agencies", "positions", "staff", "tasks"):
        rows = _read(source_dir / source / f"{source}.csv")
        _write_xlsx(target / source / f"{source}.xlsx", source, rows)
    # documents: Vietnamese headers and labels, DD/MM/YYYY, with a BOM
    _write_csv(
        target / "documents" / "so-van-ban.csv",
        [_vietnamese("documents", r) for r in _read(source_dir / "documents" / "documents.csv")],
        bom=True,
    )
    # events: canonical but gzip-compressed
    (target / "events").mkdir(parents=True)
    with gzip.open(target / "events" / "events.csv.gz", "wb") as handle:
        handle.write((source_dir / "events" / "events.csv").read_bytes())
    # leave and evaluations: Vietnamese headers in NFD (as some exports write them)
    for source in ("leave", "evaluations"):
        _write_csv(
            target / source / f"{source}.csv",
            [_vietnamese(source, r) for r in _read(source_dir / source / f"{source}.csv")],
            nfd=True,
        )
    # worklog: split in three deliveries of different forms, one delivered twice
    rows = _read(source_dir / "worklog" / "worklog_1.csv")
    first, second, third = rows[:500], rows[500:1000], rows[1000:]
    _write_csv(
        target / "worklog" / "a_2025-03.csv", [_vietnamese("worklog", r) for r in first], bom=True
    )
    _write_csv(target / "worklog" / "b_2025-04.csv", second)
    _write_xlsx(target / "worklog" / "c_corrections.xlsx", "worklog", third)
    shutil.copyfile(target / "worklog" / "a_2025-03.csv", target / "worklog" / "d_resent.csv")
    shutil.copyfile(source_dir / "worklog" / "worklog_2.csv", target / "worklog" / "e_late.csv")


@pytest.fixture(scope="module")
def rewritten_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("forms")
    _rewrite_case(root / "raw")
    warehouse = root / "warehouse.duckdb"
    result = run_kpi("build", "--raw", str(root / "raw"), "--warehouse", str(warehouse))
    assert result.returncode == 0, result.stderr[-4000:]
    return warehouse


@pytest.mark.parametrize("mart", sorted(MART_KEYS))
def test_other_forms_give_the_same_marts(rewritten_warehouse: Path, mart: str) -> None:
    actual = _mart_rows(rewritten_warehouse, mart)
    expected = {tuple(row[k] for k in MART_KEYS[mart]): row for row in EXPECTED[mart]}
    assert set(actual) == set(expected)
    differences = [
        (key, column)
        for key, row in expected.items()
        for column, value in row.items()
        if not _same(value, actual[key].get(column))
    ]
    assert not differences, differences[:20]


def test_the_resent_file_is_skipped_and_nothing_is_quarantined_but_the_overlap(
    rewritten_warehouse: Path,
) -> None:
    import duckdb

    with duckdb.connect(str(rewritten_warehouse), read_only=True) as con:
        statuses = dict(
            con.execute(
                "select path, status from audit.ingestion_ledger where source = 'worklog'"
            ).fetchall()
        )
        reasons = con.execute("select reason_code from audit.quarantine").fetchall()
    assert statuses["worklog/d_resent.csv"] == "skipped_duplicate"
    assert reasons == [("overlapping_assignment",)]
