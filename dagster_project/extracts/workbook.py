"""Lay out the leadership workbooks with xlsxwriter.

Number format decision: every figure is written as a numeric cell with a number format
(`#,##0.0`, `0.00`, `0.0%`, `dd/mm/yyyy`), never as text such as "5,5". An xlsx file cannot
carry a locale for its separators: Excel and LibreOffice draw the decimal and thousands
separators from the reader's regional settings, so a reader on Vietnamese settings sees `5,5`
and `1.234,5`, while the cells stay numbers that can be summed, charted and pasted elsewhere.
Writing text would force `5,5` everywhere but break every reuse of the numbers, which is what
leadership staff do with these files. The cover sheet says so in Vietnamese.

Determinism: the workbook is built in memory (xlsxwriter then stamps every zip member with
1980-01-01) and its `created` property is fixed to the last day covered by the period's data,
so the same warehouse content always gives byte-identical files.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

import xlsxwriter
from xlsxwriter.format import Format
from xlsxwriter.workbook import Workbook
from xlsxwriter.worksheet import Worksheet

from dagster_project.extracts import labels
from dagster_project.extracts.queries import PeriodData, Row

# Display formats; the cells keep the marts' full precision.
FORMATS: dict[str, str] = {
    "text": "@",
    "int": "#,##0",
    "hours": "#,##0.0",
    "daily": "0.00",  # hours_status rounds to 2 decimals, so show what it was decided on
    "fte": "#,##0.00",
    "pct": "0.0%",
    "score": "0.0",
    "date": "dd/mm/yyyy",
}

_INVALID_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")
_MAX_WIDTH = 48
_MIN_WIDTH = 6
_HEADER_WRAP = 18  # headers longer than this wrap instead of widening the column
_CHART_COLOURS = ("#2F5597", "#C55A11", "#548235", "#BF9000", "#7F7F7F")
_STATUS_COLOURS = {"over": "#548235", "meets": "#2F5597", "under": "#C00000"}


def sheet_name(name: str) -> str:
    """A name Excel accepts: at most 31 characters, none of []:*?/\\, not quoted."""
    cleaned = _INVALID_SHEET_CHARS.sub("-", name).strip("'").strip() or "Sheet"
    return cleaned[:31]


@dataclass(frozen=True)
class Column:
    header: str
    value: Callable[[Row], Any]
    kind: str = "text"  # a key of FORMATS


def field(key: str) -> Callable[[Row], Any]:
    return lambda row: row.get(key)


class Book:
    """One workbook: shared formats, tables with fitted widths, and row counts per sheet."""

    def __init__(self, title: str, subject: str, created: datetime) -> None:
        self.buffer = io.BytesIO()
        self.wb: Workbook = xlsxwriter.Workbook(
            self.buffer, {"in_memory": True, "strings_to_numbers": False}
        )
        self.wb.set_properties(
            {
                "title": title,
                "subject": subject,
                "author": labels.AUTHOR,
                "company": labels.PROGRAMME,
                "created": created,
            }
        )
        self.sheet_rows: dict[str, int] = {}
        self.header = self.wb.add_format(
            {
                "bold": True,
                "text_wrap": True,
                "valign": "vcenter",
                "align": "center",
                "bg_color": "#DDEBF7",
                "border": 1,
            }
        )
        self.title = self.wb.add_format({"bold": True, "font_size": 14})
        self.subtitle = self.wb.add_format({"bold": True, "font_size": 12})
        self.bold = self.wb.add_format({"bold": True, "valign": "top"})
        self.wrap = self.wb.add_format({"text_wrap": True, "valign": "top"})
        self.cells = {
            kind: self.wb.add_format({"num_format": fmt, "border": 1})
            for kind, fmt in FORMATS.items()
        }
        self.total_cells = {
            kind: self.wb.add_format(
                {"num_format": fmt, "border": 1, "bold": True, "bg_color": "#F2F2F2"}
            )
            for kind, fmt in FORMATS.items()
        }
        self.plain = {
            kind: self.wb.add_format({"num_format": fmt, "align": "left"})
            for kind, fmt in FORMATS.items()
        }

    def sheet(self, name: str) -> Worksheet:
        name = sheet_name(name)
        self.sheet_rows[name] = 0
        return self.wb.add_worksheet(name)

    def count(self, ws: Worksheet, rows: int) -> None:
        self.sheet_rows[ws.get_name()] += rows

    def close(self) -> bytes:
        self.wb.close()
        return self.buffer.getvalue()

    def write_cell(
        self, ws: Worksheet, row: int, col: int, value: Any, fmt: Format, kind: str
    ) -> None:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            ws.write_blank(row, col, None, fmt)
        elif kind == "date" and isinstance(value, date):
            ws.write_datetime(row, col, datetime.combine(value, time()), fmt)
        elif isinstance(value, bool):
            ws.write_string(row, col, labels.YES if value else labels.NO, fmt)
        elif isinstance(value, int | float) and kind != "text":
            ws.write_number(row, col, float(value), fmt)
        else:
            ws.write_string(row, col, str(value), fmt)

    def table(
        self,
        ws: Worksheet,
        top: int,
        columns: Sequence[Column],
        rows: Sequence[Row],
        *,
        left: int = 0,
        total: Row | None = None,
        freeze_cols: int | None = None,
        autofilter: bool = False,
        widths: dict[int, float] | None = None,
    ) -> int:
        """Write a header and rows at (top, left); return the row after the table.

        `widths` collects the widest need per column across the tables of one sheet, so that
        two tables stacked on a sheet share fitted widths; call `fit` once at the end.
        """
        own: dict[int, float] = {} if widths is None else widths
        header_lines = 1
        for j, column in enumerate(columns):
            ws.write_string(top, left + j, column.header, self.header)
            need = _display_width(column.header)
            own[left + j] = max(own.get(left + j, _MIN_WIDTH), min(need, _HEADER_WRAP) + 2)
        for i, row in enumerate(rows, start=1):
            for j, column in enumerate(columns):
                value = column.value(row)
                self.write_cell(ws, top + i, left + j, value, self.cells[column.kind], column.kind)
                own[left + j] = max(own[left + j], _display_width(_shown(value, column.kind)) + 2)
        end = top + len(rows) + 1
        if total is not None:
            for j, column in enumerate(columns):
                value = column.value(total)
                self.write_cell(
                    ws, end, left + j, value, self.total_cells[column.kind], column.kind
                )
                own[left + j] = max(own[left + j], _display_width(_shown(value, column.kind)) + 2)
            end += 1
        for j, column in enumerate(columns):
            width = min(own[left + j], _MAX_WIDTH)
            header_lines = max(header_lines, math.ceil(_display_width(column.header) / (width - 1)))
        ws.set_row(top, 15 * header_lines + 3)
        if freeze_cols is not None:
            ws.freeze_panes(top + 1, freeze_cols)
        if autofilter and rows:
            ws.autofilter(top, left, top + len(rows), left + len(columns) - 1)
        self.count(ws, len(rows))
        if widths is None:
            fit(ws, own)
        return end


def fit(ws: Worksheet, widths: dict[int, float]) -> None:
    for col, width in sorted(widths.items()):
        ws.set_column(col, col, min(max(width, _MIN_WIDTH), _MAX_WIDTH))


def _shown(value: Any, kind: str) -> str:
    """Roughly what Excel displays, to size the column."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool):
        return labels.YES if value else labels.NO
    if kind == "date":
        return "00/00/0000"
    if isinstance(value, int | float) and kind != "text":
        decimals = {"int": 0, "hours": 1, "daily": 2, "fte": 2, "pct": 1, "score": 1}.get(kind, 2)
        number = float(value) * (100 if kind == "pct" else 1)
        text = f"{number:,.{decimals}f}"
        return text + ("%" if kind == "pct" else "")
    return str(value)


