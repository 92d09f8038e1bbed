with source as (

    select * from {{ source('kpi_tool', 'worklog') }}

),

renamed as (

    select
        cast(entry_id as {{ dbt.type_string() }}) as entry_id,
        cast(revision as {{ dbt.type_int() }}) as revision,
        cast(staff_id as {{ dbt.type_string() }}) as staff_id,
        cast(work_date as date) as work_date,
        cast(task_code as {{ dbt.type_string() }}) as task_code,
        cast(stage_code as {{ dbt.type_string() }}) as stage_code,
        cast(quantity as double) as quantity,
        cast(declared_minutes as {{ dbt.type_int() }}) as declared_minutes,
        cast(description as {{ dbt.type_string() }}) as description,
        cast(document_ref as {{ dbt.type_string() }}) as document_refs,
        cast(status as {{ dbt.type_string() }}) as status,
        cast(submitted_at as {{ dbt.type_timestamp() }}) as submitted_at,
        cast(reviewed_by as {{ dbt.type_string() }}) as reviewed_by,
        cast(reviewed_at as {{ dbt.type_timestamp() }}) as reviewed_at,
        cast(_source_file as {{ dbt.type_string() }}) as source_file,
        cast(_source_row as {{ dbt.type_int() }}) as source_row,
        cast(_delivery_id as {{ dbt.type_int() }}) as delivery_id
    from source

)

select * from renamed
