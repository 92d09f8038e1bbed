"""What people do in a window of days (usually a month): declarations, documents, events,
incoming correspondence and evaluations. Everything is vectorised over staff-days and
entries; Python loops only run over agencies, reviewers and document series.

Calibration by construction: each (person, agency) pair of the window gets a target of
credited hours, ``rate × fde``. Entries are drawn per declared day until they fill the
day's share of the target, the remainder is topped up with a "flex" task of a small norm
(processing incoming documents, signing documents, filing) using cumulative rounding, so
that the approved entries of every pair add up to the target within half a flex norm
(≤ 7.5 minutes). Nothing added afterwards (rejected, pending, draft, cancelled, broken or
unknown rows) is credited; approved duplicates are counted in the fill.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from .agencies import Agency
from .calendar import is_holiday, is_working_day, weekday
from .catalogue import NORM_REVISION_DAY, Catalogue
from .leave import leave_hours
from .messiness import MessinessRates
from .people import Population
from .schema import columns

DRAFT, SUBMITTED, APPROVED, REJECTED, CANCELLED = range(5)
STATUS_NAMES = np.array(["draft", "submitted", "approved", "rejected", "cancelled"], dtype=object)
CANDIDATES_PER_DAY = 8
MAX_DAY_HOURS = 12.0
MAX_DECLARED_MINUTES = 15 * 60


@dataclass(frozen=True)
class CalibrationTarget:
    pooled_hours: float  # Σ credited ÷ Σ fde
    staff_over: int  # people with round(credited/fde, 2) > 8


# The figures Khánh Hòa published for the Department of Finance in March 2025.
CALIBRATION: dict[tuple[str, int, int], CalibrationTarget] = {
    ("STC", 2025, 3): CalibrationTarget(5.5, 6),
}

_SEASON = np.array([0.95, 0.93, 1.0, 1.0, 0.98, 1.0, 0.96, 0.97, 1.0, 1.02, 1.04, 1.08])

_DESC_SUFFIX = [
    "",
    " theo chỉ đạo của lãnh đạo",
    " tháng {m}/{y}",
    " quý {q}/{y}",
    " theo đề nghị của đơn vị",
    " (đợt {k})",
    " năm {y}",
    " - bổ sung hồ sơ",
]
_DOC_TYPE_ABBR = {
    "Công văn": "",
    "Quyết định": "QĐ",
    "Tờ trình": "TTr",
    "Báo cáo": "BC",
    "Kế hoạch": "KH",
    "Thông báo": "TB",
    "Giấy mời": "GM",
}
_INCOMING_SENDERS = [
    "UBND",
    "BTC",
    "BNV",
    "BXD",
    "BYT",
    "VPCP",
    "TU",
    "HĐND",
    "UBND-KT",
    "BNNMT",
    "BGDĐT",
    "BVHTTDL",
    "BTP",
    "KBNN",
    "CT",
]
_INCOMING_TYPES = [
    "Công văn",
    "Công văn",
    "Công văn",
    "Quyết định",
    "Thông báo",
    "Kế hoạch",
    "Giấy mời",
    "Chỉ thị",
]
_EVAL_COMMENTS = [
    "",
    "",
    "Hoàn thành tốt nhiệm vụ được giao",
    "Cần chủ động hơn trong công việc",
    "Chấp hành tốt kỷ luật, kỷ cương",
    "Chất lượng tham mưu tốt",
    "Còn chậm tiến độ một số nhiệm vụ",
    "Tích cực, trách nhiệm",
]


@dataclass
class World:
    """Everything that stays fixed across windows."""

    seed: int
    agencies: list[Agency]
    cat: Catalogue
    pop: Population
    leave: pd.DataFrame
    rates: MessinessRates
    doc_counters: dict[tuple[int, str, int], int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        r = self.cat.rows
        self.v_minutes = r["standard_minutes"].to_numpy(float)
        self.v_new = r["minutes_new"].to_numpy(float)
        self.v_evidence = r["evidence_code"].to_numpy(np.int8)
        self.v_doc_type = r["doc_type"].to_numpy(object)
        self.v_code = r["task_code"].to_numpy(object)
        self.v_stage = r["stage_code"].replace("", None).to_numpy(object)
        name = r["task_name"].to_numpy(object)
        stage = r["stage_name"].to_numpy(object)
        self.v_label = np.array(
            [n if not s else f"{n} - {s.lower()}" for n, s in zip(name, stage, strict=True)],
            dtype=object,
        )
        self.v_task_name = name
        # Sampling table: one CDF per (agency, group) row, offset by its row number so that
        # a single searchsorted samples every row at once.
        n_ag = len(self.agencies)
        w = r[["w_lead", "w_spec", "w_shared", "w_support"]].to_numpy(float)
        ag = r["agency_idx"].to_numpy()
        cdf, var = [], []
        for a in range(n_ag):
            idx = np.nonzero(ag == a)[0]
            for g in range(4):
                p = w[idx, g]
                p = p / p.sum()
                cdf.append(a * 4 + g + np.cumsum(p))
                var.append(idx)
        self.cdf = np.concatenate(cdf)
        self.cdf_var = np.concatenate(var)
        self.dept_abbr = {(ai, u[0]): u[1] for ai, a in enumerate(self.agencies) for u in a.units}
        asg = self.pop.assignments
        self.a_start = asg["start"].to_numpy().astype("datetime64[D]")
        self.a_end = asg["end"].to_numpy().astype("datetime64[D]")
        self.a_end_filled = np.where(np.isnat(self.a_end), np.datetime64("9999-12-31"), self.a_end)
        self.a_person = asg["person"].to_numpy()
        self.a_agency = asg["agency_idx"].to_numpy()
        self.a_group = asg["group"].to_numpy()
        self.a_leader = asg["is_leader"].to_numpy(bool)
        self.a_pos = asg["position_code"].to_numpy(object)
        self.a_dept = asg["department"].to_numpy(object)

    def sample_variants(
        self, agency: np.ndarray, group: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        x = agency * 4 + group + rng.random(agency.size) * (1 - 1e-9) + 1e-12
        pos = np.searchsorted(self.cdf, x, side="left")
        return self.cdf_var[np.minimum(pos, self.cdf_var.size - 1)]

    def norm(self, variant: np.ndarray, day: np.ndarray) -> np.ndarray:
        new = self.v_new[variant]
        late = day >= np.datetime64(NORM_REVISION_DAY)
        return np.where(late & ~np.isnan(new), new, self.v_minutes[variant])


def solve_rates(
    base: np.ndarray, fde: np.ndarray, target: CalibrationTarget, rng: np.random.Generator
) -> np.ndarray:
    """Daily credited-hour rates with a pooled mean and a number of people above 8 h.

    The most intense people are the ones over 8 h (8.3-9.2 h); the others are scaled
    multiplicatively and clipped to 2.0-7.6 h until the pooled mean is met.
    """
    r = base.copy()
    live = fde > 0
    order = np.argsort(-np.where(live, base, -np.inf), kind="stable")
    over = order[: target.staff_over]
    r[over] = rng.uniform(8.3, 9.2, over.size)
    rest = live.copy()
    rest[over] = False
    r[rest] = np.minimum(r[rest], 7.6)
    need = target.pooled_hours * fde[live].sum() - (r[over] * fde[over]).sum()
    for _ in range(100):
        cur = (r[rest] * fde[rest]).sum()
        if abs(cur - need) < 1e-9:
            break
        r[rest] = np.clip(r[rest] * need / cur, 2.0, 7.6)
    return r


def _first_per_group(
    group: np.ndarray, candidate: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """One random row index per group among rows where ``candidate`` holds."""
    idx = np.nonzero(candidate)[0]
    if idx.size == 0:
        return idx
    order = np.lexsort((rng.random(idx.size), group[idx]))
    idx = idx[order]
    first = np.r_[True, group[idx][1:] != group[idx][:-1]]
    return idx[first]


def _group_cumsum(values: np.ndarray, group_start: np.ndarray) -> np.ndarray:
    """Cumulative sum restarting where ``group_start`` is True (rows sorted by group)."""
    c = np.cumsum(values)
    starts = np.nonzero(group_start)[0]
    offset = np.repeat(
        np.r_[0.0, c[starts[1:] - 1]] if starts.size else np.zeros(0),
        np.diff(np.r_[starts, values.size]),
    )
    return c - offset


def simulate(world: World, d1: date, d2: date, tag: str) -> dict[str, pd.DataFrame]:
    """Simulate [d1, d2]; ``tag`` names the window in ids (``2025-03``, ``2026-01-02``)."""
    seed = world.seed
    rng = np.random.default_rng([seed, 41, d1.toordinal(), d2.toordinal()])
    rates = world.rates
    pop = world.pop
    D1, D2 = np.datetime64(d1, "D"), np.datetime64(d2, "D")

    # --- staff-days -------------------------------------------------------------------
    lo = np.maximum(world.a_start, D1)
    hi = np.minimum(world.a_end_filled, D2)
    rows = np.nonzero(lo <= hi)[0]
    n = (hi[rows] - lo[rows]).astype(int) + 1
    sd_row = np.repeat(rows, n)
    sd_day = np.repeat(lo[rows], n) + (np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n))
    sd_person = world.a_person[sd_row]
    sd_agency = world.a_agency[sd_row]
    sd_group = world.a_group[sd_row]
    working = is_working_day(sd_day)
    lh = leave_hours(world.leave, sd_person, sd_day, D1, D2)
    avail = np.where(working, 8.0 - lh, 0.0)

    pa_key = sd_person.astype(np.int64) * 4096 + sd_agency
    pa_keys, pa = np.unique(pa_key, return_inverse=True)
    n_pa = pa_keys.size
    pa_person = (pa_keys // 4096).astype(np.int64)
    pa_agency = (pa_keys % 4096).astype(np.int64)
    fde = np.bincount(pa, weights=avail, minlength=n_pa) / 8.0

    # --- targets ------------------------------------------------------------------------
    month_factor = _SEASON[d1.month - 1]
    rate = pop.intensity[pa_person] * month_factor * rng.lognormal(0.0, 0.07, n_pa)
    full_month = d1.day == 1 and (d2.month != (d2 + _ONE_DAY).month)
    for (code, y, m), tgt in CALIBRATION.items():
        if not (full_month and d1.year == y and d1.month == m):
            continue
        ai = next((i for i, a in enumerate(world.agencies) if a.code == code), None)
        if ai is None:
            continue
        sel = np.nonzero(pa_agency == ai)[0]
        sub_rng = np.random.default_rng([seed, 42, y, m])
        rate[sel] = solve_rates(rate[sel], fde[sel], tgt, sub_rng)
    target = rate * fde  # hours

    # --- which days get declarations ---------------------------------------------------
    declared = (avail > 0) & (rng.random(sd_day.size) < pop.coverage[sd_person])
    has_day = np.bincount(pa, weights=declared, minlength=n_pa) > 0
    need = (~has_day) & (target > 0)
    declared[_first_per_group(pa, need[pa] & (avail > 0), rng)] = True
    anomaly = np.zeros(sd_day.size, dtype=np.int8)  # 1 weekend, 2 holiday, 3 on leave
    hol = is_holiday(sd_day)
    for kind, rate_k, cand in (
        (1, rates.weekend_work, ~working & ~hol),
        (2, rates.holiday_work, hol & ~working),
        (3, rates.on_leave_work, working & (lh >= 8)),
    ):
        if rate_k <= 0:
            continue
        chosen_pa = rng.random(n_pa) < rate_k
        pick = _first_per_group(pa, cand & chosen_pa[pa] & (target[pa] > 0) & ~declared, rng)
        declared[pick] = True
        anomaly[pick] = kind
    dd = np.nonzero(declared)[0]
    dd_pa = pa[dd]
    w = np.where(avail[dd] > 0, avail[dd] / 8.0, 0.5) * np.clip(
        rng.lognormal(0.0, 0.2, dd.size), 0.6, 1.6
    )
    wsum = np.bincount(dd_pa, weights=w, minlength=n_pa)
    h = target[dd_pa] * w / np.where(wsum > 0, wsum, 1.0)[dd_pa]
    # Spread anything above a long day over the pair's other days (one pass suffices).
    excess = np.maximum(h - MAX_DAY_HOURS, 0.0)
    if excess.any():
        h = np.minimum(h, MAX_DAY_HOURS)
        room = MAX_DAY_HOURS - h
        ex = np.bincount(dd_pa, weights=excess, minlength=n_pa)
        rs = np.bincount(dd_pa, weights=room, minlength=n_pa)
        h = h + room * (ex / np.where(rs > 0, rs, 1.0))[dd_pa]
    day_min = h * 60.0

    # --- natural entries: fill each day up to its share -------------------------------
    K = CANDIDATES_PER_DAY
    c_dd = np.repeat(np.arange(dd.size), K)
    c_day = sd_day[dd][c_dd]
    c_var = world.sample_variants(sd_agency[dd][c_dd], sd_group[dd][c_dd], rng)
    c_norm = world.norm(c_var, c_day)
    lam = np.clip(60.0 / c_norm - 1.0, 0.0, 5.0)
    c_q = 1.0 + rng.poisson(lam)
    c_dup = rng.random(c_var.size) < rates.duplicate
    c_dup_ok = c_dup & (rng.random(c_var.size) < 0.7)  # the leader approved the copy too
    mult = 1.0 + c_dup_ok
    eff = (c_q * c_norm * mult).reshape(-1, K)
    cum = np.cumsum(eff, axis=1)
    before = cum - eff
    tgt = day_min[:, None]
    keep = cum <= tgt
    partial = (before < tgt) & (cum > tgt)
    unit = (c_norm * mult).reshape(-1, K)
    q_fit = np.floor((tgt - before) / unit)
    c_q = np.where(partial.ravel(), q_fit.ravel(), c_q)
    keep = (keep | (partial & (q_fit >= 1))).ravel()
    done = np.bincount(c_dd[keep], weights=(c_q * c_norm * mult)[keep], minlength=dd.size)
    residual = np.maximum(day_min - done, 0.0)

    # --- flex entries: cumulative rounding per pair ------------------------------------
    order = np.lexsort((sd_day[dd], dd_pa))
    f_pa = dd_pa[order]
    f_start = np.r_[True, f_pa[1:] != f_pa[:-1]]
    f_var = world.cat.flex_variant[pa_agency[f_pa], sd_group[dd][order]]
    f_norm = world.norm(f_var, sd_day[dd][order])
    cres = _group_cumsum(residual[order], f_start)
    Q = np.round(cres / f_norm)
    Q_prev = np.where(f_start, 0.0, np.r_[0.0, Q[:-1]])
    f_q = Q - Q_prev
    f_take = f_q > 0
    f_dd = order[f_take]

    e_dd = np.r_[c_dd[keep], f_dd]
    e_var = np.r_[c_var[keep], f_var[f_take]]
    e_q = np.r_[c_q[keep], f_q[f_take]]
    e_dup = np.r_[c_dup[keep], np.zeros(f_dd.size, bool)]
    e_dup_ok = np.r_[c_dup_ok[keep], np.zeros(f_dd.size, bool)]
    e_sd = dd[e_dd]
    core = _Entries(
        world,
        sd_row[e_sd],
        sd_day[e_sd],
        e_var,
        e_q,
        np.full(e_sd.size, APPROVED, np.int8),
        rng.integers(0, len(_DESC_SUFFIX), e_sd.size),
    )
    core.dup, core.dup_ok = e_dup, e_dup_ok
    core.anomaly = anomaly[e_sd]

    out = _assemble(world, core, rng, D1, D2, tag)
    out["evaluations"] = _evaluations(world, pa_person, pa_agency, fde, d1, d2, rng)
    out["incoming"] = _incoming(
        world, sd_person, sd_agency, sd_group, sd_day, avail, d1, d2, tag, rng
    )
    # credited check data for the caller's summary
    out["_pairs"] = pd.DataFrame(
        {"person": pa_person, "agency_idx": pa_agency, "fde": fde, "target_hours": target}
    )
    return out


_ONE_DAY = date(2000, 1, 2) - date(2000, 1, 1)


class _Entries:
    """Column arrays of worklog entries; ``row`` is the assignment row (agency, department)."""

    def __init__(
        self,
        world: World,
        row: np.ndarray,
        day: np.ndarray,
        var: np.ndarray,
        q: np.ndarray,
        status: np.ndarray,
        suffix: np.ndarray,
    ) -> None:
        self.row, self.day, self.var, self.q = row, day, var, q
        self.status, self.suffix = status, suffix
        self.person = world.a_person[row]
        self.agency = world.a_agency[row]
        self.group = world.a_group[row]
        self.dup = np.zeros(row.size, bool)
        self.dup_ok = np.zeros(row.size, bool)
        self.anomaly = np.zeros(row.size, np.int8)
        self.unknown = np.zeros(row.size, np.int8)  # 1 unknown task, 2 unknown staff

    @property
    def size(self) -> int:
        return int(self.row.size)


def _reviewers(world: World, D1: np.datetime64, D2: np.datetime64) -> dict[tuple[int, str], int]:
    """Who approves whose entries: the department's leader, else the agency's head."""
    mid = D1 + (D2 - D1) // 2
    act = (world.a_start <= D2) & (world.a_end_filled >= D1) & world.a_leader
    idx = np.nonzero(act)[0]
    idx = idx[np.argsort(np.abs((world.a_start[idx] - mid).astype(int)), kind="stable")]
    out: dict[tuple[int, str], int] = {}
    heads: dict[int, list[int]] = {}
    for i in idx:
        ag, pos, p = int(world.a_agency[i]), world.a_pos[i], int(world.a_person[i])
        if pos == "LD-CQ":
            heads.setdefault(ag, []).append(p)
        else:
            out.setdefault((ag, world.a_dept[i]), p)
    for ag, hs in heads.items():
        out[(ag, "__head__")] = hs[0]
        out[(ag, "__deputy__")] = hs[1] if len(hs) > 1 else hs[0]
    return out


def _reviewer_of(
    world: World,
    rev: dict,
    person: np.ndarray,
    agency: np.ndarray,
    dept: np.ndarray,
    pos: np.ndarray,
) -> np.ndarray:
    keys = pd.Series(list(zip(agency.tolist(), dept.tolist(), strict=True)))
    uniq = {}
    for k in set(keys):
        ag, d = k
        r = rev.get((ag, d), rev.get((ag, "__head__"), -1))
        uniq[k] = r
    r = keys.map(uniq).to_numpy(np.int64)
    head = (
        np.array([rev.get((a, "__head__"), -1) for a in agency], dtype=np.int64)
        if agency.size < 50_000
        else _vec_lookup(rev, agency, "__head__")
    )
    deputy = _vec_lookup(rev, agency, "__deputy__")
    r = np.where((r == person) | (pos == "LD-PB"), head, r)
    r = np.where(r == person, deputy, r)
    return r


def _vec_lookup(rev: dict, agency: np.ndarray, which: str) -> np.ndarray:
    n = int(agency.max()) + 1 if agency.size else 0
    table = np.array([rev.get((a, which), -1) for a in range(n)], dtype=np.int64)
    return table[agency] if agency.size else np.zeros(0, np.int64)


def _concat(world: World, parts: list[_Entries]) -> _Entries:
    e = _Entries(
        world,
        np.concatenate([p.row for p in parts]),
        np.concatenate([p.day for p in parts]),
        np.concatenate([p.var for p in parts]),
        np.concatenate([p.q for p in parts]),
        np.concatenate([p.status for p in parts]),
        np.concatenate([p.suffix for p in parts]),
    )
    for attr in ("dup", "dup_ok", "anomaly", "unknown"):
        setattr(e, attr, np.concatenate([getattr(p, attr) for p in parts]))
    return e


def _take(world: World, e: _Entries, idx: np.ndarray) -> _Entries:
    out = _Entries(
        world, e.row[idx], e.day[idx], e.var[idx], e.q[idx], e.status[idx], e.suffix[idx]
    )
    out.anomaly = e.anomaly[idx]
    out.unknown = e.unknown[idx]
    return out


def _ts(day: np.ndarray, minutes: np.ndarray) -> np.ndarray:
    return day.astype("datetime64[m]") + minutes.astype(np.int64).astype("timedelta64[m]")


def _unassigned_in_window(world: World, d1: np.datetime64, d2: np.datetime64) -> np.ndarray:
    """People with an HR record but no assignment on any day of the window."""
    covered = (world.a_start <= d2) & (world.a_end_filled >= d1)
    people = np.unique(world.a_person)
    return np.setdiff1d(people, np.unique(world.a_person[covered]))


def _assemble(
    world: World,
    core: _Entries,
    rng: np.random.Generator,
    D1: np.datetime64,
    D2: np.datetime64,
    tag: str,
) -> dict[str, pd.DataFrame]:
    rates = world.rates
    pop = world.pop
    n_core = core.size
    parts = [core]
    # Work that is not credited: rejected for good, drafts, cancelled, still pending.
    recent = np.nonzero(core.day >= D2 - 10)[0]
    for status, r in (
        (REJECTED, rates.rejection),
        (DRAFT, rates.draft),
        (CANCELLED, rates.cancelled),
        (SUBMITTED, rates.pending),
    ):
        k = int(rng.binomial(n_core, r)) if r > 0 and n_core else 0
        if k == 0:
            continue
        pool = recent if status == SUBMITTED and recent.size else np.arange(n_core)
        t = pool[rng.integers(0, pool.size, k)]
        var = world.sample_variants(core.agency[t], core.group[t], rng)
        q = 1.0 + rng.poisson(np.clip(60.0 / world.norm(var, core.day[t]) - 1.0, 0, 3))
        parts.append(
            _Entries(
                world,
                core.row[t],
                core.day[t],
                var,
                q,
                np.full(k, status, np.int8),
                rng.integers(0, len(_DESC_SUFFIX), k),
            )
        )
    # The same work declared twice (same day, task, quantity and text).
    dup = np.nonzero(core.dup)[0]
    if dup.size:
        copy = _take(world, core, dup)
        copy.status = np.where(core.dup_ok[dup], APPROVED, SUBMITTED).astype(np.int8)
        parts.append(copy)
    # References to things that do not exist: loaded, flagged, never credited.
    k = int(rng.binomial(n_core, rates.unknown_reference)) if n_core else 0
    if k:
        t = rng.integers(0, n_core, k)
        unk = _take(world, core, t)
        unk.status = np.where(rng.random(k) < 0.8, APPROVED, SUBMITTED).astype(np.int8)
        # 1 unknown task, 2 unknown staff id, 3 a person HR knows but who has no
        # assignment that day (a leaver or a future joiner declaring by mistake).
        unk.unknown = rng.choice(np.array([1, 2, 3], np.int8), size=k, p=[0.4, 0.4, 0.2])
        parts.append(unk)
    e = _concat(world, parts)
    order = np.lexsort((rng.random(e.size), e.day, e.person))
    e = _take_all(world, e, order)
    n = e.size
    entry_id = _ids(f"KK{tag.replace('-', '')}", n)

    # --- submission and review times ---------------------------------------------------
    wd = weekday(e.day)
    habit = pop.submit_habit[e.person]
    sub_day = np.where(
        habit == 0, e.day, np.where(habit == 1, e.day + np.maximum(4 - wd, 0), e.day + (7 - wd))
    )
    week = e.person.astype(np.int64) * 100_000 + e.day.astype(np.int64) // 7
    wk, winv = np.unique(week, return_inverse=True)
    late = (rng.random(wk.size) < rates.late_submission)[winv]
    sub_day = np.where(late, e.day + rng.integers(8, 21, n), sub_day)
    submitted_at = _ts(sub_day, rng.integers(16 * 60, 17 * 60 + 45, n))
    rev = _reviewers(world, D1, D2)
    reviewer = _reviewer_of(world, rev, e.person, e.agency, world.a_dept[e.row], world.a_pos[e.row])
    lag = np.round(rng.exponential(np.maximum(pop.review_lag[np.maximum(reviewer, 0)], 0.1)))
    reviewed_at = _ts(sub_day + lag.astype(np.int64), rng.integers(7 * 60 + 30, 17 * 60, n))
    reviewed_at = np.where(
        reviewed_at <= submitted_at,
        submitted_at + rng.integers(20, 180, n).astype("timedelta64[m]"),
        reviewed_at,
    )
    revision = np.ones(n, np.int64)

    # A share of approved entries was first rejected and corrected (revision 2).
    cand = (e.status == APPROVED) & (e.unknown == 0) & ~e.dup
    is_rev = cand & (rng.random(n) < rates.revision)
    r_idx = np.nonzero(is_rev)[0]
    r1_sub, r1_rev = submitted_at[r_idx], reviewed_at[r_idx]
    gap = rng.integers(60, 3 * 24 * 60, r_idx.size).astype("timedelta64[m]")
    submitted_at[r_idx] = r1_rev + gap
    reviewed_at[r_idx] = submitted_at[r_idx] + rng.integers(60, 2 * 24 * 60, r_idx.size).astype(
        "timedelta64[m]"
    )
    revision[r_idx] = 2

    nat = np.datetime64("NaT", "m")
    submitted_at = np.where(np.isin(e.status, (DRAFT, CANCELLED)), nat, submitted_at)
    reviewed = np.isin(e.status, (APPROVED, REJECTED))
    reviewed_at = np.where(reviewed, reviewed_at, nat)
    reviewer = np.where(reviewed, reviewer, -1)

    # --- declared minutes ----------------------------------------------------------------
    norm = world.norm(e.var, e.day)
    declared = np.clip(
        np.round(e.q * norm * pop.efficiency[e.person] * rng.lognormal(0.0, 0.15, n)), 1, 1440
    )
    live = np.isin(e.status, (APPROVED, SUBMITTED))
    sd_key = e.person.astype(np.int64) * 100_000 + e.day.astype(np.int64)
    keys, kinv = np.unique(sd_key, return_inverse=True)
    tot = np.bincount(kinv, weights=np.where(live, declared, 0.0), minlength=keys.size)
    scale = np.where(tot > MAX_DECLARED_MINUTES, MAX_DECLARED_MINUTES / np.maximum(tot, 1), 1.0)
    declared = np.maximum(np.floor(declared * scale[kinv]), 1)
    tot = np.bincount(kinv, weights=np.where(live, declared, 0.0), minlength=keys.size)
    bad_day = (rng.random(keys.size) < rates.implausible_day) & (tot > 0)
    boost = np.where(bad_day, 17 * 60 / np.maximum(tot, 1), 1.0)[kinv]
    declared = np.where(
        live & (boost > 1), np.clip(np.ceil(declared * boost), 1, 1440), declared
    ).astype(np.int64)

    # --- documents (evidence) --------------------------------------------------------------
    docs, doc_ref = _documents(world, e, live, reviewer, rev, entry_id, rng, D1, D2, tag)

    # --- assemble the worklog ------------------------------------------------------------
    staff = pop.staff_id[e.person].astype(object)
    ghost = np.nonzero(e.unknown == 2)[0]
    staff[ghost] = [f"KH9{x:05d}" for x in rng.integers(0, 99_999, ghost.size)]
    unassigned = _unassigned_in_window(world, D1, D2)
    orphan = np.nonzero(e.unknown == 3)[0]
    if orphan.size:
        staff[orphan] = (
            pop.staff_id[rng.choice(unassigned, orphan.size)]
            if unassigned.size
            else [f"KH9{x:05d}" for x in rng.integers(0, 99_999, orphan.size)]
        )
    task = np.where(
        e.unknown == 1,
        "X" + pd.Series(world.v_code[e.var]).str[1:].to_numpy(object),
        world.v_code[e.var],
    )
    y = D1.astype("datetime64[Y]").astype(int) + 1970
    m = D1.astype("datetime64[M]").astype(int) % 12 + 1
    desc = _descriptions(world, e, int(y), int(m))
    wl = pd.DataFrame(
        {
            "entry_id": entry_id,
            "revision": revision,
            "staff_id": staff,
            "work_date": e.day,
            "task_code": task,
            "stage_code": world.v_stage[e.var],
            "quantity": e.q,
            "declared_minutes": declared,
            "description": desc,
            "document_ref": doc_ref,
            "status": STATUS_NAMES[e.status],
            "submitted_at": submitted_at,
            "reviewed_by": np.where(reviewer >= 0, pop.staff_id[np.maximum(reviewer, 0)], None),
            "reviewed_at": reviewed_at,
        }
    )
    if r_idx.size:
        r1 = wl.iloc[r_idx].copy()
        r1["revision"] = 1
        r1["status"] = "rejected"
        r1["quantity"] = r1["quantity"] + 1  # the first version overstated the work
        r1["declared_minutes"] = np.minimum(r1["declared_minutes"] + 30, 1440)
        r1["submitted_at"] = r1_sub
        r1["reviewed_at"] = r1_rev
        # The corrected version follows its rejected first version in the same export.
        r1["_pos"] = r_idx - 0.5
        wl["_pos"] = np.arange(n, dtype=float)
        wl = pd.concat([wl, r1]).sort_values("_pos", kind="stable").drop(columns="_pos")
        wl = wl.reset_index(drop=True)
    wl.attrs["revision_spill"] = r_idx.size
    events = _events(world, e, live, rng, D1, D2, tag)
    return {"worklog": wl, "documents": docs, "events": events}


def _take_all(world: World, e: _Entries, idx: np.ndarray) -> _Entries:
    out = _take(world, e, idx)
    out.dup, out.dup_ok = e.dup[idx], e.dup_ok[idx]
    return out


def _ids(prefix: str, n: int) -> np.ndarray:
    width = max(6, len(str(n)))
    nums = pd.Series(np.arange(1, n + 1)).astype(str).str.zfill(width)
    return (prefix + "-" + nums).to_numpy(object)


def _descriptions(world: World, e: _Entries, y: int, m: int) -> np.ndarray:
    suffixes = [
        s.format(m=m, y=y, q=(m - 1) // 3 + 1, k=1 + (i % 3)) for i, s in enumerate(_DESC_SUFFIX)
    ]
    ns = len(suffixes)
    used = np.unique(e.var)
    table = {int(v) * ns + j: world.v_label[v] + suffixes[j] for v in used for j in range(ns)}
    key = e.var.astype(np.int64) * ns + e.suffix
    uk, inv = np.unique(key, return_inverse=True)
    vals = np.array([table[int(k)] for k in uk], dtype=object)
    return vals[inv]


def _documents(
    world: World,
    e: _Entries,
    live: np.ndarray,
    reviewer: np.ndarray,
    rev: dict,
    entry_id: np.ndarray,
    rng: np.random.Generator,
    D1: np.datetime64,
    D2: np.datetime64,
    tag: str,
) -> tuple[pd.DataFrame, np.ndarray]:
    rates = world.rates
    pop = world.pop
    doc_ref = np.full(e.size, None, dtype=object)
    is_doc = live & (e.unknown == 0) & (world.v_evidence[e.var] == 0)
    idx = np.nonzero(is_doc)[0]
    u = rng.random(idx.size)
    missing = u < rates.missing_document
    mismatch = (u >= rates.missing_document) & (
        u < rates.missing_document + rates.document_mismatch
    )
    # Half of the unreferenced documents exist all the same (the person forgot the number).
    create = ~missing | (rng.random(idx.size) < 0.5)
    # One document per entry: several entries about one file usually cite the same number.
    per = np.where(create, 1, 0)
    d_ent = np.repeat(idx, per)
    d_mis = np.repeat(mismatch, per)
    d_ref = np.repeat(~missing, per)
    nd = d_ent.size
    issued = e.day[d_ent] + rng.choice([0, 0, 1, 1, 2, 3, 5, 7], nd)
    wdy = weekday(issued)
    issued = issued + np.where(wdy == 5, 2, np.where(wdy == 6, 1, 0))
    agency = e.agency[d_ent]
    dtype = world.v_doc_type[e.var[d_ent]]
    dtype = np.where(dtype == "", "Công văn", dtype)
    drafter = e.person[d_ent].copy()
    head = _vec_lookup(rev, agency, "__head__") if nd else np.zeros(0, np.int64)
    deputy = _vec_lookup(rev, agency, "__deputy__") if nd else np.zeros(0, np.int64)
    signer = np.where(rng.random(nd) < 0.6, deputy, head)
    signer = np.where(signer == drafter, head, signer)
    if d_mis.any():
        # Someone else's document: a colleague drafted it and a leader signed it.
        j = np.nonzero(d_mis)[0]
        colleague = e.person[rng.integers(0, e.size, j.size)]
        same_ag = e.agency[rng.integers(0, e.size, j.size)] == agency[j]
        pick = np.where(same_ag & (colleague != drafter[j]), colleague, -1)
        drafter[j] = pick
        signer[j] = np.where(head[j] == e.person[d_ent[j]], deputy[j], head[j])
        signer[j] = np.where(signer[j] == e.person[d_ent[j]], -1, signer[j])
    dept = world.a_dept[e.row[d_ent]]
    abbr = np.array([_TYPE_ABBR_GET(t) for t in dtype], dtype=object) if nd else np.zeros(0, object)
    numbers = _number(world, agency, abbr, issued, dept, rng, D1, D2)
    docs = pd.DataFrame(
        {
            "doc_id": _ids(f"VB{tag.replace('-', '')}", nd),
            "agency_code": np.array([a.code for a in world.agencies], dtype=object)[agency],
            "direction": "outgoing",
            "doc_number": numbers,
            "doc_type": dtype,
            "issued_date": issued,
            "subject": "V/v "
            + pd.Series(world.v_task_name[e.var[d_ent]], dtype=object).str.lower(),
            "drafter_staff_id": np.where(drafter >= 0, pop.staff_id[np.maximum(drafter, 0)], None),
            "signer_staff_id": np.where(signer >= 0, pop.staff_id[np.maximum(signer, 0)], None),
            "handler_staff_id": None,
            "due_date": np.datetime64("NaT", "D"),
            "completed_date": np.datetime64("NaT", "D"),
        }
    )
    if nd:
        doc_ref[d_ent[d_ref]] = numbers[d_ref]
    return docs, doc_ref


def _TYPE_ABBR_GET(t: str) -> str:  # noqa: N802 - a tiny lookup used in a comprehension
    return _DOC_TYPE_ABBR.get(t, "CV")


def _number(
    world: World,
    agency: np.ndarray,
    abbr: np.ndarray,
    issued: np.ndarray,
    dept: np.ndarray,
    rng: np.random.Generator,
    D1: np.datetime64,
    D2: np.datetime64,
) -> np.ndarray:
    """Decree 30/2020 numbers: a yearly sequence per agency and document type."""
    nd = agency.size
    out = np.empty(nd, dtype=object)
    if nd == 0:
        return out
    year = issued.astype("datetime64[Y]").astype(int) + 1970
    df = pd.DataFrame({"a": agency, "t": abbr, "y": year, "d": issued, "i": np.arange(nd)})
    df = df.sort_values(["a", "t", "y", "d", "i"], kind="stable")
    window_days = max(1, int((D2 - D1).astype(int)) + 1)
    nums = np.empty(nd, dtype=np.int64)
    for (a, t, y), grp in df.groupby(["a", "t", "y"], sort=False):
        key = (int(a), str(t), int(y))
        if key not in world.doc_counters:
            # Documents issued in the year before the first exported window (and documents
            # outside the KPI scope) already used numbers: start further on.
            elapsed = max(0, int((D1 - np.datetime64(f"{y}-01-01")).astype(int)))
            world.doc_counters[key] = int(len(grp) / window_days * elapsed * 1.3)
        start = world.doc_counters[key]
        ii = grp["i"].to_numpy()
        nums[ii] = start + np.arange(1, ii.size + 1)
        world.doc_counters[key] = start + ii.size
    codes = np.array([a.doc_abbr for a in world.agencies], dtype=object)[agency]
    dabbr = np.array(
        [world.dept_abbr.get((int(a), d), "VP") for a, d in zip(agency, dept, strict=True)],
        dtype=object,
    )
    num_s = nums.astype(str).astype(object)
    out = np.where(abbr == "", num_s + "/" + codes + "-" + dabbr, num_s + "/" + abbr + "-" + codes)
    return out


def _events(
    world: World,
    e: _Entries,
    live: np.ndarray,
    rng: np.random.Generator,
    D1: np.datetime64,
    D2: np.datetime64,
    tag: str,
) -> pd.DataFrame:
    rates = world.rates
    ev = world.v_evidence[e.var]
    name = world.v_task_name[e.var]
    citizen = pd.Series(name, dtype=object).str.startswith("Tiếp công dân").to_numpy(bool)
    sel = live & (e.unknown == 0) & ((ev == 1) | (ev == 2) | citizen)
    idx = np.nonzero(sel)[0]
    keep = rng.random(idx.size) >= np.where(citizen[idx], 0.0, rates.missing_event)
    idx = idx[keep]
    if idx.size == 0:
        return pd.DataFrame(columns=columns("events"))
    df = pd.DataFrame(
        {
            "a": e.agency[idx],
            "d": e.day[idx],
            "v": e.var[idx],
            "s": world.pop.staff_id[e.person[idx]],
        }
    )
    df = df.drop_duplicates(["a", "d", "v", "s"]).sort_values(["d", "a", "v", "s"])
    g = df.groupby(["d", "a", "v"], sort=True)["s"].agg(";".join).reset_index()
    g_citizen = (
        pd.Series(world.v_task_name[g["v"]], dtype=object)
        .str.startswith("Tiếp công dân")
        .to_numpy(bool)
    )
    kind = np.where(g_citizen, 3, world.v_evidence[g["v"]].astype(int))
    etype = np.array(["document", "meeting", "field_trip", "citizen_reception"], dtype=object)[kind]
    day = g["d"].to_numpy().astype("datetime64[D]")
    morning = (g["v"].to_numpy() % 2) == 0
    start_min = np.where(etype == "field_trip", 7 * 60 + 30, np.where(morning, 8 * 60, 14 * 60))
    end_min = np.where(
        etype == "field_trip", 17 * 60, np.where(morning, 10 * 60 + 30, 16 * 60 + 30)
    )
    two_days = (etype == "field_trip") & (rng.random(len(g)) < 0.2)
    start_at = _ts(day, start_min)
    end_at = _ts(day + two_days.astype(np.int64), end_min)
    tag_c = tag.replace("-", "")
    return pd.DataFrame(
        {
            "event_id": _ids(f"SK{tag_c}", len(g)),
            "agency_code": np.array([a.code for a in world.agencies], dtype=object)[g["a"]],
            "event_type": etype,
            "title": world.v_task_name[g["v"]],
            "start_at": start_at,
            "end_at": end_at,
            "participant_staff_ids": g["s"].to_numpy(object),
        }
    )


def _incoming(
    world: World,
    sd_person: np.ndarray,
    sd_agency: np.ndarray,
    sd_group: np.ndarray,
    sd_day: np.ndarray,
    avail: np.ndarray,
    d1: date,
    d2: date,
    tag: str,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Incoming correspondence: about 1.7 documents per working staff member and month."""
    ok = (avail > 0) & (sd_group > 0)
    idx = np.nonzero(ok)[0]
    k = int(rng.binomial(idx.size, 0.08)) if idx.size else 0
    pick = idx[rng.integers(0, idx.size, k)] if k else idx[:0]
    pick = np.sort(pick)
    day = sd_day[pick]
    due = day + rng.choice([3, 5, 7, 10, 15, 30], k)
    delay = np.where(rng.random(k) < 0.85, -rng.integers(0, 4, k), rng.integers(1, 20, k))
    completed = day + np.maximum((due - day).astype(int) + delay, 0)
    open_ = rng.random(k) < 0.04
    completed = np.where(open_, np.datetime64("NaT", "D"), completed)
    sender = np.array(_INCOMING_SENDERS, dtype=object)[rng.integers(0, len(_INCOMING_SENDERS), k)]
    num = rng.integers(1, 4000, k).astype(str).astype(object)
    dtype = np.array(_INCOMING_TYPES, dtype=object)[rng.integers(0, len(_INCOMING_TYPES), k)]
    return pd.DataFrame(
        {
            "doc_id": _ids(f"VD{tag.replace('-', '')}", k),
            "agency_code": np.array([a.code for a in world.agencies], dtype=object)[
                sd_agency[pick]
            ],
            "direction": "incoming",
            "doc_number": num + "/" + sender,
            "doc_type": dtype,
            "issued_date": day,
            "subject": "V/v " + pd.Series(dtype, dtype=object).str.lower() + " của " + sender,
            "drafter_staff_id": None,
            "signer_staff_id": None,
            "handler_staff_id": world.pop.staff_id[sd_person[pick]],
            "due_date": due,
            "completed_date": completed,
        }
    )