def _display_width(text: str) -> float:
    # Vietnamese letters with stacked diacritics are no wider than plain ones in Calibri;
    # capitals and digits run a little wider than the average character.
    return sum(1.15 if ch.isupper() or ch.isdigit() else 1.0 for ch in text)


def created_at(data: PeriodData) -> datetime:
    day = data.last_day or data.period.end
    return datetime.combine(day, time())  # xlsxwriter writes it as UTC


# ---------------------------------------------------------------------------------------------
# Sheets shared by both kinds of workbook.


def cover_sheet(
    book: Book, data: PeriodData, heading: str, lines: list[tuple[str, Any, str]], privacy: str
) -> None:
    ws = book.sheet(labels.SHEETS["cover"])
    ws.hide_gridlines(2)
    ws.set_column(0, 0, 34)
    ws.set_column(1, 1, 100)
    ws.write_string(0, 0, heading, book.title)
    ws.write_string(1, 0, f"{labels.PROGRAMME} {labels.PROVINCE_NAME}", book.subtitle)
    period = data.period
    facts: list[tuple[str, Any, str]] = [
        ("Kỳ báo cáo", period.label, "text"),
        ("Từ ngày", period.start, "date"),
        ("Đến ngày", period.end, "date"),
        ("Số liệu có từ ngày", data.first_day, "date"),
        ("Số liệu có đến ngày", data.last_day, "date"),
        ("Số ngày làm việc trong kỳ", data.working_days, "int"),
        *lines,
        (
            "Nguồn số liệu",
            "Kho dữ liệu KPI, các bảng công khai (schema marts), hợp đồng chỉ tiêu phiên bản 1",
            "text",
        ),
        ("Về cách hiển thị số", labels.NUMBER_NOTE, "text"),
        ("Bảo mật", privacy, "text"),
    ]
    row = 3
    for label, value, kind in facts:
        ws.write_string(row, 0, label, book.bold)
        if kind == "text":
            text = "" if value is None else str(value)
            ws.write_string(row, 1, text, book.wrap)
            _fit_height(ws, row, text, 95)
        else:
            book.write_cell(ws, row, 1, value, book.plain[kind], kind)
        row += 1
    row += 1
    ws.write_string(row, 0, "Định nghĩa các chỉ tiêu", book.subtitle)
    row += 1
    ws.write_string(row, 0, "Chỉ tiêu", book.header)
    ws.write_string(row, 1, "Định nghĩa", book.header)
    ws.freeze_panes(row + 1, 0)
    for metric, definition in labels.DEFINITIONS:
        row += 1
        ws.write_string(row, 0, metric, book.wrap)
        ws.write_string(row, 1, definition, book.wrap)
        _fit_height(ws, row, definition, 95, first=metric, first_width=32)
    book.count(ws, len(labels.DEFINITIONS))


