-- Each job-position quota row with the day its successor row takes over, so "the row with the
-- latest valid_from on or before a date" becomes a range join.
with positions as (

    select * from {{ ref('stg_hr__positions') }}

),

versioned as (

    select
        agency_code,
        position_code,
        position_name,
        position_group,
        approved_headcount,
        valid_from,
        lead(valid_from) over (
            partition by agency_code, position_code
            order by valid_from
        ) as valid_until
    from positions

)

select * from versioned
