-- The staff-periods of int_staff_periods_aggregated with the productivity measures of
-- metrics.md: on DuckDB a view (projection_mart() in macros/incremental.sql). Its rows change by
-- period as the model's (period_partitioned()): the analysts' snapshot republishes the periods a
-- build rebuilt (dagster_project/snapshot.py, PERIOD_MARTS).
{{ projection_mart() }}
{{ config(meta=period_scope_meta()) }}

with staff_periods as (

    select * from {{ ref('int_staff_periods_aggregated') }}

),

measured as (

    select
        staff_id,
        agency_code,
        period_type,
        period_start,
        position_group,
        available_hours,
        credited_hours,
        fde,
        case when fde > 0 then credited_hours / fde end as avg_daily_hours,
        case when available_hours > 0 then credited_hours / available_hours end as utilization,
        case
            when evidence_required_credited_minutes > 0
                then cast(evidenced_credited_minutes as double)
                    / cast(evidence_required_credited_minutes as double)
        end as evidence_rate,
        entry_count,
        flagged_entry_count
    from staff_periods

),

classified as (

    select
        measured.*,
        case
            when fde = 0 then null
            when round(avg_daily_hours, 2) > {{ var('standard_day_hours') }} then 'over'
            when round(avg_daily_hours, 2) = {{ var('standard_day_hours') }} then 'meets'
            else 'under'
        end as hours_status
    from measured

)

select
    cast(staff_id as {{ dbt.type_string() }}) as staff_id,
    cast(agency_code as {{ dbt.type_string() }}) as agency_code,
    cast(period_type as {{ dbt.type_string() }}) as period_type,
    cast(period_start as date) as period_start,
    cast(position_group as {{ dbt.type_string() }}) as position_group,
    cast(available_hours as double) as available_hours,
    cast(credited_hours as double) as credited_hours,
    cast(fde as double) as fde,
    cast(avg_daily_hours as double) as avg_daily_hours,
    cast(utilization as double) as utilization,
    cast(hours_status as {{ dbt.type_string() }}) as hours_status,
    cast(evidence_rate as double) as evidence_rate,
    cast(entry_count as {{ dbt.type_int() }}) as entry_count,
    cast(flagged_entry_count as {{ dbt.type_int() }}) as flagged_entry_count
from classified