def _fit_height(
    ws: Worksheet, row: int, text: str, width: int, first: str = "", first_width: int = 32
) -> None:
    lines = max(math.ceil(len(text) / width), math.ceil(len(first) / first_width), 1)
    if lines > 1:
        ws.set_row(row, 15 * lines + 2)


def staffing_columns(with_agency: bool, data: PeriodData) -> list[Column]:
    columns: list[Column] = []
    if with_agency:
        columns += [
            Column("Mã cơ quan", field("agency_code")),
            Column("Tên cơ quan", lambda r: data.agency_name(r["agency_code"])),
        ]
    columns += [
        Column("Nhóm vị trí việc làm", lambda r: labels.position_group(r["position_group"])),
        Column("Số ngày làm việc", field("working_days"), "int"),
        Column("Biên chế thực tế (FTE)", field("actual_fte"), "fte"),
        Column("Khối lượng công việc (giờ)", field("workload_hours"), "hours"),
        Column("Thời gian khả dụng/FTE (giờ)", field("awt_hours_per_fte"), "hours"),
        Column("Biên chế cần thiết (FTE)", field("required_fte"), "fte"),
        Column("Chênh lệch (FTE)", field("wisn_difference"), "fte"),
        Column("Tỉ số WISN", field("wisn_ratio"), "fte"),
        Column("Biên chế được giao", field("approved_headcount"), "int"),
        Column("Chênh lệch so với biên chế được giao", field("quota_gap"), "fte"),
        Column("Tình trạng", lambda r: labels.staffing_status(r["staffing_status"])),
    ]
    return columns


def _series_style(colour: str) -> dict[str, Any]:
    return {"fill": {"color": colour}, "border": {"none": True}}


