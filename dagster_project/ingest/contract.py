"""The raw-sources contract (v1) as Python data.

Transcribed from ``shared/contract/raw-sources.md``; the demo-data generator and the
dbt staging models rely on the same names, so a change here is a contract change.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["text", "date", "datetime", "decimal", "int", "bool", "enum", "list", "period"]

SQL_TYPES: dict[str, str] = {
    "text": "VARCHAR",
    "date": "DATE",
    "datetime": "TIMESTAMP",
    "decimal": "DOUBLE",
    "int": "INTEGER",
    "bool": "BOOLEAN",
    "enum": "VARCHAR",
    "list": "VARCHAR",
    "period": "VARCHAR",
}


# The warehouse counts credited minutes (quantity × norm) exactly, as fixed-point numbers to a
# millionth of a minute (dbt macro type_exact_number, 18 digits): a quantity or a norm above
# 100,000 (that many products in one entry; 200 working days per unit) is a typo, and bounding
# both keeps every entry's minutes (at most 10^10) inside what those numbers hold.
MAX_QUANTITY_OR_NORM = 100_000


def norm_label(value: str) -> str:
    """Normal form used to compare headers and enum labels (NFC, trimmed, case-folded)."""
    return " ".join(unicodedata.normalize("NFC", value).split()).casefold()


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    label: str
    required: bool = False
    # canonical value -> accepted Vietnamese labels (besides the canonical value itself)
    enum: dict[str, tuple[str, ...]] = field(default_factory=dict)
    default: str | None = None
    # inclusive/exclusive numeric bounds, checked after the cast (reason ``out_of_range``)
    min_value: float | None = None
    min_exclusive: bool = False
    max_value: float | None = None
    # NFC-normalise text values; off for long free text, where it costs more than the whole
    # CSV parse and changes no join or grouping
    nfc: bool = True
    # a text whose values differ on nearly every row (an id): stored with ZSTD, where DuckDB
    # would try its dictionary on every value and never keep it (load.raw_table_ddl)
    distinct: bool = False

    @property
    def sql_type(self) -> str:
        return SQL_TYPES[self.kind]

    @property
    def never_null(self) -> bool:
        """Whether every loaded row holds a value: a required value is checked, an empty cell
        of a column with a default takes it."""
        return self.required or self.default is not None

    def bounds_text(self) -> str:
        parts = []
        if self.min_value is not None:
            parts.append(f"{'>' if self.min_exclusive else '>='} {_number_text(self.min_value)}")
        if self.max_value is not None:
            parts.append(f"<= {_number_text(self.max_value)}")
        return " and ".join(parts)


def _number_text(value: float) -> str:
    """1000000 as 1000000, not 1e+06."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


@dataclass(frozen=True)
class Source:
    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    # (start column, end column): the end must not be before the start (``end_before_start``)
    intervals: tuple[tuple[str, str], ...] = ()
    # (date column, staff column), both required: the rows are stored by month of the date, then
    # by staff member (see load._cluster_order)
    cluster: tuple[str, str] | None = None

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    def header_map(self) -> dict[str, str]:
        """Normalised header text (canonical name or Vietnamese label) -> canonical name."""
        out: dict[str, str] = {}
        for c in self.columns:
            out[norm_label(c.name)] = c.name
            out[norm_label(c.label)] = c.name
        return out


def _c(name: str, kind: Kind, label: str, required: bool = False, **kw: object) -> Column:
    return Column(name, kind, label, required, **kw)  # type: ignore[arg-type]


