"""Column order, Vietnamese labels and enum labels of ``contract/raw-sources.md``.

Kept here, not imported from the ingestion package, so that the generator stays an
independent producer of the contract: if the two ever disagree, the tests of either side
will say so.
"""

from __future__ import annotations

# (canonical name, Vietnamese label, kind)
Column = tuple[str, str, str]

SOURCES: dict[str, list[Column]] = {
    "agencies": [
        ("agency_code", "Mã cơ quan", "text"),
        ("agency_name", "Tên cơ quan", "text"),
        ("agency_type", "Loại cơ quan", "enum"),
        ("parent_agency_code", "Cơ quan cấp trên", "text"),
        ("valid_from", "Hiệu lực từ", "date"),
        ("valid_to", "Hiệu lực đến", "date"),
        ("successor_agency_code", "Cơ quan kế thừa", "text"),
    ],
    "positions": [
        ("agency_code", "Mã cơ quan", "text"),
        ("position_code", "Mã vị trí việc làm", "text"),
        ("position_name", "Tên vị trí việc làm", "text"),
        ("position_group", "Nhóm vị trí", "enum"),
        ("approved_headcount", "Biên chế được giao", "int"),
        ("valid_from", "Hiệu lực từ", "date"),
    ],
    "tasks": [
        ("agency_code", "Mã cơ quan", "text"),
        ("task_code", "Mã đầu việc", "text"),
        ("task_name", "Tên đầu việc", "text"),
        ("task_group", "Nhóm đầu việc", "enum"),
        ("stage_code", "Mã giai đoạn", "text"),
        ("stage_name", "Tên giai đoạn", "text"),
        ("unit", "Đơn vị tính", "text"),
        ("standard_minutes", "Định mức (phút)", "decimal"),
        ("evidence_type", "Minh chứng", "enum"),
        ("valid_from", "Hiệu lực từ", "date"),
    ],
    "staff": [
        ("staff_id", "Mã cán bộ", "text"),
        ("full_name", "Họ và tên", "text"),
        ("agency_code", "Mã cơ quan", "text"),
        ("department", "Phòng/ban", "text"),
        ("position_code", "Mã vị trí việc làm", "text"),
        ("is_leader", "Lãnh đạo", "bool"),
        ("assignment_start", "Từ ngày", "date"),
        ("assignment_end", "Đến ngày", "date"),
    ],
    "worklog": [
        ("entry_id", "Mã kê khai", "text"),
        ("revision", "Lần sửa", "int"),
        ("staff_id", "Mã cán bộ", "text"),
        ("work_date", "Ngày thực hiện", "date"),
        ("task_code", "Mã đầu việc", "text"),
        ("stage_code", "Mã giai đoạn", "text"),
        ("quantity", "Số lượng", "decimal"),
        ("declared_minutes", "Thời gian kê khai (phút)", "int"),
        ("description", "Nội dung", "text"),
        ("document_ref", "Số ký hiệu văn bản", "list"),
        ("status", "Trạng thái", "enum"),
        ("submitted_at", "Thời điểm gửi", "datetime"),
        ("reviewed_by", "Người duyệt", "text"),
        ("reviewed_at", "Thời điểm duyệt", "datetime"),
    ],
    "documents": [
        ("doc_id", "Mã văn bản", "text"),
        ("agency_code", "Mã cơ quan", "text"),
        ("direction", "Loại sổ", "enum"),
        ("doc_number", "Số ký hiệu", "text"),
        ("doc_type", "Loại văn bản", "text"),
        ("issued_date", "Ngày ban hành", "date"),
        ("subject", "Trích yếu", "text"),
        ("drafter_staff_id", "Người soạn thảo", "text"),
        ("signer_staff_id", "Người ký", "text"),
        ("handler_staff_id", "Người xử lý", "text"),
        ("due_date", "Hạn xử lý", "date"),
        ("completed_date", "Ngày hoàn thành", "date"),
    ],
    "events": [
        ("event_id", "Mã sự kiện", "text"),
        ("agency_code", "Mã cơ quan", "text"),
        ("event_type", "Loại", "enum"),
        ("title", "Nội dung", "text"),
        ("start_at", "Bắt đầu", "datetime"),
        ("end_at", "Kết thúc", "datetime"),
        ("participant_staff_ids", "Thành phần tham dự", "list"),
    ],
    "leave": [
        ("staff_id", "Mã cán bộ", "text"),
        ("leave_type", "Loại nghỉ", "enum"),
        ("leave_start", "Từ ngày", "date"),
        ("leave_end", "Đến ngày", "date"),
        ("half_day", "Nửa ngày", "bool"),
    ],
    "evaluations": [
        ("staff_id", "Mã cán bộ", "text"),
        ("period", "Kỳ đánh giá", "text"),
        ("evaluator_staff_id", "Người đánh giá", "text"),
        ("quality_score", "Điểm chất lượng", "decimal"),
        ("general_score", "Điểm tiêu chí chung", "decimal"),
        ("comment", "Nhận xét", "text"),
    ],
}

