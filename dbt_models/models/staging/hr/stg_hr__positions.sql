with source as (

    select * from {{ source('hr', 'positions') }}

),

renamed as (

    select
        cast(agency_code as {{ dbt.type_string() }}) as agency_code,
        cast(position_code as {{ dbt.type_string() }}) as position_code,
        cast(position_name as {{ dbt.type_string() }}) as position_name,
        cast(position_group as {{ dbt.type_string() }}) as position_group,
        cast(approved_headcount as {{ dbt.type_int() }}) as approved_headcount,
        cast(valid_from as date) as valid_from,
        cast(_source_file as {{ dbt.type_string() }}) as source_file,
        cast(_source_row as {{ dbt.type_int() }}) as source_row,
        cast(_delivery_id as {{ dbt.type_int() }}) as delivery_id
    from source

)

select * from renamed
