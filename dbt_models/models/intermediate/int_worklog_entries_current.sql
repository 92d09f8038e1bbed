-- The current version of each worklog entry: its highest revision; a tie goes to the later
-- delivery (later delivery, then later row of the file).
{{ month_partitioned('work_date') }}

with revisions as (

    select * from {{ ref('stg_kpi_tool__worklog_revisions') }}

),

{% if rebuilds_selected_months() -%}
-- Every revision of an entry with any revision in a rebuilt month, wherever its other
-- revisions fall: the current version is chosen among all of them.
touched_entries as (

    select distinct entry_id
    from revisions
    where {{ in_rebuild_months('work_date') }}

),
{%- endif %}

ranked as (

    select
        revisions.*,
        row_number() over (
            partition by entry_id
            order by revision desc, delivery_id desc, source_file desc, source_row desc
        ) as version_rank
    from revisions
    {% if rebuilds_selected_months() -%}
    where entry_id in (select entry_id from touched_entries)
    {%- endif %}

),

current_versions as (

    select
        entry_id,
        revision,
        staff_id,
        work_date,
        task_code,
        stage_code,
        quantity,
        declared_minutes,
        description,
        document_refs,
        status,
        submitted_at,
        reviewed_by,
        reviewed_at,
        status in ('approved', 'submitted') as is_live
    from ranked
    where version_rank = 1 and {{ in_rebuild_months('work_date') }}

)

select * from current_versions
