with source as (

    select * from {{ source('hr', 'agencies') }}

),

renamed as (

    select
        cast(agency_code as {{ dbt.type_string() }}) as agency_code,
        cast(agency_name as {{ dbt.type_string() }}) as agency_name,
        cast(agency_type as {{ dbt.type_string() }}) as agency_type,
        cast(parent_agency_code as {{ dbt.type_string() }}) as parent_agency_code,
        cast(valid_from as date) as valid_from,
        cast(valid_to as date) as valid_to,
        cast(successor_agency_code as {{ dbt.type_string() }}) as successor_agency_code,
        cast(_source_file as {{ dbt.type_string() }}) as source_file,
        cast(_source_row as {{ dbt.type_int() }}) as source_row,
        cast(_delivery_id as {{ dbt.type_int() }}) as delivery_id
    from source

)

select * from renamed
