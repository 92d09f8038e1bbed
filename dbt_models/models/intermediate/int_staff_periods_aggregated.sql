-- Staff-days with an assignment rolled up to (staff, agency, period) for months, quarters and
-- years. A person who moved agencies mid-period has one row per agency. The position group is
-- the one of the person's last active day at that agency in the period.
with staff_days as (

    select * from {{ ref('int_staff_days_assembled') }}
    where agency_code is not null

),

period_types as (

    {{ period_types() }}

),

staff_days_in_periods as (

    select
        staff_days.*,
        period_types.period_type,
        {{ period_start_of('period_types.period_type', 'staff_days.work_date') }} as period_start
    from staff_days
    cross join period_types

),

last_active_days as (

    select
        staff_id,
        agency_code,
        period_type,
        period_start,
        max(work_date) as last_active_date
    from staff_days_in_periods
    where is_active
    group by staff_id, agency_code, period_type, period_start

),

last_position_groups as (

    select
        last_active_days.staff_id,
        last_active_days.agency_code,
        last_active_days.period_type,
        last_active_days.period_start,
        staff_days_in_periods.position_group
    from last_active_days
    inner join staff_days_in_periods
        on last_active_days.staff_id = staff_days_in_periods.staff_id
        and last_active_days.agency_code = staff_days_in_periods.agency_code
        and last_active_days.period_type = staff_days_in_periods.period_type
        and last_active_days.period_start = staff_days_in_periods.period_start
        and last_active_days.last_active_date = staff_days_in_periods.work_date

),

aggregated as (

    select
        staff_id,
        agency_code,
        period_type,
        period_start,
        sum(case when is_active then 1 else 0 end) as active_days,
        sum(case when is_active and available_hours > 0 then 1 else 0 end) as available_days,
        sum(case when is_active and available_hours > 0 and entry_count > 0 then 1 else 0 end)
            as declared_available_days,
        sum(available_hours) as available_hours,
        sum(credited_hours) as credited_hours,
        sum(pending_hours) as pending_hours,
        sum(declared_hours) as declared_hours,
        sum(entry_count) as entry_count,
        sum(flagged_entry_count) as flagged_entry_count,
        sum(evidenced_credited_minutes) as evidenced_credited_minutes,
        sum(evidence_required_credited_minutes) as evidence_required_credited_minutes
    from staff_days_in_periods
    group by staff_id, agency_code, period_type, period_start

),

final as (

    select
        aggregated.*,
        last_position_groups.position_group,
        aggregated.available_hours / {{ var('standard_day_hours') }} as fde
    from aggregated
    left join last_position_groups
        on aggregated.staff_id = last_position_groups.staff_id
        and aggregated.agency_code = last_position_groups.agency_code
        and aggregated.period_type = last_position_groups.period_type
        and aggregated.period_start = last_position_groups.period_start

)

select * from final
