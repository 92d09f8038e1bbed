-- One row per staff member and calendar day covered by an assignment, with the agency, position
-- and the position group in force that day (`unknown` when the position has no quota row yet).
{{ month_partitioned('work_date') }}

with assignments as (

    select * from {{ ref('stg_hr__assignments') }}

),

calendar_days as (

    select * from {{ ref('int_calendar_days_classified') }}
    where {{ in_rebuild_months('calendar_date') }}

),

positions as (

    select * from {{ ref('int_positions_versioned') }}

),

first_quota_rows as (

    select agency_code, position_code, min(valid_from) as first_valid_from
    from positions
    group by agency_code, position_code

),

-- Each assignment cut where its position's quota row changes: the stretch of days each row is
-- in force, and the days before the first one (or all, when the position has none) as
-- `unknown`. Expanding stretches into days spares a join of every person-day to the quota rows
-- (a province year: 8.1 s became 4.9 s before writing).
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

),

assignment_days as (

    select
        assignment_stretches.staff_id,
        calendar_days.calendar_date as work_date,
        assignment_stretches.agency_code,
        assignment_stretches.department,
        assignment_stretches.position_code,
        assignment_stretches.is_leader,
        assignment_stretches.position_group,
        calendar_days.is_working_day,
        calendar_days.is_in_reporting_range
    from assignment_stretches
    inner join calendar_days
        on calendar_days.calendar_date >= assignment_stretches.stretch_start
        and calendar_days.calendar_date <= assignment_stretches.stretch_end
    -- a month rebuilt for some staff members only rebuilds their days
    where {{ in_rebuild_scope('calendar_days.calendar_date', 'assignment_stretches.staff_id') }}

)

select * from assignment_days
{{ cluster_by_month_and_staff('work_date') }}