def _chart(book: Book, kind: str, title: str, subtype: str | None = None) -> Any:
    options: dict[str, str] = {"type": kind}
    if subtype:
        options["subtype"] = subtype
    chart = book.wb.add_chart(options)
    chart.set_title({"name": title, "name_font": {"size": 12, "bold": True}})
    return chart


# ---------------------------------------------------------------------------------------------
# The agency workbook.


def agency_workbook(data: PeriodData, code: str) -> tuple[bytes, dict[str, int]]:
    headline, people, staffing = data.for_agency(code)
    name = data.agency_name(code)
    book = Book(
        title=f"Báo cáo KPI {data.period.label} – {name}",
        subject=f"{labels.PROGRAMME}: {name} ({code}), {data.period.label}",
        created=created_at(data),
    )
    cover_sheet(
        book,
        data,
        f"BÁO CÁO KẾT QUẢ KPI – {name.upper()}",
        [
            ("Cơ quan", name, "text"),
            ("Mã cơ quan", code, "text"),
            ("Số người trong bảng cá nhân", len(people), "int"),
        ],
        labels.PRIVACY_NOTE_AGENCY,
    )
    headline_ws = book.sheet(labels.SHEETS["headline"])
    people_ws = book.sheet(labels.SHEETS["people"])
    staffing_ws = book.sheet(labels.SHEETS["staffing"])
    _agency_people(book, people_ws, people)
    _agency_headline(book, headline_ws, headline, people, people_ws.get_name())
    _agency_staffing(book, staffing_ws, data, staffing)
    return book.close(), book.sheet_rows


def _headline_items(headline: Row | None) -> list[Row]:
    h = headline or {}
    items = [
        ("Số công chức có giờ khả dụng", "staff_count", "int"),
        ("Giờ khả dụng", "available_hours", "hours"),
        ("Giờ được ghi nhận", "credited_hours", "hours"),
        ("Ngày công chuẩn", "fde", "hours"),
        ("Bình quân giờ được ghi nhận/ngày", "avg_daily_hours", "daily"),
        ("Số người trên 8 giờ/ngày", "staff_over", "int"),
        ("Số người đạt 8 giờ/ngày", "staff_meets", "int"),
        ("Số người dưới 8 giờ/ngày", "staff_under", "int"),
        ("Tỷ lệ minh chứng", "evidence_rate", "pct"),
        ("Tỷ lệ kê khai", "declaration_coverage", "pct"),
    ]
    return [
        {"label": label, "value": h.get(key), "kind": kind, "key": key}
        for label, key, kind in items
    ]


