"""Read one period's figures from the public marts, read-only.

Only the public marts (schema `marts`) and the HR staging tables for names are read, so the
extracts show exactly the numbers analysts see in the warehouse: nothing is recomputed here
except the province totals, which follow the same pooled definitions (metrics.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from dagster_project.extracts.period import ExtractError, Period

Row = dict[str, Any]

_AGENCY_PRODUCTIVITY = """
    select agency_code, staff_count, available_hours, credited_hours, fde, avg_daily_hours,
           staff_over, staff_meets, staff_under, evidence_rate, declaration_coverage
    from marts.agency_productivity
    where period_type = $kind and period_start = $start
    order by agency_code
"""

# A person has one staff_productivity and one kpi_scorecard row per agency and period; the full
# join keeps a person who would appear in only one of them.
_PEOPLE = """
    with names as (
        select staff_id, agency_code, full_name, department,
               row_number() over (
                   partition by staff_id, agency_code
                   order by (assignment_start <= $end
                             and coalesce(assignment_end, date '9999-12-31') >= $start) desc,
                            assignment_start desc, assignment_end desc nulls first
               ) as pick
        from {assignments}
    ),
    productivity as (
        select * from marts.staff_productivity
        where period_type = $kind and period_start = $start
    ),
    scorecard as (
        select * from marts.kpi_scorecard
        where period_type = $kind and period_start = $start
    )
    select coalesce(p.staff_id, s.staff_id) as staff_id,
           coalesce(p.agency_code, s.agency_code) as agency_code,
           n.full_name, n.department, p.position_group,
           p.available_hours, p.credited_hours, p.fde, p.avg_daily_hours, p.utilization,
           p.hours_status, p.evidence_rate, p.entry_count, p.flagged_entry_count,
           s.quantity_pct, s.quality_pct, s.progress_pct, s.task_score, s.general_score,
           s.general_score_imputed, s.total_score, s.classification, s.final_classification
    from productivity p
    full join scorecard s using (staff_id, agency_code)
    left join names n
        on n.staff_id = coalesce(p.staff_id, s.staff_id)
       and n.agency_code = coalesce(p.agency_code, s.agency_code)
       and n.pick = 1
    order by agency_code, staff_id
"""

_STAFFING = """
    select agency_code, position_group, working_days, actual_fte, workload_hours,
           awt_hours_per_fte, required_fte, wisn_difference, wisn_ratio, approved_headcount,
           quota_gap, staffing_status
    from marts.staffing_surplus
    where period_type = $kind and period_start = $start
    order by agency_code,
             case position_group when 'leadership' then 1 when 'specialist' then 2
                  when 'shared_specialist' then 3 when 'support' then 4 else 5 end,
             position_group
"""

# The name valid during the period wins (agencies merge and get renamed); else the latest one.
_AGENCY_NAMES = """
    select agency_code, agency_name from (
        select agency_code, agency_name,
               row_number() over (
                   partition by agency_code
                   order by (valid_from <= $end
                             and coalesce(valid_to, date '9999-12-31') >= $start) desc,
                            valid_from desc nulls last, delivery_id desc nulls last
               ) as pick
        from {agencies}
    ) where pick = 1
"""

# The days the period really covers: the reporting range can cut it at either end.
_DAYS_COVERED = """
    select min(work_date), max(work_date)
    from marts.fct_staff_day
    where work_date between $start and $end and agency_code is not null
"""

# Province-wide evidence rate and declaration coverage, pooled exactly as the agency figures
# are (metrics.md): they cannot be derived from the agencies' rates without the denominators.
_PROVINCE_EVIDENCE = """
    select sum(credited_minutes) filter (where evidence_status = 'evidenced')
           / nullif(sum(credited_minutes), 0)
    from marts.worklog_evidence
    where work_date between $start and $end and agency_code is not null
      and status in ('approved', 'submitted')
      and evidence_type is not null and evidence_type <> 'none'
"""
_PROVINCE_COVERAGE = """
    select count(*) filter (where entry_count > 0) / nullif(count(*), 0)
    from marts.fct_staff_day
    where work_date between $start and $end and agency_code is not null
      and is_working_day and available_hours > 0
