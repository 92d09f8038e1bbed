{#- Fails for every row whose value is below zero (hours, minutes, counts). Nulls pass. -#}
{% test not_negative(model, column_name) %}

select {{ column_name }} as negative_value
from {{ model }}
where {{ column_name }} < 0

{% endtest %}
