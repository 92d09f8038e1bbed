with source as (

    select * from {{ source('calendar', 'events') }}

),

renamed as (

    select
        cast(event_id as {{ dbt.type_string() }}) as event_id,
        cast(agency_code as {{ dbt.type_string() }}) as agency_code,
        cast(event_type as {{ dbt.type_string() }}) as event_type,
        cast(title as {{ dbt.type_string() }}) as title,
        cast(start_at as {{ dbt.type_timestamp() }}) as start_at,
        cast(end_at as {{ dbt.type_timestamp() }}) as end_at,
        cast(participant_staff_ids as {{ dbt.type_string() }}) as participant_staff_ids,
        cast(_source_file as {{ dbt.type_string() }}) as source_file,
        cast(_source_row as {{ dbt.type_int() }}) as source_row,
        cast(_delivery_id as {{ dbt.type_int() }}) as delivery_id
    from source

)

select * from renamed
