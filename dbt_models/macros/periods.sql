{#- The reporting periods every date belongs to, as rows to join: (period_type, period_start). -#}
{% macro period_types() -%}
    select 'month' as period_type
    union all
    select 'quarter' as period_type
    union all
    select 'year' as period_type
{%- endmacro %}

{% macro period_start_of(period_type_expr, date_expr) -%}
    case {{ period_type_expr }}
        when 'month' then cast({{ dbt.date_trunc('month', date_expr) }} as date)
        when 'quarter' then cast({{ dbt.date_trunc('quarter', date_expr) }} as date)
        when 'year' then cast({{ dbt.date_trunc('year', date_expr) }} as date)
    end
{%- endmacro %}

{#- Last day of a period given its type and first day. -#}
{% macro period_end_of(period_type_expr, period_start_expr) -%}
    case {{ period_type_expr }}
        when 'month' then cast({{ dbt.last_day(period_start_expr, 'month') }} as date)
        when 'quarter' then cast({{ dbt.last_day(period_start_expr, 'quarter') }} as date)
        when 'year' then cast({{ dbt.last_day(period_start_expr, 'year') }} as date)
    end
{%- endmacro %}