AGENCY_TYPES = {
    "department": ("sở", "sở, ban, ngành", "sở/ban/ngành", "sở ban ngành"),
    "front": ("mặt trận", "mặt trận tổ quốc", "ủy ban mttq", "mttq"),
    "mass_org": ("tổ chức chính trị - xã hội", "đoàn thể", "hội đoàn thể"),
    "party": ("đảng", "cơ quan đảng", "ban đảng"),
    "district": ("huyện", "ubnd huyện", "cấp huyện"),
    "commune": ("xã", "ubnd xã", "cấp xã"),
    "other": ("khác",),
}
POSITION_GROUPS = {
    "leadership": ("lãnh đạo", "lãnh đạo, quản lý", "lãnh đạo quản lý"),
    "specialist": ("chuyên môn", "chuyên môn, nghiệp vụ", "chuyên môn nghiệp vụ"),
    "shared_specialist": ("chuyên môn dùng chung",),
    "support": ("hỗ trợ", "hỗ trợ, phục vụ", "hỗ trợ phục vụ"),
}
TASK_GROUPS: dict[str, tuple[str, ...]] = {"A": (), "B": (), "C": (), "D": ()}
EVIDENCE_TYPES = {
    "document": ("văn bản",),
    "meeting": ("cuộc họp", "họp"),
    "field_trip": ("đi thực tế", "chuyến công tác", "kiểm tra hiện trường"),
    "none": ("không",),
}
WORKLOG_STATUS = {
    "draft": ("nháp",),
    "submitted": ("chờ duyệt", "đã gửi"),
    "approved": ("đã duyệt",),
    "rejected": ("từ chối", "bị từ chối"),
    # both tone-mark placements are in use ("hủy" / "huỷ") and NFC does not unify them
    "cancelled": ("đã hủy", "đã huỷ", "hủy", "huỷ"),
}
DIRECTIONS = {"outgoing": ("đi", "văn bản đi"), "incoming": ("đến", "văn bản đến")}
EVENT_TYPES = {
    "meeting": ("họp", "cuộc họp"),
    "field_trip": ("đi thực tế", "kiểm tra hiện trường", "đi thực tế / kiểm tra hiện trường"),
    "training": ("tập huấn",),
    "citizen_reception": ("tiếp công dân",),
    "other": ("khác",),
}
LEAVE_TYPES = {
    "annual": ("nghỉ phép năm", "phép năm", "nghỉ phép"),
    "sick": ("nghỉ ốm", "ốm"),
    "maternity": ("nghỉ thai sản", "thai sản"),
    "unpaid": ("nghỉ không lương", "không lương"),
    "other": ("khác",),
}

