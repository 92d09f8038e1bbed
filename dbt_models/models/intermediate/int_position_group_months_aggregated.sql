-- Staff-days with an assignment summed per agency, position group (each day's own) and month:
-- the workload and staffing that staffing_surplus (WISN) adds up into periods. Month-partitioned
-- as the staff-days are, so a build re-sums only the months it rebuilds instead of every
-- staff-day of the history (12 million at a province year: 0.9 s a build). A month rebuilt for
-- a few people is re-summed whole: its groups hold everyone's days.
{{ month_partitioned('month_start', staff_column=none) }}

with staff_days as (

    select * from {{ rebuild_scope_rows(ref('int_staff_days_assembled'), 'work_date', none) }} as assembled
    where agency_code is not null

),

group_months as (

    select
        agency_code,
        position_group,
        cast({{ dbt.date_trunc('month', 'work_date') }} as date) as month_start,
        -- bigint, not the hugeint DuckDB sums integers into (int_staff_days_assembled)
        cast(sum(case when is_active then 1 else 0 end) as {{ dbt.type_bigint() }})
            as active_staff_days,
        sum(available_hours) as available_hours,
        -- minutes summed exactly; staffing_surplus turns the periods' sums into hours
        {{ exact_sum('credited_minutes') }} as workload_minutes
    from staff_days
    group by
        agency_code,
        position_group,
        cast({{ dbt.date_trunc('month', 'work_date') }} as date)

)

select * from group_months
