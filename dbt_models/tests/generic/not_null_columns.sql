{#- Fails for every listed column that holds nulls: one row per such column, with the number of
    null rows. One test per model instead of a not_null per column, because each dbt test costs
    a fixed query (and a Dagster asset check) however small the table; one scan of the model
    (macros/failing_columns.sql). -#}
{% test not_null_columns(model, column_names) %}
{{ failing_columns(model, column_names, '{column} is null') }}
{% endtest %}
