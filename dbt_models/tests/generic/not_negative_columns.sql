{#- Fails for every listed column that holds values below zero (hours, minutes, counts): one row
    per such column, with the number of negative rows. Nulls pass, as in not_negative: pair with
    not_null_columns when needed. One test per model instead of a not_negative per column, for
    the reason given in not_null_columns. -#}
{% test not_negative_columns(model, column_names) %}
{{ failing_columns(model, column_names, '{column} < 0') }}
{% endtest %}
