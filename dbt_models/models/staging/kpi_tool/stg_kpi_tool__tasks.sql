with source as (

    select * from {{ source('kpi_tool', 'tasks') }}

),

renamed as (

    select
        cast(agency_code as {{ dbt.type_string() }}) as agency_code,
        cast(task_code as {{ dbt.type_string() }}) as task_code,
        cast(task_name as {{ dbt.type_string() }}) as task_name,
        cast(task_group as {{ dbt.type_string() }}) as task_group,
        cast(stage_code as {{ dbt.type_string() }}) as stage_code,
        cast(stage_name as {{ dbt.type_string() }}) as stage_name,
        cast(unit as {{ dbt.type_string() }}) as unit,
        cast(standard_minutes as double) as standard_minutes,
        cast(evidence_type as {{ dbt.type_string() }}) as evidence_type,
        cast(valid_from as date) as valid_from,
        cast(_source_file as {{ dbt.type_string() }}) as source_file,
        cast(_source_row as {{ dbt.type_int() }}) as source_row,
        cast(_delivery_id as {{ dbt.type_int() }}) as delivery_id
    from source

)

select * from renamed