def _agency_headline(
    book: Book, ws: Worksheet, headline: Row | None, people: list[Row], people_sheet: str
) -> None:
    widths: dict[int, float] = {}
    ws.write_string(0, 0, "Chỉ tiêu chính", book.subtitle)
    top = 1
    ws.write_string(top, 0, "Chỉ tiêu", book.header)
    ws.write_string(top, 1, "Giá trị", book.header)
    items = _headline_items(headline)
    for i, item in enumerate(items, start=1):
        ws.write_string(top + i, 0, item["label"], book.cells["text"])
        book.write_cell(ws, top + i, 1, item["value"], book.cells[item["kind"]], item["kind"])
    widths[0] = max(_display_width(i["label"]) for i in items) + 2
    widths[1] = 14
    ws.freeze_panes(top + 1, 0)
    book.count(ws, len(items))
    status_first = top + 6  # rows of staff_over, staff_meets, staff_under

    row = top + len(items) + 3
    ws.write_string(row - 1, 0, "Phân bố xếp loại", book.subtitle)
    distribution = _classification_counts(people)
    dist_top = row
    end = book.table(
        ws,
        row,
        [
            Column("Xếp loại", field("label")),
            Column("Theo điểm (số người)", field("classification"), "int"),
            Column("Sau áp tỷ lệ (số người)", field("final"), "int"),
        ],
        distribution,
        widths=widths,
    )
    fit(ws, widths)

    status_chart = _chart(book, "column", "Số người theo mức giờ được ghi nhận/ngày")
    status_chart.add_series(
        {
            "name": "Số người",
            "categories": [ws.get_name(), status_first, 0, status_first + 2, 0],
            "values": [ws.get_name(), status_first, 1, status_first + 2, 1],
            "points": [{"fill": {"color": _STATUS_COLOURS[s]}} for s in ("over", "meets", "under")],
            "data_labels": {"value": True},
        }
    )
    status_chart.set_legend({"none": True})
    status_chart.set_y_axis(
        {
            "name": "Số người",
            "num_format": "#,##0",
            "major_gridlines": {"visible": True, "line": {"color": "#D9D9D9"}},
        }
    )
    ws.insert_chart(1, 3, status_chart, {"x_scale": 1.1, "y_scale": 1.0})

    class_chart = _chart(book, "column", "Phân bố xếp loại sau áp tỷ lệ")
    class_chart.add_series(
        {
            "name": "Sau áp tỷ lệ",
            "categories": [ws.get_name(), dist_top + 1, 0, end - 1, 0],
            "values": [ws.get_name(), dist_top + 1, 2, end - 1, 2],
            "fill": {"color": _CHART_COLOURS[0]},
            "data_labels": {"value": True},
        }
    )
    class_chart.set_legend({"none": True})
    class_chart.set_x_axis({"num_font": {"rotation": -30}})
    ws.insert_chart(17, 3, class_chart, {"x_scale": 1.1, "y_scale": 1.1})

    # The per-person chart reads the person table, so its order is the table's (by staff id).
    rated = len(people)
    if rated:
        person_chart = _chart(book, "bar", "Bình quân giờ được ghi nhận/ngày theo người")
        person_chart.add_series(
            {
                "name": "Giờ/ngày",
                "categories": [people_sheet, 1, 1, rated, 1],
                "values": [people_sheet, 1, 7, rated, 7],
                "fill": {"color": _CHART_COLOURS[0]},
                "gap": 40,
            }
        )
        person_chart.set_legend({"none": True})
        # In xlsxwriter's bar charts x stays the category axis, drawn vertically.
        person_chart.set_x_axis({"reverse": True})
        person_chart.set_y_axis({"name": "Giờ/ngày", "num_format": "0.0", "min": 0})
        height = max(300, 18 * rated + 90)
        ws.insert_chart(1, 12, person_chart, {"x_scale": 1.2, "y_scale": height / 288})


def _classification_counts(people: list[Row]) -> list[Row]:
    rows = []
    for label in (*labels.CLASSIFICATIONS, labels.NOT_CLASSIFIED):

        def matches(value: Any, label: str = label) -> bool:
            return (value or labels.NOT_CLASSIFIED) == label

        rows.append(
            {
                "label": label,
                "classification": sum(matches(p["classification"]) for p in people),
                "final": sum(matches(p["final_classification"]) for p in people),
            }
        )
    return rows


PEOPLE_COLUMNS: list[Column] = [
    Column("Mã công chức", field("staff_id")),
    Column("Họ và tên", field("full_name")),
    Column("Phòng, ban", field("department")),
    Column("Nhóm vị trí việc làm", lambda r: labels.position_group(r["position_group"])),
    Column("Giờ khả dụng", field("available_hours"), "hours"),
    Column("Giờ được ghi nhận", field("credited_hours"), "hours"),
    Column("Ngày công chuẩn", field("fde"), "hours"),
    Column("Bình quân giờ/ngày", field("avg_daily_hours"), "daily"),
    Column("Mức giờ/ngày", lambda r: labels.hours_status(r["hours_status"])),
    Column("Tỷ lệ sử dụng", field("utilization"), "pct"),
    Column("Tỷ lệ minh chứng", field("evidence_rate"), "pct"),
    Column("Số bản ghi", field("entry_count"), "int"),
    Column("Bản ghi bị gắn cờ", field("flagged_entry_count"), "int"),
    Column("Tỷ lệ khối lượng", field("quantity_pct"), "pct"),
    Column("Tỷ lệ chất lượng", field("quality_pct"), "pct"),
    Column("Tỷ lệ tiến độ", field("progress_pct"), "pct"),
    Column("Điểm kết quả nhiệm vụ (70)", field("task_score"), "score"),
    Column("Điểm tiêu chí chung (30)", field("general_score"), "score"),
    Column("Điểm tiêu chí chung ước tính", field("general_score_imputed")),
    Column("Tổng điểm (100)", field("total_score"), "score"),
    Column("Xếp loại theo điểm", field("classification")),
    Column("Xếp loại sau áp tỷ lệ", field("final_classification")),
]