SOURCE_LIST: tuple[Source, ...] = (
    Source(
        "agencies",
        (
            _c("agency_code", "text", "Mã cơ quan", True),
            _c("agency_name", "text", "Tên cơ quan", True),
            _c("agency_type", "enum", "Loại cơ quan", True, enum=AGENCY_TYPES),
            _c("parent_agency_code", "text", "Cơ quan cấp trên"),
            _c("valid_from", "date", "Hiệu lực từ", True),
            _c("valid_to", "date", "Hiệu lực đến"),
            _c("successor_agency_code", "text", "Cơ quan kế thừa"),
        ),
        key=("agency_code",),
        intervals=(("valid_from", "valid_to"),),
    ),
    Source(
        "positions",
        (
            _c("agency_code", "text", "Mã cơ quan", True),
            _c("position_code", "text", "Mã vị trí việc làm", True),
            _c("position_name", "text", "Tên vị trí việc làm", True),
            _c("position_group", "enum", "Nhóm vị trí", True, enum=POSITION_GROUPS),
            _c("approved_headcount", "int", "Biên chế được giao", True, min_value=0),
            _c("valid_from", "date", "Hiệu lực từ", True),
        ),
        key=("agency_code", "position_code", "valid_from"),
    ),
    Source(
        "tasks",
        (
            _c("agency_code", "text", "Mã cơ quan", True),
            _c("task_code", "text", "Mã đầu việc", True),
            _c("task_name", "text", "Tên đầu việc", True),
            _c("task_group", "enum", "Nhóm đầu việc", enum=TASK_GROUPS),
            _c("stage_code", "text", "Mã giai đoạn"),
            _c("stage_name", "text", "Tên giai đoạn"),
            _c("unit", "text", "Đơn vị tính", True),
            _c(
                "standard_minutes",
                "decimal",
                "Định mức (phút)",
                True,
                min_value=0,
                min_exclusive=True,
                max_value=MAX_QUANTITY_OR_NORM,
            ),
            _c("evidence_type", "enum", "Minh chứng", True, enum=EVIDENCE_TYPES),
            _c("valid_from", "date", "Hiệu lực từ", True),
        ),
        key=("agency_code", "task_code", "stage_code", "valid_from"),
    ),
    Source(
        "staff",
        (
            _c("staff_id", "text", "Mã cán bộ", True),
            _c("full_name", "text", "Họ và tên", True),
            _c("agency_code", "text", "Mã cơ quan", True),
            _c("department", "text", "Phòng/ban"),
            _c("position_code", "text", "Mã vị trí việc làm", True),
            _c("is_leader", "bool", "Lãnh đạo"),
            _c("assignment_start", "date", "Từ ngày", True),
            _c("assignment_end", "date", "Đến ngày"),
        ),
        key=("staff_id", "assignment_start"),
        intervals=(("assignment_start", "assignment_end"),),
    ),
    Source(
        "worklog",
        (
            _c("entry_id", "text", "Mã kê khai", True, distinct=True),
            _c("revision", "int", "Lần sửa", default="1", min_value=1),
            _c("staff_id", "text", "Mã cán bộ", True),
            _c("work_date", "date", "Ngày thực hiện", True),
            _c("task_code", "text", "Mã đầu việc", True),
            _c("stage_code", "text", "Mã giai đoạn"),
            _c(
                "quantity",
                "decimal",
                "Số lượng",
                default="1",
                min_value=0,
                min_exclusive=True,
                max_value=MAX_QUANTITY_OR_NORM,
            ),
            _c(
                "declared_minutes",
                "int",
                "Thời gian kê khai (phút)",
                min_value=1,
                max_value=1440,
            ),
            _c("description", "text", "Nội dung", nfc=False),
            _c("document_ref", "list", "Số ký hiệu văn bản"),
            _c("status", "enum", "Trạng thái", True, enum=WORKLOG_STATUS),
            _c("submitted_at", "datetime", "Thời điểm gửi"),
            _c("reviewed_by", "text", "Người duyệt"),
            _c("reviewed_at", "datetime", "Thời điểm duyệt"),
        ),
        key=("entry_id", "revision"),
        cluster=("work_date", "staff_id"),
    ),
    Source(
        "documents",
        (
            _c("doc_id", "text", "Mã văn bản", True, distinct=True),
            _c("agency_code", "text", "Mã cơ quan", True),
            _c("direction", "enum", "Loại sổ", True, enum=DIRECTIONS),
            _c("doc_number", "text", "Số ký hiệu", True),
            _c("doc_type", "text", "Loại văn bản"),
            _c("issued_date", "date", "Ngày ban hành", True),
            _c("subject", "text", "Trích yếu", nfc=False),
            _c("drafter_staff_id", "text", "Người soạn thảo"),
            _c("signer_staff_id", "text", "Người ký"),
            _c("handler_staff_id", "text", "Người xử lý"),
            _c("due_date", "date", "Hạn xử lý"),
            _c("completed_date", "date", "Ngày hoàn thành"),
        ),
        key=("doc_id",),
    ),
    Source(
        "events",
        (
            _c("event_id", "text", "Mã sự kiện", True),
            _c("agency_code", "text", "Mã cơ quan", True),
            _c("event_type", "enum", "Loại", True, enum=EVENT_TYPES),
            _c("title", "text", "Nội dung", nfc=False),
            _c("start_at", "datetime", "Bắt đầu", True),
            _c("end_at", "datetime", "Kết thúc", True),
            _c("participant_staff_ids", "list", "Thành phần tham dự", True),
        ),
        key=("event_id",),
        intervals=(("start_at", "end_at"),),
    ),
    Source(
        "leave",
        (
            _c("staff_id", "text", "Mã cán bộ", True),
            _c("leave_type", "enum", "Loại nghỉ", True, enum=LEAVE_TYPES),
            _c("leave_start", "date", "Từ ngày", True),
            _c("leave_end", "date", "Đến ngày", True),
            _c("half_day", "bool", "Nửa ngày"),
        ),
        key=("staff_id", "leave_start"),
        intervals=(("leave_start", "leave_end"),),
    ),
    Source(
        "evaluations",
        (
            _c("staff_id", "text", "Mã cán bộ", True),
            _c("period", "period", "Kỳ đánh giá", True),
            _c("evaluator_staff_id", "text", "Người đánh giá"),
            _c("quality_score", "decimal", "Điểm chất lượng", True, min_value=0, max_value=100),
            _c("general_score", "decimal", "Điểm tiêu chí chung", min_value=0, max_value=30),
            _c("comment", "text", "Nhận xét", nfc=False),
        ),
        key=("staff_id", "period"),
    ),
)

CONTRACT: dict[str, Source] = {s.name: s for s in SOURCE_LIST}
SOURCES: tuple[str, ...] = tuple(s.name for s in SOURCE_LIST)
# a build cannot start without these folders
REQUIRED_FOLDERS: frozenset[str] = frozenset({"agencies", "staff"})

META_COLUMNS: tuple[tuple[str, str], ...] = (
    ("_extra", "VARCHAR"),
    ("_source_file", "VARCHAR"),
    ("_source_row", "INTEGER"),
    ("_delivery_id", "INTEGER"),
    ("_loaded_at", "TIMESTAMP"),
)
