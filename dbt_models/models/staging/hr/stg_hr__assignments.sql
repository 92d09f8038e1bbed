with source as (

    select * from {{ source('hr', 'staff') }}

),

renamed as (

    select
        cast(staff_id as {{ dbt.type_string() }}) as staff_id,
        cast(full_name as {{ dbt.type_string() }}) as full_name,
        cast(agency_code as {{ dbt.type_string() }}) as agency_code,
        cast(department as {{ dbt.type_string() }}) as department,
        cast(position_code as {{ dbt.type_string() }}) as position_code,
        cast(is_leader as {{ dbt.type_boolean() }}) as is_leader,
        cast(assignment_start as date) as assignment_start,
        cast(assignment_end as date) as assignment_end,
        cast(_source_file as {{ dbt.type_string() }}) as source_file,
        cast(_source_row as {{ dbt.type_int() }}) as source_row,
        cast(_delivery_id as {{ dbt.type_int() }}) as delivery_id
    from source

)

select * from renamed
