"""Vietnamese labels and definitions shown in the leadership workbooks.

Everything a reader sees is in Vietnamese; the codes stored in the marts (`over`, `surplus`,
`specialist`, ...) stay in English there and are translated here only, so that a change of
wording never touches the warehouse. The definitions paraphrase /work/shared/contract/metrics.md
(contract v1); keep them in step with it.
"""

from __future__ import annotations

PROVINCE_NAME = "tỉnh Khánh Hòa"
PROGRAMME = "Chương trình KPI cán bộ, công chức, viên chức"
AUTHOR = "Kho dữ liệu KPI (KPI Warehouse)"
PROVINCE_FILE_TAG = "toan-tinh"
PROVINCE_LABEL = "Toàn tỉnh"

# Decree 62/2020/NĐ-CP names the four kinds of job position (vị trí việc làm).
POSITION_GROUPS: dict[str, str] = {
    "leadership": "Lãnh đạo, quản lý",
    "specialist": "Chuyên môn, nghiệp vụ",
    "shared_specialist": "Chuyên môn dùng chung",
    "support": "Hỗ trợ, phục vụ",
    "unknown": "Chưa xác định",
}

HOURS_STATUS: dict[str, str] = {
    "over": "Trên 8 giờ",
    "meets": "Đạt 8 giờ",
    "under": "Dưới 8 giờ",
}
NO_HOURS_STATUS = "Không có giờ khả dụng"

STAFFING_STATUS: dict[str, str] = {
    "surplus": "Thừa",
    "balanced": "Cân đối",
    "shortage": "Thiếu",
}

# Best first: the order of the bands in the seed and of the columns in the distribution tables.
CLASSIFICATIONS: tuple[str, ...] = (
    "Hoàn thành xuất sắc nhiệm vụ",
    "Hoàn thành tốt nhiệm vụ",
    "Hoàn thành nhiệm vụ",
    "Không hoàn thành nhiệm vụ",
)
NOT_CLASSIFIED = "Chưa xếp loại"

YES = "Có"
NO = "Không"

SHEETS = {
    "cover": "Bìa",
    "headline": "Tổng quan",
    "people": "Cá nhân",
    "staffing": "Biên chế",
    "scorecard": "Xếp loại",
}


def position_group(code: str | None) -> str:
    if code is None:
        return POSITION_GROUPS["unknown"]
    return POSITION_GROUPS.get(code, code)


def hours_status(code: str | None) -> str:
    if code is None:
        return NO_HOURS_STATUS
    return HOURS_STATUS.get(code, code)


def staffing_status(code: str | None) -> str:
    if code is None:
        return ""
    return STAFFING_STATUS.get(code, code)


def period_label(kind: str, year: int, number: int) -> str:
    if kind == "month":
        return f"Tháng {number:02d}/{year}"
    return f"Quý {number}/{year}"


