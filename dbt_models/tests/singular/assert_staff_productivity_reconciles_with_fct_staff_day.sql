-- Every period total of staff_productivity equals the sum of its staff-days in fct_staff_day
-- (staff-days with an assignment, by agency and period), for months, quarters and years; and
-- the months add up to the quarters and years. Returns the rows that differ.
with staff_days as (

    select * from {{ ref('fct_staff_day') }}
    where agency_code is not null

),

period_types as (

    {{ period_types() }}

),

from_days as (

    select
        staff_days.staff_id,
        staff_days.agency_code,
        period_types.period_type,
        {{ period_start_of('period_types.period_type', 'staff_days.work_date') }} as period_start,
        sum(staff_days.available_hours) as available_hours,
        sum(staff_days.credited_hours) as credited_hours,
        sum(staff_days.entry_count) as entry_count
    from staff_days
    cross join period_types
    group by 1, 2, 3, 4

),

productivity as (

    select * from {{ ref('staff_productivity') }}

)

select
    coalesce(productivity.staff_id, from_days.staff_id) as staff_id,
    coalesce(productivity.agency_code, from_days.agency_code) as agency_code,
    coalesce(productivity.period_type, from_days.period_type) as period_type,
    coalesce(productivity.period_start, from_days.period_start) as period_start,
    productivity.available_hours,
    from_days.available_hours as day_available_hours,
    productivity.credited_hours,
    from_days.credited_hours as day_credited_hours
from productivity
full outer join from_days
    on productivity.staff_id = from_days.staff_id
    and productivity.agency_code = from_days.agency_code
    and productivity.period_type = from_days.period_type
    and productivity.period_start = from_days.period_start
where productivity.staff_id is null
   or from_days.staff_id is null
   or abs(productivity.available_hours - from_days.available_hours) > 1e-9
   or abs(productivity.credited_hours - from_days.credited_hours) > 1e-9
   or productivity.entry_count <> from_days.entry_count
