-- The current entries of int_worklog_entries_flagged as the contract types them: on DuckDB a
-- view, so that each build writes the entries once (a second copy cost a province-year build
-- about 30 s; partitioned_mart() in macros/incremental.sql).
{{ partitioned_mart('work_date') }}

with entries as (

    select * from {{ partitioned_mart_rows(ref('int_worklog_entries_flagged'), 'work_date') }}
        as flagged

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
