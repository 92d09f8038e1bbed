-- Each worklog entry's current version, resolved against HR and the catalogue and credited.
-- The current version is the highest revision; a tie goes to the later delivery (later
-- delivery, then later row of the file). The assignment on work_date gives the agency, the
-- agency's catalogue row in force gives the norm. Approved entries credit quantity × norm,
-- submitted ones count as pending. Entries that cannot be resolved credit 0 and say why
-- (unknown_staff, else no_assignment, else unknown_task).
-- One model, not one per step: the current versions, written as a model of their own and read
-- back here, cost a province year 86 s for both steps against 58 s for this one (on a copy of
-- the year's warehouse; int_worklog_entries_flagged does the same for evidence and flags).
{{ month_partitioned('work_date') }}
{#- entry_id is different on every row: stored with ZSTD, not DuckDB's dictionary, which is
    tried on every value and never kept (kpi_create_then_insert). -#}
{{ config(column_compression={'entry_id': 'zstd'}) }}
{#- What later models read of an entry: not its reviewer, review time or task group, whose
    columns cost a province year 2.4 s to write here and were read by no model. -#}
{%- set version_columns = [
    'entry_id', 'revision', 'staff_id', 'work_date', 'task_code', 'stage_code', 'quantity',
    'declared_minutes', 'description', 'document_refs', 'status', 'submitted_at',
] %}

-- Not materialized: each reference below reads the columns it needs from the stored revisions,
-- where a materialized copy of every wide revision spilled under the memory limit (a province
-- year: 51 s became 27 s before the sort).
with revisions as {{ inline_cte() }} (

    select * from {{ ref('stg_kpi_tool__worklog_revisions') }}

),

{#- Spark overwrites the partitions of the table it would read here, which it refuses; it
    takes the current version among every revision of the touched entries instead. -#}
{%- set settle_from_this = rebuilds_selected_months() and target.type != 'spark' %}
{% if settle_from_this -%}
scoped_revisions as {{ inline_cte() }} (

    select *
    from {{ rebuild_scope_rows(ref('stg_kpi_tool__worklog_revisions'), 'work_date') }}
        as scoped_revisions

),

-- Where the stored current version of each entry of the scope lies. Fenced: DuckDB would push
-- the filter below into this scan and then hash the whole table instead of the scope's entries.
-- One lookup per piece of the scope (the months for everyone, each month with its people):
-- DuckDB pushes the range of each piece's entry ids into the scan of the stored table, whose
-- zone maps then skip the row groups of other months (ids are issued in order); one lookup of
-- last January's and this January's ids together read the whole year between (2.5 s → 0.3 s).
{%- set scope_pieces = rebuild_scope_pieces('work_date', 'staff_id', rebuild_months()) %}
stored_versions as {{ materialized_cte() }} (
    {% for predicate in scope_pieces.predicates or ['1 = 0'] %}
    {% if not loop.first %}union all{% endif %}
    select entry_id, work_date, staff_id
    from {{ this }}
    where entry_id in (
        select entry_id from {{ ref('stg_kpi_tool__worklog_revisions') }} where {{ predicate }}
    )
    {%- endfor %}

),

-- Entries whose current version lies outside what is being rebuilt (a month, or a staff member
-- in a month rebuilt for some staff) keep it: ingestion queues the month and staff member of
-- every revision of an entry that changed, so none of their revisions changed.
settled_elsewhere as (

    select entry_id
    from stored_versions
    where not ({{ in_rebuild_scope('work_date') }})

),
{%- elif rebuilds_selected_months() -%}
-- Every revision of an entry with any revision in a rebuilt month, wherever its other
-- revisions fall: the current version is chosen among all of them.
touched_entries as (

    select distinct entry_id
    from revisions
    where {{ in_rebuild_scope('work_date') }}

),
{%- endif %}

candidate_revisions as {{ inline_cte() }} (

    {% if settle_from_this -%}
    select *
    from scoped_revisions
    where not exists (
        select 1 from settled_elsewhere
        where settled_elsewhere.entry_id = scoped_revisions.entry_id
    )
    {%- elif rebuilds_selected_months() -%}
    select * from revisions
    where entry_id in (select entry_id from touched_entries)
    {%- else -%}
    select * from revisions
    {%- endif %}

),

-- Most entries have a single revision, which is their current version. Only the entries with
-- a revision above 1 are ranked, on the few columns the tie rule reads: a window over every
-- revision of a province year sorts tens of millions of wide rows, and ran out of memory under
-- the build's 4 GB. An entry whose revisions are all 1 has one row: the raw worklog holds one
-- row per (entry_id, revision), a later delivery of a key replacing the stored row (and within
-- a file the later row the earlier; staging tests the key unique). Counting every entry's rows
-- to find the revised ones hashed tens of millions of ids (a province year: 37.8 s became
-- 32.5 s on a copy of the warehouse); the revisions above 1 are few, and where there are none
-- the zone maps of revision skip every row group.
revised_entries as (

    select distinct entry_id
    from candidate_revisions
    where revision > 1

),

-- A stored revision is one row of one delivery of one file: (delivery_id, source_file,
-- source_row) names it (a file delivered again under its path keeps the rows whose keys it no
-- longer holds, at row numbers the new rows may reuse).
current_revisions_of_revised_entries as (

    select entry_id, revision, delivery_id, source_file, source_row
    from (
        select
            candidate_revisions.entry_id,
            candidate_revisions.revision,
            candidate_revisions.delivery_id,
            candidate_revisions.source_file,
            candidate_revisions.source_row,
            row_number() over (
                partition by candidate_revisions.entry_id
                order by
                    candidate_revisions.revision desc,
                    candidate_revisions.delivery_id desc,
                    candidate_revisions.source_file desc,
                    candidate_revisions.source_row desc
            ) as version_rank
        from candidate_revisions
        inner join revised_entries
            on candidate_revisions.entry_id = revised_entries.entry_id
    ) as ranked
    where version_rank = 1

),

-- One filter of the revisions, not a union of the single ones and the ranked ones: the rows
-- keep the order they are stored in (month, then person), which this model's table keeps.
latest_versions as (

    select {% for column in version_columns %}candidate_revisions.{{ column }}{{ ', ' if not loop.last }}{% endfor %}
    from candidate_revisions
    left join current_revisions_of_revised_entries
        on candidate_revisions.entry_id = current_revisions_of_revised_entries.entry_id
    where current_revisions_of_revised_entries.entry_id is null
        or (
            candidate_revisions.revision = current_revisions_of_revised_entries.revision
            and candidate_revisions.delivery_id = current_revisions_of_revised_entries.delivery_id
            and candidate_revisions.source_file = current_revisions_of_revised_entries.source_file
            and candidate_revisions.source_row = current_revisions_of_revised_entries.source_row
        )

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
        status in ('approved', 'submitted') as is_live
    from latest_versions
    where {{ in_rebuild_scope('work_date') }}

),

-- The assignment in force on work_date and its position's group, looked up in the assignments'
-- stretches under one quota row (int_assignment_stretches_derived, which the assignment days
-- expand; assignments do not overlap: ingestion quarantines those that do) rather than in the
-- expanded days: a few thousand rows to hash instead of a row per person and day, which DuckDB,
-- when an incremental build's entries were fewer than the month's days, hashed the entries
-- against instead, and wrote them out of order (a province year: 38 s against 60 s).
assignment_stretches as (

    select * from {{ ref('int_assignment_stretches_derived') }}

),

known_staff as (

    select distinct staff_id from {{ ref('stg_hr__assignments') }}

),

tasks as (

    select * from {{ ref('int_tasks_versioned') }}

),

resolved as (

    select
        current_versions.*,
        known_staff.staff_id is not null as is_known_staff,
        assignment_stretches.agency_code,
        assignment_stretches.position_group,
        tasks.standard_minutes,
        tasks.evidence_type as catalogue_evidence_type
    from current_versions
    left join known_staff
        on current_versions.staff_id = known_staff.staff_id
    left join assignment_stretches
        on current_versions.staff_id = assignment_stretches.staff_id
        and current_versions.work_date >= assignment_stretches.stretch_start
        and current_versions.work_date <= assignment_stretches.stretch_end
    left join tasks
        on assignment_stretches.agency_code = tasks.agency_code
        and current_versions.task_code = tasks.task_code
        and coalesce(current_versions.stage_code, '') = tasks.stage_key
        and current_versions.work_date >= tasks.valid_from
        -- no OR in a join condition: it would turn the hash join into a nested loop
        and current_versions.work_date < coalesce(tasks.valid_until, cast('9999-12-31' as date))

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
        status,
        is_live,
        quantity,
        declared_minutes,
        description,
        document_refs,
        submitted_at,
        case
            when not is_known_staff then 'unknown_staff'
            when agency_code is null then 'no_assignment'
            when standard_minutes is null then 'unknown_task'
        end as resolution_flag,
        standard_minutes,
        catalogue_evidence_type as evidence_type,
        -- fixed-point minutes, summed exactly by the staff-days and periods (type_exact_number)
        {{ exact_number(
            "case when status = 'approved' and standard_minutes is not null "
            ~ "then quantity * standard_minutes else 0 end"
        ) }} as credited_minutes,
        {{ exact_number(
            "case when status = 'submitted' and standard_minutes is not null "
            ~ "then quantity * standard_minutes else 0 end"
        ) }} as pending_minutes
    from resolved

)

-- A build of every month does not sort: ingestion stores each month's revisions by person (the
-- KPI tool exports them so; ingestion sorts a file that is not), and the entries keep that order
-- through the filter and the left joins above, whose other sides are small. At a province year
-- 2,309 of 32.8 million rows step back (an entry whose lookup found nothing comes after the
-- others of its chunk of rows), where the sort cost 16 s of 55, spilling 4 GB under the memory
-- limit. A build of some months sorts its rows (keeps_month_and_staff_order).
select * from credited
{{ keeps_month_and_staff_order(sort_rebuilt_months_by='work_date') }}
