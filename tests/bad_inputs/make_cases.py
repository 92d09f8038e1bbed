"""Writes the catalogue tests/bad_inputs/<case>/<source>/<file> (see README.md).

Run from anywhere: ``.venv/bin/python tests/bad_inputs/make_cases.py``.
"""
# ruff: noqa: E501 - one case per line reads better than wrapped CSV text

import gzip
import shutil
import unicodedata
from pathlib import Path

root = Path(__file__).resolve().parent
for p in root.iterdir():
    if p.is_dir():
        shutil.rmtree(p)
WH = "entry_id,revision,staff_id,work_date,task_code,stage_code,quantity,declared_minutes,description,document_ref,status,submitted_at,reviewed_by,reviewed_at\n"


def w(i: int, **kw: str) -> str:
    d = dict(
        entry_id=f"E{i:05d}",
        revision="1",
        staff_id="KH001",
        work_date="2025-03-03",
        task_code="T04",
        stage_code="",
        quantity="1",
        declared_minutes="30",
        description=f"Công việc {i}",
        document_ref="",
        status="approved",
        submitted_at="2025-03-03 17:00",
        reviewed_by="KH003",
        reviewed_at="2025-03-04 08:00",
    )
    d.update(kw)
    return ",".join(d[k] for k in WH.strip().split(",")) + "\n"


def worklog(bad: str) -> str:
    # rows 2 and 4 good, row 3 the bad one
    return WH + w(1) + bad + w(3)


cases: dict[str, tuple[str, str, bytes | str]] = {}


def add(case: str, source: str, name: str, content: str | bytes) -> None:
    cases[case] = (source, name, content)


