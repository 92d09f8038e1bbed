{#- The body of the one-scan column tests (not_null_columns, not_negative_columns): one row per
    listed column with rows failing `condition` (a predicate in which `{column}` stands for the
    column), with the number of failing rows. The counts come from one scan of the model; the
    cross join only turns that one row into a row per column (a union of one select per column
    over the counts would rescan the model per column on Spark, which does not materialise a
    CTE). -#}
{% macro failing_columns(model, column_names, condition) %}

with counts as (

    select
        {%- for column_name in column_names %}
        sum(case when {{ condition | replace('{column}', column_name) }} then 1 else 0 end)
            as failing_rows_{{ loop.index }}
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

{% endmacro %}
