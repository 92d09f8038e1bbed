"""The planner's inputs and outputs: the warehouse tables it reads and writes, and the workbook."""

from __future__ import annotations

import hashlib
import math
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pandas as pd

from dagster_project.planner.cache import code_digest

if TYPE_CHECKING:
    import xlsxwriter

PLAN_TABLE = "marts.redistribution_plan"
IMPACT_TABLE = "marts.redistribution_impact"
UNPLANNED_GROUPS = ("unknown",)

# (column, DuckDB type): the tables' layout, fixed here so an empty plan still has its columns.
PLAN_COLUMNS: list[tuple[str, str]] = [
    ("scenario", "varchar"),
    ("period_type", "varchar"),
    ("period_start", "date"),
    ("position_group", "varchar"),
    ("from_agency_code", "varchar"),
    ("from_agency_name", "varchar"),
    ("to_agency_code", "varchar"),
    ("to_agency_name", "varchar"),
    ("staff_moved", "integer"),
    ("from_actual_fte", "double"),
    ("from_required_fte", "double"),
    ("from_wisn_difference", "double"),
    ("from_wisn_ratio", "double"),
    ("from_wisn_difference_after", "double"),
    ("to_actual_fte", "double"),
    ("to_required_fte", "double"),
    ("to_wisn_difference", "double"),
    ("to_wisn_ratio", "double"),
    ("to_wisn_difference_after", "double"),
    ("reason", "varchar"),
]
IMPACT_COLUMNS: list[tuple[str, str]] = [
    ("scenario", "varchar"),
    ("period_type", "varchar"),
    ("period_start", "date"),
    ("agency_code", "varchar"),
    ("agency_name", "varchar"),
    ("position_group", "varchar"),
    ("merged_agency_codes", "varchar"),
    ("can_receive", "boolean"),
    ("role", "varchar"),
    ("target_utilization", "double"),
    ("source_actual_fte", "double"),
    ("actual_fte_before", "double"),
    ("required_fte", "double"),
    ("wisn_difference_before", "double"),
    ("wisn_ratio_before", "double"),
    ("staffing_status_before", "varchar"),
    ("staff_out", "integer"),
    ("staff_in", "integer"),
    ("actual_fte_after", "double"),
    ("wisn_difference_after", "double"),
    ("wisn_ratio_after", "double"),
    ("staffing_status_after", "varchar"),
    ("imbalance_before", "double"),
    ("imbalance_after", "double"),
]


def empty_frame(columns: list[tuple[str, str]]) -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series(dtype=object) for name, _ in columns})


# --- periods -------------------------------------------------------------------------------

_MONTHS = {"month": 1, "quarter": 3, "year": 12}


def period_end(period_type: str, period_start: date) -> date:
    """The period's last calendar day."""
    if period_type not in _MONTHS:
        raise ValueError(f"unknown period_type {period_type!r}")
    months = period_start.year * 12 + period_start.month - 1 + _MONTHS[period_type]
    year, month = divmod(months, 12)
    return date(year, month + 1, 1) - timedelta(days=1)


def latest_complete_quarter(con: duckdb.DuckDBPyConnection) -> date | None:
    """The latest quarter of marts.staffing_surplus whose every calendar day lies inside the
    staff-days of marts.fct_staff_day (first quarter day ≥ its first work_date, last quarter
    day ≤ its last work_date). A quarter cut by either edge of the data is partial: its FTE and
    workload describe fewer weeks, and its working_days are not the quarter's."""
    bounds = con.execute(
        "select min(work_date), max(work_date) from marts.fct_staff_day"
    ).fetchone()
    if bounds is None or bounds[0] is None:
        return None
    first, last = (_as_date(v) for v in bounds)
    starts = con.execute(
        "select distinct period_start from marts.staffing_surplus "
        "where period_type = 'quarter' order by period_start desc"
    ).fetchall()
    for (start,) in starts:
        start = _as_date(start)
        if start >= first and period_end("quarter", start) <= last:
            return start
    return None


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return pd.Timestamp(value).date()


# --- inputs --------------------------------------------------------------------------------


def read_staffing(
    con: duckdb.DuckDBPyConnection, period_type: str, period_start: date
) -> pd.DataFrame:
    """The mart's rows of one period, planned groups only."""
    placeholders = ", ".join("?" for _ in UNPLANNED_GROUPS)
    return con.execute(
        f"""
        select agency_code, position_group, actual_fte, workload_hours, awt_hours_per_fte,
               approved_headcount
        from marts.staffing_surplus
        where period_type = ? and period_start = ?
          and position_group is not null and position_group not in ({placeholders})
        order by agency_code, position_group
        """,
        [period_type, period_start, *UNPLANNED_GROUPS],
    ).df()


