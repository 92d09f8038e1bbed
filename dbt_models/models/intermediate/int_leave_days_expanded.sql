-- Hours of approved leave per staff member and day: 8 for a full day, 4 for a half day (only a
-- one-day leave can be a half day). Overlapping leaves never add up: the largest counts.
with leave as (

    select * from {{ ref('stg_hr__leave') }}

),

calendar_days as (

    select * from {{ ref('int_calendar_days_classified') }}

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
    group by staff_id, leave_date

)

select * from per_day
