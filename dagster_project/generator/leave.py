"""Approved absences: annual leave (12 days + 1 per 5 years of service), sick, maternity."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from .calendar import day_range, is_working_day

LEAVE_TYPES = ("annual", "sick", "maternity", "unpaid", "other")

# Relative monthly propensity of annual leave: summer holidays, the run-up to Tết, year end.
_ANNUAL_MONTH_WEIGHT = np.array([1.4, 1.6, 0.7, 0.9, 0.9, 1.5, 1.8, 1.6, 0.8, 0.7, 0.8, 1.3])


def build_leave(
    seed: int,
    service_start: np.ndarray,
    female: np.ndarray,
    first_day: np.ndarray,
    last_day: np.ndarray,
    years: range,
) -> pd.DataFrame:
    """All leave spells of ``years``; one RNG per year so that adding a year changes nothing
    in the others. ``first_day``/``last_day`` bound each person's employment."""
    out = []
    for y in years:
        rng = np.random.default_rng([seed, 31, y])
        days = day_range(date(y, 1, 1), date(y + 1, 1, 31))
        wd = days[is_working_day(days)]
        wd_year = wd[wd < np.datetime64(f"{y + 1}-01-01")]
        month = wd_year.astype("datetime64[M]").astype(int) % 12
        w = _ANNUAL_MONTH_WEIGHT[month]
        w = w / w.sum()
        n = service_start.size
        seniority = (np.datetime64(f"{y}-01-01") - service_start).astype(int) // 365
        entitlement = 12 + np.clip(seniority, 0, 40) // 5
        # Annual leave: spells of 1-5 days until about 60-100% of the entitlement.
        spells = rng.poisson(entitlement * rng.uniform(0.6, 1.0, n) / 2.4)
        person = np.repeat(np.arange(n), spells)
        length = rng.choice([1, 1, 1, 2, 2, 3, 4, 5], size=person.size)
        half = (length == 1) & (rng.random(person.size) < 0.15)
        start_i = rng.choice(wd_year.size, size=person.size, p=w)
        parts = [_spells(wd, person, start_i, length, half, 0)]
        # Sick leave: about 1.2 spells a year, more in the rainy season.
        sick = rng.poisson(1.2, n)
        person = np.repeat(np.arange(n), sick)
        length = rng.choice([1, 1, 2, 2, 3, 5], size=person.size)
        start_i = rng.integers(0, wd_year.size, person.size)
        half = (length == 1) & (rng.random(person.size) < 0.3)
        parts.append(_spells(wd, person, start_i, length, half, 1))
        # Other (weddings, funerals: 1-3 days) and rare unpaid leave.
        other = rng.random(n) < 0.25
        person = np.nonzero(other)[0]
        length = rng.choice([1, 3], size=person.size)
        start_i = rng.integers(0, wd_year.size, person.size)
        kind = np.where(rng.random(person.size) < 0.15, 3, 4)
        sp = _spells(wd, person, start_i, length, np.zeros(person.size, bool), 4)
        sp["type"] = kind
        parts.append(sp)
        # Maternity: six months, starting after the first week of a month (so that nobody
        # is absent for a whole month from its first working day when the range begins).
        mat = female & (rng.random(n) < 0.03)
        person = np.nonzero(mat)[0]
        month_start = rng.integers(0, 12, person.size)
        day = rng.integers(8, 28, person.size)
        st = (np.array([f"{y}-01"], dtype="datetime64[M]")[0] + month_start).astype(
            "datetime64[D]"
        ) + (day - 1)
        parts.append(
            pd.DataFrame({"person": person, "type": 2, "start": st, "end": st + 180, "half": False})
        )
        out.extend(parts)
    df = pd.concat(out, ignore_index=True)
    ok = (df["start"].to_numpy() >= first_day[df["person"]]) & (
        df["start"].to_numpy() <= last_day[df["person"]]
    )
    df = df[ok].drop_duplicates(["person", "start"], keep="first")
    return df.sort_values(["person", "start"], kind="stable").reset_index(drop=True)


def _spells(
    wd: np.ndarray,
    person: np.ndarray,
    start_i: np.ndarray,
    length: np.ndarray,
    half: np.ndarray,
    kind: int,
) -> pd.DataFrame:
    end_i = np.minimum(start_i + length - 1, wd.size - 1)
    return pd.DataFrame(
        {"person": person, "type": kind, "start": wd[start_i], "end": wd[end_i], "half": half}
    )


def leave_hours(
    leave: pd.DataFrame, person: np.ndarray, day: np.ndarray, d1: np.datetime64, d2: np.datetime64
) -> np.ndarray:
    """Leave hours of each (person, day) pair: 8 full, 4 half; overlapping spells don't add."""
    ls = leave["start"].to_numpy().astype("datetime64[D]")
    le = leave["end"].to_numpy().astype("datetime64[D]")
    sel = (ls <= d2) & (le >= d1)
    lv = leave[sel]
    if lv.empty or person.size == 0:
        return np.zeros(person.size)
    s = np.maximum(ls[sel], d1)
    e = np.minimum(le[sel], d2)
    n = (e - s).astype(int) + 1
    lp = np.repeat(lv["person"].to_numpy(), n)
    offs = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
    ld = np.repeat(s, n) + offs
    hrs = np.repeat(np.where(lv["half"].to_numpy(), 4.0, 8.0), n)
    base = d1.astype(np.int64)
    key = lp.astype(np.int64) * 4096 + (ld.astype(np.int64) - base)
    order = np.lexsort((hrs, key))
    key, hrs = key[order], hrs[order]
    last = np.r_[key[1:] != key[:-1], True]
    ukey, uh = key[last], hrs[last]  # the max per key (sorted ascending by hours)
    q = person.astype(np.int64) * 4096 + (day.astype(np.int64) - base)
    pos = np.searchsorted(ukey, q)
    pos = np.minimum(pos, ukey.size - 1)
    return np.where(ukey[pos] == q, uh[pos], 0.0)