def read_agencies(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """One row per agency code (its latest version when the register repeats a code)."""
    frame = con.execute(
        """
        select agency_code, agency_name, valid_to, successor_agency_code
        from staging.stg_hr__agencies
        qualify row_number() over (
            partition by agency_code order by valid_from desc nulls last
        ) = 1
        """
    ).df()
    frame["valid_to"] = [None if pd.isna(v) else _as_date(v) for v in frame["valid_to"]]
    return frame


# --- outputs -------------------------------------------------------------------------------


def _replace_table(
    con: duckdb.DuckDBPyConnection, table: str, columns: list[tuple[str, str]], frame: pd.DataFrame
) -> int:
    ddl = ", ".join(f"{name} {sql_type}" for name, sql_type in columns)
    con.execute(f"create or replace table {table} ({ddl})")
    if frame.empty:
        return 0
    view = f"_planner_{table.replace('.', '_')}"
    con.register(view, frame[[name for name, _ in columns]])
    try:
        select = ", ".join(f"cast({name} as {sql_type})" for name, sql_type in columns)
        con.execute(f"insert into {table} select {select} from {view}")
    finally:
        con.unregister(view)
    return len(frame)


def replace_tables(
    con: duckdb.DuckDBPyConnection, plan: pd.DataFrame, impact: pd.DataFrame
) -> dict[str, int]:
    """Both tables at once: a reader never sees a plan without its impact."""
    con.execute("begin transaction")
    try:
        con.execute("create schema if not exists marts")
        counts = {
            PLAN_TABLE: _replace_table(con, PLAN_TABLE, PLAN_COLUMNS, plan),
            IMPACT_TABLE: _replace_table(con, IMPACT_TABLE, IMPACT_COLUMNS, impact),
        }
    except BaseException:
        con.execute("rollback")
        raise
    con.execute("commit")
    return counts


# --- the workbook --------------------------------------------------------------------------

PLAN_HEADERS = {
    "scenario": "Kịch bản",
    "period_type": "Loại kỳ",
    "period_start": "Đầu kỳ",
    "position_group": "Nhóm vị trí",
    "from_agency_code": "Mã cơ quan chuyển đi",
    "from_agency_name": "Cơ quan chuyển đi",
    "to_agency_code": "Mã cơ quan tiếp nhận",
    "to_agency_name": "Cơ quan tiếp nhận",
    "staff_moved": "Số người điều chuyển",
    "from_actual_fte": "Nơi đi: biên chế thực tế (FTE)",
    "from_required_fte": "Nơi đi: nhu cầu WISN (FTE)",
    "from_wisn_difference": "Nơi đi: chênh lệch WISN",
    "from_wisn_ratio": "Nơi đi: tỷ số WISN",
    "from_wisn_difference_after": "Nơi đi: chênh lệch sau điều chuyển",
    "to_actual_fte": "Nơi đến: biên chế thực tế (FTE)",
    "to_required_fte": "Nơi đến: nhu cầu WISN (FTE)",
    "to_wisn_difference": "Nơi đến: chênh lệch WISN",
    "to_wisn_ratio": "Nơi đến: tỷ số WISN",
    "to_wisn_difference_after": "Nơi đến: chênh lệch sau điều chuyển",
    "reason": "Lý do",
}
IMPACT_HEADERS = {
    "scenario": "Kịch bản",
    "period_type": "Loại kỳ",
    "period_start": "Đầu kỳ",
    "agency_code": "Mã cơ quan",
    "agency_name": "Tên cơ quan",
    "position_group": "Nhóm vị trí",
    "merged_agency_codes": "Gồm các cơ quan",
    "can_receive": "Được tiếp nhận",
    "role": "Vai trò",
    "target_utilization": "Mức sử dụng thời gian mục tiêu",
    "source_actual_fte": "FTE thực tế (số liệu gốc)",
    "actual_fte_before": "FTE trước điều chuyển",
    "required_fte": "Nhu cầu WISN (FTE)",
    "wisn_difference_before": "Chênh lệch WISN trước",
    "wisn_ratio_before": "Tỷ số WISN trước",
    "staffing_status_before": "Tình trạng trước",
    "staff_out": "Số người chuyển đi",
    "staff_in": "Số người tiếp nhận",
    "actual_fte_after": "FTE sau điều chuyển",
    "wisn_difference_after": "Chênh lệch WISN sau",
    "wisn_ratio_after": "Tỷ số WISN sau",
    "staffing_status_after": "Tình trạng sau",
    "imbalance_before": "Mất cân đối trước (|chênh lệch|)",
    "imbalance_after": "Mất cân đối sau (|chênh lệch|)",
}
SUMMARY_HEADERS = {
    "scenario": "Kịch bản",
    "period_type": "Loại kỳ",
    "period_start": "Đầu kỳ",
    "transfers": "Số dòng điều chuyển",
    "staff_moved": "Số người điều chuyển",
    "imbalance_before": "Tổng mất cân đối trước",
    "imbalance_after": "Tổng mất cân đối sau",
}
_VALUES = {
    "period_type": {"month": "Tháng", "quarter": "Quý", "year": "Năm"},
    "role": {"donor": "Chuyển đi", "receiver": "Tiếp nhận", "unchanged": "Giữ nguyên"},
    "staffing_status_before": {"surplus": "Thừa", "shortage": "Thiếu", "balanced": "Cân đối"},
    "staffing_status_after": {"surplus": "Thừa", "shortage": "Thiếu", "balanced": "Cân đối"},
    "can_receive": {True: "Có", False: "Không"},
}


def _summary(plan: pd.DataFrame, impact: pd.DataFrame) -> pd.DataFrame:
    keys = ["scenario", "period_type", "period_start"]
    if impact.empty:
        return pd.DataFrame(columns=list(SUMMARY_HEADERS))
    totals = impact.groupby(keys, sort=False)[["imbalance_before", "imbalance_after"]].sum()
    moves = plan.groupby(keys, sort=False)["staff_moved"].agg(["count", "sum"])
    moves.columns = ["transfers", "staff_moved"]
    frame = totals.join(moves, how="left").fillna({"transfers": 0, "staff_moved": 0})
    return frame.reset_index()[list(SUMMARY_HEADERS)]


def _write_sheet(
    book: xlsxwriter.Workbook,
    name: str,
    frame: pd.DataFrame,
    headers: dict[str, str],
    formats: dict[str, Any],
) -> None:
    sheet = book.add_worksheet(name)
    columns = list(headers)
    for c, column in enumerate(columns):
        sheet.write_string(0, c, headers[column], formats["header"])
    for r, row in enumerate(frame[columns].itertuples(index=False), start=1):
        for c, (column, value) in enumerate(zip(columns, row, strict=True)):
            value = _VALUES.get(column, {}).get(value, value)
            if value is None or (isinstance(value, float) and math.isnan(value)):
                sheet.write_blank(r, c, None)
            elif isinstance(value, pd.Timestamp | datetime | date):
                sheet.write_datetime(r, c, pd.Timestamp(value).to_pydatetime(), formats["date"])
            elif isinstance(value, bool):
                sheet.write_boolean(r, c, value)
            elif isinstance(value, int | float) and not isinstance(value, bool):
                integral = column in ("staff_moved", "staff_out", "staff_in", "transfers")
                sheet.write_number(r, c, value, formats["int" if integral else "fte"])
            else:
                sheet.write_string(r, c, str(value))
    for c, column in enumerate(columns):
        width = 60 if column == "reason" else max(12, min(40, len(headers[column]) + 2))
        sheet.set_column(c, c, width)
    sheet.set_row(0, 45)
    sheet.freeze_panes(1, 0)
    sheet.autofilter(0, 0, max(len(frame), 1), len(columns) - 1)


def write_plan_workbook(plan: pd.DataFrame, impact: pd.DataFrame, path: Path) -> Path:
    """The plan for a planner's Excel: a summary, the transfers and the before/after table."""
    # Imported here: a build whose plan is unchanged writes no workbook, and importing the
    # writer at every start of `kpi build` cost 0.2 s before its first step.
    import xlsxwriter

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    book = xlsxwriter.Workbook(str(path))
    try:
        formats = {
            "header": book.add_format(
                {"bold": True, "text_wrap": True, "valign": "top", "bg_color": "#DDEBF7"}
            ),
            "date": book.add_format({"num_format": "dd/mm/yyyy"}),
            "fte": book.add_format({"num_format": "0.00"}),
            "int": book.add_format({"num_format": "0"}),
        }
        _write_sheet(book, "Tóm tắt", _summary(plan, impact), SUMMARY_HEADERS, formats)
        _write_sheet(book, "Kế hoạch điều chuyển", plan, PLAN_HEADERS, formats)
        _write_sheet(book, "Trước và sau", impact, IMPACT_HEADERS, formats)
    finally:
        book.close()
    return path


def frames_digest(*frames: pd.DataFrame) -> str:
    """A digest of the frames' columns and values, in their row order, and of the planner's code
    (which lays the workbook out)."""
    digest = hashlib.sha256(code_digest())
    for frame in frames:
        digest.update(repr([(str(c), str(t)) for c, t in frame.dtypes.items()]).encode())
        digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def write_plan_workbook_if_changed(plan: pd.DataFrame, impact: pd.DataFrame, path: Path) -> bool:
    """write_plan_workbook, unless the file already holds this plan (a digest beside it says
    so): on most days the planned quarter's figures do not change, and writing a province's
    before/after table took 2.9 s of a one-day build. Returns whether it wrote."""
    path = Path(path)
    marker = path.with_name(path.name + ".digest")
    digest = frames_digest(plan, impact)
    if path.is_file() and marker.is_file() and marker.read_text() == digest:
        return False
    # a write cut short leaves no digest, so the next build writes the file again
    marker.unlink(missing_ok=True)
    write_plan_workbook(plan, impact, path)
    marker.write_text(digest)
    return True
