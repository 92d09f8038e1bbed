-- One row per staff member and calendar day covered by an assignment, with the agency, position
-- and the position group in force that day (`unknown` when the position has no quota row yet).
{{ month_partitioned('work_date') }}
{#- A build of every month computes it month by month (macros/build_by_month.sql). -#}
{{ config(build_by_month={'months_of': 'int_calendar_days_classified', 'date_column': 'calendar_date'}) }}

-- Expanding the assignments' stretches (int_assignment_stretches_derived) into days spares a join
-- of every person-day to the quota rows (a province year: 8.1 s became 4.9 s before writing).
with assignment_stretches as (

    select
        *,
        -- The people numbered in staff_id order: the rows are sorted by month and this number,
        -- which orders them as staff_id does at a fraction of the cost of sorting the texts (a
        -- province year's 16 million days: 8.4 s -> 6.2 s on a copy).
        dense_rank() over (order by staff_id) as staff_order
    from {{ ref('int_assignment_stretches_derived') }}

),

calendar_days as (

    select * from {{ ref('int_calendar_days_classified') }}
    where {{ in_rebuild_months('calendar_date') }}

),

assignment_days as (

    select
        assignment_stretches.staff_id,
        calendar_days.calendar_date as work_date,
        assignment_stretches.agency_code,
        assignment_stretches.department,
        assignment_stretches.position_code,
        assignment_stretches.is_leader,
        assignment_stretches.position_group,
        calendar_days.is_working_day,
        calendar_days.is_in_reporting_range,
        assignment_stretches.staff_order
    from assignment_stretches
    inner join calendar_days
        on calendar_days.calendar_date >= assignment_stretches.stretch_start
        and calendar_days.calendar_date <= assignment_stretches.stretch_end
    -- a month rebuilt for some staff members only rebuilds their days
    where {{ in_rebuild_scope('calendar_days.calendar_date', 'assignment_stretches.staff_id') }}

)

select
    staff_id,
    work_date,
    agency_code,
    department,
    position_code,
    is_leader,
    position_group,
    is_working_day,
    is_in_reporting_range
from assignment_days
{{ cluster_by_month_and_staff('work_date', 'staff_order') }}
