with source as (

    select * from {{ source('kpi_tool', 'evaluations') }}

),

renamed as (

    select
        cast(staff_id as {{ dbt.type_string() }}) as staff_id,
        cast(period as {{ dbt.type_string() }}) as period,
        cast(evaluator_staff_id as {{ dbt.type_string() }}) as evaluator_staff_id,
        cast(quality_score as double) as quality_score,
        cast(general_score as double) as general_score,
        cast(comment as {{ dbt.type_string() }}) as comment,
        cast(_source_file as {{ dbt.type_string() }}) as source_file,
        cast(_source_row as {{ dbt.type_int() }}) as source_row,
        cast(_delivery_id as {{ dbt.type_int() }}) as delivery_id
    from source

)

select * from renamed
