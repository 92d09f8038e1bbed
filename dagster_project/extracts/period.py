"""The reporting period an extract covers: a month ("2025-03") or a quarter ("2025-Q1")."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from dagster_project.extracts import labels


class ExtractError(Exception):
    """The extract cannot be written; the message says why, in terms a user can act on."""


_MONTH = re.compile(r"(\d{4})-(\d{2})")
_QUARTER = re.compile(r"(\d{4})-[Qq]([1-4])")


@dataclass(frozen=True)
class Period:
    text: str  # canonical form, used in file names: "2025-03" or "2025-Q1"
    kind: str  # "month" | "quarter", the marts' period_type
    start: date
    end: date  # last calendar day; the marts may cut it at the reporting range's edge
    label: str  # Vietnamese, e.g. "Tháng 03/2025", "Quý 1/2025"


def parse_period(period: str) -> tuple[str, date]:
    """("month" | "quarter", first day of the period); ExtractError when malformed."""
    resolved = resolve_period(period)
    return resolved.kind, resolved.start


def resolve_period(period: str) -> Period:
    text = period.strip() if isinstance(period, str) else ""
    if match := _MONTH.fullmatch(text):
        year, month = int(match[1]), int(match[2])
        if not 1 <= month <= 12:
            raise ExtractError(f"Invalid month in period {period!r}: expected 01..12.")
        _check_year(period, year)
        start = date(year, month, 1)
        end = _add_months(start, 1) - timedelta(days=1)
        return Period(
            f"{year:04d}-{month:02d}",
            "month",
            start,
            end,
            labels.period_label("month", year, month),
        )
    if match := _QUARTER.fullmatch(text):
        year, quarter = int(match[1]), int(match[2])
        _check_year(period, year)
        start = date(year, 3 * quarter - 2, 1)
        end = _add_months(start, 3) - timedelta(days=1)
        return Period(
            f"{year:04d}-Q{quarter}",
            "quarter",
            start,
            end,
            labels.period_label("quarter", year, quarter),
        )
    raise ExtractError(
        f"Malformed period {period!r}: expected a month YYYY-MM (e.g. 2025-03) "
        "or a quarter YYYY-Qn (e.g. 2025-Q1)."
    )


def _check_year(period: str, year: int) -> None:
    if year < 1900:
        raise ExtractError(f"Invalid year in period {period!r}.")


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)
