-- The document numbers that live entries of document tasks cite, one row per entry and number,
-- keyed as E-Office compares numbers (normalize_doc_number). Month-partitioned like the entries
-- it lists: the evidence check matches these against the register (int_documents_keyed), and
-- ingestion looks up in them which entries a delivery of documents concerns instead of
-- normalising every reference of the worklog's history at each delivery
-- (dagster_project/ingest/changes.py; 1 s of CPU at a province year).
{{ month_partitioned('work_date') }}

with document_entries as (

    select entry_id, staff_id, agency_code, work_date, document_refs
    from {{ rebuild_scope_rows(ref('int_worklog_entries_credited'), 'work_date') }} as credited
    where is_live and evidence_type = 'document' and document_refs is not null

),

references_listed as (

    select
        entry_id,
        staff_id,
        agency_code,
        work_date,
        {{ list_items('document_refs') }} as document_ref
    from document_entries

),

citations as (

    select
        entry_id,
        staff_id,
        agency_code,
        work_date,
        {{ normalize_doc_number('document_ref') }} as doc_number_key
    from references_listed

)

select * from citations
{{ keeps_month_and_staff_order() }}