add("bad_date_31_02", "worklog", "w.csv", worklog(w(2, work_date="31/02/2025")))
add("two_digit_year", "worklog", "w.csv", worklog(w(2, work_date="03/03/25")))
add("time_without_date", "worklog", "w.csv", worklog(w(2, submitted_at="17:00")))
add("negative_quantity", "worklog", "w.csv", worklog(w(2, quantity="-1")))
add("zero_quantity", "worklog", "w.csv", worklog(w(2, quantity="0")))
add("minutes_over_1440", "worklog", "w.csv", worklog(w(2, declared_minutes="1500")))
add("unknown_enum", "worklog", "w.csv", worklog(w(2, status="done")))
add("missing_key", "worklog", "w.csv", worklog(w(2, entry_id="")))
add("bad_decimal", "worklog", "w.csv", worklog(w(2, quantity="abc")))
add("bad_integer", "worklog", "w.csv", worklog(w(2, declared_minutes="45.5")))
add("revision_zero", "worklog", "w.csv", worklog(w(2, revision="0")))
add(
    "decimal_comma_and_labels",
    "worklog",
    "w.csv",
    WH
    + w(1, quantity='"1,5"', status="Đã duyệt")
    + w(
        2,
        status=unicodedata.normalize("NFD", "chờ duyệt"),
        work_date="04/03/2025",
        submitted_at="04/03/2025 17:05",
    )
    + w(3, status="  ĐÃ HỦY ", document_ref=" 125/STC-NS ;; 126/STC-NS; "),
)
add("duplicate_key_in_file", "worklog", "w.csv", worklog(w(1, declared_minutes="99")))
add(
    "truncated_csv",
    "worklog",
    "w.csv",
    WH + w(1) + w(2) + 'E00003,1,KH001,2025-03-03,T04,,1,30,"Công việc bị cắt',
)
add("wrong_delimiter", "worklog", "w.csv", (WH + w(1) + w(2)).replace(",", ";"))
add("duplicate_header", "worklog", "w.csv", WH.replace("reviewed_at", "Mã kê khai") + w(1))
add(
    "extra_columns",
    "worklog",
    "w.csv",
    WH.strip()
    + ",Ghi chú,\n"
    + "".join(x.strip() + f",note {i},\n" for i, x in enumerate([w(1), w(2), w(3)])),
)
add(
    "missing_required_column",
    "worklog",
    "w.csv",
    "entry_id,revision,work_date,task_code,status\nE1,1,2025-03-03,T04,approved\n",
)
add("empty_file", "worklog", "w.csv", "")
add("header_only", "worklog", "w.csv", WH)
add("utf16", "worklog", "w.csv", (WH + w(1)).encode("utf-16"))
add(
    "windows_1258",
    "worklog",
    "w.csv",
    unicodedata.normalize("NFD", WH + w(1) + w(2)).encode("cp1258", errors="replace"),
)
add(
    "invalid_utf8",
    "worklog",
    "w.csv",
    (WH + w(1)).encode() + b"E00002,1,KH001,2025-03-03,T04,,1,30,C\xff\xfeng,,approved,,,\n",
)
add(
    "nul_bytes",
    "worklog",
    "w.csv",
    (WH + w(1)).encode() + b"E00002,1,KH\x00001,2025-03-03,T04,,1,30,x,,approved,,,\n",
)
add("corrupt_xlsx", "worklog", "w.xlsx", b"PK\x03\x04 this is not really a zip archive")
add("unsupported_file", "worklog", "w.xls", b"\xd0\xcf\x11\xe0 old excel")
add(
    "wrong_field_count",
    "worklog",
    "w.csv",
    WH + w(1) + w(2).strip() + ",extra,fields\n" + w(3) + "E00004,1,KH001\n" + w(5),
)
add("very_long_text", "worklog", "w.csv", WH + w(1) + w(2, description="dài " * 300_000) + w(3))
add("gzip_csv", "worklog", "w.csv.gz", gzip.compress(("\ufeff" + WH + w(1) + w(2)).encode()))
add("bom_and_crlf", "worklog", "w.csv", ("\ufeff" + WH + w(1) + w(2)).replace("\n", "\r\n"))
VN = "Mã kê khai,Lần sửa,Mã cán bộ,Ngày thực hiện,Mã đầu việc,Mã giai đoạn,Số lượng,Thời gian kê khai (phút),Nội dung,Số ký hiệu văn bản,Trạng thái,Thời điểm gửi,Người duyệt,Thời điểm duyệt\n"
add(
    "vietnamese_headers_nfd",
    "worklog",
    "w.csv",
    unicodedata.normalize("NFD", " " + VN.upper().replace(",", " , "))
    + w(1)
    + w(2, revision="", quantity=""),
)
EH = "event_id,agency_code,event_type,title,start_at,end_at,participant_staff_ids\n"
add(
    "end_before_start",
    "events",
    "e.csv",
    EH
    + "EV1,STC,meeting,a,2025-03-03 08:00,2025-03-03 10:00,KH001\nEV2,STC,họp,b,2025-03-03 10:00,2025-03-03 08:00,KH001\nEV3,STC,training,c,2025-03-04 08:00,2025-03-04 10:00,KH001\n",
)
add(
    "list_only_empty_items",
    "events",
    "e.csv",
    EH
    + "EV1,STC,meeting,a,2025-03-03 08:00,2025-03-03 10:00,;KH001;;KH002;\nEV2,STC,meeting,b,2025-03-03 08:00,2025-03-03 10:00, ; ;\n",
)
LH = "staff_id,leave_type,leave_start,leave_end,half_day\n"
add(
    "leave_end_before_start",
    "leave",
    "l.csv",
    LH + "KH001,annual,2025-03-10,2025-03-11,false\nKH002,sick,2025-03-12,2025-03-10,\n",
)
add(
    "bad_bool",
    "leave",
    "l.csv",
    LH
    + "KH001,annual,2025-03-10,2025-03-10,có\nKH002,sick,2025-03-12,2025-03-12,maybe\nKH003,other,2025-03-12,2025-03-12,x\n",
)
add(
    "half_day_multi_day",
    "leave",
    "l.csv",
    LH + "KH001,annual,2025-03-10,2025-03-10,1\nKH002,sick,2025-03-12,2025-03-13,true\n",
)
VH = "staff_id,period,evaluator_staff_id,quality_score,general_score,comment\n"
add(
    "bad_period",
    "evaluations",
    "v.csv",
    VH + "KH001,2025-03,KH003,95,29.5,\nKH002,2025-13,KH003,90,28,\nKH003,03/2025,KH003,90,28,\n",
)
add(
    "score_out_of_range",
    "evaluations",
    "v.csv",
    VH + "KH001,2025-03,KH003,95,29.5,\nKH002,2025-03,KH003,120,28,\nKH003,2025-03,KH003,90,31,\n",
)
PH = "agency_code,position_code,position_name,position_group,approved_headcount,valid_from\n"
add(
    "negative_headcount",
    "positions",
    "p.csv",
    PH + "STC,LD,Lãnh đạo,leadership,1,2025-01-01\nSTC,CV,Chuyên viên,specialist,-1,2025-01-01\n",
)
TH = "agency_code,task_code,task_name,task_group,stage_code,stage_name,unit,standard_minutes,evidence_type,valid_from\n"
add(
    "zero_standard_minutes",
    "tasks",
    "t.csv",
    TH
    + 'STC,T01,A,C,S1,x,hồ sơ,30,none,2025-01-01\nSTC,T01,A,C,S2,y,hồ sơ,0,document,2025-01-01\nSTC,T02,B,C,,,văn bản,"1,5",văn bản,2025-01-01\n',
)
SH = "staff_id,full_name,agency_code,department,position_code,is_leader,assignment_start,assignment_end\n"
add(
    "overlapping_assignment",
    "staff",
    "s.csv",
    SH
    + "KH001,A,STC,P,CV,false,2020-01-01,2025-03-31\nKH001,A,MTTQ,P,CV,false,2025-03-15,\nKH001,A,MTTQ,P,CV,false,2025-04-01,\n",
)
add(
    "assignment_end_before_start",
    "staff",
    "s.csv",
    SH + "KH001,A,STC,P,CV,false,2020-01-01,2019-12-31\nKH002,B,STC,P,CV,0,2020-01-01,\n",
)
AH = "agency_code,agency_name,agency_type,parent_agency_code,valid_from,valid_to,successor_agency_code\n"
add(
    "bad_agency_type",
    "agencies",
    "a.csv",
    AH + "STC,Sở Tài chính,department,,2025-01-01,,\nXYZ,Nope,ministry,,2025-01-01,,\n",
)
for case, (source, name, content) in cases.items():
    d = root / case / source
    d.mkdir(parents=True)
    (d / name).write_bytes(content if isinstance(content, bytes) else content.encode())
print(len(cases))
