-- On DuckDB a view: int_worklog_entries_flagged holds these rows already, and writing every
-- entry a second time cost a province-year build about 30 s. The analysts' snapshot stores it as
-- a table, month by month (dagster_project/snapshot.py). month_scope_meta(): its rows
-- change with the rebuilt months, so its data tests check those months only, as a partitioned
-- model's. On Spark a table partitioned by month like the entries: a Spark warehouse's marts are
-- the Parquet files other tools read.
{%- set is_view = target.type != 'spark' %}
{% if is_view -%}
{{ config(materialized='view', meta=month_scope_meta('work_date')) }}
{%- else -%}
{{ month_partitioned('work_date') }}
{%- endif %}

with entries as (

    {% if is_view -%}
    select * from {{ ref('int_worklog_entries_flagged') }}
    {%- else -%}
    select * from {{ rebuild_scope_rows(ref('int_worklog_entries_flagged'), 'work_date') }} as flagged
    {%- endif %}

)

select
    cast(entry_id as {{ dbt.type_string() }}) as entry_id,
    cast(revision as {{ dbt.type_int() }}) as revision,
    cast(staff_id as {{ dbt.type_string() }}) as staff_id,
    cast(agency_code as {{ dbt.type_string() }}) as agency_code,
    cast(work_date as date) as work_date,
    cast(task_code as {{ dbt.type_string() }}) as task_code,
    cast(stage_code as {{ dbt.type_string() }}) as stage_code,
    cast(status as {{ dbt.type_string() }}) as status,
    cast(quantity as double) as quantity,
    cast(credited_minutes as double) as credited_minutes,
    cast(pending_minutes as double) as pending_minutes,
    cast(declared_minutes as {{ dbt.type_int() }}) as declared_minutes,
    cast(evidence_type as {{ dbt.type_string() }}) as evidence_type,
    cast(evidence_status as {{ dbt.type_string() }}) as evidence_status,
    cast(flags as {{ type_string_array() }}) as flags
from entries