def _agency_people(book: Book, ws: Worksheet, people: list[Row]) -> None:
    book.table(ws, 0, PEOPLE_COLUMNS, people, freeze_cols=2, autofilter=True)


def _agency_staffing(book: Book, ws: Worksheet, data: PeriodData, staffing: list[Row]) -> None:
    end = book.table(ws, 0, staffing_columns(False, data), staffing, freeze_cols=1)
    if not staffing:
        return
    chart = _chart(book, "column", "Biên chế thực tế và cần thiết theo nhóm vị trí (FTE)")
    name = ws.get_name()
    for colour, col, label in (
        (_CHART_COLOURS[0], 2, "Thực tế"),
        (_CHART_COLOURS[1], 5, "Cần thiết"),
        (_CHART_COLOURS[4], 8, "Được giao"),
    ):
        chart.add_series(
            {
                "name": label,
                "categories": [name, 1, 0, end - 1, 0],
                "values": [name, 1, col, end - 1, col],
                "fill": {"color": colour},
            }
        )
    chart.set_y_axis({"name": "FTE", "num_format": "#,##0.0"})
    chart.set_legend({"position": "bottom"})
    ws.insert_chart(end + 2, 0, chart, {"x_scale": 1.4, "y_scale": 1.1})


# ---------------------------------------------------------------------------------------------
# The province summary: counts only, no names or staff ids.


def province_workbook(data: PeriodData) -> tuple[bytes, dict[str, int]]:
    book = Book(
        title=f"Báo cáo KPI {data.period.label} – {labels.PROVINCE_LABEL}",
        subject=f"{labels.PROGRAMME} {labels.PROVINCE_NAME}, {data.period.label}",
        created=created_at(data),
    )
    cover_sheet(
        book,
        data,
        f"BÁO CÁO TỔNG HỢP KẾT QUẢ KPI – {labels.PROVINCE_NAME.upper()}",
        [
            ("Phạm vi", labels.PROVINCE_LABEL, "text"),
            ("Số cơ quan có số liệu", len(data.agency_codes), "int"),
        ],
        labels.PRIVACY_NOTE_PROVINCE,
    )
    _province_headline(book, data)
    _province_staffing(book, data)
    _province_scorecard(book, data)
    return book.close(), book.sheet_rows


def province_totals(data: PeriodData) -> Row:
    """The province row: sums, and ratios pooled like the agency ones (metrics.md)."""
    rows = data.agencies

    def total(key: str) -> float | None:
        values = [r[key] for r in rows if r[key] is not None]
        return sum(values) if values else None

    fde, credited = total("fde"), total("credited_hours")
    return {
        "agency_code": labels.PROVINCE_LABEL,
        "agency_name": "",
        "staff_count": total("staff_count"),
        "available_hours": total("available_hours"),
        "credited_hours": credited,
        "fde": fde,
        "avg_daily_hours": credited / fde if fde and credited is not None else None,
        "staff_over": total("staff_over"),
        "staff_meets": total("staff_meets"),
        "staff_under": total("staff_under"),
        "evidence_rate": data.province_evidence_rate,
        "declaration_coverage": data.province_coverage,
    }


