with source as (

    select * from {{ source('hr', 'leave') }}

),

renamed as (

    select
        cast(staff_id as {{ dbt.type_string() }}) as staff_id,
        cast(leave_type as {{ dbt.type_string() }}) as leave_type,
        cast(leave_start as date) as leave_start,
        cast(leave_end as date) as leave_end,
        cast(half_day as {{ dbt.type_boolean() }}) as half_day,
        cast(_source_file as {{ dbt.type_string() }}) as source_file,
        cast(_source_row as {{ dbt.type_int() }}) as source_row,
        cast(_delivery_id as {{ dbt.type_int() }}) as delivery_id
    from source

)

select * from renamed
