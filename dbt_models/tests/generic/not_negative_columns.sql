{#- Fails for every listed column that holds values below zero (hours, minutes, counts): one row
    per such column, with the number of negative rows. Nulls pass, as in not_negative: pair with
    not_null_columns when needed. One test per model instead of a not_negative per column, for
    the reason given in not_null_columns (one scan of the model, whatever the number of
    columns). -#}
{% test not_negative_columns(model, column_names) %}

with counts as (

    select
        {%- for column_name in column_names %}
        sum(case when {{ column_name }} < 0 then 1 else 0 end) as failing_rows_{{ loop.index }}
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
