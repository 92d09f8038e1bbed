-- On DuckDB a view: int_staff_days_assembled holds these rows already, and writing every
-- staff-day a second time (and sorting it) cost each build a full copy of the rebuilt months.
-- The analysts' snapshot stores it as a table, month by month (dagster_project/snapshot.py).
-- month_scope_meta(): its rows change with the rebuilt months, so its data tests check those
-- months only, as a partitioned model's. On Spark a table partitioned by month: a Spark
-- warehouse's marts are the Parquet files other tools read.
{%- set is_view = target.type != 'spark' %}
{% if is_view -%}
{{ config(materialized='view', meta=month_scope_meta('work_date')) }}
{%- else -%}
{{ month_partitioned('work_date') }}
{%- endif %}

with staff_days as (

    {% if is_view -%}
    select * from {{ ref('int_staff_days_assembled') }}
    {%- else -%}
    select * from {{ rebuild_scope_rows(ref('int_staff_days_assembled'), 'work_date') }} as assembled
    {%- endif %}

)

select
    cast(staff_id as {{ dbt.type_string() }}) as staff_id,
    cast(work_date as date) as work_date,
    cast(agency_code as {{ dbt.type_string() }}) as agency_code,
    cast(position_group as {{ dbt.type_string() }}) as position_group,
    cast(is_working_day as {{ dbt.type_boolean() }}) as is_working_day,
    cast(is_active as {{ dbt.type_boolean() }}) as is_active,
    cast(leave_hours as double) as leave_hours,
    cast(available_hours as double) as available_hours,
    cast(credited_hours as double) as credited_hours,
    cast(pending_hours as double) as pending_hours,
    cast(declared_hours as double) as declared_hours,
    cast(entry_count as {{ dbt.type_int() }}) as entry_count,
    cast(flagged_entry_count as {{ dbt.type_int() }}) as flagged_entry_count
from staff_days
{%- if not is_view %}
{{ cluster_by_month_and_staff('work_date') }}
{%- endif %}
