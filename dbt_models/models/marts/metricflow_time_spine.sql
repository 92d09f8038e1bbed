-- The day-grain time spine MetricFlow needs to aggregate metrics over time. A view on DuckDB:
-- 65,536 generated dates cost nothing to compute, and a table was rewritten at every build. A
-- table on Spark, whose marts are the Parquet files other tools read.
{{ config(materialized=('table' if target.type == 'spark' else 'view')) }}

with day_numbers as (

    {{ dbt.generate_series(65536) }}

)

select
    cast({{ dbt.dateadd('day', 'cast(generated_number as integer) - 1', "cast('2000-01-01' as date)") }} as date)
        as date_day
from day_numbers
