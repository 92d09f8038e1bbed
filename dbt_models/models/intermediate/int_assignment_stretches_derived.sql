-- Each HR assignment cut where its position's quota row changes: one row per stretch of days
-- under one quota row, with that row's position group, and the days before the position's first
-- quota row (all of them, when it has none) as `unknown`. The one place that says which
-- position group is in force on a day: the assignment days expand these stretches, the
-- credited entries look their day up in them.
with assignments as (

    select * from {{ ref('stg_hr__assignments') }}

),

positions as (

    select * from {{ ref('int_positions_versioned') }}

),

first_quota_rows as (

    select agency_code, position_code, min(valid_from) as first_valid_from
    from positions
    group by agency_code, position_code

),

{%- set open_end = "cast('9999-12-31' as date)" %}
{%- set assignment_last_day = "coalesce(assignments.assignment_end, " ~ open_end ~ ")" %}
{%- set assignment_columns = ['staff_id', 'agency_code', 'department', 'position_code', 'is_leader'] %}
assignment_stretches as (

    select
        {% for column in assignment_columns -%}
        assignments.{{ column }},
        {% endfor -%}
        case
            when positions.valid_from > assignments.assignment_start then positions.valid_from
            else assignments.assignment_start
        end as stretch_start,
        case
            when positions.last_valid_day < {{ assignment_last_day }} then positions.last_valid_day
            else {{ assignment_last_day }}
        end as stretch_end,
        positions.position_group
    from assignments
    inner join (
        select
            positions.*,
            coalesce(
                cast({{ dbt.dateadd('day', -1, 'positions.valid_until') }} as date), {{ open_end }}
            ) as last_valid_day
        from positions
    ) as positions
        on assignments.agency_code = positions.agency_code
        and assignments.position_code = positions.position_code
        and positions.valid_from <= {{ assignment_last_day }}
        and positions.last_valid_day >= assignments.assignment_start

    union all

    select
        {% for column in assignment_columns -%}
        assignments.{{ column }},
        {% endfor -%}
        assignments.assignment_start as stretch_start,
        case
            when first_quota_rows.day_before_first < {{ assignment_last_day }}
                then first_quota_rows.day_before_first
            else {{ assignment_last_day }}
        end as stretch_end,
        'unknown' as position_group
    from assignments
    left join (
        select
            agency_code,
            position_code,
            first_valid_from,
            cast({{ dbt.dateadd('day', -1, 'first_valid_from') }} as date) as day_before_first
        from first_quota_rows
    ) as first_quota_rows
        on assignments.agency_code = first_quota_rows.agency_code
        and assignments.position_code = first_quota_rows.position_code
    where first_quota_rows.first_valid_from is null
        or assignments.assignment_start < first_quota_rows.first_valid_from

)

select * from assignment_stretches
