-- Staff-days with an assignment rolled up to (staff, agency, period) for months, quarters and
-- years. A person who moved agencies mid-period has one row per agency. The position group is
-- the one of the person's last active day at that agency in the period. Quarters and years are
-- sums of the month rows of int_staff_months_aggregated (every measure here is a sum), so a
-- build reads one row per person and month, not every staff-day of the history. A build of some
-- months rebuilds only the months, quarters and years holding them, from the months of those
-- years (period_partitioned() in macros/incremental.sql).
{{ period_partitioned() }}

with staff_months as (

    select * from {{ ref('int_staff_months_aggregated') }}
    where {{ in_rebuilt_periods_months('month_start') }}

),

period_types as (

    {{ period_types() }}

),

staff_months_in_periods as (

    select
        staff_months.*,
        period_types.period_type,
        {{ period_start_of('period_types.period_type', 'staff_months.month_start') }}
            as period_start
    from staff_months
    cross join period_types

),

aggregated as (

    select
        staff_id,
        agency_code,
        period_type,
        period_start,
        -- counts as bigint, not the hugeint DuckDB sums integers into (int_staff_days_assembled)
        cast(sum(active_days) as {{ dbt.type_bigint() }}) as active_days,
        cast(sum(available_days) as {{ dbt.type_bigint() }}) as available_days,
        cast(sum(declared_available_days) as {{ dbt.type_bigint() }}) as declared_available_days,
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
        max(last_active_date) as last_active_date,
        -- the position group of the month holding the period's last active day (months hold
        -- distinct dates: no ties)
        {{ value_at_max('position_group', 'last_active_date') }} as position_group
    from staff_months_in_periods
    group by staff_id, agency_code, period_type, period_start

),

final as (

    select
        aggregated.staff_id,
        aggregated.agency_code,
        aggregated.period_type,
        aggregated.period_start,
        aggregated.active_days,
        aggregated.available_days,
        aggregated.declared_available_days,
        aggregated.available_hours,
        aggregated.credited_minutes,
        {{ minutes_to_hours('aggregated.credited_minutes') }} as credited_hours,
        {{ minutes_to_hours('aggregated.pending_minutes') }} as pending_hours,
        {{ minutes_to_hours('aggregated.declared_minutes') }} as declared_hours,
        aggregated.entry_count,
        aggregated.flagged_entry_count,
        aggregated.evidenced_credited_minutes,
        aggregated.evidence_required_credited_minutes,
        aggregated.position_group,
        aggregated.available_hours / {{ var('standard_day_hours') }} as fde
    from aggregated
    where {{ in_rebuilt_periods('aggregated.period_type', 'aggregated.period_start', 'aggregated.staff_id') }}

)

select * from final
