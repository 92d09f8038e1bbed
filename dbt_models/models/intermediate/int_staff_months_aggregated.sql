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
        -- whole or half days: exact as doubles
        sum(available_hours) as available_hours,
        -- minutes, not hours, summed: exactly, in any order (type_exact_sum)
        {{ exact_sum('credited_minutes') }} as credited_minutes,
        {{ exact_sum('pending_minutes') }} as pending_minutes,
        cast(sum(declared_minutes) as {{ dbt.type_bigint() }}) as declared_minutes,
        cast(sum(entry_count) as {{ dbt.type_bigint() }}) as entry_count,
        cast(sum(flagged_entry_count) as {{ dbt.type_bigint() }}) as flagged_entry_count,
        {{ exact_sum('evidenced_credited_minutes') }} as evidenced_credited_minutes,
        {{ exact_sum('evidence_required_credited_minutes') }}
            as evidence_required_credited_minutes,
        max(case when is_active then work_date end) as last_active_date,
        -- a person has one staff-day a date: no ties
        {{ value_at_max('position_group', 'case when is_active then work_date end') }}
            as position_group
    from staff_days_in_months
    group by staff_id, agency_code, month_start

),

with_hours as (

    select
        aggregated.*,
        {{ minutes_to_hours('credited_minutes') }} as credited_hours,
        {{ minutes_to_hours('pending_minutes') }} as pending_hours,
        {{ minutes_to_hours('declared_minutes') }} as declared_hours
    from aggregated

)

select * from with_hours
{{ cluster_by_month_and_staff('month_start') }}