def _province_headline(book: Book, data: PeriodData) -> None:
    ws = book.sheet(labels.SHEETS["headline"])
    by_code = {r["agency_code"]: r for r in data.agencies}
    rows = [
        {**by_code.get(code, {}), "agency_code": code, "agency_name": data.agency_name(code)}
        for code in data.agency_codes
    ]
    columns = [
        Column("Mã cơ quan", field("agency_code")),
        Column("Tên cơ quan", field("agency_name")),
        Column("Số công chức", field("staff_count"), "int"),
        Column("Giờ khả dụng", field("available_hours"), "hours"),
        Column("Giờ được ghi nhận", field("credited_hours"), "hours"),
        Column("Ngày công chuẩn", field("fde"), "hours"),
        Column("Bình quân giờ/ngày", field("avg_daily_hours"), "daily"),
        Column("Trên 8 giờ (người)", field("staff_over"), "int"),
        Column("Đạt 8 giờ (người)", field("staff_meets"), "int"),
        Column("Dưới 8 giờ (người)", field("staff_under"), "int"),
        Column("Tỷ lệ minh chứng", field("evidence_rate"), "pct"),
        Column("Tỷ lệ kê khai", field("declaration_coverage"), "pct"),
    ]
    end = book.table(ws, 0, columns, rows, total=province_totals(data), freeze_cols=2)
    name, last = ws.get_name(), len(rows)

    avg_chart = _chart(book, "bar", "Bình quân giờ được ghi nhận/ngày theo cơ quan")
    avg_chart.add_series(
        {
            "name": "Giờ/ngày",
            "categories": [name, 1, 0, last, 0],
            "values": [name, 1, 6, last, 6],
            "fill": {"color": _CHART_COLOURS[0]},
            "data_labels": {"value": True, "num_format": "0.0"},
        }
    )
    avg_chart.set_legend({"none": True})
    avg_chart.set_x_axis({"reverse": True})
    avg_chart.set_y_axis({"min": 0, "num_format": "0.0"})
    height = max(300, 22 * last + 90)
    ws.insert_chart(end + 2, 0, avg_chart, {"x_scale": 1.3, "y_scale": height / 288})

    status_chart = _chart(
        book, "bar", "Số người trên, đạt, dưới 8 giờ/ngày theo cơ quan", subtype="stacked"
    )
    for status, col in (("over", 7), ("meets", 8), ("under", 9)):
        status_chart.add_series(
            {
                "name": labels.HOURS_STATUS[status],
                "categories": [name, 1, 0, last, 0],
                "values": [name, 1, col, last, col],
                "fill": {"color": _STATUS_COLOURS[status]},
            }
        )
    status_chart.set_x_axis({"reverse": True})
    status_chart.set_legend({"position": "bottom"})
    ws.insert_chart(end + 2, 6, status_chart, {"x_scale": 1.3, "y_scale": height / 288})


def _province_staffing(book: Book, data: PeriodData) -> None:
    ws = book.sheet(labels.SHEETS["staffing"])
    widths: dict[int, float] = {}
    rows = data.staffing
    columns = staffing_columns(True, data)
    end = book.table(ws, 0, columns, rows, freeze_cols=3, autofilter=True, widths=widths)
    if not rows:
        fit(ws, widths)
        return

    # FTE add up across position groups, so the per-agency view is a plain sum; ratios and
    # statuses are not additive and stay per group in the table above.
    def total(items: list[Row], key: str) -> float | None:
        values = [r[key] for r in items if r[key] is not None]
        return sum(values) if values else None

    by_agency: list[Row] = []
    for code in data.agency_codes:
        items = [r for r in rows if r["agency_code"] == code]
        if not items:
            continue
        actual, required = total(items, "actual_fte"), total(items, "required_fte")
        by_agency.append(
            {
                "agency_code": code,
                "agency_name": data.agency_name(code),
                "actual_fte": actual,
                "required_fte": required,
                "difference": None if actual is None or required is None else actual - required,
                "approved_headcount": total(items, "approved_headcount"),
            }
        )
    top = end + 2
    ws.write_string(top, 0, "Tổng hợp theo cơ quan (cộng các nhóm vị trí)", book.subtitle)
    summary_end = book.table(
        ws,
        top + 1,
        [
            Column("Mã cơ quan", field("agency_code")),
            Column("Tên cơ quan", field("agency_name")),
            Column("Biên chế thực tế (FTE)", field("actual_fte"), "fte"),
            Column("Biên chế cần thiết (FTE)", field("required_fte"), "fte"),
            Column("Chênh lệch (FTE)", field("difference"), "fte"),
            Column("Biên chế được giao", field("approved_headcount"), "int"),
        ],
        by_agency,
        widths=widths,
    )
    fit(ws, widths)

    name = ws.get_name()
    first, last = top + 2, summary_end - 1
    chart = _chart(book, "bar", "Biên chế thực tế và cần thiết theo cơ quan (FTE)")
    for colour, col, label in (
        (_CHART_COLOURS[0], 2, "Thực tế"),
        (_CHART_COLOURS[1], 3, "Cần thiết"),
        (_CHART_COLOURS[4], 5, "Được giao"),
    ):
        chart.add_series(
            {
                "name": label,
                "categories": [name, first, 0, last, 0],
                "values": [name, first, col, last, col],
                "fill": {"color": colour},
            }
        )
    chart.set_x_axis({"reverse": True})
    chart.set_y_axis({"name": "FTE", "num_format": "#,##0"})
    chart.set_legend({"position": "bottom"})
    height = max(300, 30 * len(by_agency) + 90)
    ws.insert_chart(summary_end + 2, 0, chart, {"x_scale": 1.5, "y_scale": height / 288})


