"""The leadership Excel extracts: every workbook is opened with openpyxl and checked against the
marts of the acceptance warehouse (tests/fixtures/case-a, built once per session)."""

from __future__ import annotations

import datetime as dt
import json
import math
import shutil
from pathlib import Path
from typing import Any

import duckdb
import openpyxl
import pytest
from openpyxl.workbook.workbook import Workbook as OpenpyxlWorkbook
from openpyxl.worksheet.worksheet import Worksheet

from dagster_project.extracts import (
    ExtractError,
    ExtractManifest,
    parse_period,
    write_extracts,
)
from dagster_project.extracts.manifest import sha256_of

PERIODS = {"2025-03": ("month", dt.date(2025, 3, 1)), "2025-Q2": ("quarter", dt.date(2025, 4, 1))}
AGENCY_SHEETS = ["Bìa", "Tổng quan", "Cá nhân", "Biên chế"]
PROVINCE_SHEETS = ["Bìa", "Tổng quan", "Biên chế", "Xếp loại"]
HEADLINE_LABELS = {
    "Số công chức có giờ khả dụng": "staff_count",
    "Giờ khả dụng": "available_hours",
    "Giờ được ghi nhận": "credited_hours",
    "Ngày công chuẩn": "fde",
    "Bình quân giờ được ghi nhận/ngày": "avg_daily_hours",
    "Số người trên 8 giờ/ngày": "staff_over",
    "Số người đạt 8 giờ/ngày": "staff_meets",
    "Số người dưới 8 giờ/ngày": "staff_under",
    "Tỷ lệ minh chứng": "evidence_rate",
    "Tỷ lệ kê khai": "declaration_coverage",
}
PERSON_COLUMNS = {
    "Giờ khả dụng": "available_hours",
    "Giờ được ghi nhận": "credited_hours",
    "Bình quân giờ/ngày": "avg_daily_hours",
    "Tỷ lệ minh chứng": "evidence_rate",
    "Số bản ghi": "entry_count",
    "Điểm kết quả nhiệm vụ (70)": "task_score",
    "Tổng điểm (100)": "total_score",
    "Xếp loại sau áp tỷ lệ": "final_classification",
}
HOURS_STATUS = {"over": "Trên 8 giờ", "meets": "Đạt 8 giờ", "under": "Dưới 8 giờ"}


@pytest.fixture(scope="module")
def extracts(
    acceptance_warehouse: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, tuple[Path, ExtractManifest]]:
    out = tmp_path_factory.mktemp("extracts")
    return {p: (out, write_extracts(acceptance_warehouse, p, out)) for p in PERIODS}


