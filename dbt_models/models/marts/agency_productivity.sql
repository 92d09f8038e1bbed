with staff_periods as (

    select * from {{ ref('int_staff_periods_aggregated') }}

),

staff_productivity as (

    select * from {{ ref('staff_productivity') }}

),

staff_with_time as (

    select * from staff_productivity
    where fde > 0

),

headcounts as (

    select
        agency_code,
        period_type,
        period_start,
        count(*) as staff_count,
        sum(case when hours_status = 'over' then 1 else 0 end) as staff_over,
        sum(case when hours_status = 'meets' then 1 else 0 end) as staff_meets,
        sum(case when hours_status = 'under' then 1 else 0 end) as staff_under
    from staff_with_time
    group by agency_code, period_type, period_start

),

pooled as (

    select
        agency_code,
        period_type,
        period_start,
        sum(available_hours) as available_hours,
        -- minutes summed exactly, then hours (type_exact_sum)
        {{ minutes_to_hours(exact_sum('credited_minutes')) }} as credited_hours,
        sum(fde) as fde,
        {{ exact_sum('evidenced_credited_minutes') }} as evidenced_credited_minutes,
        {{ exact_sum('evidence_required_credited_minutes') }}
            as evidence_required_credited_minutes,
        sum(available_days) as available_days,
        sum(declared_available_days) as declared_available_days
    from staff_periods
    group by agency_code, period_type, period_start

),

measured as (

    select
        pooled.agency_code,
        pooled.period_type,
        pooled.period_start,
        coalesce(headcounts.staff_count, 0) as staff_count,
        pooled.available_hours,
        pooled.credited_hours,
        pooled.fde,
        case when pooled.fde > 0 then pooled.credited_hours / pooled.fde end as avg_daily_hours,
        coalesce(headcounts.staff_over, 0) as staff_over,
        coalesce(headcounts.staff_meets, 0) as staff_meets,
        coalesce(headcounts.staff_under, 0) as staff_under,
        case
            when pooled.evidence_required_credited_minutes > 0
                then cast(pooled.evidenced_credited_minutes as double)
                    / cast(pooled.evidence_required_credited_minutes as double)
        end as evidence_rate,
        case
            when pooled.available_days > 0
                then 1.0 * pooled.declared_available_days / pooled.available_days
        end as declaration_coverage
    from pooled
    left join headcounts
        on pooled.agency_code = headcounts.agency_code
        and pooled.period_type = headcounts.period_type
        and pooled.period_start = headcounts.period_start

)

select
    cast(agency_code as {{ dbt.type_string() }}) as agency_code,
    cast(period_type as {{ dbt.type_string() }}) as period_type,
    cast(period_start as date) as period_start,
    cast(staff_count as {{ dbt.type_int() }}) as staff_count,
    cast(available_hours as double) as available_hours,
    cast(credited_hours as double) as credited_hours,
    cast(fde as double) as fde,
    cast(avg_daily_hours as double) as avg_daily_hours,
    cast(staff_over as {{ dbt.type_int() }}) as staff_over,
    cast(staff_meets as {{ dbt.type_int() }}) as staff_meets,
    cast(staff_under as {{ dbt.type_int() }}) as staff_under,
    cast(evidence_rate as double) as evidence_rate,
    cast(declaration_coverage as double) as declaration_coverage
from measured
