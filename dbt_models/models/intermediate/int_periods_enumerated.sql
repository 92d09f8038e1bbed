-- The reporting periods (months, quarters, years) that the reporting range touches, each with
-- its part inside the range: a period cut by the range edge counts only its days inside it.
with calendar_days as (

    select * from {{ ref('int_calendar_days_classified') }}
    where is_in_reporting_range

),

period_types as (

    {{ period_types() }}

),

days_in_periods as (

    select
        period_types.period_type,
        {{ period_start_of('period_types.period_type', 'calendar_days.calendar_date') }}
            as period_start,
        calendar_days.calendar_date,
        calendar_days.is_working_day
    from calendar_days
    cross join period_types

),

periods as (

    select
        period_type,
        period_start,
        min(calendar_date) as first_day_in_range,
        max(calendar_date) as last_day_in_range,
        sum(case when is_working_day then 1 else 0 end) as working_days
    from days_in_periods
    group by period_type, period_start

)

select * from periods
