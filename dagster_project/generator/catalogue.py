"""Per-agency KPI task catalogues (danh mục đầu việc) with stages, units and norms.

A task is written as ``"<kind>:<name>[:<doc type>]"``; the kind decides its stages:

- ``a`` appraisal: receive/check the file (hồ sơ, no evidence), appraise and draft the result
  (văn bản, evidence ``document``);
- ``d`` drafting in three stages: research, draft (``document``), finalise for signature;
- ``s`` a single-stage document (``document``);
- ``m`` a meeting (``meeting``), ``t`` a field trip (``field_trip``);
- ``p`` plain work without evidence, with its unit and norm given as ``p:name:unit:minutes``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from .agencies import Agency

NORM_REVISION_DAY = date(2025, 7, 1)

# Weights by position group (leadership, specialist, shared_specialist, support).
# Hand-laid tables, one entry a line or group: the formatter would split each field.
# fmt: off
_ROLE_WEIGHTS = {
    "A": (1.0, 0.0, 0.0, 0.0),
    "B": (0.35, 0.45, 1.0, 0.15),
    "C": (0.25, 1.0, 0.25, 0.0),
    "D": (0.02, 0.02, 0.25, 1.0),
}
EVIDENCE_CODES = ("document", "meeting", "field_trip", "none")

STC_TASKS: dict[str, list[str]] = {
    "A": [
        "p:Chỉ đạo, điều hành công tác chung của cơ quan:ngày:240",
        "m:Chủ trì họp giao ban, hội nghị",
        "p:Ký duyệt, ban hành văn bản:văn bản:15",
        "m:Làm việc với các sở, ngành, địa phương",
        "t:Kiểm tra, đôn đốc thực hiện nhiệm vụ",
        "p:Tiếp công dân định kỳ:buổi:240",
    ],
    "B": [
        "p:Xử lý văn bản đến:văn bản:15",
        "d:Tham mưu báo cáo định kỳ (tháng, quý, năm):Báo cáo",
        "s:Tham gia ý kiến dự thảo văn bản của cơ quan khác:Công văn",
        "m:Dự họp, hội nghị",
        "d:Trả lời kiến nghị của cử tri, doanh nghiệp:Công văn",
        "p:Cập nhật cơ sở dữ liệu chuyên ngành:hồ sơ:20",
        "s:Tổng hợp, báo cáo thống kê:Báo cáo",
        "p:Cải cách hành chính, chuyển đổi số:nhiệm vụ:90",
        "d:Công tác thi đua, khen thưởng:Tờ trình",
        "d:Xây dựng kế hoạch công tác:Kế hoạch",
        "p:Phòng, chống tham nhũng, tiêu cực:nhiệm vụ:60",
        "p:Tham gia tập huấn, bồi dưỡng nghiệp vụ:buổi:240",
    ],
    "C": [
        "a:Thẩm định dự toán ngân sách của cơ quan, đơn vị:Công văn",
        "a:Thẩm tra quyết toán ngân sách:Thông báo",
        "d:Xây dựng dự toán ngân sách tỉnh:Tờ trình",
        "a:Thẩm định phương án phân bổ vốn đầu tư công:Tờ trình",
        "a:Thẩm tra quyết toán dự án hoàn thành:Quyết định",
        "a:Thẩm định giá tài sản, hàng hóa:Thông báo",
        "a:Quản lý, điều chuyển, thanh lý tài sản công:Quyết định",
        "a:Thẩm định phương án giá:Công văn",
        "p:Đăng ký thành lập doanh nghiệp:hồ sơ:30",
        "p:Đăng ký thay đổi nội dung đăng ký doanh nghiệp:hồ sơ:20",
        "a:Thẩm định dự án đầu tư ngoài ngân sách:Công văn",
        "d:Tham mưu quyết định chủ trương đầu tư:Quyết định",
        "t:Giám sát, đánh giá đầu tư",
        "d:Xây dựng kế hoạch phát triển kinh tế - xã hội:Kế hoạch",
        "s:Quản lý vốn ODA, vốn vay ưu đãi:Công văn",
        "s:Quản lý tài chính doanh nghiệp nhà nước:Công văn",
        "t:Sắp xếp lại, xử lý nhà, đất",
        "t:Kiểm tra công tác tài chính, ngân sách tại đơn vị",
        "t:Thanh tra chuyên ngành tài chính",
        "d:Giải quyết khiếu nại, tố cáo:Công văn",
        "s:Quản lý giá, niêm yết giá:Thông báo",
        "s:Hướng dẫn nghiệp vụ tài chính cho đơn vị:Công văn",
        "s:Quản lý quỹ tài chính nhà nước ngoài ngân sách:Công văn",
        "s:Quản lý nợ chính quyền địa phương:Báo cáo",
        "a:Thẩm định hồ sơ mời thầu, kết quả lựa chọn nhà thầu:Quyết định",
        "m:Xúc tiến đầu tư, hỗ trợ nhà đầu tư",
        "s:Theo dõi, đôn đốc giải ngân vốn đầu tư công:Báo cáo",
        "p:Quản lý hoạt động xổ số, bảo hiểm:hồ sơ:60",
        "s:Công khai ngân sách:Thông báo",
    ],
    "D": [
        "p:Công tác văn thư, lưu trữ:văn bản:10",
        "p:Quản trị, hành chính, hậu cần:nhiệm vụ:60",
        "p:Lái xe phục vụ công tác:chuyến:240",
    ],
}

_COMMON = {k: v for k, v in STC_TASKS.items() if k in "ABD"}

# Agency-specific (group C) work by domain.
DOMAIN_TASKS: dict[str, list[str]] = {
    "home_affairs": [
        "a:Thẩm định đề án vị trí việc làm:Tờ trình", "d:Tham mưu giao biên chế:Quyết định",
        "a:Thẩm định hồ sơ tuyển dụng, nâng ngạch:Công văn",
        "d:Sắp xếp tổ chức bộ máy, đơn vị hành chính:Tờ trình",
        "a:Giải quyết chế độ chính sách theo Nghị định 178:Quyết định",
        "a:Xác nhận hồ sơ người có công:Quyết định", "t:Kiểm tra công tác nội vụ tại địa phương",
        "s:Quản lý hội, quỹ xã hội, từ thiện:Công văn", "p:Cấp giấy phép lao động:hồ sơ:45",
    ],
    "construction": [
        "a:Thẩm định báo cáo nghiên cứu khả thi:Thông báo", "a:Cấp giấy phép xây dựng:Công văn",
        "a:Thẩm định quy hoạch chi tiết:Tờ trình", "t:Kiểm tra công tác nghiệm thu công trình",
        "s:Quản lý kết cấu hạ tầng giao thông:Công văn", "p:Cấp giấy phép lái xe:hồ sơ:20",
        "a:Thẩm định giá nhà ở xã hội:Công văn", "t:Kiểm tra trật tự xây dựng",
    ],
    "agri_env": [
        "a:Thẩm định hồ sơ giao đất, cho thuê đất:Tờ trình",
        "a:Thẩm định báo cáo đánh giá tác động môi trường:Quyết định",
        "p:Cấp giấy chứng nhận quyền sử dụng đất:hồ sơ:60",
        "t:Kiểm tra dịch bệnh cây trồng, vật nuôi",
        "t:Tuần tra, kiểm soát khai thác thủy sản", "s:Quản lý tài nguyên nước:Công văn",
        "t:Kiểm tra bảo vệ rừng, phòng cháy chữa cháy rừng", "d:Xây dựng bảng giá đất:Quyết định",
        "a:Cấp phép khai thác khoáng sản:Quyết định",
    ],
    "health": [
        "a:Cấp chứng chỉ hành nghề khám bệnh, chữa bệnh:Quyết định",
        "a:Cấp giấy phép hoạt động cơ sở dược:Quyết định", "t:Kiểm tra an toàn thực phẩm",
        "s:Chỉ đạo phòng, chống dịch bệnh:Công văn", "t:Kiểm tra cơ sở khám bệnh, chữa bệnh",
        "a:Thẩm định danh mục thuốc đấu thầu:Tờ trình", "s:Quản lý bảo trợ xã hội:Công văn",
    ],
    "education": [
        "d:Tổ chức kỳ thi tốt nghiệp trung học phổ thông:Kế hoạch",
        "a:Công nhận trường đạt chuẩn quốc gia:Quyết định", "t:Kiểm tra chuyên môn tại trường học",
        "s:Hướng dẫn nhiệm vụ năm học:Công văn", "a:Thẩm định sách giáo khoa địa phương:Tờ trình",
        "p:Cấp bản sao văn bằng, chứng chỉ:hồ sơ:20", "d:Tuyển sinh đầu cấp:Kế hoạch",
    ],
    "culture": [
        "a:Cấp phép tổ chức biểu diễn nghệ thuật:Công văn", "d:Tổ chức lễ hội, sự kiện:Kế hoạch",
        "t:Kiểm tra hoạt động kinh doanh du lịch", "a:Thẩm định hồ sơ di tích:Tờ trình",
        "s:Quản lý báo chí, xuất bản:Công văn", "m:Xúc tiến, quảng bá du lịch",
        "d:Tổ chức giải thể thao cấp tỉnh:Kế hoạch",
    ],
    "justice": [
        "a:Thẩm định dự thảo văn bản quy phạm pháp luật:Báo cáo",
        "a:Kiểm tra văn bản quy phạm pháp luật:Công văn", "p:Cấp phiếu lý lịch tư pháp:hồ sơ:25",
        "a:Cấp giấy đăng ký hoạt động công chứng:Quyết định", "m:Phổ biến, giáo dục pháp luật",
        "s:Hướng dẫn công tác hộ tịch, chứng thực:Công văn",
    ],
    "econ_zone": [
        "a:Cấp giấy chứng nhận đăng ký đầu tư:Quyết định", "m:Tiếp và làm việc với nhà đầu tư",
        "a:Thẩm định quy hoạch khu chức năng:Tờ trình", "t:Kiểm tra tiến độ dự án đầu tư",
        "s:Quản lý lao động trong khu kinh tế:Công văn", "a:Cấp giấy phép môi trường:Quyết định",
    ],
    "front": [
        "d:Tổ chức hội nghị hiệp thương:Kế hoạch", "t:Giám sát, phản biện xã hội",
        "s:Vận động Quỹ Vì người nghèo:Thông báo", "m:Tiếp xúc cử tri",
        "t:Khảo sát tình hình nhân dân",
        "s:Tổng hợp ý kiến, kiến nghị của cử tri:Báo cáo",
        "d:Phát động phong trào thi đua:Kế hoạch",
    ],
    "mass_org": [
        "d:Tổ chức hoạt động phong trào:Kế hoạch", "t:Kiểm tra, giám sát cơ sở hội",
        "s:Hướng dẫn công tác hội, đoàn:Công văn", "m:Tổ chức hội thi, diễn đàn",
        "d:Tuyên truyền, giáo dục hội viên, đoàn viên:Kế hoạch", "p:Phát triển hội viên:hồ sơ:30",
    ],
    "party_office": [
        "d:Tham mưu chương trình công tác:Kế hoạch", "s:Tổng hợp tình hình, báo cáo:Báo cáo",
        "m:Phục vụ hội nghị, cuộc họp", "p:Quản lý hồ sơ, tài liệu mật:hồ sơ:30",
        "s:Theo dõi thực hiện kết luận, chỉ thị:Báo cáo", "t:Phục vụ đoàn công tác đi cơ sở",
    ],
    "party_org": [
        "a:Thẩm định hồ sơ nhân sự:Tờ trình", "a:Thẩm định hồ sơ kết nạp đảng viên:Quyết định",
        "d:Tham mưu công tác cán bộ:Tờ trình", "t:Kiểm tra công tác xây dựng đảng ở cơ sở",
        "s:Quản lý hồ sơ đảng viên:Công văn", "a:Bảo vệ chính trị nội bộ:Báo cáo",
    ],
    "party_inspect": [
        "t:Kiểm tra tổ chức đảng, đảng viên khi có dấu hiệu vi phạm", "t:Giám sát chuyên đề",
        "a:Xem xét, thi hành kỷ luật:Quyết định",
        "a:Giải quyết tố cáo, khiếu nại kỷ luật đảng:Báo cáo",
        "s:Kiểm tra tài chính đảng:Thông báo", "s:Kiểm tra kê khai tài sản, thu nhập:Báo cáo",
    ],
    "party_propaganda": [
        "d:Hướng dẫn tuyên truyền các ngày lễ lớn:Kế hoạch",
        "s:Định hướng thông tin báo chí:Công văn",
        "t:Nắm tình hình tư tưởng, dư luận xã hội", "m:Tổ chức học tập nghị quyết",
        "s:Công tác dân vận của chính quyền:Báo cáo", "d:Tổ chức hội thi báo cáo viên:Kế hoạch",
    ],
    "party_internal": [
        "s:Theo dõi công tác phòng, chống tham nhũng:Báo cáo", "t:Kiểm tra vụ việc, vụ án",
        "a:Tham mưu xử lý đơn thư:Công văn", "s:Theo dõi công tác tư pháp:Báo cáo",
        "m:Họp Ban chỉ đạo phòng, chống tham nhũng",
    ],
    "district": [
        "a:Giải quyết thủ tục hành chính đất đai:Quyết định",
        "p:Chứng thực bản sao, chữ ký:hồ sơ:10",
        "a:Cấp giấy chứng nhận đăng ký hộ kinh doanh:Công văn", "t:Kiểm tra trật tự đô thị",
        "d:Xây dựng dự toán ngân sách huyện:Tờ trình", "t:Kiểm tra công trình xây dựng cơ bản",
        "s:Chỉ đạo công tác giáo dục trên địa bàn:Công văn",
        "a:Giải quyết chế độ bảo trợ xã hội:Quyết định",
        "d:Sắp xếp đơn vị hành chính cấp xã:Tờ trình",
    ],
    "commune": [
        "p:Chứng thực bản sao, chữ ký:hồ sơ:10", "p:Đăng ký hộ tịch:hồ sơ:20",
        "a:Giải quyết thủ tục hành chính đất đai:Quyết định", "t:Kiểm tra trật tự xây dựng, đô thị",
        "s:Quản lý ngân sách xã:Công văn", "m:Tiếp xúc, đối thoại với nhân dân",
        "a:Giải quyết chế độ chính sách xã hội:Quyết định",
    ],
    "industry": [
        "a:Cấp giấy phép kinh doanh xăng dầu:Quyết định", "t:Kiểm tra thị trường, giá cả",
        "s:Quản lý cụm công nghiệp:Công văn", "a:Thẩm định dự án điện:Thông báo",
        "m:Xúc tiến thương mại",
    ],
    "science": [
        "a:Thẩm định nhiệm vụ khoa học công nghệ:Quyết định",
        "s:Quản lý tiêu chuẩn đo lường:Công văn",
        "t:Kiểm tra đo lường, chất lượng", "s:Chuyển đổi số, an toàn thông tin:Công văn",
        "m:Nghiệm thu đề tài khoa học",
    ],
    "inspection": [
        "t:Thanh tra theo kế hoạch", "a:Giải quyết khiếu nại, tố cáo:Quyết định",
        "m:Tiếp công dân, đối thoại", "s:Theo dõi thực hiện kết luận thanh tra:Báo cáo",
        "s:Kiểm soát tài sản, thu nhập:Báo cáo",
    ],
    "school": [
        "p:Giảng dạy theo thời khóa biểu:tiết:45", "p:Chấm bài kiểm tra:bài:6",
        "d:Xây dựng kế hoạch giáo dục nhà trường:Kế hoạch", "m:Sinh hoạt tổ chuyên môn",
        "p:Bồi dưỡng học sinh giỏi:buổi:180", "s:Báo cáo thống kê giáo dục:Báo cáo",
    ],
    "hospital": [
        "p:Khám bệnh ngoại trú:lượt:12", "p:Tiêm chủng mở rộng:buổi:240",
        "t:Giám sát dịch tễ tại cộng đồng", "s:Báo cáo bệnh truyền nhiễm:Báo cáo",
        "m:Giao ban chuyên môn", "p:Cấp phát thuốc:đơn:5",
    ],
}
DOMAIN_TASKS["finance"] = STC_TASKS["C"]

# Three stages of drafting, two of appraisal; norms in minutes.
_STAGES = {
    "d": [("GĐ1", "Nghiên cứu, thu thập thông tin", "hồ sơ", 90, "none"),
          ("GĐ2", "Dự thảo văn bản", "văn bản", 180, "document"),
          ("GĐ3", "Hoàn thiện, trình ký", "văn bản", 45, "none")],
    "a": [("TN", "Tiếp nhận, kiểm tra hồ sơ", "hồ sơ", 30, "none"),
          ("TĐ", "Thẩm định, dự thảo kết quả", "hồ sơ", 150, "document")],
    "s": [("", "", "văn bản", 120, "document")],
    "m": [("", "", "cuộc họp", 120, "meeting")],
    "t": [("", "", "chuyến", 300, "field_trip")],
}
# fmt: on


@dataclass
class Catalogue:
    """All agencies' task variants (one row per task and stage) as a DataFrame.

    Internal columns besides the contract's: ``agency_idx``, ``variant`` (global index),
    ``evidence_code``, ``doc_type``, ``minutes_new`` (a revised norm from
    :data:`NORM_REVISION_DAY`, NaN when unchanged) and role weights ``w_<group>``.
    """

    rows: pd.DataFrame
    flex_variant: np.ndarray  # [agency, group 0..3] -> variant index of the flex task

    @property
    def minutes(self) -> np.ndarray:
        return self.rows["standard_minutes"].to_numpy(float)


def _stable_hash(text: str) -> int:
    h = 2166136261
    for ch in text.encode():
        h = ((h ^ ch) * 16777619) & 0xFFFFFFFF
    return h


def build_catalogue(agencies: list[Agency], catalogue_from: date) -> Catalogue:
    records: list[dict] = []
    flex = np.zeros((len(agencies), 4), dtype=np.int64)
    for ai, ag in enumerate(agencies):
        if ag.code == "STC":
            spec = STC_TASKS
        else:
            spec = dict(_COMMON)
            spec["C"] = DOMAIN_TASKS[ag.domain]
        vfrom = max(ag.valid_from, catalogue_from)
        for group in "ABCD":
            for n, item in enumerate(spec[group], start=1):
                parts = item.split(":")
                kind, name = parts[0], parts[1]
                code = f"{group}{n:02d}"
                if kind == "p":
                    stages = [("", "", parts[2], float(parts[3]), "none")]
                    doc_type = ""
                else:
                    stages = _STAGES[kind]
                    doc_type = parts[2] if len(parts) > 2 else ""
                # Norms differ a little by task: long appraisals vs routine ones.
                h = _stable_hash(f"{ag.domain}|{name}")
                factor = (0.7, 0.85, 1.0, 1.0, 1.2, 1.5)[h % 6] if kind != "p" else 1.0
                for sc, sn, unit, minutes, ev in stages:
                    m = float(round(minutes * factor / 5) * 5) if kind != "p" else minutes
                    revised = np.nan
                    if ag.code != "STC" and (h >> 8) % 12 == 0 and ag.pilot:
                        revised = float(round(m * (0.8 if (h >> 12) % 2 else 1.25) / 5) * 5)
                    records.append(
                        {
                            "agency_idx": ai,
                            "agency_code": ag.code,
                            "task_code": code,
                            "task_name": name,
                            "task_group": group,
                            "stage_code": sc,
                            "stage_name": sn,
                            "unit": unit,
                            "standard_minutes": m,
                            "evidence_type": ev,
                            "valid_from": vfrom,
                            "doc_type": doc_type,
                            "minutes_new": revised,
                            "kind": kind,
                        }
                    )
                    if kind == "p" and name.startswith(
                        ("Ký duyệt", "Xử lý văn bản đến", "Công tác văn thư")
                    ):
                        var = len(records) - 1
                        if name.startswith("Ký duyệt"):
                            flex[ai, 0] = var
                        elif name.startswith("Xử lý"):
                            flex[ai, 1] = flex[ai, 2] = var
                        else:
                            flex[ai, 3] = var
    rows = pd.DataFrame.from_records(records)
    rows["variant"] = np.arange(len(rows))
    rows["evidence_code"] = (
        rows["evidence_type"].map({e: i for i, e in enumerate(EVIDENCE_CODES)}).astype(np.int8)
    )
    for gi, col in enumerate(("w_lead", "w_spec", "w_shared", "w_support")):
        rows[col] = rows["task_group"].map({g: w[gi] for g, w in _ROLE_WEIGHTS.items()})
    # Flex tasks are drawn on purpose, not by chance.
    rows.loc[np.unique(flex.ravel()), ["w_lead", "w_spec", "w_shared", "w_support"]] *= 0.3
    return Catalogue(rows=rows, flex_variant=flex)


def catalogue_table(cat: Catalogue) -> pd.DataFrame:
    """The catalogue as the contract's ``tasks`` source (with the revised norms as new rows)."""
    r = cat.rows
    base = r[
        [
            "agency_code",
            "task_code",
            "task_name",
            "task_group",
            "stage_code",
            "stage_name",
            "unit",
            "standard_minutes",
            "evidence_type",
            "valid_from",
        ]
    ].copy()
    rev = r[r["minutes_new"].notna()]
    newer = base.loc[rev.index].copy()
    newer["standard_minutes"] = rev["minutes_new"].to_numpy()
    newer["valid_from"] = NORM_REVISION_DAY
    out = pd.concat([base, newer]).sort_values(
        ["agency_code", "task_code", "stage_code", "valid_from"], kind="stable"
    )
    return out.reset_index(drop=True)