def _evaluations(
    world: World,
    pa_person: np.ndarray,
    pa_agency: np.ndarray,
    fde: np.ndarray,
    d1: date,
    d2: date,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """The leader's monthly assessment (Decree 335/2025): one row per person and month."""
    pop = world.pop
    rates = world.rates
    ok = fde > 0
    person = pa_person[ok]
    agency = pa_agency[ok]
    person, first = np.unique(person, return_index=True)
    agency = agency[first]
    n = person.size
    D1, D2 = np.datetime64(d1), np.datetime64(d2)
    rev = _reviewers(world, D1, D2)
    evaluator = _vec_lookup(rev, agency, "__head__") if n else np.zeros(0, np.int64)
    evaluator = np.where(evaluator == person, _vec_lookup(rev, agency, "__deputy__"), evaluator)
    q = np.clip(np.round(pop.quality[person] * 100 + rng.normal(0, 4, n), 1), 40, 100)
    g = np.clip(np.round(24 + 6 * pop.quality[person] + rng.normal(0, 1.2, n), 1), 15, 30)
    g = np.where(rng.random(n) < rates.missing_general_score, np.nan, g)
    keep = rng.random(n) >= rates.missing_evaluation
    comments = np.array(_EVAL_COMMENTS, dtype=object)[rng.integers(0, len(_EVAL_COMMENTS), n)]
    df = pd.DataFrame(
        {
            "staff_id": pop.staff_id[person],
            "period": f"{d1.year:04d}-{d1.month:02d}",
            "evaluator_staff_id": np.where(
                evaluator >= 0, pop.staff_id[np.maximum(evaluator, 0)], None
            ),
            "quality_score": q,
            "general_score": g,
            "comment": np.where(comments == "", None, comments),
        }
    )
    return df[keep].reset_index(drop=True)