# (metric, definition) pairs for the cover sheet, in the order the workbook shows them.
DEFINITIONS: tuple[tuple[str, str], ...] = (
    (
        "Ngày làm việc",
        "Thứ Hai đến thứ Sáu không phải ngày nghỉ lễ, Tết, cộng các ngày thứ Bảy làm bù theo "
        "lịch chính thức. Một ngày làm việc tiêu chuẩn là 8 giờ.",
    ),
    (
        "Giờ khả dụng",
        "Tổng số giờ có thể làm việc trong kỳ: mỗi ngày làm việc có phân công là 8 giờ, trừ "
        "giờ nghỉ phép (nghỉ cả ngày trừ 8 giờ, nửa ngày trừ 4 giờ; các kỳ nghỉ trùng nhau chỉ "
        "tính mức lớn nhất).",
    ),
    (
        "Giờ được ghi nhận",
        "Tổng thời gian quy đổi của các đầu việc đã được duyệt: số lượng × định mức thời gian "
        "chuẩn của đầu việc trong danh mục (theo cơ quan, mã công việc, bước xử lý, phiên bản "
        "hiệu lực tại ngày làm việc). Đầu việc chưa duyệt, bị từ chối hoặc hủy không được tính. "
        "Công việc làm vào ngày nghỉ vẫn được ghi nhận nhưng không làm tăng giờ khả dụng.",
    ),
    (
        "Ngày công chuẩn",
        "Giờ khả dụng ÷ 8.",
    ),
    (
        "Bình quân giờ/ngày",
        "Giờ được ghi nhận ÷ ngày công chuẩn. Với cơ quan, lấy tổng giờ được ghi nhận chia tổng "
        "ngày công chuẩn của mọi người (bình quân gộp, không phải trung bình của các bình quân). "
        "Để trống khi không có giờ khả dụng.",
    ),
    (
        "Trên / đạt / dưới 8 giờ",
        "Xếp theo bình quân giờ/ngày làm tròn 2 chữ số thập phân: lớn hơn 8 là trên 8 giờ, "
        "bằng 8 là đạt 8 giờ, nhỏ hơn 8 là dưới 8 giờ. Số người của cơ quan chỉ đếm những người "
        "có giờ khả dụng trong kỳ.",
    ),
    (
        "Số công chức",
        "Số người có giờ khả dụng tại cơ quan trong kỳ. Người chuyển công tác giữa kỳ được tính ở "
        "mỗi cơ quan đã làm việc, nên tổng toàn tỉnh có thể đếm một người nhiều lần.",
    ),
    (
        "Tỷ lệ sử dụng",
        "Giờ được ghi nhận ÷ giờ khả dụng.",
    ),
    (
        "Tỷ lệ minh chứng",
        "Phần giờ được ghi nhận có minh chứng trên tổng giờ được ghi nhận của các đầu việc cần "
        "minh chứng. Văn bản: số văn bản đi của cơ quan, do chính người đó soạn thảo hoặc ký, "
        "ban hành trong khoảng từ 7 ngày trước đến 30 ngày sau ngày làm việc. Cuộc họp, công tác: "
        "sự kiện cùng loại có người đó tham dự, diễn ra vào ngày làm việc. Để trống khi không có "
        "đầu việc cần minh chứng.",
    ),
    (
        "Tỷ lệ kê khai",
        "Tỷ lệ ngày làm việc có giờ khả dụng mà người đó có ít nhất một đầu việc đã gửi hoặc đã "
        "duyệt.",
    ),
    (
        "Bản ghi / bản ghi bị gắn cờ",
        "Số đầu việc đã gửi hoặc đã duyệt (phiên bản mới nhất), và số đầu việc có ít nhất một cờ "
        "kiểm tra (thiếu minh chứng, nộp muộn quá 7 ngày, nghi trùng lặp, ngày kê khai quá "
        "16 giờ, làm ngày nghỉ, đang nghỉ phép, ...).",
    ),
    (
        "Nhóm vị trí việc làm",
        "Nhóm của vị trí việc làm vào ngày làm việc cuối cùng của người đó tại cơ quan trong kỳ: "
        "lãnh đạo, quản lý; chuyên môn, nghiệp vụ; chuyên môn dùng chung; hỗ trợ, phục vụ.",
    ),
    (
        "Biên chế thực tế (FTE)",
        "Số ngày-người có phân công trong kỳ ÷ số ngày làm việc của kỳ (ngày nghỉ phép vẫn tính "
        "là có mặt: nghỉ phép làm giảm thời gian làm việc khả dụng chứ không giảm biên chế).",
    ),
    (
        "Khối lượng công việc (giờ)",
        "Tổng giờ được ghi nhận của nhóm vị trí trong kỳ.",
    ),
    (
        "Thời gian làm việc khả dụng/FTE",
        "Tổng giờ khả dụng của nhóm ÷ biên chế thực tế.",
    ),
    (
        "Biên chế cần thiết (FTE)",
        "Khối lượng công việc ÷ (thời gian làm việc khả dụng/FTE × hệ số sử dụng mục tiêu 1,0) "
        "÷ (1 − tỷ lệ dự phòng 0,0). Phương pháp WISN của Tổ chức Y tế Thế giới, lấy định mức "
        "thời gian trong danh mục làm chuẩn hoạt động.",
    ),
    (
        "Chênh lệch, tỉ số WISN",
        "Chênh lệch = biên chế thực tế − biên chế cần thiết; tỉ số = biên chế thực tế ÷ biên chế "
        "cần thiết. Thừa khi chênh lệch ≥ 1, thiếu khi ≤ −1, còn lại là cân đối.",
    ),
    (
        "Biên chế được giao, chênh lệch so với định biên",
        "Tổng chỉ tiêu biên chế các vị trí của nhóm theo quyết định giao có hiệu lực gần nhất "
        "tính đến ngày cuối kỳ; chênh lệch = biên chế được giao − biên chế cần thiết.",
    ),
    (
        "Tỷ lệ khối lượng",
        "min(tỷ lệ sử dụng, 1): khối lượng công việc quy đổi so với thời gian chuẩn khả dụng.",
    ),
    (
        "Tỷ lệ chất lượng",
        "Điểm chất lượng do lãnh đạo đánh giá ÷ 100 (quý: trung bình các tháng có đánh giá).",
    ),
    (
        "Tỷ lệ tiến độ",
        "Tỷ lệ văn bản đến do người đó xử lý, có hạn trong kỳ, hoàn thành đúng hoặc trước hạn "
        "(văn bản chưa có ngày hoàn thành tính là trễ hạn).",
    ),
    (
        "Điểm kết quả nhiệm vụ (70)",
        "70 × trung bình có trọng số của các tỷ lệ khối lượng, chất lượng, tiến độ có số liệu "
        "(trọng số mặc định bằng nhau, chuẩn hóa lại khi thiếu tỷ lệ).",
    ),
    (
        "Điểm tiêu chí chung (30)",
        "Điểm tiêu chí chung do lãnh đạo chấm (0–30; quý: trung bình các tháng có điểm). Khi "
        "chưa có điểm, ước tính bằng 30 × điểm kết quả nhiệm vụ ÷ 70 và ghi “Có” ở cột ước tính.",
    ),
    (
        "Tổng điểm, xếp loại",
        "Tổng điểm = điểm tiêu chí chung + điểm kết quả nhiệm vụ, thang 100 điểm theo Nghị định "
        "335/2025/NĐ-CP. Từ 90 điểm: Hoàn thành xuất sắc nhiệm vụ; từ 70: Hoàn thành tốt nhiệm "
        "vụ; từ 50: Hoàn thành nhiệm vụ; dưới 50: Không hoàn thành nhiệm vụ. Người có điểm tiêu "
        "chí chung ước tính được xếp tối đa Hoàn thành tốt nhiệm vụ.",
    ),
    (
        "Xếp loại sau áp tỷ lệ",
        "Trong mỗi cơ quan và kỳ, số người Hoàn thành xuất sắc nhiệm vụ không quá 20% số người "
        "từ Hoàn thành tốt nhiệm vụ trở lên (làm tròn xuống). Xếp theo tổng điểm, rồi tỷ lệ khối "
        "lượng giảm dần, rồi mã công chức; người vượt tỷ lệ chuyển xuống Hoàn thành tốt nhiệm vụ.",
    ),
)

NUMBER_NOTE = (
    "Các ô số liệu được lưu dưới dạng số để có thể tính toán tiếp. Dấu thập phân và dấu phân "
    "cách hàng nghìn hiển thị theo thiết lập vùng (Region) của máy: với thiết lập tiếng Việt, "
    "5,5 là năm phẩy năm và 1.234 là một nghìn hai trăm ba mươi tư. Ngày hiển thị dạng "
    "DD/MM/YYYY."
)
PRIVACY_NOTE_AGENCY = (
    "Tài liệu có thông tin cá nhân của công chức thuộc cơ quan; chỉ sử dụng trong phạm vi "
    "quản lý, đánh giá theo quy định về bảo vệ dữ liệu cá nhân (Nghị định 13/2023/NĐ-CP)."
)
PRIVACY_NOTE_PROVINCE = "Báo cáo tổng hợp chỉ có số lượng người, không có họ tên hay mã công chức."
