{{ config(severity='warn') }}

-- vn-calendar.md: "A seed is data a province maintains: later years are added as rows, with no
-- code change; a build over dates not covered by the seed should warn, not guess."
-- Warns with one row per year of the calendar the warehouse reasons about (the reporting range,
-- widened to any work_date outside it) that has no row at all in seed calendar_exceptions: for
-- such a year every Monday–Friday would silently count as a working day.
with calendar_years as (

    select distinct
        extract(year from calendar_date) as calendar_year,
        bool_or(is_in_reporting_range) as touches_reporting_range
    from {{ ref('int_calendar_days_classified') }}
    group by extract(year from calendar_date)

),

seed_years as (

    select distinct extract(year from cast(date as date)) as calendar_year
    from {{ ref('calendar_exceptions') }}

)

select
    calendar_years.calendar_year,
    calendar_years.touches_reporting_range
from calendar_years
left join seed_years
    on calendar_years.calendar_year = seed_years.calendar_year
where seed_years.calendar_year is null
