-- The declarations norm_review takes medians of: approved current entries that resolved to a
-- norm and declare a time, each with the catalogue row (agency, task, stage, valid_from) in
-- force on its work_date and its declared minutes per unit. Kept by month, as the entries are:
-- norm_review reads these few narrow columns of the whole history instead of joining every
-- entry of it to the catalogue at each build (at a province year, 5.9 s became 2.9 s). The
-- catalogue row is kept as its norm_key (int_tasks_versioned): writing its four columns instead
-- cost a province year 7.8 s against 4.4 s.
{{ month_partitioned('work_date') }}

with approved_entries as (

    select
        entries.staff_id,
        entries.agency_code,
        entries.task_code,
        coalesce(entries.stage_code, '') as stage_key,
        entries.work_date,
        entries.quantity,
        entries.declared_minutes
    from {{ rebuild_scope_rows(ref('int_worklog_entries_credited'), 'work_date') }} as entries
    -- Submitted entries are left out: their quantity is not yet accepted by a reviewer.
    where entries.status = 'approved'
        and entries.standard_minutes is not null
        and entries.declared_minutes is not null
        and entries.quantity > 0

),

tasks as (

    select * from {{ ref('int_tasks_versioned') }}

),

-- The same range join as crediting: the catalogue row with the latest valid_from ≤ work_date.
resolved as (

    select
        approved_entries.staff_id,
        approved_entries.work_date,
        tasks.norm_key,
        approved_entries.quantity,
        1.0 * approved_entries.declared_minutes / approved_entries.quantity
            as declared_minutes_per_unit
    from approved_entries
    inner join tasks
        on approved_entries.agency_code = tasks.agency_code
        and approved_entries.task_code = tasks.task_code
        and approved_entries.stage_key = tasks.stage_key
        and approved_entries.work_date >= tasks.valid_from
        -- no OR in a join condition: it would turn the hash join into a nested loop
        and approved_entries.work_date < coalesce(tasks.valid_until, cast('9999-12-31' as date))

)

select * from resolved
{{ keeps_month_and_staff_order() }}
