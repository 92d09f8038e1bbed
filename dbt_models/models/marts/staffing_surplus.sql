-- WISN (WHO's Workload Indicators of Staffing Need), with the catalogue norms as activity
-- standards: the staff a group's credited workload needs, against the FTE it had and its quota.
with group_months as (

    select * from {{ ref('int_position_group_months_aggregated') }}

),

periods as (

    select * from {{ ref('int_periods_enumerated') }}

),

positions as (

    select * from {{ ref('int_positions_versioned') }}

),

period_types as (

    {{ period_types() }}

),

group_periods as (

    select
        group_months.agency_code,
        group_months.position_group,
        periods.period_type,
        periods.period_start,
        periods.working_days,
        periods.last_day_in_range,
        sum(group_months.active_staff_days) as active_staff_days,
        sum(group_months.available_hours) as available_hours,
        {{ minutes_to_hours(exact_sum('group_months.workload_minutes')) }}
            as workload_hours
    from group_months
    cross join period_types
    inner join periods
        on period_types.period_type = periods.period_type
        and {{ period_start_of('period_types.period_type', 'group_months.month_start') }}
            = periods.period_start
    group by
        group_months.agency_code,
        group_months.position_group,
        periods.period_type,
        periods.period_start,
        periods.working_days,
        periods.last_day_in_range

),

-- The quota in force at the period's last day inside the range, per position, then per group.
quotas as (

    select
        group_periods.agency_code,
        group_periods.position_group,
        group_periods.period_type,
        group_periods.period_start,
        sum(positions.approved_headcount) as approved_headcount
    from group_periods
    inner join positions
        on group_periods.agency_code = positions.agency_code
        and group_periods.position_group = positions.position_group
        and positions.valid_from <= group_periods.last_day_in_range
        and (
            positions.valid_until is null
            or positions.valid_until > group_periods.last_day_in_range
        )
    group by
        group_periods.agency_code,
        group_periods.position_group,
        group_periods.period_type,
        group_periods.period_start

),

fte as (

    select
        group_periods.*,
        -- doubles, not Spark's decimals: a decimal quotient there keeps six decimals when its
        -- operands are wide, and awt_hours_per_fte below differed from DuckDB's by 5e-7
        case
            when group_periods.working_days > 0
                then cast(group_periods.active_staff_days as double) / group_periods.working_days
        end as actual_fte
    from group_periods

),

need as (

    select
        fte.*,
        case
            when fte.actual_fte > 0 then cast(fte.available_hours as double) / fte.actual_fte
        end as awt_hours_per_fte
    from fte

),

required as (

    select
        need.*,
        case
            when need.awt_hours_per_fte > 0
                then need.workload_hours
                    / (need.awt_hours_per_fte * {{ var('target_utilization') }})
                    / (1 - {{ var('allowance_share') }})
        end as required_fte
    from need

),

compared as (

    select
        required.agency_code,
        required.position_group,
        required.period_type,
        required.period_start,
        required.working_days,
        required.actual_fte,
        required.workload_hours,
        required.awt_hours_per_fte,
        required.required_fte,
        required.actual_fte - required.required_fte as wisn_difference,
        case
            when required.required_fte > 0 then required.actual_fte / required.required_fte
        end as wisn_ratio,
        case when required.position_group <> 'unknown' then quotas.approved_headcount end
            as approved_headcount
    from required
    left join quotas
        on required.agency_code = quotas.agency_code
        and required.position_group = quotas.position_group
        and required.period_type = quotas.period_type
        and required.period_start = quotas.period_start

),

final as (

    select
        compared.*,
        compared.approved_headcount - compared.required_fte as quota_gap,
        -- at 9 decimals: the sums carry float noise (their order is the engine's), and a
        -- difference of exactly one person must not fall on either side by chance
        case
            when round(compared.wisn_difference, 9) >= 1 then 'surplus'
            when round(compared.wisn_difference, 9) <= -1 then 'shortage'
            when compared.wisn_difference is not null then 'balanced'
        end as staffing_status
    from compared

)

select
    cast(agency_code as {{ dbt.type_string() }}) as agency_code,
    cast(position_group as {{ dbt.type_string() }}) as position_group,
    cast(period_type as {{ dbt.type_string() }}) as period_type,
    cast(period_start as date) as period_start,
    cast(working_days as {{ dbt.type_int() }}) as working_days,
    cast(actual_fte as double) as actual_fte,
    cast(workload_hours as double) as workload_hours,
    cast(awt_hours_per_fte as double) as awt_hours_per_fte,
    cast(required_fte as double) as required_fte,
    cast(wisn_difference as double) as wisn_difference,
    cast(wisn_ratio as double) as wisn_ratio,
    cast(approved_headcount as {{ dbt.type_int() }}) as approved_headcount,
    cast(quota_gap as double) as quota_gap,
    cast(staffing_status as {{ dbt.type_string() }}) as staffing_status
from final
