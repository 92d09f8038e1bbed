"""People, job positions and the assignment history (HR export) of every agency.

The staffing model is slot based: an agency has one slot per post (a leader, a specialist
of a department, a clerk...). A slot's occupant leaves after an exponential time, the post
stays vacant for a few weeks, then a new hire or a transferee from another agency fills it.
That keeps headcounts near the agency's size while producing joiners, leavers and moves,
and makes the result depend only on the seed, never on the order of later events.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from .agencies import COMMUNE_START, Agency
from .schema import columns

GROUPS = ("leadership", "specialist", "shared_specialist", "support")
LEAVE_RATE_PER_YEAR = 0.045
TRANSFER_SHARE = 0.2

# Months in which an agency's staff list is frozen so that published figures (headcounts)
# hold exactly: turnover that would fall in them is moved to the next month.
FROZEN_MONTHS: set[tuple[str, int, int]] = {("STC", 2025, 3)}

# Hand-laid tables, one entry a line or group: the formatter would split each field.
# fmt: off
_FAMILY = [
    ("Nguyễn", 38.0), ("Trần", 11.0), ("Lê", 9.5), ("Phạm", 7.0), ("Huỳnh", 3.5),
    ("Phan", 4.5), ("Võ", 4.0), ("Hoàng", 2.1), ("Vũ", 2.0), ("Đặng", 2.1), ("Bùi", 2.0),
    ("Đỗ", 1.4), ("Hồ", 1.3), ("Ngô", 1.3), ("Dương", 1.0), ("Trương", 1.0), ("Đinh", 0.8),
    ("Lý", 0.5), ("Cao", 0.5), ("Mai", 0.5), ("Lương", 0.4), ("Đào", 0.4), ("Châu", 0.3),
    ("Lâm", 0.3), ("Thái", 0.3), ("Tôn", 0.2), ("Kiều", 0.2), ("Tạ", 0.2), ("Từ", 0.2),
    ("Nông", 0.1), ("Cao", 0.1), ("Hà", 0.5), ("La", 0.1),
]
_MIDDLE_M = ["Văn"] * 6 + ["Hữu", "Đức", "Minh", "Quốc", "Công", "Thanh", "Ngọc", "Xuân",
                          "Tấn", "Đình", "Trọng", "Quang", "Anh", "Bá", "Duy"]
_MIDDLE_F = ["Thị"] * 8 + ["Ngọc", "Thanh", "Thu", "Mỹ", "Kim", "Bích", "Hồng", "Phương",
                          "Thùy", "Minh", "Hoài", "Diệu", "Khánh", "Như"]
_GIVEN_M = ["An", "Bình", "Cường", "Dũng", "Duy", "Đạt", "Đức", "Hải", "Hiếu", "Hoàng",
            "Hùng", "Huy", "Khoa", "Khánh", "Kiên", "Lâm", "Long", "Lộc", "Minh", "Nam",
            "Nghĩa", "Phong", "Phúc", "Quân", "Quang", "Sơn", "Tài", "Tâm", "Thắng", "Thành",
            "Thịnh", "Toàn", "Trung", "Tuấn", "Tùng", "Việt", "Vinh", "Vũ", "Hưng", "Nhân"]
_GIVEN_F = ["Anh", "Châu", "Chi", "Dung", "Duyên", "Giang", "Hà", "Hạnh", "Hằng", "Hiền",
            "Hoa", "Hồng", "Hương", "Huyền", "Lan", "Liên", "Linh", "Loan", "Mai", "My",
            "Nga", "Ngân", "Nhung", "Nhi", "Oanh", "Phương", "Quyên", "Quỳnh", "Tâm", "Thảo",
            "Thủy", "Trang", "Trâm", "Tuyết", "Uyên", "Vân", "Vy", "Yến", "Hòa", "Thư"]

_SHARED = [("CV-TH", "Chuyên viên tổng hợp"), ("CV-TCCB", "Chuyên viên tổ chức cán bộ"),
           ("KT", "Kế toán")]
# fmt: on
_SUPPORT = [("VT", "Văn thư"), ("LX", "Lái xe"), ("PV", "Nhân viên phục vụ")]


def _ascii_code(abbr: str) -> str:
    return abbr.replace("Đ", "D").replace("đ", "d")


def specialist_position(unit: tuple[str, str]) -> tuple[str, str]:
    name, abbr = unit
    rest = name
    for prefix in ("Phòng ", "Ban ", "Văn phòng ", "Chi cục ", "Trung tâm ", "Khoa ", "Tổ "):
        if rest.startswith(prefix):
            rest = rest[len(prefix) :]
            break
    return f"CV-{_ascii_code(abbr)}", f"Chuyên viên {rest[:1].lower()}{rest[1:]}"


@dataclass
class Slot:
    agency: int
    department: str
    position_code: str
    group: int
    is_leader: bool


@dataclass
class Population:
    staff_id: np.ndarray  # str, index = person
    full_name: np.ndarray
    female: np.ndarray
    service_start: np.ndarray  # datetime64[D]
    intensity: np.ndarray  # baseline credited hours per available day
    coverage: np.ndarray  # share of working days with a declaration
    submit_habit: np.ndarray  # 0 same day, 1 end of week, 2 monthly batch
    efficiency: np.ndarray  # declared minutes / norm minutes
    quality: np.ndarray  # 0..1
    review_lag: np.ndarray  # mean approval lag in days (as a reviewer)
    review_strictness: np.ndarray  # rejection probability (as a reviewer)
    assignments: pd.DataFrame  # person, agency_idx, department, position_code, group, ...
    positions: pd.DataFrame  # the quota table


def _names(rng: np.random.Generator, female: np.ndarray) -> np.ndarray:
    fam_names = [f for f, _ in _FAMILY]
    w = np.array([p for _, p in _FAMILY])
    fam = rng.choice(len(fam_names), size=female.size, p=w / w.sum())
    out = np.empty(female.size, dtype=object)
    mid_m = rng.integers(0, len(_MIDDLE_M), female.size)
    mid_f = rng.integers(0, len(_MIDDLE_F), female.size)
    giv_m = rng.integers(0, len(_GIVEN_M), female.size)
    giv_f = rng.integers(0, len(_GIVEN_F), female.size)
    for i in range(female.size):
        if female[i]:
            out[i] = f"{fam_names[fam[i]]} {_MIDDLE_F[mid_f[i]]} {_GIVEN_F[giv_f[i]]}"
        else:
            out[i] = f"{fam_names[fam[i]]} {_MIDDLE_M[mid_m[i]]} {_GIVEN_M[giv_m[i]]}"
    return out


def _slots(ai: int, ag: Agency) -> list[Slot]:
    """The posts of an agency, in a fixed order."""
    size = ag.size
    units = list(ag.units)
    office = units[0]
    work_units = [u for u in units if u[1] != "VP"] or units
    slots = [Slot(ai, ag.leader_unit, "LD-CQ", 0, True)]
    slots += [Slot(ai, ag.leader_unit, "LD-CQ", 0, True)] * min(3, max(1, size // 25))
    for u in units:
        slots.append(Slot(ai, u[0], "LD-PB", 0, True))
        if size / len(units) > 9:
            slots.append(Slot(ai, u[0], "LD-PB", 0, True))
    for k in range(max(1, round(size * 0.08))):
        slots.append(Slot(ai, office[0], _SUPPORT[k % 3][0], 3, False))
    for k in range(max(1, round(size * 0.12))):
        slots.append(Slot(ai, office[0], _SHARED[k % 3][0], 2, False))
    k = 0
    while len(slots) < size:
        u = work_units[k % len(work_units)]
        slots.append(Slot(ai, u[0], specialist_position(u)[0], 1, False))
        k += 1
    return slots[:size]


def _position_names(ag: Agency) -> dict[str, tuple[str, int]]:
    names = {
        "LD-CQ": (
            f"Lãnh đạo {ag.name.split(' tỉnh')[0]}" if ag.type != "department" else "Lãnh đạo Sở",
            0,
        ),
        "LD-PB": ("Trưởng, phó phòng và tương đương", 0),
    }
    if ag.code == "BQLKKT":
        names["LD-CQ"] = ("Lãnh đạo Ban", 0)
    for u in ag.units:
        code, nm = specialist_position(u)
        names[code] = (nm, 1)
    names.update({c: (n, 2) for c, n in _SHARED})
    names.update({c: (n, 3) for c, n in _SUPPORT})
    return names


def _shift_frozen(ag: Agency, d: date) -> date:
    if (ag.code, d.year, d.month) in FROZEN_MONTHS:
        return date(d.year + (d.month == 12), d.month % 12 + 1, 1)
    return d


class _Builder:
    def __init__(self, seed: int, agencies: list[Agency], h0: date, h1: date) -> None:
        self.seed = seed
        self.agencies = agencies
        self.h0, self.h1 = h0, h1
        self.rows: list[tuple] = []  # person, agency, dept, pos, group, leader, start, end
        self.persons = 0
        self.service: list[date] = []
        self.fills: list[tuple[date, int]] = []  # (date, row index) of vacancies filled
        self.exits: list[tuple[date, int, int]] = []  # (date, person, agency)

    def new_person(self, rng: np.random.Generator, start: date, veteran: bool) -> int:
        # Veterans were hired up to 30 years before the horizon; new hires on their start.
        back = int(rng.integers(30, 30 * 365)) if veteran else 0
        self.service.append(date.fromordinal(start.toordinal() - back))
        self.persons += 1
        return self.persons - 1

    def add_stint(self, person: int, slot: Slot, start: date, end: date | None) -> None:
        self.rows.append(
            (
                person,
                slot.agency,
                slot.department,
                slot.position_code,
                slot.group,
                slot.is_leader,
                start,
                end,
            )
        )

    def run_slot(
        self, rng: np.random.Generator, slot: Slot, person: int, start: date, end_cap: date
    ) -> None:
        """Occupants of one post from ``start`` until ``end_cap`` (or the horizon)."""
        ag = self.agencies[slot.agency]
        t = start
        while True:
            stay = float(rng.exponential(365.0 / LEAVE_RATE_PER_YEAR))
            leave = max(t, self.h0) + timedelta(days=int(stay))
            leave = _shift_frozen(ag, leave)
            if leave > min(end_cap, self.h1):
                self.add_stint(person, slot, t, end_cap if end_cap < date(9999, 1, 1) else None)
                return
            self.add_stint(person, slot, t, leave)
            self.exits.append((leave, person, slot.agency))
            t = _shift_frozen(ag, leave + timedelta(days=int(rng.integers(14, 120))))
            if t > min(end_cap, self.h1):
                return
            person = self.new_person(rng, t, veteran=False)
            self.fills.append((t, len(self.rows)))


def build_population(seed: int, agencies: list[Agency], h0: date, h1: date) -> Population:
    b = _Builder(seed, agencies, h0, h1)
    code_idx = {a.code: i for i, a in enumerate(agencies)}
    never = date(9999, 12, 31)
    successor_slots: dict[int, list[tuple[Slot, int]]] = {}
    for ai, ag in enumerate(agencies):
        if ag.size == 0:
            continue
        rng = np.random.default_rng([seed, 11, ai])
        for slot in _slots(ai, ag):
            person = b.new_person(rng, h0, veteran=True)
            since = b.service[person]
            back = date.fromordinal(h0.toordinal() - int(rng.integers(0, 3000)))
            start = max(ag.valid_from, since, back)
            if ag.valid_to is not None:
                # District posts end with the district; the occupant then moves on.
                before = len(b.rows)
                b.run_slot(rng, slot, person, start, ag.valid_to)
                last = b.rows[-1] if len(b.rows) > before else None
                if last is not None and last[7] == ag.valid_to and ag.successor:
                    successor_slots.setdefault(ai, []).append((slot, last[0]))
            else:
                b.run_slot(rng, slot, person, start, never)
    # The district reform: 75% follow the work to the new commune, 15% move to a provincial
    # department, 10% leave the service (early retirement under Decree 178/2024).
    depts = [
        i for i, a in enumerate(agencies) if a.type == "department" and a.pilot and a.code != "STC"
    ]
    for ai, movers in successor_slots.items():
        ag = agencies[ai]
        succ = code_idx[ag.successor or ""]
        sag = agencies[succ]
        rng = np.random.default_rng([seed, 12, ai])
        for slot, person in movers:
            u = rng.random()
            if u < 0.75:
                unit = _commune_unit(sag, slot.department, rng)
                pos = slot.position_code if slot.group != 1 else specialist_position(unit)[0]
                new = Slot(
                    succ,
                    unit[0]
                    if slot.group
                    else sag.leader_unit
                    if slot.position_code == "LD-CQ"
                    else unit[0],
                    pos,
                    slot.group,
                    slot.is_leader,
                )
                b.run_slot(rng, new, person, COMMUNE_START, never)
            elif u < 0.9:
                di = depts[int(rng.integers(0, len(depts)))]
                dag = agencies[di]
                unit = dag.units[1 + int(rng.integers(0, len(dag.units) - 1))]
                new = Slot(di, unit[0], specialist_position(unit)[0], 1, False)
                b.run_slot(rng, new, person, COMMUNE_START, never)
    _transfers(b, seed)
    return _finish(b, seed, agencies, h0)


def _commune_unit(sag: Agency, dept: str, rng: np.random.Generator) -> tuple[str, str]:
    if dept.startswith("Văn phòng"):
        return sag.units[0]
    if any(k in dept for k in ("Tài chính", "Tài nguyên", "Kinh tế")):
        return sag.units[1]
    if rng.random() < 0.25:
        return sag.units[3]
    return sag.units[2]


def _transfers(b: _Builder, seed: int) -> None:
    """Fill a share of vacancies with people who left another agency shortly before."""
    rng = np.random.default_rng([seed, 13])
    exits = sorted(b.exits)
    used: set[int] = set()
    ex_dates = np.array([e[0].toordinal() for e in exits]) if exits else np.zeros(0, int)
    for fill_date, row_idx in sorted(b.fills):
        if rng.random() >= TRANSFER_SHARE:
            continue
        row = b.rows[row_idx]
        lo = np.searchsorted(ex_dates, fill_date.toordinal() - 90)
        hi = np.searchsorted(ex_dates, fill_date.toordinal())
        cands = [k for k in range(lo, hi) if k not in used and exits[k][2] != row[1]]
        if not cands:
            continue
        k = cands[int(rng.integers(0, len(cands)))]
        used.add(k)
        old_person = row[0]
        new_person = exits[k][1]
        # Every later assignment of the replaced new hire belongs to the transferee.
        for j in range(row_idx, len(b.rows)):
            if b.rows[j][0] == old_person:
                b.rows[j] = (new_person,) + b.rows[j][1:]


def _finish(b: _Builder, seed: int, agencies: list[Agency], h0: date) -> Population:
    rows = pd.DataFrame(
        b.rows,
        columns=[
            "person",
            "agency_idx",
            "department",
            "position_code",
            "group",
            "is_leader",
            "start",
            "end",
        ],
    )
    rows = rows.sort_values(["person", "start"], kind="stable").reset_index(drop=True)
    # Persons that were replaced by a transferee have no rows left: renumber densely.
    used = np.unique(rows["person"].to_numpy())
    remap = np.full(b.persons, -1)
    remap[used] = np.arange(used.size)
    rows["person"] = remap[rows["person"].to_numpy()]
    n = used.size
    service = np.array([b.service[p] for p in used], dtype="datetime64[D]")
    rows["start"] = pd.to_datetime(rows["start"]).to_numpy().astype("datetime64[D]")
    rows["end"] = pd.to_datetime(rows["end"]).to_numpy().astype("datetime64[D]")

    rng = np.random.default_rng([seed, 14])
    female = rng.random(n) < 0.52
    names = _names(rng, female)
    intensity = np.clip(rng.lognormal(np.log(5.3), 0.2, n), 1.5, 11.0)
    habit = rng.choice(3, size=n, p=[0.55, 0.33, 0.12])
    coverage = np.array([0.97, 0.9, 0.78])[habit] * rng.uniform(0.95, 1.0, n)
    submit = rng.choice(3, size=n, p=[0.6, 0.3, 0.1])
    efficiency = np.clip(rng.lognormal(-0.05, 0.25, n), 0.4, 2.5)
    quality = np.clip(rng.beta(8, 1.6, n), 0.45, 1.0)
    review_lag = rng.gamma(2.0, 0.8, n)
    strict = np.clip(rng.beta(1.5, 60, n), 0.0, 0.15)
    staff_id = np.array([f"KH{i + 1:06d}" for i in range(n)], dtype=object)
    positions = _quotas(seed, agencies, rows, h0)
    return Population(
        staff_id=staff_id,
        full_name=names,
        female=female,
        service_start=service,
        intensity=intensity,
        coverage=coverage,
        submit_habit=submit,
        efficiency=efficiency,
        quality=quality,
        review_lag=review_lag,
        review_strictness=strict,
        assignments=rows,
        positions=positions,
    )


def _quotas(seed: int, agencies: list[Agency], rows: pd.DataFrame, h0: date) -> pd.DataFrame:
    """Approved headcount per position: near the real headcount, some above and some below."""
    rng = np.random.default_rng([seed, 15])
    out = []
    for ai, ag in enumerate(agencies):
        names = _position_names(ag)
        first = max(ag.valid_from, h0) if ag.size else ag.valid_from
        day = np.datetime64(first, "D")
        a = rows[rows["agency_idx"] == ai]
        active = a[(a["start"] <= day) & (a["end"].isna() | (a["end"] >= day))] if ag.size else a
        counts = (
            active.groupby("position_code").size()
            if ag.size
            else a.drop_duplicates("person").groupby("position_code").size()
        )
        for code, (pname, group) in names.items():
            have = int(counts.get(code, 0))
            if have == 0 and code not in ("LD-CQ", "LD-PB"):
                continue
            delta = (
                int(rng.choice([-2, -1, -1, 0, 1, 1, 2, 3]))
                if have >= 4
                else int(rng.choice([0, 0, 1]))
            )
            quota = max(0, have + delta)
            vf = max(ag.valid_from, date(2025, 1, 1))
            out.append((ag.code, code, pname, GROUPS[group], quota, vf))
            if ag.valid_to is None and ag.pilot and ag.type != "commune" and have >= 6:
                # The 2025 streamlining cut quotas from the second half year.
                cut = max(0, quota - int(rng.integers(0, 3)))
                if cut != quota:
                    out.append((ag.code, code, pname, GROUPS[group], cut, date(2025, 7, 1)))
    return pd.DataFrame(out, columns=columns("positions"))
