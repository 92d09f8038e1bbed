-- The integrity flags of each live entry (several allowed, none for drafts, rejected and
-- cancelled entries), one boolean column per flag.
{{ month_partitioned('work_date') }}

with entries as {{ inline_cte() }} (

    select * from {{ rebuild_scope_rows(ref('int_worklog_entries_evidenced'), 'work_date') }} as evidenced

),

calendar_days as (

    select * from {{ ref('int_calendar_days_classified') }}

),

leave_days as (

    select * from {{ ref('int_leave_days_expanded') }}

),

live_entries as {{ inline_cte() }} (

    select
        entry_id,
        staff_id,
        work_date,
        task_code,
        coalesce(stage_code, '') as stage_key,
        quantity,
        description,
        declared_minutes
    from entries
    where is_live

),

-- Identical entries share person, day, task, stage and quantity first: only those groups need
-- their descriptions normalised and compared, which spares that cost on nearly every entry.
same_task_groups as (

    select staff_id, work_date, task_code, stage_key, quantity
    from live_entries
    group by staff_id, work_date, task_code, stage_key, quantity
    having count(*) > 1

),

duplicate_candidates as (

    select
        live_entries.entry_id,
        live_entries.staff_id,
        live_entries.work_date,
        live_entries.task_code,
        live_entries.stage_key,
        live_entries.quantity,
        {{ normalize_text('live_entries.description') }} as description_key
    from live_entries
    inner join same_task_groups
        on live_entries.staff_id = same_task_groups.staff_id
        and live_entries.work_date = same_task_groups.work_date
        and live_entries.task_code = same_task_groups.task_code
        and live_entries.stage_key = same_task_groups.stage_key
        and live_entries.quantity = same_task_groups.quantity

),

duplicate_suspects as (

    select entry_id
    from (
        select
            entry_id,
            count(*) over (
                partition by staff_id, work_date, task_code, stage_key, quantity, description_key
            ) as identical_live_entries
        from duplicate_candidates
    ) as counted
    where identical_live_entries > 1

),

staff_day_declarations as (

    select
        staff_id,
        work_date,
        sum(coalesce(declared_minutes, 0)) as staff_day_declared_minutes
    from live_entries
    group by staff_id, work_date

),

flagged as (

    select
        entries.*,
        entries.is_live and coalesce(entries.resolution_flag = 'unknown_staff', false) as is_unknown_staff,
        entries.is_live and coalesce(entries.resolution_flag = 'no_assignment', false) as is_no_assignment,
        entries.is_live and coalesce(entries.resolution_flag = 'unknown_task', false) as is_unknown_task,
        entries.is_live and not coalesce(calendar_days.is_working_day, true) as is_non_working_day,
        entries.is_live and coalesce(leave_days.is_full_day_leave, false) as is_on_leave,
        coalesce(entries.evidence_status = 'missing_document', false) as is_missing_document,
        coalesce(entries.evidence_status = 'document_mismatch', false) as is_document_mismatch,
        coalesce(entries.evidence_status = 'missing_event', false) as is_missing_event,
        entries.is_live and coalesce(
            cast(entries.submitted_at as date)
                > {{ dbt.dateadd('day', var('late_submission_days'), 'entries.work_date') }},
            false
        ) as is_late_submission,
        entries.is_live and duplicate_suspects.entry_id is not null as is_duplicate_suspect,
        entries.is_live and coalesce(
            staff_day_declarations.staff_day_declared_minutes
                > {{ var('implausible_day_hours') }} * 60,
            false
        ) as is_implausible_day
    from entries
    left join calendar_days
        on entries.work_date = calendar_days.calendar_date
    left join leave_days
        on entries.staff_id = leave_days.staff_id
        and entries.work_date = leave_days.leave_date
    left join duplicate_suspects
        on entries.entry_id = duplicate_suspects.entry_id
    left join staff_day_declarations
        on entries.staff_id = staff_day_declarations.staff_id
        and entries.work_date = staff_day_declarations.work_date

),

-- Flag names in alphabetical order, so the list below comes out sorted.
with_flag_list as (

    select
        flagged.*,
        {{ array_without_nulls(dbt.array_construct([
            "case when is_document_mismatch then 'document_mismatch' end",
            "case when is_duplicate_suspect then 'duplicate_suspect' end",
            "case when is_implausible_day then 'implausible_day' end",
            "case when is_late_submission then 'late_submission' end",
            "case when is_missing_document then 'missing_document' end",
            "case when is_missing_event then 'missing_event' end",
            "case when is_no_assignment then 'no_assignment' end",
            "case when is_non_working_day then 'non_working_day' end",
            "case when is_on_leave then 'on_leave' end",
            "case when is_unknown_staff then 'unknown_staff' end",
            "case when is_unknown_task then 'unknown_task' end",
        ])) }} as flags,
        (
            is_document_mismatch or is_duplicate_suspect or is_implausible_day
            or is_late_submission or is_missing_document or is_missing_event
            or is_no_assignment or is_non_working_day or is_on_leave
            or is_unknown_staff or is_unknown_task
        ) as is_flagged
    from flagged

)

select * from with_flag_list
{{ cluster_by_month_and_staff('work_date') }}
