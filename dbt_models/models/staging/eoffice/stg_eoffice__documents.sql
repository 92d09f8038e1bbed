with source as (

    select * from {{ source('eoffice', 'documents') }}

),

renamed as (

    select
        cast(doc_id as {{ dbt.type_string() }}) as doc_id,
        cast(agency_code as {{ dbt.type_string() }}) as agency_code,
        cast(direction as {{ dbt.type_string() }}) as direction,
        cast(doc_number as {{ dbt.type_string() }}) as doc_number,
        cast(doc_type as {{ dbt.type_string() }}) as doc_type,
        cast(issued_date as date) as issued_date,
        cast(subject as {{ dbt.type_string() }}) as subject,
        cast(drafter_staff_id as {{ dbt.type_string() }}) as drafter_staff_id,
        cast(signer_staff_id as {{ dbt.type_string() }}) as signer_staff_id,
        cast(handler_staff_id as {{ dbt.type_string() }}) as handler_staff_id,
        cast(due_date as date) as due_date,
        cast(completed_date as date) as completed_date,
        cast(_source_file as {{ dbt.type_string() }}) as source_file,
        cast(_source_row as {{ dbt.type_int() }}) as source_row,
        cast(_delivery_id as {{ dbt.type_int() }}) as delivery_id
    from source

)

select * from renamed
