-- Every month of staff_productivity equals the sum of its staff-days in fct_staff_day (staff-days
-- with an assignment, by agency), and every quarter and year equals the sum of its months.
-- Returns the rows that differ. fct_staff_day is partitioned by month and staff_productivity by
-- period: an incremental build compares the months it rebuilt (for the staff members it rebuilt
-- them for) with their staff-days, and the quarters and years it rebuilt with their months,
-- instead of summing every staff-day of history again.
{%- set plan = rebuild_months() is not none %}
with staff_days as (

    select * from {{ kpi_scoped_test_relation(ref('fct_staff_day')) }}
    where agency_code is not null

),

productivity as (

    select * from {{ ref('staff_productivity') }}

),

period_types as (

    {{ period_types() }}

),

months_from_days as (

    select
        staff_id,
        agency_code,
        {{ period_start_of("'month'", 'work_date') }} as period_start,
        sum(available_hours) as available_hours,
        sum(credited_hours) as credited_hours,
        sum(entry_count) as entry_count
    from staff_days
    group by 1, 2, 3

),

checked_months as (

    select * from productivity
    where period_type = 'month'
    {%- if rebuild_months() is not none %}
        and {{ in_rebuild_scope_literal('period_start', 'staff_id', rebuild_months()) }}
    {%- endif %}

),

periods_from_months as (

    select
        months.staff_id,
        months.agency_code,
        period_types.period_type,
        {{ period_start_of('period_types.period_type', 'months.period_start') }} as period_start,
        sum(months.available_hours) as available_hours,
        sum(months.credited_hours) as credited_hours,
        sum(months.entry_count) as entry_count
    from productivity as months
    cross join period_types
    where months.period_type = 'month'
        and period_types.period_type <> 'month'
    {%- if plan %}
        and {{ in_rebuilt_periods_months_literal('months.period_start', 'months.staff_id') }}
    {%- endif %}
    group by 1, 2, 3, 4

),

-- the months of a rebuilt year also sum its other quarters: compared where rebuilt only
rebuilt_periods_from_months as (

    select * from periods_from_months
    {%- if plan %}
    where {{ in_rebuilt_periods_literal('period_type', 'period_start', 'staff_id') }}
    {%- endif %}

),

longer_periods as (

    select * from productivity
    where period_type <> 'month'
    {%- if plan %}
        and {{ in_rebuilt_periods_literal('period_type', 'period_start', 'staff_id') }}
    {%- endif %}

),

month_differences as (

    select
        coalesce(checked_months.staff_id, months_from_days.staff_id) as staff_id,
        coalesce(checked_months.agency_code, months_from_days.agency_code) as agency_code,
        'month' as period_type,
        coalesce(checked_months.period_start, months_from_days.period_start) as period_start,
        checked_months.available_hours,
        months_from_days.available_hours as summed_available_hours,
        checked_months.credited_hours,
        months_from_days.credited_hours as summed_credited_hours
    from checked_months
    full outer join months_from_days
        on checked_months.staff_id = months_from_days.staff_id
        and checked_months.agency_code = months_from_days.agency_code
        and checked_months.period_start = months_from_days.period_start
    where checked_months.staff_id is null
       or months_from_days.staff_id is null
       or abs(checked_months.available_hours - months_from_days.available_hours) > 1e-9
       or abs(checked_months.credited_hours - months_from_days.credited_hours) > 1e-9
       or checked_months.entry_count <> months_from_days.entry_count

),

period_differences as (

    select
        coalesce(longer_periods.staff_id, periods_from_months.staff_id) as staff_id,
        coalesce(longer_periods.agency_code, periods_from_months.agency_code) as agency_code,
        coalesce(longer_periods.period_type, periods_from_months.period_type) as period_type,
        coalesce(longer_periods.period_start, periods_from_months.period_start) as period_start,
        longer_periods.available_hours,
        periods_from_months.available_hours as summed_available_hours,
        longer_periods.credited_hours,
        periods_from_months.credited_hours as summed_credited_hours
    from longer_periods
    full outer join rebuilt_periods_from_months as periods_from_months
        on longer_periods.staff_id = periods_from_months.staff_id
        and longer_periods.agency_code = periods_from_months.agency_code
        and longer_periods.period_type = periods_from_months.period_type
        and longer_periods.period_start = periods_from_months.period_start
    where longer_periods.staff_id is null
       or periods_from_months.staff_id is null
       or abs(longer_periods.available_hours - periods_from_months.available_hours) > 1e-9
       or abs(longer_periods.credited_hours - periods_from_months.credited_hours) > 1e-9
       or longer_periods.entry_count <> periods_from_months.entry_count

)

select * from month_differences
union all
select * from period_differences
