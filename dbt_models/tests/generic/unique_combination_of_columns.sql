{#- Fails for every combination of the given columns that occurs more than once: the grain of a
    table whose key spans several columns. A null in a key column counts as a value (a row with a
    null key part is still compared), so pair it with not_null on those columns. -#}
{% test unique_combination_of_columns(model, combination_of_columns) %}

{%- set columns_csv = combination_of_columns | join(', ') %}

select
    {{ columns_csv }},
    count(*) as row_count
from {{ model }}
group by {{ columns_csv }}
having count(*) > 1

{% endtest %}