def _province_scorecard(book: Book, data: PeriodData) -> None:
    ws = book.sheet(labels.SHEETS["scorecard"])
    keys = [f"final_{i}" for i in range(len(labels.CLASSIFICATIONS))]
    rows: list[Row] = []
    for code in data.agency_codes:
        people = [p for p in data.people if p["agency_code"] == code]
        scores = [p["total_score"] for p in people if p["total_score"] is not None]
        row: Row = {
            "agency_code": code,
            "agency_name": data.agency_name(code),
            "rated": len(scores),
            "mean_score": sum(scores) / len(scores) if scores else None,
            "unrated": sum(1 for p in people if p["final_classification"] is None),
            "moved_down": sum(
                1
                for p in people
                if p["classification"] == labels.CLASSIFICATIONS[0]
                and p["final_classification"] != labels.CLASSIFICATIONS[0]
            ),
        }
        for key, label in zip(keys, labels.CLASSIFICATIONS, strict=True):
            row[key] = sum(1 for p in people if p["final_classification"] == label)
        rows.append(row)
    all_scores = [p["total_score"] for p in data.people if p["total_score"] is not None]
    total: Row = {
        "agency_code": labels.PROVINCE_LABEL,
        "agency_name": "",
        "rated": sum(r["rated"] for r in rows),
        "mean_score": sum(all_scores) / len(all_scores) if all_scores else None,
        "unrated": sum(r["unrated"] for r in rows),
        "moved_down": sum(r["moved_down"] for r in rows),
        **{key: sum(r[key] for r in rows) for key in keys},
    }
    columns = [
        Column("Mã cơ quan", field("agency_code")),
        Column("Tên cơ quan", field("agency_name")),
        Column("Số người có điểm", field("rated"), "int"),
        Column("Tổng điểm bình quân", field("mean_score"), "score"),
        *[
            Column(label, field(key), "int")
            for key, label in zip(keys, labels.CLASSIFICATIONS, strict=True)
        ],
        Column(labels.NOT_CLASSIFIED, field("unrated"), "int"),
        Column("Chuyển xuống do tỷ lệ xuất sắc", field("moved_down"), "int"),
    ]
    end = book.table(ws, 0, columns, rows, total=total, freeze_cols=2)
    name, last = ws.get_name(), len(rows)
    chart = _chart(book, "bar", "Xếp loại sau áp tỷ lệ theo cơ quan", subtype="percent_stacked")
    for i, label in enumerate(labels.CLASSIFICATIONS):
        chart.add_series(
            {
                "name": label,
                "categories": [name, 1, 0, last, 0],
                "values": [name, 1, 4 + i, last, 4 + i],
                "fill": {"color": ("#548235", "#2F5597", "#BF9000", "#C00000")[i]},
            }
        )
    chart.set_x_axis({"reverse": True})
    chart.set_legend({"position": "bottom"})
    height = max(300, 22 * last + 90)
    ws.insert_chart(end + 2, 0, chart, {"x_scale": 1.5, "y_scale": height / 288})
