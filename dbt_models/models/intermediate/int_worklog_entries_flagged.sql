-- Each current entry checked: its evidence and its integrity flags. Evidence, for live entries:
-- a document task needs an outgoing document of the same agency, drafted or signed by the
-- person, issued within the window around work_date; a meeting or field-trip task needs a
-- calendar event of that type listing the person on that day. Non-live entries keep the
-- catalogue's evidence type and get no evidence status. Flags: one boolean column per flag
-- (several allowed, none for drafts, rejected and cancelled entries).
-- One model, not one per step: every side result below (document and event matches, duplicate
-- groups, staff-day totals) reads a few columns of the credited entries, and the entries are
-- written once, with their evidence and flags, instead of once more in between (a province
-- year: 47 s + 59 s became 65 s).
{{ month_partitioned('work_date') }}
{#- A build of every month computes it month by month (macros/build_by_month.sql). -#}
{{ config(build_by_month={'months_of': 'int_worklog_entries_credited', 'date_column': 'work_date'}) }}
{#- entry_id is different on every row: stored with ZSTD, not DuckDB's dictionary, which is
    tried on every value and never kept (kpi_create_then_insert). -#}
{{ config(column_compression={'entry_id': 'zstd'}) }}

with entries as {{ inline_cte() }} (

    select * from {{ rebuild_scope_rows(ref('int_worklog_entries_credited'), 'work_date') }} as credited

),

-- The register with its numbers normalised once, when delivered (int_documents_keyed).
documents as (

    select * from {{ ref('int_documents_keyed') }}

),

calendar_days as (

    select * from {{ ref('int_calendar_days_classified') }}

),

leave_days as (

    select * from {{ rebuild_scope_rows(ref('int_leave_days_expanded'), 'leave_date') }} as leave_days

),

-- Only meetings and field trips evidence work, and only on the days being rebuilt: the distinct
-- list of participants below is built from these alone, not from every event of the history.
events as (

    select * from {{ ref('stg_calendar__events') }}
    where event_type in ('meeting', 'field_trip')
        and {{ overlaps_rebuild_months('cast(start_at as date)', 'cast(end_at as date)') }}

),

-- The numbers live document entries cite, normalised (int_document_citations_keyed).
entry_refs as (

    select entry_id, staff_id, agency_code, work_date, doc_number_key
    from {{ rebuild_scope_rows(ref('int_document_citations_keyed'), 'work_date') }} as citations

),

outgoing_documents as (

    select
        agency_code,
        doc_number_key,
        issued_date,
        drafter_staff_id,
        signer_staff_id
    from documents
    where direction = 'outgoing'

),

reference_matches as (

    select
        entry_refs.entry_id,
        max(
            case
                when (
                    outgoing_documents.drafter_staff_id = entry_refs.staff_id
                    or outgoing_documents.signer_staff_id = entry_refs.staff_id
                )
                and outgoing_documents.issued_date
                    >= {{ dbt.dateadd('day', -1 * var('evidence_days_before'), 'entry_refs.work_date') }}
                and outgoing_documents.issued_date
                    <= {{ dbt.dateadd('day', var('evidence_days_after'), 'entry_refs.work_date') }}
                then 1 else 0
            end
        ) as has_matching_document,
        1 as has_document_number
    from entry_refs
    inner join outgoing_documents
        on entry_refs.agency_code = outgoing_documents.agency_code
        and entry_refs.doc_number_key = outgoing_documents.doc_number_key
    where entry_refs.doc_number_key <> ''
    group by entry_refs.entry_id

),

event_participants_listed as (

    select
        event_type,
        cast(start_at as date) as start_date,
        cast(end_at as date) as end_date,
        {{ list_items('participant_staff_ids') }} as participant_staff_id
    from events

),

event_participants as (

    select distinct
        event_type,
        start_date,
        end_date,
        trim(participant_staff_id) as staff_id
    from event_participants_listed

),

event_matches as (

    select distinct entries.entry_id
    from entries
    inner join event_participants
        on entries.staff_id = event_participants.staff_id
        and entries.evidence_type = event_participants.event_type
        and entries.work_date between event_participants.start_date
            and event_participants.end_date
    where entries.is_live and entries.evidence_type in ('meeting', 'field_trip')

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
        declared_minutes,
        {{ row_key(['staff_id', 'work_date', 'task_code', "coalesce(stage_code, '')", 'quantity']) }}
            as same_task_key
    from entries
    where is_live

),

-- Identical entries share person, day, task, stage and quantity first: only those groups need
-- their descriptions normalised and compared, which spares that cost on nearly every entry.
-- The groups are found by one 64-bit key of the five (nearly every entry is a group of its own:
-- hashing five columns of tens of millions of rows cost a province year about a second more);
-- two groups sharing a key only add candidates, which the exact comparison below tells apart.
same_task_groups as (

    select same_task_key
    from live_entries
    group by same_task_key
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
        on live_entries.same_task_key = same_task_groups.same_task_key

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

-- What each entry's checks found, one row per entry any check found something for: the three
-- side results keyed by entry, joined to the entries once instead of one join each (three
-- lookups of tens of millions of entry ids at a province year).
entry_checks as (

    select
        entry_id,
        max(has_matching_document) as has_matching_document,
        max(has_document_number) as has_document_number,
        max(has_matching_event) as has_matching_event,
        max(has_identical_entry) as has_identical_entry
    from (
        select
            entry_id,
            has_matching_document,
            has_document_number,
            0 as has_matching_event,
            0 as has_identical_entry
        from reference_matches
        union all
        select entry_id, 0, 0, 1, 0 from event_matches
        union all
        select entry_id, 0, 0, 0, 1 from duplicate_suspects
    ) as checks
    group by entry_id

),

evidenced as (

    select
        entries.*,
        case
            when not entries.is_live or entries.evidence_type is null then null
            when entries.evidence_type = 'none' then 'not_required'
            when entries.evidence_type = 'document' then
                case
                    when entry_checks.has_matching_document = 1 then 'evidenced'
                    when entry_checks.has_document_number = 1 then 'document_mismatch'
                    else 'missing_document'
                end
            when entries.evidence_type in ('meeting', 'field_trip') then
                case
                    when entry_checks.has_matching_event = 1 then 'evidenced'
                    else 'missing_event'
                end
        end as evidence_status,
        coalesce(entry_checks.has_identical_entry = 1, false) as has_identical_entry
    from entries
    left join entry_checks
        on entries.entry_id = entry_checks.entry_id

),

flagged as (

    select
        evidenced.*,
        evidenced.is_live and coalesce(evidenced.resolution_flag = 'unknown_staff', false) as is_unknown_staff,
        evidenced.is_live and coalesce(evidenced.resolution_flag = 'no_assignment', false) as is_no_assignment,
        evidenced.is_live and coalesce(evidenced.resolution_flag = 'unknown_task', false) as is_unknown_task,
        evidenced.is_live and not coalesce(calendar_days.is_working_day, true) as is_non_working_day,
        evidenced.is_live and coalesce(leave_days.is_full_day_leave, false) as is_on_leave,
        coalesce(evidenced.evidence_status = 'missing_document', false) as is_missing_document,
        coalesce(evidenced.evidence_status = 'document_mismatch', false) as is_document_mismatch,
        coalesce(evidenced.evidence_status = 'missing_event', false) as is_missing_event,
        evidenced.is_live and coalesce(
            cast(evidenced.submitted_at as date)
                > {{ dbt.dateadd('day', var('late_submission_days'), 'evidenced.work_date') }},
            false
        ) as is_late_submission,
        evidenced.is_live and evidenced.has_identical_entry as is_duplicate_suspect,
        evidenced.is_live and coalesce(
            staff_day_declarations.staff_day_declared_minutes
                > {{ var('implausible_day_hours') }} * 60,
            false
        ) as is_implausible_day
    from evidenced
    left join calendar_days
        on evidenced.work_date = calendar_days.calendar_date
    left join leave_days
        on evidenced.staff_id = leave_days.staff_id
        and evidenced.work_date = leave_days.leave_date
    left join staff_day_declarations
        on evidenced.staff_id = staff_day_declarations.staff_id
        and evidenced.work_date = staff_day_declarations.work_date

),

flagged_any as (

    select
        flagged.*,
        (
            is_document_mismatch or is_duplicate_suspect or is_implausible_day
            or is_late_submission or is_missing_document or is_missing_event
            or is_no_assignment or is_non_working_day or is_on_leave
            or is_unknown_staff or is_unknown_task
        ) as is_flagged
    from flagged

),

-- Flag names in alphabetical order, so the list comes out sorted. Built for flagged entries
-- only (a minority): the others' list is empty either way, and building and filtering a list of
-- eleven per entry cost a province year about 1.5 s.
with_flag_list as (

    select
        flagged_any.*,
        case
            when is_flagged then {{ array_without_nulls(dbt.array_construct([
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
            ])) }}
            else cast({{ dbt.array_construct([], dbt.type_string()) }} as {{ type_string_array() }})
        end as flags
    from flagged_any

)

-- What later models read (staff-days, declaration patterns, worklog_evidence), not every column
-- of the credited entries: their document references, resolution flag and norm are read by no
-- model after this one, and writing them (with the reviewer, review time and task group the
-- credited entries no longer keep) cost 11 s of this model's 63 s at a province year.
select
    entry_id,
    revision,
    staff_id,
    agency_code,
    position_group,
    work_date,
    task_code,
    stage_code,
    status,
    is_live,
    quantity,
    declared_minutes,
    description,
    submitted_at,
    evidence_type,
    credited_minutes,
    pending_minutes,
    evidence_status,
    is_unknown_staff,
    is_no_assignment,
    is_unknown_task,
    is_non_working_day,
    is_on_leave,
    is_missing_document,
    is_document_mismatch,
    is_missing_event,
    is_late_submission,
    is_duplicate_suspect,
    is_implausible_day,
    flags,
    is_flagged
from with_flag_list
{{ keeps_month_and_staff_order() }}
