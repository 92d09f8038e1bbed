-- Hours of approved leave per staff member and day: 8 for a full day, 4 for a half day (only a
-- one-day leave can be a half day). Overlapping leaves never add up: the largest counts.
-- Month-partitioned like the staff-days that read it: a build expands the leave of the months
-- (and people) it rebuilds, not every leave of the history.
{{ month_partitioned('leave_date') }}

with leave as (

    select * from {{ ref('stg_hr__leave') }}
    where {{ overlaps_rebuild_months('leave_start', 'leave_end') }}

),

calendar_days as (

    select * from {{ ref('int_calendar_days_classified') }}
    where {{ in_rebuild_months('calendar_date') }}

),

leave_days as (

    select
        leave.staff_id,
        calendar_days.calendar_date as leave_date,
        case
            when coalesce(leave.half_day, false) and leave.leave_start = leave.leave_end
                then {{ var('standard_day_hours') }} / 2.0
            else {{ var('standard_day_hours') }} * 1.0
        end as leave_hours
    from leave
    inner join calendar_days
        on calendar_days.calendar_date between leave.leave_start and leave.leave_end

),

per_day as (

    select
        staff_id,
        leave_date,
        max(leave_hours) as leave_hours,
        max(leave_hours) >= {{ var('standard_day_hours') }} as is_full_day_leave
    from leave_days
    where {{ in_rebuild_scope('leave_date') }}
    group by staff_id, leave_date

)

select * from per_day
{{ cluster_by_month_and_staff('leave_date') }}