def _query(warehouse: Path, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        cursor = con.execute(sql, params or [])
        columns = [d[0] for d in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def _mart(warehouse: Path, mart: str, period: str) -> list[dict[str, Any]]:
    kind, start = PERIODS[period]
    return _query(
        warehouse,
        f"select * from marts.{mart} where period_type = ? and period_start = ?",
        [kind, start],
    )


def _close(expected: Any, actual: Any) -> bool:
    if expected is None or actual is None:
        return expected is None and actual is None
    if isinstance(expected, int | float) and not isinstance(expected, bool):
        return isinstance(actual, int | float) and math.isclose(expected, actual, abs_tol=1e-9)
    return bool(expected == actual)


def _table(ws: Worksheet, header_row: int = 1, stop_at_blank: bool = True) -> list[dict[str, Any]]:
    headers = [c.value for c in ws[header_row]]
    rows = []
    for cells in ws.iter_rows(min_row=header_row + 1, values_only=True):
        if stop_at_blank and cells[0] is None:
            break
        rows.append({h: v for h, v in zip(headers, cells, strict=False) if h is not None})
    return rows


def _strings(wb: OpenpyxlWorkbook) -> set[str]:
    return {
        str(cell)
        for ws in wb.worksheets
        for row in ws.iter_rows(values_only=True)
        for cell in row
        if isinstance(cell, str)
    }


def _open(path: Path) -> OpenpyxlWorkbook:
    return openpyxl.load_workbook(path)


def _agency_codes(warehouse: Path, period: str) -> set[str]:
    return {
        r["agency_code"]
        for mart in ("agency_productivity", "staff_productivity", "staffing_surplus")
        for r in _mart(warehouse, mart, period)
    }


# ----------------------------------------------------------------------------------------------


def test_parse_period() -> None:
    assert parse_period("2025-03") == ("month", dt.date(2025, 3, 1))
    assert parse_period("2025-Q1") == ("quarter", dt.date(2025, 1, 1))
    assert parse_period("2025-Q4") == ("quarter", dt.date(2025, 10, 1))


@pytest.mark.parametrize(
    "period", ["2025-13", "2025-00", "2025-3", "2025-Q5", "2025-Q0", "25-03", "2025/03", "", "x"]
)
def test_malformed_period_is_an_extract_error(period: str, tmp_path: Path) -> None:
    with pytest.raises(ExtractError, match="period"):
        parse_period(period)
    with pytest.raises(ExtractError):
        write_extracts(tmp_path / "missing.duckdb", period, tmp_path / "out")


def test_period_without_data_or_warehouse_is_an_extract_error(
    acceptance_warehouse: Path, tmp_path: Path
) -> None:
    with pytest.raises(ExtractError, match="no data for 2024-01"):
        write_extracts(acceptance_warehouse, "2024-01", tmp_path / "out")
    with pytest.raises(ExtractError, match="No warehouse"):
        write_extracts(tmp_path / "missing.duckdb", "2025-03", tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("period", sorted(PERIODS))
def test_one_workbook_per_agency_and_a_manifest(
    extracts: dict[str, tuple[Path, ExtractManifest]], acceptance_warehouse: Path, period: str
) -> None:
    out, manifest = extracts[period]
    codes = _agency_codes(acceptance_warehouse, period)
    expected = {f"{period}_toan-tinh.xlsx"} | {f"{period}_{code}.xlsx" for code in codes}
    assert {f.name for f in manifest.files} == expected
    assert {p.name for p in out.glob(f"{period}_*")} == expected | {f"{period}_manifest.json"}
    on_disk = json.loads((out / f"{period}_manifest.json").read_text(encoding="utf-8"))
    assert on_disk == manifest.to_dict()
    for item in manifest.files:
        path = out / item.name
        assert sha256_of(path) == item.sha256
        assert path.stat().st_size == item.size_bytes
        wb = _open(path)
        assert wb.sheetnames == list(item.sheet_rows)
        assert wb.sheetnames == (PROVINCE_SHEETS if item.kind == "province" else AGENCY_SHEETS)
        for name in wb.sheetnames:
            assert len(name) <= 31 and not set(name) & set("[]:*?/\\")
        if item.kind == "agency":
            assert item.sheet_rows["Cá nhân"] == len(_table(wb["Cá nhân"]))
            assert item.sheet_rows["Biên chế"] == len(_table(wb["Biên chế"]))
        else:
            assert item.sheet_rows["Tổng quan"] == len(_table(wb["Tổng quan"])) - 1  # total row
            groups = _table(wb["Biên chế"])
            # Below the per-group table: one summary row per agency.
            agencies = {r["Mã cơ quan"] for r in groups}
            assert item.sheet_rows["Biên chế"] == len(groups) + len(agencies)


@pytest.mark.parametrize("period", sorted(PERIODS))
def test_agency_headline_matches_the_mart(
    extracts: dict[str, tuple[Path, ExtractManifest]], acceptance_warehouse: Path, period: str
) -> None:
    out, _ = extracts[period]
    for row in _mart(acceptance_warehouse, "agency_productivity", period):
        ws = _open(out / f"{period}_{row['agency_code']}.xlsx")["Tổng quan"]
        shown = {
            r[0]: r[1] for r in ws.iter_rows(min_row=3, max_row=12, max_col=2, values_only=True)
        }
        for label, column in HEADLINE_LABELS.items():
            assert _close(row[column], shown[label]), (period, row["agency_code"], label)


def test_stc_march_figures(
    extracts: dict[str, tuple[Path, ExtractManifest]], acceptance_warehouse: Path
) -> None:
    out, _ = extracts["2025-03"]
    (mart,) = [
        r
        for r in _mart(acceptance_warehouse, "agency_productivity", "2025-03")
        if r["agency_code"] == "STC"
    ]
    ws = _open(out / "2025-03_STC.xlsx")["Tổng quan"]
    shown = {r[0]: r[1] for r in ws.iter_rows(min_row=3, max_row=12, max_col=2, values_only=True)}
    assert shown["Bình quân giờ được ghi nhận/ngày"] == pytest.approx(mart["avg_daily_hours"])
    assert shown["Số người trên 8 giờ/ngày"] == mart["staff_over"]
    assert shown["Số người dưới 8 giờ/ngày"] == mart["staff_under"]
    # The numbers stay numeric; the reader's locale draws `5,5` from the format.
    assert ws["B7"].number_format == "0.00" and isinstance(ws["B7"].value, float)
    assert ws["B5"].number_format == "#,##0.0"
    assert ws["B11"].number_format == "0.0%"


@pytest.mark.parametrize("period", sorted(PERIODS))
def test_every_person_row_matches_the_marts(
    extracts: dict[str, tuple[Path, ExtractManifest]], acceptance_warehouse: Path, period: str
) -> None:
    out, _ = extracts[period]
    productivity = {
        (r["agency_code"], r["staff_id"]): r
        for r in _mart(acceptance_warehouse, "staff_productivity", period)
    }
    scorecard = {
        (r["agency_code"], r["staff_id"]): r
        for r in _mart(acceptance_warehouse, "kpi_scorecard", period)
    }
    shown: dict[tuple[str, str], dict[str, Any]] = {}
    for code in _agency_codes(acceptance_warehouse, period):
        for row in _table(_open(out / f"{period}_{code}.xlsx")["Cá nhân"]):
            shown[(code, row["Mã công chức"])] = row
    assert set(shown) == set(productivity) | set(scorecard)
    for key, row in shown.items():
        expected = {**scorecard.get(key, {}), **productivity.get(key, {})}
        for header, column in PERSON_COLUMNS.items():
            assert _close(expected.get(column), row[header]), (period, key, header)
        status = expected.get("hours_status")
        assert row["Mức giờ/ngày"] == HOURS_STATUS.get(status, "Không có giờ khả dụng")


def test_agency_workbooks_name_only_their_own_staff(
    extracts: dict[str, tuple[Path, ExtractManifest]], acceptance_warehouse: Path
) -> None:
    people = _query(
        acceptance_warehouse, "select distinct staff_id, full_name from staging.stg_hr__assignments"
    )
    for period in PERIODS:
        out, manifest = extracts[period]
        own_ids = {
            code: {
                r["staff_id"]
                for r in _mart(acceptance_warehouse, "staff_productivity", period)
                if r["agency_code"] == code
            }
            for code in _agency_codes(acceptance_warehouse, period)
        }
        for item in manifest.files:
            if item.kind != "agency":
                continue
            assert item.agency_code is not None
            text = _strings(_open(out / item.name))
            own = own_ids[item.agency_code]
            shown_ids = {p["staff_id"] for p in people if p["staff_id"] in text}
            shown_names = {p["staff_id"] for p in people if p["full_name"] in text}
            assert shown_ids == own, item.name
            assert shown_names <= own, item.name
            assert shown_names, item.name  # the person table carries the names


def test_march_stc_and_mttq_keep_their_staff_apart(
    extracts: dict[str, tuple[Path, ExtractManifest]],
) -> None:
    out, _ = extracts["2025-03"]
    stc = _strings(_open(out / "2025-03_STC.xlsx"))
    mttq = _strings(_open(out / "2025-03_MTTQ.xlsx"))
    assert "Nguyễn Văn An" in stc and "Nguyễn Văn An" not in mttq  # KH001, STC only
    assert "Võ Thị Phương" in mttq and "Võ Thị Phương" not in stc  # KH006, MTTQ only
    assert "Bùi Thị Hạnh" not in stc | mttq  # KH008, UBND-CL


@pytest.mark.parametrize("period", sorted(PERIODS))
def test_province_summary_has_counts_but_no_names(
    extracts: dict[str, tuple[Path, ExtractManifest]], acceptance_warehouse: Path, period: str
) -> None:
    out, _ = extracts[period]
    wb = _open(out / f"{period}_toan-tinh.xlsx")
    text = " ".join(_strings(wb))
    for person in _query(
        acceptance_warehouse, "select distinct staff_id, full_name from staging.stg_hr__assignments"
    ):
        assert person["full_name"] not in text
        assert person["staff_id"] not in text

    agencies = _mart(acceptance_warehouse, "agency_productivity", period)
    headline = {r["Mã cơ quan"]: r for r in _table(wb["Tổng quan"])}
    for row in agencies:
        shown = headline[row["agency_code"]]
        assert _close(row["avg_daily_hours"], shown["Bình quân giờ/ngày"])
        assert _close(row["staff_count"], shown["Số công chức"])
        assert _close(row["staff_over"], shown["Trên 8 giờ (người)"])
        assert _close(row["staff_under"], shown["Dưới 8 giờ (người)"])
        assert _close(row["evidence_rate"], shown["Tỷ lệ minh chứng"])
    total = headline["Toàn tỉnh"]
    credited = sum(r["credited_hours"] for r in agencies)
    fde = sum(r["fde"] for r in agencies)
    assert total["Giờ được ghi nhận"] == pytest.approx(credited)
    assert total["Bình quân giờ/ngày"] == pytest.approx(credited / fde)

    staffing = {(r["Mã cơ quan"], r["Nhóm vị trí việc làm"]): r for r in _table(wb["Biên chế"])}
    marts = _mart(acceptance_warehouse, "staffing_surplus", period)
    assert len(staffing) == len(marts)
    groups = {
        "leadership": "Lãnh đạo, quản lý",
        "specialist": "Chuyên môn, nghiệp vụ",
        "shared_specialist": "Chuyên môn dùng chung",
        "support": "Hỗ trợ, phục vụ",
        "unknown": "Chưa xác định",
    }
    for row in marts:
        shown = staffing[(row["agency_code"], groups[row["position_group"]])]
        assert _close(row["required_fte"], shown["Biên chế cần thiết (FTE)"])
        assert _close(row["actual_fte"], shown["Biên chế thực tế (FTE)"])
        assert _close(row["approved_headcount"], shown["Biên chế được giao"])

    scored = _mart(acceptance_warehouse, "kpi_scorecard", period)
    by_agency = {r["Mã cơ quan"]: r for r in _table(wb["Xếp loại"])}
    for code in {r["agency_code"] for r in scored}:
        for label in (
            "Hoàn thành xuất sắc nhiệm vụ",
            "Hoàn thành tốt nhiệm vụ",
            "Hoàn thành nhiệm vụ",
            "Không hoàn thành nhiệm vụ",
        ):
            count = sum(
                1 for r in scored if r["agency_code"] == code and r["final_classification"] == label
            )
            assert by_agency[code][label] == count, (code, label)


def test_agency_staffing_sheet_matches_the_mart(
    extracts: dict[str, tuple[Path, ExtractManifest]], acceptance_warehouse: Path
) -> None:
    out, _ = extracts["2025-03"]
    marts = [
        r
        for r in _mart(acceptance_warehouse, "staffing_surplus", "2025-03")
        if r["agency_code"] == "STC"
    ]
    shown = _table(_open(out / "2025-03_STC.xlsx")["Biên chế"])
    assert len(shown) == len(marts)
    status = {"surplus": "Thừa", "balanced": "Cân đối", "shortage": "Thiếu"}
    for mart, row in zip(
        sorted(marts, key=lambda r: r["required_fte"]),
        sorted(shown, key=lambda r: r["Biên chế cần thiết (FTE)"]),
        strict=True,
    ):
        assert _close(mart["required_fte"], row["Biên chế cần thiết (FTE)"])
        assert _close(mart["actual_fte"], row["Biên chế thực tế (FTE)"])
        assert _close(mart["wisn_difference"], row["Chênh lệch (FTE)"])
        assert row["Tình trạng"] == status[mart["staffing_status"]]


def test_layout_charts_formats_and_frozen_headers(
    extracts: dict[str, tuple[Path, ExtractManifest]],
) -> None:
    out, _ = extracts["2025-03"]
    agency = _open(out / "2025-03_STC.xlsx")
    assert len(agency["Tổng quan"]._charts) == 3
    assert len(agency["Biên chế"]._charts) == 1
    people = agency["Cá nhân"]
    assert people.freeze_panes == "C2"
    assert agency["Biên chế"].freeze_panes == "B2"
    names = [c.value for c in people["B"][1:]]
    assert people.column_dimensions["B"].width >= max(len(n) for n in names)
    assert people["E2"].number_format == "#,##0.0"
    assert people["H2"].number_format == "0.00"

    cover = agency["Bìa"]
    dates = {
        r[0]: r[1] for r in cover.iter_rows(min_row=4, max_row=12, max_col=2, values_only=True)
    }
    assert dates["Kỳ báo cáo"] == "Tháng 03/2025"
    assert dates["Từ ngày"] == dt.datetime(2025, 3, 1)
    assert dates["Đến ngày"] == dt.datetime(2025, 3, 31)
    assert cover["B5"].number_format == "dd/mm/yyyy"
    definitions = [r[0] for r in cover.iter_rows(values_only=True) if r[0]]
    assert "Bình quân giờ/ngày" in definitions and "Tỷ lệ minh chứng" in definitions

    province = _open(out / "2025-03_toan-tinh.xlsx")
    assert len(province["Tổng quan"]._charts) == 2
    assert len(province["Biên chế"]._charts) == 1
    assert len(province["Xếp loại"]._charts) == 1
    assert province["Tổng quan"].freeze_panes == "C2"
    assert province.properties.created == dt.datetime(2025, 3, 31)


def test_rerun_gives_identical_bytes_and_checksums(
    extracts: dict[str, tuple[Path, ExtractManifest]], acceptance_warehouse: Path, tmp_path: Path
) -> None:
    out, first = extracts["2025-03"]
    before = {f.name: (out / f.name).read_bytes() for f in first.files}
    manifest_before = (out / "2025-03_manifest.json").read_bytes()

    again = write_extracts(acceptance_warehouse, "2025-03", out)
    assert again.to_dict() == first.to_dict()
    assert {f.name: (out / f.name).read_bytes() for f in again.files} == before
    assert (out / "2025-03_manifest.json").read_bytes() == manifest_before
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temp files left

    elsewhere = write_extracts(acceptance_warehouse, "2025-03", tmp_path)
    assert [f.sha256 for f in elsewhere.files] == [f.sha256 for f in first.files]


def test_rerun_drops_workbooks_the_period_no_longer_has(
    extracts: dict[str, tuple[Path, ExtractManifest]], acceptance_warehouse: Path, tmp_path: Path
) -> None:
    out, _ = extracts["2025-Q2"]
    for path in out.glob("2025-Q2_*"):
        shutil.copy(path, tmp_path / path.name)
    manifest_path = tmp_path / "2025-Q2_manifest.json"
    stale = json.loads(manifest_path.read_text(encoding="utf-8"))
    stale["files"].append({**stale["files"][-1], "name": "2025-Q2_OLD.xlsx", "agency_code": "OLD"})
    manifest_path.write_text(json.dumps(stale), encoding="utf-8")
    (tmp_path / "2025-Q2_OLD.xlsx").write_bytes(b"old")
    (tmp_path / "unrelated.xlsx").write_bytes(b"keep")

    write_extracts(acceptance_warehouse, "2025-Q2", tmp_path)
    assert not (tmp_path / "2025-Q2_OLD.xlsx").exists()
    assert (tmp_path / "unrelated.xlsx").read_bytes() == b"keep"
