-- One row per staff member and calendar day covered by an assignment, with the agency, position
-- and the position group in force that day (`unknown` when the position has no quota row yet).
{{ month_partitioned('work_date') }}

-- Expanding the assignments' stretches (int_assignment_stretches_derived) into days spares a join
-- of every person-day to the quota rows (a province year: 8.1 s became 4.9 s before writing).
with assignment_stretches as (

    select * from {{ ref('int_assignment_stretches_derived') }}

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
        calendar_days.is_in_reporting_range
    from assignment_stretches
    inner join calendar_days
        on calendar_days.calendar_date >= assignment_stretches.stretch_start
        and calendar_days.calendar_date <= assignment_stretches.stretch_end
    -- a month rebuilt for some staff members only rebuilds their days
    where {{ in_rebuild_scope('calendar_days.calendar_date', 'assignment_stretches.staff_id') }}

)

select * from assignment_days
{{ cluster_by_month_and_staff('work_date') }}
