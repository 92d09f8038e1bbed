{#- The body of the one-scan tests (row_rules, not_null_columns): one row per rule that some
    rows fail, with the number of failing rows. `rules` is a list of
    [label, failing condition] pairs. The counts come from one scan of the model; the cross join
    only turns that one row into a row per rule (a union of one select per rule over the counts
    would rescan the model per rule on Spark, which does not materialise a CTE). -#}
{% macro failing_rules(model, rules, label_column='rule') %}

with counts as (

    select
        {%- for rule in rules %}
        sum(case when {{ rule[1] }} then 1 else 0 end) as failing_rows_{{ loop.index }}
        {{- ',' if not loop.last }}
        {%- endfor %}
    from {{ model }}

),

listed_rules as (
{% for rule in rules %}
    {% if not loop.first %}union all {% endif -%}
    {#- a label is a string literal: no quote or backslash may end it early, on any engine #}
    select {{ loop.index }} as rule_position,
        '{{ rule[0] | replace("'", "") | replace("\\", "") }}' as {{ label_column }}
{%- endfor %}

),

per_rule as (

    select
        listed_rules.{{ label_column }},
        case listed_rules.rule_position
            {%- for rule in rules %}
            when {{ loop.index }} then counts.failing_rows_{{ loop.index }}
            {%- endfor %}
        end as failing_rows
    from counts
    cross join listed_rules

)

select {{ label_column }}, failing_rows
from per_rule
where failing_rows > 0

{% endmacro %}

{#- failing_rules with one rule per listed column: `condition` is a predicate in which
    `{column}` stands for the column. -#}
{% macro failing_columns(model, column_names, condition) %}
{%- set rules = [] -%}
{%- for column_name in column_names -%}
    {%- do rules.append([column_name, condition | replace('{column}', column_name)]) -%}
{%- endfor -%}
{{ failing_rules(model, rules, label_column='column_name') }}
{% endmacro %}
