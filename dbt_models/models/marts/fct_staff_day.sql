-- The staff-days of int_staff_days_assembled as the contract types them: on DuckDB a view, so
-- that each build writes the staff-days once (partitioned_mart() in macros/incremental.sql).
{{ partitioned_mart('work_date') }}

with staff_days as (

    select * from {{ partitioned_mart_rows(ref('int_staff_days_assembled'), 'work_date') }}
        as assembled

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
