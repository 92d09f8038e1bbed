-- Each current entry resolved against HR and the catalogue: the assignment on work_date gives
-- the agency, the agency's catalogue row in force gives the norm. Approved entries credit
-- quantity × norm, submitted ones count as pending. Entries that cannot be resolved credit 0 and
-- say why (unknown_staff, else no_assignment, else unknown_task).
{{ month_partitioned('work_date') }}

with entries as (

    select * from {{ rebuild_scope_rows(ref('int_worklog_entries_current'), 'work_date') }} as current_entries

),

assignment_days as (

    select * from {{ rebuild_scope_rows(ref('int_staff_assignment_days_expanded'), 'work_date') }}
        as assignment_days

),

known_staff as (

    select distinct staff_id from {{ ref('stg_hr__assignments') }}

),

tasks as (

    select * from {{ ref('int_tasks_versioned') }}

),

resolved as (

    select
        entries.*,
        known_staff.staff_id is not null as is_known_staff,
        assignment_days.agency_code,
        assignment_days.position_group,
        tasks.standard_minutes,
        tasks.evidence_type as catalogue_evidence_type,
        tasks.task_group
    from entries
    left join known_staff
        on entries.staff_id = known_staff.staff_id
    left join assignment_days
        on entries.staff_id = assignment_days.staff_id
        and entries.work_date = assignment_days.work_date
    left join tasks
        on assignment_days.agency_code = tasks.agency_code
        and entries.task_code = tasks.task_code
        and coalesce(entries.stage_code, '') = tasks.stage_key
        and entries.work_date >= tasks.valid_from
        -- no OR in a join condition: it would turn the hash join into a nested loop
        and entries.work_date < coalesce(tasks.valid_until, cast('9999-12-31' as date))

),

credited as (

    select
        entry_id,
        revision,
        staff_id,
        agency_code,
        position_group,
        work_date,
        task_code,
        stage_code,
        task_group,
        status,
        is_live,
        quantity,
        declared_minutes,
        description,
        document_refs,
        submitted_at,
        reviewed_by,
        reviewed_at,
        case
            when not is_known_staff then 'unknown_staff'
            when agency_code is null then 'no_assignment'
            when standard_minutes is null then 'unknown_task'
        end as resolution_flag,
        standard_minutes,
        catalogue_evidence_type as evidence_type,
        case
            when status = 'approved' and standard_minutes is not null
                then quantity * standard_minutes
            else 0
        end as credited_minutes,
        case
            when status = 'submitted' and standard_minutes is not null
                then quantity * standard_minutes
            else 0
        end as pending_minutes
    from resolved

)

select * from credited
{{ keeps_month_and_staff_order() }}
