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
{%- set version_columns = [
    'entry_id', 'revision', 'staff_id', 'work_date', 'task_code', 'stage_code', 'quantity',
    'declared_minutes', 'description', 'document_refs', 'status', 'submitted_at', 'reviewed_by',
    'reviewed_at',
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
-- several are ranked: a window over every revision of a province year sorts tens of millions
-- of wide rows, and ran out of memory under the build's 4 GB.
revised_entries as (

    select entry_id
    from candidate_revisions
    group by entry_id
    having count(*) > 1

),

single_revisions as (

    select candidate_revisions.*
    from candidate_revisions
    left join revised_entries
        on candidate_revisions.entry_id = revised_entries.entry_id
    where revised_entries.entry_id is null

),

ranked as (

    select
        candidate_revisions.*,
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

),

latest_versions as (

    select {{ version_columns | join(', ') }} from single_revisions
    union all
    select {{ version_columns | join(', ') }} from ranked where version_rank = 1

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
    from latest_versions
    where {{ in_rebuild_scope('work_date') }}

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
        current_versions.*,
        known_staff.staff_id is not null as is_known_staff,
        assignment_days.agency_code,
        assignment_days.position_group,
        tasks.standard_minutes,
        tasks.evidence_type as catalogue_evidence_type,
        tasks.task_group
    from current_versions
    left join known_staff
        on current_versions.staff_id = known_staff.staff_id
    left join assignment_days
        on current_versions.staff_id = assignment_days.staff_id
        and current_versions.work_date = assignment_days.work_date
    left join tasks
        on assignment_days.agency_code = tasks.agency_code
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
{{ cluster_by_month_and_staff('work_date') }}
