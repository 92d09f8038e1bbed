{#- Fails for every row where the boolean SQL expression is not true (false or null), e.g. a
    rule between columns of one row. -#}
{% test expression_is_true(model, expression) %}

select *
from {{ model }}
where not coalesce(({{ expression }}), false)

{% endtest %}
