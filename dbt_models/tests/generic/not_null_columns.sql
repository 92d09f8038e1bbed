{#- Fails for every listed column that holds nulls: one row per such column, with the number of
    null rows. One test per model instead of a not_null per column, because each dbt test costs
    a fixed query (and a Dagster asset check) however small the table. The counts come from one
    scan of the model; the cross join only turns that one row into a row per column (a union of
    one select per column over the counts would rescan the model per column on Spark, which
    does not materialise a CTE). -#}
{% test not_null_columns(model, column_names) %}

with counts as (

    select
        {%- for column_name in column_names %}
        sum(case when {{ column_name }} is null then 1 else 0 end) as failing_rows_{{ loop.index }}
        {{- ',' if not loop.last }}
        {%- endfor %}
    from {{ model }}

),

listed_columns as (
{% for column_name in column_names %}
    {% if not loop.first %}union all {% endif -%}
    select {{ loop.index }} as column_position, '{{ column_name }}' as column_name
{%- endfor %}

),

per_column as (

    select
        listed_columns.column_name,
        case listed_columns.column_position
            {%- for column_name in column_names %}
            when {{ loop.index }} then counts.failing_rows_{{ loop.index }}
            {%- endfor %}
        end as failing_rows
    from counts
    cross join listed_columns

)

select column_name, failing_rows
from per_column
where failing_rows > 0

{% endtest %}
