-- Each catalogue norm with the day its successor row takes over (exclusive), so "the catalogue
-- row with the latest valid_from on or before work_date" becomes a range join. An empty stage
-- is a stage of its own: it matches only entries with an empty stage.
with tasks as (

    select * from {{ ref('stg_kpi_tool__tasks') }}

),

versioned as (

    select
        agency_code,
        task_code,
        stage_code,
        coalesce(stage_code, '') as stage_key,
        task_name,
        task_group,
        stage_name,
        unit,
        standard_minutes,
        evidence_type,
        valid_from,
        -- One 64-bit key of the norm's four key columns, for the declarations and norm_review
        -- to store and group by instead of three texts and a date (assert_norm_keys_are_unique)
        {{ row_key(['agency_code', 'task_code', "coalesce(stage_code, '')", 'valid_from']) }}
            as norm_key,
        lead(valid_from) over (
            partition by agency_code, task_code, coalesce(stage_code, '')
            order by valid_from
        ) as valid_until
    from tasks

)

select * from versioned
