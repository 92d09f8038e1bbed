-- The reporting range: whole months from the earliest to the latest work_date of any loaded
-- worklog row (any revision, any status), unless the vars reporting_start / reporting_end say
-- otherwise. One row.
with worklog_dates as (

    select
        min(work_date) as first_work_date,
        max(work_date) as last_work_date
    from {{ ref('stg_kpi_tool__worklog_revisions') }}

),

reporting_range as (

    select
        {% if var('reporting_start') -%}
        cast('{{ var("reporting_start") }}' as date)
        {%- else -%}
        cast({{ dbt.date_trunc('month', 'first_work_date') }} as date)
        {%- endif %} as range_start,
        {% if var('reporting_end') -%}
        cast('{{ var("reporting_end") }}' as date)
        {%- else -%}
        cast({{ dbt.last_day('last_work_date', 'month') }} as date)
        {%- endif %} as range_end,
        first_work_date,
        last_work_date
    from worklog_dates

)

select * from reporting_range
