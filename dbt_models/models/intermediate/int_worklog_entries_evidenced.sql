-- Declared work checked against its evidence, for live entries: a document task needs an
-- outgoing document of the same agency, drafted or signed by the person, issued within the
-- window around work_date; a meeting or field-trip task needs a calendar event of that type
-- listing the person on that day. Non-live entries keep the catalogue's evidence type and get
-- no evidence status.
{{ month_partitioned('work_date') }}

with entries as {{ inline_cte() }} (

    select * from {{ rebuild_scope_rows(ref('int_worklog_entries_credited'), 'work_date') }} as credited

),

documents as (

    select * from {{ ref('stg_eoffice__documents') }}

),

-- Only meetings and field trips evidence work, and only on the days being rebuilt: the distinct
-- list of participants below is built from these alone, not from every event of the history.
events as (

    select * from {{ ref('stg_calendar__events') }}
    where event_type in ('meeting', 'field_trip')
        and {{ overlaps_rebuild_months('cast(start_at as date)', 'cast(end_at as date)') }}

),

document_entries as (

    select entry_id, staff_id, agency_code, work_date, document_refs
    from entries
    where is_live and evidence_type = 'document' and document_refs is not null

),

entry_refs_listed as (

    select
        entry_id,
        staff_id,
        agency_code,
        work_date,
        {{ list_items('document_refs') }} as document_ref
    from document_entries

),

entry_refs as (

    select
        entry_id,
        staff_id,
        agency_code,
        work_date,
        {{ normalize_doc_number('document_ref') }} as doc_number_key
    from entry_refs_listed

),

outgoing_documents as (

    select
        agency_code,
        {{ normalize_doc_number('doc_number') }} as doc_number_key,
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

evidenced as (

    select
        entries.*,
        case
            when not entries.is_live or entries.evidence_type is null then null
            when entries.evidence_type = 'none' then 'not_required'
            when entries.evidence_type = 'document' then
                case
                    when reference_matches.has_matching_document = 1 then 'evidenced'
                    when reference_matches.has_document_number = 1 then 'document_mismatch'
                    else 'missing_document'
                end
            when entries.evidence_type in ('meeting', 'field_trip') then
                case
                    when event_matches.entry_id is not null then 'evidenced'
                    else 'missing_event'
                end
        end as evidence_status
    from entries
    left join reference_matches
        on entries.entry_id = reference_matches.entry_id
    left join event_matches
        on entries.entry_id = event_matches.entry_id

)

select * from evidenced
{{ cluster_by_month_and_staff('work_date') }}