"""


@dataclass
class PeriodData:
    period: Period
    agency_names: dict[str, str]
    agencies: list[Row]  # marts.agency_productivity
    people: list[Row]  # staff_productivity ⟗ kpi_scorecard, with names
    staffing: list[Row]  # marts.staffing_surplus
    first_day: date | None
    last_day: date | None
    working_days: int | None
    province_evidence_rate: float | None
    province_coverage: float | None
    agency_codes: list[str] = field(default_factory=list)

    def for_agency(self, code: str) -> tuple[Row | None, list[Row], list[Row]]:
        headline = next((r for r in self.agencies if r["agency_code"] == code), None)
        people = [r for r in self.people if r["agency_code"] == code]
        staffing = [r for r in self.staffing if r["agency_code"] == code]
        return headline, people, staffing

    def agency_name(self, code: str) -> str:
        return self.agency_names.get(code, code)


def load_period(warehouse: Path, period: Period) -> PeriodData:
    if not Path(warehouse).is_file():
        raise ExtractError(f"No warehouse at {warehouse}: run `kpi build` first.")
    try:
        con = duckdb.connect(str(warehouse), read_only=True)
    except duckdb.Error as error:
        raise ExtractError(f"Cannot open the warehouse {warehouse} read-only: {error}") from error
    params = {"kind": period.kind, "start": period.start, "end": period.end}
    try:
        with con:
            agencies = _rows(con, _AGENCY_PRODUCTIVITY, params)
            staffing = _rows(con, _STAFFING, params)
            try:
                people, agency_names = _named(con, _STAGING_SOURCES, params)
            except (duckdb.BinderException, duckdb.CatalogException):
                people, agency_names = _named(con, _RAW_SOURCES, params)
            covered = con.execute(_DAYS_COVERED, _used(_DAYS_COVERED, params)).fetchone()
            evidence = _scalar(con, _PROVINCE_EVIDENCE, params)
            coverage = _scalar(con, _PROVINCE_COVERAGE, params)
    except duckdb.Error as error:
        raise ExtractError(
            f"The warehouse {warehouse} lacks the public marts or is unreadable ({error}); "
            "rebuild it with `kpi build`."
        ) from error

    codes = sorted(
        {r["agency_code"] for r in agencies}
        | {r["agency_code"] for r in people}
        | {r["agency_code"] for r in staffing}
    )
    if not codes:
        raise ExtractError(
            f"The warehouse {warehouse} has no data for {period.text} "
            f"({period.kind} starting {period.start.isoformat()}): nothing to extract."
        )
    first_day, last_day = covered if covered is not None else (None, None)
    working_days = max(
        (int(r["working_days"]) for r in staffing if r["working_days"] is not None), default=None
    )
    return PeriodData(
        period=period,
        agency_names=agency_names,
        agencies=agencies,
        people=people,
        staffing=staffing,
        first_day=first_day,
        last_day=last_day,
        working_days=working_days,
        province_evidence_rate=evidence,
        province_coverage=coverage,
        agency_codes=codes,
    )


# dbt's staging views name the warehouse's catalog, which DuckDB takes from the file name: in a
# copied or renamed warehouse file they no longer bind. The raw tables they cast from still do.
_STAGING_SOURCES = {
    "assignments": "staging.stg_hr__assignments",
    "agencies": "staging.stg_hr__agencies",
}
_RAW_SOURCES = {
    "assignments": """(select cast(staff_id as varchar) as staff_id,
                              cast(full_name as varchar) as full_name,
                              cast(agency_code as varchar) as agency_code,
                              cast(department as varchar) as department,
                              cast(assignment_start as date) as assignment_start,
                              cast(assignment_end as date) as assignment_end
                       from raw.staff)""",
    "agencies": """(select cast(agency_code as varchar) as agency_code,
                           cast(agency_name as varchar) as agency_name,
                           cast(valid_from as date) as valid_from,
                           cast(valid_to as date) as valid_to,
                           cast(_delivery_id as integer) as delivery_id
                    from raw.agencies)""",
}


def _named(
    con: duckdb.DuckDBPyConnection, sources: dict[str, str], params: dict[str, Any]
) -> tuple[list[Row], dict[str, str]]:
    people = _rows(con, _PEOPLE.format(**sources), params)
    agencies = _rows(con, _AGENCY_NAMES.format(**sources), params)
    return people, {r["agency_code"]: r["agency_name"] for r in agencies}


def _used(sql: str, params: dict[str, Any]) -> dict[str, Any]:
    # DuckDB rejects named parameters a statement does not use.
    return {key: value for key, value in params.items() if f"${key}" in sql}


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any]) -> list[Row]:
    cursor = con.execute(sql, _used(sql, params))
    columns = [d[0] for d in cursor.description]
    return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def _scalar(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any]) -> float | None:
    row = con.execute(sql, _used(sql, params)).fetchone()
    return None if row is None or row[0] is None else float(row[0])
