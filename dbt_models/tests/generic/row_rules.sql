{#- Every row-level rule of a model in one test and one scan: fails with one row per rule that
    some rows break (`rule` names it), with the number of rows breaking it.

    A data test is a dbt node and a Dagster asset check, with a fixed cost however small the
    table (compiling, a query, a few events): about 50 ms of a one-day build's wall time each,
    and the models had 174 such tests, a third of dbt's step. Grouped per model, they cost one
    scan each.

    Arguments, each optional:
    - not_null: columns that never hold nulls;
    - not_negative: columns never below zero (hours, minutes, counts);
    - accepted_values: column -> list of values (strings), or {values: [...], quote: false};
    - accepted_range: column -> {min_value, max_value, inclusive (default true)}; either bound
      may be omitted;
    - expressions: boolean SQL expressions true on every row, each a string or
      {description, expression}; null counts as false.
    Nulls pass every rule but not_null, as in dbt's accepted_values. -#}
{% test row_rules(model, not_null=[], not_negative=[], accepted_values={}, accepted_range={}, expressions=[]) %}
{%- set rules = [] -%}
{%- for column_name in not_null -%}
    {%- do rules.append(['not_null: ' ~ column_name, column_name ~ ' is null']) -%}
{%- endfor -%}
{%- for column_name in not_negative -%}
    {%- do rules.append(['not_negative: ' ~ column_name, column_name ~ ' < 0']) -%}
{%- endfor -%}
{%- for column_name, spec in accepted_values.items() -%}
    {%- set values = spec['values'] if spec is mapping else spec -%}
    {%- set quote = spec.get('quote', true) if spec is mapping else true -%}
    {%- set listed = [] -%}
    {%- for value in values -%}
        {%- do listed.append("'" ~ value ~ "'" if quote else value | string) -%}
    {%- endfor -%}
    {%- do rules.append([
        'accepted_values: ' ~ column_name,
        column_name ~ ' is not null and ' ~ column_name ~ ' not in (' ~ listed | join(', ') ~ ')'
    ]) -%}
{%- endfor -%}
{%- for column_name, bounds in accepted_range.items() -%}
    {%- set inclusive = bounds.get('inclusive', true) -%}
    {%- set outside = [] -%}
    {%- if bounds.get('min_value') is not none -%}
        {%- do outside.append(column_name ~ (' < ' if inclusive else ' <= ') ~ bounds['min_value']) -%}
    {%- endif -%}
    {%- if bounds.get('max_value') is not none -%}
        {%- do outside.append(column_name ~ (' > ' if inclusive else ' >= ') ~ bounds['max_value']) -%}
    {%- endif -%}
    {%- do rules.append([
        'accepted_range: ' ~ column_name,
        column_name ~ ' is not null and (' ~ outside | join(' or ') ~ ')'
    ]) -%}
{%- endfor -%}
{%- for item in expressions -%}
    {%- set expression = item['expression'] if item is mapping else item -%}
    {%- set label = item.get('description', expression) if item is mapping else expression -%}
    {%- do rules.append(['expression: ' ~ label, 'not coalesce((' ~ expression ~ '), false)']) -%}
{%- endfor -%}
{{ failing_rules(model, rules) }}
{% endtest %}
