-- One row per staff member and calendar day covered by an assignment, with the agency, position
-- and the position group in force that day (`unknown` when the position has no quota row yet).
{{ month_partitioned('work_date') }}

with assignments as (

    select * from {{ ref('stg_hr__assignments') }}

),

calendar_days as (

    select * from {{ ref('int_calendar_days_classified') }}
    where {{ in_rebuild_months('calendar_date') }}

),

positions as (

    select * from {{ ref('int_positions_versioned') }}

),

assignment_days as (

    select
        assignments.staff_id,
        calendar_days.calendar_date as work_date,
        assignments.agency_code,
        assignments.department,
        assignments.position_code,
        assignments.is_leader,
        calendar_days.is_working_day,
        calendar_days.is_in_reporting_range
    from assignments
    inner join calendar_days
        on calendar_days.calendar_date >= assignments.assignment_start
        and calendar_days.calendar_date
            <= coalesce(assignments.assignment_end, cast('9999-12-31' as date))
    -- a month rebuilt for some staff members only rebuilds their days
    where {{ in_rebuild_scope('calendar_days.calendar_date', 'assignments.staff_id') }}

),

with_position_group as (

    select
        assignment_days.staff_id,
        assignment_days.work_date,
        assignment_days.agency_code,
        assignment_days.department,
        assignment_days.position_code,
        assignment_days.is_leader,
        coalesce(positions.position_group, 'unknown') as position_group,
        assignment_days.is_working_day,
        assignment_days.is_in_reporting_range
    from assignment_days
    left join positions
        on assignment_days.agency_code = positions.agency_code
        and assignment_days.position_code = positions.position_code
        and assignment_days.work_date >= positions.valid_from
        -- no OR in a join condition: it would turn the hash join into a nested loop
        and assignment_days.work_date < coalesce(positions.valid_until, cast('9999-12-31' as date))

)

select * from with_position_group
{{ cluster_by_month_and_staff('work_date') }}