SOURCE_NAMES = list(SOURCES)

REQUIRED: dict[str, set[str]] = {
    "agencies": {"agency_code", "agency_name", "agency_type", "valid_from"},
    "positions": {
        "agency_code",
        "position_code",
        "position_name",
        "position_group",
        "approved_headcount",
        "valid_from",
    },
    "tasks": {
        "agency_code",
        "task_code",
        "task_name",
        "unit",
        "standard_minutes",
        "evidence_type",
        "valid_from",
    },
    "staff": {"staff_id", "full_name", "agency_code", "position_code", "assignment_start"},
    "worklog": {"entry_id", "staff_id", "work_date", "task_code", "status"},
    "documents": {"doc_id", "agency_code", "direction", "doc_number", "issued_date"},
    "events": {
        "event_id",
        "agency_code",
        "event_type",
        "start_at",
        "end_at",
        "participant_staff_ids",
    },
    "leave": {"staff_id", "leave_type", "leave_start", "leave_end"},
    "evaluations": {"staff_id", "period", "quality_score"},
}

ENUMS: dict[tuple[str, str], tuple[str, ...]] = {
    ("agencies", "agency_type"): (
        "department",
        "front",
        "mass_org",
        "party",
        "district",
        "commune",
        "other",
    ),
    ("positions", "position_group"): ("leadership", "specialist", "shared_specialist", "support"),
    ("tasks", "task_group"): ("A", "B", "C", "D"),
    ("tasks", "evidence_type"): ("document", "meeting", "field_trip", "none"),
    ("worklog", "status"): ("draft", "submitted", "approved", "rejected", "cancelled"),
    ("documents", "direction"): ("outgoing", "incoming"),
    ("events", "event_type"): ("meeting", "field_trip", "training", "citizen_reception", "other"),
    ("leave", "leave_type"): ("annual", "sick", "maternity", "unpaid", "other"),
}

# Only the labels the contract spells out unambiguously are used in exports.
ENUM_LABELS: dict[tuple[str, str], dict[str, str]] = {
    ("worklog", "status"): {
        "draft": "Nháp",
        "submitted": "Chờ duyệt",
        "approved": "Đã duyệt",
        "rejected": "Từ chối",
        "cancelled": "Đã hủy",
    },
    ("documents", "direction"): {"outgoing": "Đi", "incoming": "Đến"},
    ("events", "event_type"): {
        "meeting": "Họp",
        "training": "Tập huấn",
        "citizen_reception": "Tiếp công dân",
    },
}


def columns(source: str) -> list[str]:
    return [c[0] for c in SOURCES[source]]


def labels(source: str) -> dict[str, str]:
    return {c[0]: c[1] for c in SOURCES[source]}


def kinds(source: str) -> dict[str, str]:
    return {c[0]: c[2] for c in SOURCES[source]}
