"""The 19 pilot agencies of Khánh Hòa's KPI programme, and the extra ones ``--scale`` adds."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

# The reform of 2025: many departments were re-formed by merger on 1 March 2025, and the
# district level was abolished on 1 July 2025 (its staff moved to the new communes).
MERGER_DAY = date(2025, 3, 1)
DISTRICT_END = date(2025, 6, 30)
COMMUNE_START = date(2025, 7, 1)


@dataclass(frozen=True)
class Agency:
    code: str
    name: str
    type: str  # contract enum agency_type
    size: int  # headcount when the population starts
    domain: str  # which task catalogue template it uses
    doc_abbr: str  # the issuing-body abbreviation in document numbers (Decree 30/2020)
    leader_unit: str  # the leadership "department" (Ban Giám đốc, Thường trực, ...)
    head_title: str
    units: tuple[tuple[str, str], ...]  # (department name, abbreviation in doc numbers)
    valid_from: date = date(2008, 1, 1)
    valid_to: date | None = None
    successor: str | None = None
    parent: str | None = None
    pilot: bool = True
    extras: dict[str, str] = field(default_factory=dict, hash=False, compare=False)


def _u(*pairs: str) -> tuple[tuple[str, str], ...]:
    return tuple((p.split("|")[0], p.split("|")[1]) for p in pairs)


# Hand-laid tables, one entry a line or group: the formatter would split each field.
# fmt: off
PILOT: list[Agency] = [
    Agency("STC", "Sở Tài chính", "department", 84, "finance", "STC", "Ban Giám đốc",
           "Giám đốc Sở",
           _u("Văn phòng Sở|VP", "Phòng Quản lý ngân sách|NS", "Phòng Tài chính đầu tư|TCĐT",
              "Phòng Quản lý giá và công sản|GCS", "Phòng Tài chính doanh nghiệp|TCDN",
              "Phòng Kế hoạch tổng hợp|KHTH", "Phòng Đăng ký kinh doanh|ĐKKD",
              "Thanh tra Sở|TTr"),
           valid_from=MERGER_DAY),
    Agency("SNV", "Sở Nội vụ", "department", 95, "home_affairs", "SNV", "Ban Giám đốc",
           "Giám đốc Sở",
           _u("Văn phòng Sở|VP", "Phòng Tổ chức, biên chế|TCBC",
              "Phòng Công chức, viên chức|CCVC", "Phòng Xây dựng chính quyền|XDCQ",
              "Phòng Lao động, việc làm|LĐVL", "Phòng Người có công|NCC",
              "Thanh tra Sở|TTr"),
           valid_from=MERGER_DAY),
    Agency("SXD", "Sở Xây dựng", "department", 110, "construction", "SXD", "Ban Giám đốc",
           "Giám đốc Sở",
           _u("Văn phòng Sở|VP", "Phòng Quản lý hoạt động xây dựng|QLXD",
              "Phòng Quy hoạch, kiến trúc|QHKT", "Phòng Quản lý giao thông|QLGT",
              "Phòng Phát triển đô thị|PTĐT", "Phòng Quản lý nhà và thị trường BĐS|QLN",
              "Thanh tra Sở|TTr"),
           valid_from=MERGER_DAY),
    Agency("SNNMT", "Sở Nông nghiệp và Môi trường", "department", 150, "agri_env", "SNNMT",
           "Ban Giám đốc", "Giám đốc Sở",
           _u("Văn phòng Sở|VP", "Phòng Quản lý đất đai|QLĐĐ", "Phòng Môi trường|MT",
              "Phòng Trồng trọt và Bảo vệ thực vật|TT", "Phòng Chăn nuôi và Thú y|CNTY",
              "Phòng Thủy sản và Kiểm ngư|TS", "Phòng Tài nguyên nước|TNN",
              "Chi cục Kiểm lâm|KL"),
           valid_from=MERGER_DAY),
    Agency("SYT", "Sở Y tế", "department", 70, "health", "SYT", "Ban Giám đốc", "Giám đốc Sở",
           _u("Văn phòng Sở|VP", "Phòng Nghiệp vụ Y|NVY", "Phòng Nghiệp vụ Dược|NVD",
              "Phòng Kế hoạch - Tài chính|KHTC", "Phòng Bảo trợ xã hội|BTXH",
              "Thanh tra Sở|TTr"),
           valid_from=MERGER_DAY),
    Agency("SGDDT", "Sở Giáo dục và Đào tạo", "department", 75, "education", "SGDĐT",
           "Ban Giám đốc", "Giám đốc Sở",
           _u("Văn phòng Sở|VP", "Phòng Giáo dục mầm non và phổ thông|GDPT",
              "Phòng Giáo dục nghề nghiệp và thường xuyên|GDNN",
              "Phòng Quản lý chất lượng|QLCL", "Phòng Tổ chức cán bộ|TCCB",
              "Phòng Kế hoạch - Tài chính|KHTC")),
    Agency("SVHTTDL", "Sở Văn hóa, Thể thao và Du lịch", "department", 80, "culture",
           "SVHTTDL", "Ban Giám đốc", "Giám đốc Sở",
           _u("Văn phòng Sở|VP", "Phòng Quản lý văn hóa|QLVH",
           "Phòng Quản lý thể dục thể thao|TDTT",
              "Phòng Quản lý du lịch|QLDL", "Phòng Báo chí, xuất bản|BCXB",
              "Thanh tra Sở|TTr"),
           valid_from=MERGER_DAY),
    Agency("STP", "Sở Tư pháp", "department", 40, "justice", "STP", "Ban Giám đốc",
           "Giám đốc Sở",
           _u("Văn phòng Sở|VP", "Phòng Xây dựng và kiểm tra văn bản|XDKTVB",
              "Phòng Hành chính tư pháp|HCTP", "Phòng Bổ trợ tư pháp|BTTP",
              "Phòng Phổ biến, giáo dục pháp luật|PBGDPL")),
    Agency("BQLKKT", "Ban Quản lý Khu kinh tế Vân Phong", "department", 65, "econ_zone",
           "BQLKKT", "Lãnh đạo Ban", "Trưởng ban",
           _u("Văn phòng Ban|VP", "Phòng Quản lý đầu tư|QLĐT", "Phòng Quy hoạch và Xây dựng|QHXD",
              "Phòng Quản lý doanh nghiệp|QLDN", "Phòng Tài nguyên và Môi trường|TNMT")),
    Agency("MTTQ", "Ủy ban Mặt trận Tổ quốc Việt Nam tỉnh Khánh Hòa", "front", 55, "front",
           "MTTQ", "Ban Thường trực", "Chủ tịch Ủy ban MTTQ tỉnh",
           _u("Văn phòng|VP", "Ban Tổ chức - Dân chủ - Pháp luật|TCDCPL",
              "Ban Phong trào|PT", "Ban Công tác đoàn viên|CTĐV",
              "Ban Tuyên giáo và Đối ngoại|TGĐN"),
           valid_from=MERGER_DAY),
    Agency("HLHPN", "Hội Liên hiệp Phụ nữ tỉnh Khánh Hòa", "mass_org", 30, "mass_org", "HLHPN",
           "Thường trực Hội", "Chủ tịch Hội",
           _u("Văn phòng|VP", "Ban Tổ chức - Kiểm tra|TCKT", "Ban Tuyên giáo|TG",
              "Ban Gia đình - Xã hội|GĐXH")),
    Agency("TDTN", "Tỉnh Đoàn Khánh Hòa", "mass_org", 35, "mass_org", "TĐTN",
           "Ban Thường vụ Tỉnh Đoàn", "Bí thư Tỉnh Đoàn",
           _u("Văn phòng|VP", "Ban Tổ chức - Kiểm tra|TCKT", "Ban Tuyên giáo|TG",
              "Ban Phong trào|PT", "Ban Thiếu nhi|TN")),
    Agency("VPTU", "Văn phòng Tỉnh ủy", "party", 70, "party_office", "VPTU", "Lãnh đạo Văn phòng",
           "Chánh Văn phòng",
           _u("Phòng Tổng hợp|TH", "Phòng Hành chính - Lưu trữ|HCLT",
           "Phòng Quản trị - Tài vụ|QTTV",
              "Phòng Thông tin - Cơ yếu|TTCY")),
    Agency("BTCTU", "Ban Tổ chức Tỉnh ủy", "party", 35, "party_org", "BTCTU", "Lãnh đạo Ban",
           "Trưởng ban",
           _u("Phòng Tổ chức đảng - Đảng viên|TCĐV", "Phòng Cán bộ|CB",
              "Phòng Bảo vệ chính trị nội bộ|BVCT", "Văn phòng Ban|VP")),
    Agency("UBKTTU", "Ủy ban Kiểm tra Tỉnh ủy", "party", 40, "party_inspect", "UBKTTU",
           "Lãnh đạo Ủy ban", "Chủ nhiệm",
           _u("Phòng Nghiệp vụ 1|NV1", "Phòng Nghiệp vụ 2|NV2", "Phòng Nghiệp vụ 3|NV3",
              "Văn phòng|VP")),
    Agency("BTGDVTU", "Ban Tuyên giáo và Dân vận Tỉnh ủy", "party", 45, "party_propaganda",
           "BTGDVTU", "Lãnh đạo Ban", "Trưởng ban",
           _u("Phòng Tuyên truyền|TT", "Phòng Lý luận chính trị|LLCT", "Phòng Dân vận|DV",
              "Phòng Văn hóa - Văn nghệ|VHVN", "Văn phòng Ban|VP"),
           valid_from=MERGER_DAY),
    Agency("BNCTU", "Ban Nội chính Tỉnh ủy", "party", 25, "party_internal", "BNCTU",
           "Lãnh đạo Ban", "Trưởng ban",
           _u("Phòng Nội chính|NC", "Phòng Phòng, chống tham nhũng|PCTN", "Văn phòng Ban|VP")),
    Agency("UBND-CL", "Ủy ban nhân dân huyện Cam Lâm", "district", 190, "district", "UBND",
           "Lãnh đạo UBND huyện", "Chủ tịch UBND huyện",
           _u("Văn phòng HĐND và UBND|VP", "Phòng Tài chính - Kế hoạch|TCKH",
              "Phòng Nội vụ|NV", "Phòng Tài nguyên và Môi trường|TNMT",
              "Phòng Kinh tế - Hạ tầng|KTHT", "Phòng Văn hóa - Thông tin|VHTT",
              "Phòng Giáo dục và Đào tạo|GDĐT", "Phòng Tư pháp|TP"),
           valid_from=date(2007, 7, 1), valid_to=DISTRICT_END, successor="UBND-XCL"),
    Agency("UBND-DK", "Ủy ban nhân dân huyện Diên Khánh", "district", 210, "district", "UBND",
           "Lãnh đạo UBND huyện", "Chủ tịch UBND huyện",
           _u("Văn phòng HĐND và UBND|VP", "Phòng Tài chính - Kế hoạch|TCKH",
              "Phòng Nội vụ|NV", "Phòng Tài nguyên và Môi trường|TNMT",
              "Phòng Kinh tế - Hạ tầng|KTHT", "Phòng Văn hóa - Thông tin|VHTT",
              "Phòng Giáo dục và Đào tạo|GDĐT", "Phòng Tư pháp|TP"),
           valid_from=date(1977, 3, 30), valid_to=DISTRICT_END, successor="UBND-XDK"),
]

# The districts' successors: new commune People's Committees from 1 July 2025. They are not
# pilot agencies of their own; they take over the districts' place, so that exactly 19
# agencies are active on any day.
SUCCESSORS: list[Agency] = [
    Agency("UBND-XCL", "Ủy ban nhân dân xã Cam Lâm", "commune", 0, "commune", "UBND",
           "Lãnh đạo UBND xã", "Chủ tịch UBND xã",
           _u("Văn phòng HĐND và UBND|VP", "Phòng Kinh tế|KT", "Phòng Văn hóa - Xã hội|VHXH",
              "Trung tâm Phục vụ hành chính công|TTHCC"),
           valid_from=COMMUNE_START, pilot=False),
    Agency("UBND-XDK", "Ủy ban nhân dân xã Diên Khánh", "commune", 0, "commune", "UBND",
           "Lãnh đạo UBND xã", "Chủ tịch UBND xã",
           _u("Văn phòng HĐND và UBND|VP", "Phòng Kinh tế|KT", "Phòng Văn hóa - Xã hội|VHXH",
              "Trung tâm Phục vụ hành chính công|TTHCC"),
           valid_from=COMMUNE_START, pilot=False),
]

PILOT_HEADCOUNT = sum(a.size for a in PILOT)

# --- agencies added by --scale ------------------------------------------------------------

_MORE_DEPARTMENTS = [
    ("SCT", "Sở Công Thương", "industry"),
    ("SKHCN", "Sở Khoa học và Công nghệ", "science"),
    ("SDTTG", "Sở Dân tộc và Tôn giáo", "home_affairs"),
    ("TTT", "Thanh tra tỉnh", "inspection"),
    ("VPUBND", "Văn phòng Ủy ban nhân dân tỉnh", "party_office"),
    ("VPĐĐBQH", "Văn phòng Đoàn ĐBQH và HĐND tỉnh", "party_office"),
    ("SNgV", "Sở Ngoại vụ", "home_affairs"),
]

COMMUNE_NAMES = [
    "Nha Trang", "Bắc Nha Trang", "Tây Nha Trang", "Nam Nha Trang", "Bắc Cam Ranh",
    "Cam Ranh", "Cam Linh", "Ba Ngòi", "Ninh Hòa", "Đông Ninh Hòa", "Hòa Thắng",
    "Phan Rang", "Đông Hải", "Ninh Chử", "Bảo An", "Đô Vinh", "Vạn Ninh", "Vạn Hưng",
    "Đại Lãnh", "Tu Bông", "Vạn Thắng", "Diên Lạc", "Diên Điền", "Diên Lâm", "Diên Thọ",
    "Suối Hiệp", "Cam Hiệp", "Cam An", "Suối Dầu", "Khánh Vĩnh", "Trung Khánh Vĩnh",
    "Bắc Khánh Vĩnh", "Nam Khánh Vĩnh", "Tây Khánh Vĩnh", "Tô Hạp", "Tây Khánh Sơn",
    "Đông Khánh Sơn", "Ninh Sơn", "Lâm Sơn", "Anh Dũng", "Mỹ Sơn", "Bác Ái", "Phước Hà",
    "Thuận Bắc", "Công Hải", "Ninh Phước", "Phước Hữu", "Phước Dinh", "Ninh Hải",
    "Xuân Hải", "Vĩnh Hải", "Thuận Nam", "Cà Ná", "Phước Hậu", "Nam Ninh Hòa", "Tân Định",
    "Hòa Trí", "Tây Ninh Hòa", "Bắc Ninh Hòa", "Ninh Phước", "Cam Lâm", "Diên Khánh",
]

_DEPT_UNITS = _u("Văn phòng Sở|VP", "Phòng Kế hoạch - Tài chính|KHTC", "Phòng Nghiệp vụ 1|NV1",
                 "Phòng Nghiệp vụ 2|NV2", "Thanh tra Sở|TTr")
_COMMUNE_UNITS = SUCCESSORS[0].units
_SCHOOL_UNITS = _u("Văn phòng trường|VP", "Tổ Toán - Tin|TT", "Tổ Ngữ văn|NV",
                   "Tổ Khoa học tự nhiên|KHTN", "Tổ Khoa học xã hội|KHXH")
_HEALTH_UNITS = _u("Phòng Tổ chức - Hành chính|TCHC", "Khoa Kiểm soát bệnh tật|KSBT",
                   "Khoa Khám bệnh|KB", "Khoa Dược|D", "Trạm Y tế|TYT")
# fmt: on


def extra_agencies(target_people: int) -> list[Agency]:
    """Agencies of the pilot's kinds (plus public-service units) until ``target_people``.

    Sizes are fixed per kind and index so that the list only depends on the target: a
    larger scale keeps the agencies of a smaller one.
    """
    out: list[Agency] = []
    total = 0
    i = 0
    while total < target_people:
        kind = i % 4
        n = i // 4
        if kind == 0 and n < len(_MORE_DEPARTMENTS):
            code, name, domain = _MORE_DEPARTMENTS[n]
            a = Agency(
                code,
                name,
                "department",
                60 + (n * 17) % 50,
                domain,
                code,
                "Ban Giám đốc",
                "Giám đốc Sở",
                _DEPT_UNITS,
                pilot=False,
            )
        elif kind in (0, 1):
            k = n if kind == 1 else n + 1000
            place = COMMUNE_NAMES[k % len(COMMUNE_NAMES)]
            suffix = "" if k < len(COMMUNE_NAMES) else f" {k // len(COMMUNE_NAMES) + 1}"
            code = f"UBND-X{k + 1:03d}"
            a = Agency(
                code,
                f"Ủy ban nhân dân xã {place}{suffix}",
                "commune",
                32 + (k * 7) % 18,
                "commune",
                "UBND",
                "Lãnh đạo UBND xã",
                "Chủ tịch UBND xã",
                _COMMUNE_UNITS,
                pilot=False,
            )
        elif kind == 2:
            place = COMMUNE_NAMES[n % len(COMMUNE_NAMES)]
            code = f"THPT{n + 1:03d}"
            a = Agency(
                code,
                f"Trường THPT {place}"
                + ("" if n < len(COMMUNE_NAMES) else f" số {n // len(COMMUNE_NAMES) + 1}"),
                "other",
                55 + (n * 11) % 40,
                "school",
                code,
                "Ban Giám hiệu",
                "Hiệu trưởng",
                _SCHOOL_UNITS,
                parent="SGDDT",
                pilot=False,
            )
        else:
            place = COMMUNE_NAMES[(n * 3) % len(COMMUNE_NAMES)]
            code = f"TTYT{n + 1:03d}"
            a = Agency(
                code,
                f"Trung tâm Y tế khu vực {place}"
                + ("" if n < len(COMMUNE_NAMES) else f" {n // len(COMMUNE_NAMES) + 1}"),
                "other",
                90 + (n * 13) % 90,
                "hospital",
                code,
                "Ban Giám đốc",
                "Giám đốc Trung tâm",
                _HEALTH_UNITS,
                parent="SYT",
                pilot=False,
            )
        out.append(a)
        total += a.size
        i += 1
    return out


def all_agencies(scale: float) -> list[Agency]:
    extra = max(0, int(round((scale - 1.0) * PILOT_HEADCOUNT)))
    return PILOT + SUCCESSORS + (extra_agencies(extra) if extra else [])
