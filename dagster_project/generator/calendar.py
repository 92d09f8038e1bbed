"""The Vietnamese civil-service working calendar the generator works to.

Mirrors ``contract/vn-calendar.md``. Years the contract does not cover fall back to the
fixed-date statutory holidays (no lunar New Year, no swaps): demo data beyond 2026 is
then approximate, which is acceptable for synthetic exports.
"""

from __future__ import annotations

from datetime import date

import numpy as np

_HOLIDAYS_TABLE: dict[str, str] = {
    "2025-01-01": "Tết Dương lịch",
    "2025-01-27": "Tết Nguyên đán Ất Tỵ",
    "2025-01-28": "Tết Nguyên đán Ất Tỵ",
    "2025-01-29": "Tết Nguyên đán Ất Tỵ",
    "2025-01-30": "Tết Nguyên đán Ất Tỵ",
    "2025-01-31": "Tết Nguyên đán Ất Tỵ",
    "2025-04-07": "Giỗ Tổ Hùng Vương",
    "2025-04-30": "Ngày Giải phóng miền Nam",
    "2025-05-01": "Quốc tế Lao động",
    "2025-05-02": "nghỉ bù",
    "2025-09-01": "Quốc khánh",
    "2025-09-02": "Quốc khánh",
    "2026-01-01": "Tết Dương lịch",
    "2026-01-02": "nghỉ bù",
    "2026-02-16": "Tết Nguyên đán Bính Ngọ",
    "2026-02-17": "Tết Nguyên đán Bính Ngọ",
    "2026-02-18": "Tết Nguyên đán Bính Ngọ",
    "2026-02-19": "Tết Nguyên đán Bính Ngọ",
    "2026-02-20": "Tết Nguyên đán Bính Ngọ",
    "2026-04-27": "Giỗ Tổ Hùng Vương",
    "2026-04-30": "Ngày Giải phóng miền Nam",
    "2026-05-01": "Quốc tế Lao động",
    "2026-08-31": "nghỉ bù",
    "2026-09-01": "Quốc khánh",
    "2026-09-02": "Quốc khánh",
}
_WORKING_SATURDAYS = ["2025-04-26", "2026-01-10", "2026-08-22"]
_COVERED_YEARS = {2025, 2026}
_FIXED_HOLIDAYS = ["01-01", "04-30", "05-01", "09-02"]

HOLIDAYS = np.array(sorted(_HOLIDAYS_TABLE), dtype="datetime64[D]")
WORKING_SATURDAYS = np.array(_WORKING_SATURDAYS, dtype="datetime64[D]")


def _holidays_for(years: range) -> np.ndarray:
    extra = [f"{y}-{md}" for y in years if y not in _COVERED_YEARS for md in _FIXED_HOLIDAYS]
    return np.concatenate([HOLIDAYS, np.array(extra, dtype="datetime64[D]")])


def is_working_day(days: np.ndarray) -> np.ndarray:
    """Vectorised working-day test for an array of ``datetime64[D]``."""
    days = np.asarray(days, dtype="datetime64[D]")
    if days.size == 0:
        return np.zeros(0, dtype=bool)
    years = days.astype("datetime64[Y]").astype(int) + 1970
    hol = _holidays_for(range(int(years.min()), int(years.max()) + 1))
    # 1970-01-01 was a Thursday: shift so that Monday = 0.
    weekday = (days.astype(np.int64) + 3) % 7
    working = weekday < 5
    working &= ~np.isin(days, hol)
    working |= np.isin(days, WORKING_SATURDAYS)
    return working


def is_holiday(days: np.ndarray) -> np.ndarray:
    days = np.asarray(days, dtype="datetime64[D]")
    if days.size == 0:
        return np.zeros(0, dtype=bool)
    years = days.astype("datetime64[Y]").astype(int) + 1970
    return np.isin(days, _holidays_for(range(int(years.min()), int(years.max()) + 1)))


def weekday(days: np.ndarray) -> np.ndarray:
    return (np.asarray(days, dtype="datetime64[D]").astype(np.int64) + 3) % 7


def day_range(first: date, last: date) -> np.ndarray:
    """All calendar days from ``first`` to ``last`` inclusive."""
    return np.arange(np.datetime64(first, "D"), np.datetime64(last, "D") + 1)


def month_bounds(year: int, month: int) -> tuple[date, date]:
    first = date(year, month, 1)
    nxt = date(year + (month == 12), month % 12 + 1, 1)
    return first, date.fromordinal(nxt.toordinal() - 1)


def months_between(start: date, end: date) -> list[tuple[int, int]]:
    out = []
    y, m = start.year, start.month
    while (y, m) <= (end.year, end.month):
        out.append((y, m))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out
