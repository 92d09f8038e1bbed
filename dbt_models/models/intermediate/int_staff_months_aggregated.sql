-- Staff-days with an assignment rolled up to (staff, agency, month): the sums of
-- int_staff_periods_aggregated at month grain, with the person's last active day at that agency
-- in the month and its position group. Month-partitioned, so a build aggregates only the months
-- it rebuilds; quarters and years are rolled up from these rows, not from the staff-days.
{{ month_partitioned('month_start') }}

with staff_days as (

    select * from {{ rebuild_scope_rows(ref('int_staff_days_assembled'), 'work_date') }} as assembled
    where agency_code is not null

),

staff_days_in_months as (

    select
        staff_days.*,
        cast({{ dbt.date_trunc('month', 'staff_days.work_date') }} as date) as month_start
    from staff_days

),

aggregated as (

    select
        staff_id,
        agency_code,
        month_start,
        -- counts as bigint, not the hugeint DuckDB sums integers into (int_staff_days_assembled)
        cast(sum(case when is_active then 1 else 0 end) as {{ dbt.type_bigint() }})
            as active_days,
        cast(sum(case when is_active and available_hours > 0 then 1 else 0 end)
            as {{ dbt.type_bigint() }}) as available_days,
        cast(sum(case when is_active and available_hours > 0 and entry_count > 0 then 1 else 0 end)
            as {{ dbt.type_bigint() }}) as declared_available_days,
        sum(available_hours) as available_hours,
        sum(credited_hours) as credited_hours,
        sum(pending_hours) as pending_hours,
        sum(declared_hours) as declared_hours,
        cast(sum(entry_count) as {{ dbt.type_bigint() }}) as entry_count,
        cast(sum(flagged_entry_count) as {{ dbt.type_bigint() }}) as flagged_entry_count,
        sum(evidenced_credited_minutes) as evidenced_credited_minutes,
        sum(evidence_required_credited_minutes) as evidence_required_credited_minutes,
        max(case when is_active then work_date end) as last_active_date,
        -- a person has one staff-day a date: no ties
        {{ value_at_max('position_group', 'case when is_active then work_date end') }}
            as position_group
    from staff_days_in_months
    group by staff_id, agency_code, month_start

)

select * from aggregated
{{ cluster_by_month_and_staff('month_start') }}
