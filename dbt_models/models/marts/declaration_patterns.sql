-- Signals of box-ticking in the self-declared worklog, per person and month of work_date, from
-- the live entries (current status `approved` or `submitted`) inside the reporting range:
--   exact standard days: share of declared days whose declared minutes add up to exactly the
--     standard day (var `standard_day_hours`, 8 h = 480 min);
--   repeated descriptions: share of the month's live entries whose normalised description
--     (NFC, lower case, white-space runs collapsed, trimmed; missing = empty) repeats one already
--     used by another of the person's live entries that month;
--   bulk late submissions: entries submitted more than var `bulk_submission_days` (7) days after
--     work_date in a batch (same person, same submission date) that covers at least var
--     `bulk_submission_min_days` (5) distinct work dates.
-- Each signal is raised when its share reaches its threshold and the person declared on at least
-- var `declaration_patterns_min_days` (5) days that month.
{%- set standard_day_minutes = var('standard_day_hours') * 60 %}
{%- set bulk_days = var('bulk_submission_days') %}
{%- set bulk_min_days = var('bulk_submission_min_days', 5) %}
{%- set min_declared_days = var('declaration_patterns_min_days', 5) %}
{%- set exact_day_threshold = var('exact_day_share_threshold', 0.8) %}
{%- set repeated_threshold = var('repeated_description_share_threshold', 0.8) %}
{%- set bulk_threshold = var('bulk_submission_share_threshold', 0.5) %}

{{ month_partitioned('period_start', scope_var='pattern_months') }}

with reporting_range as (

    select * from {{ ref('int_reporting_range_derived') }}

),

entries_in_months as {{ inline_cte() }} (

    select
        staff_id,
        agency_code,
        work_date,
        declared_minutes,
        -- a missing description normalises to '', like an empty one
        coalesce(description, '') as description,
        submitted_at
    from {{ rebuild_scope_rows(
        ref('int_worklog_entries_flagged'), 'work_date', 'staff_id', 'pattern_months'
    ) }} as flagged
    where is_live

),

{#- A batch's other entries (same person, same submission date) may lie in any month, so a
    rebuild of some months reads the live entries submitted on or after the first submission
    among the entries it rebuilds, per piece of its scope (and for those people, in a month
    rebuilt for some): submission dates follow work dates closely, so the zone maps of
    submitted_at skip the older months instead of reading all of history. -#}
{%- set partner_pieces = none %}
{%- if rebuilds_selected_months() and execute and target.type != 'spark' %}
    {%- set scope = rebuild_scope_pieces('work_date', 'staff_id', rebuild_months(), 'pattern_months') %}
    {%- set first_submissions = [] %}
    {%- for predicate in scope.predicates %}
        {%- do first_submissions.append(
            'select ' ~ loop.index0 ~ ' as piece, min(submitted_at) as first_submitted_at from '
            ~ ref('int_worklog_entries_flagged') ~ ' where is_live and ' ~ predicate
        ) %}
    {%- endfor %}
    {%- set partner_pieces = [] %}
    {%- if first_submissions %}
        {%- for piece, first_submitted_at in run_query(first_submissions | join(' union all ')).rows
            if first_submitted_at is not none %}
            {%- do partner_pieces.append(
                "submitted_at >= cast('" ~ (first_submitted_at | string)[:10] ~ "' as timestamp)"
                ~ " and " ~ scope.staff_conditions[piece | int]
            ) %}
        {%- endfor %}
    {%- endif %}
{%- endif %}

{%- if rebuilds_selected_months() %}
-- only the columns used below
batch_partner_entries as (

    {% if partner_pieces is none -%}
    select staff_id, work_date, submitted_at
    from {{ ref('int_worklog_entries_flagged') }}
    where is_live
    {%- else -%}
    {%- for piece in partner_pieces or ['1 = 0'] %}
    select staff_id, work_date, submitted_at
    from {{ ref('int_worklog_entries_flagged') }}
    where is_live and {{ piece }}
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
    {%- endif %}

),
{%- endif %}

-- Descriptions repeat (a few thousand distinct ones in millions of entries): each distinct one
-- is normalised once and numbered, equal normalised texts getting the same number, so that
-- the repeats are counted on integers rather than on texts.
description_ids as (

    select
        description,
        dense_rank() over (order by {{ normalize_text('description') }}) as description_id
    from (select distinct description from entries_in_months) as distinct_descriptions

),

-- Everything but the descriptions adds up by person, work date and submission date: the
-- entries are aggregated once to those (about one a staff-day), and the submission batches,
-- the staff-days and the months are counted from them. Aggregating the entries to the
-- staff-day and their batches' work dates separately, and counting each month's distinct
-- descriptions by a distinct of (person, month, description), cost a province year 34.2 s
-- (24 million groups in the distinct, spilling 3.8 GB under the memory limit); this: 21.1 s.
entry_days as (

    select
        staff_id,
        work_date,
        cast(submitted_at as date) as submission_date,
        count(*) as live_entry_count,
        sum(coalesce(declared_minutes, 0)) as declared_minutes,
        -- The day's agency: an entry's agency is that of the person's one assignment on its
        -- work_date (a person's assignments do not overlap; int_assignment_stretches_derived),
        -- so the day's entries with an assignment share it and max() takes it; the entry with
        -- the highest entry_id, which max_by() looked for, has the same (a province year:
        -- 42.8 s became 35.3 s).
        max(agency_code) as agency_code
    from entries_in_months
    group by staff_id, work_date, cast(submitted_at as date)

),

{% if rebuilds_selected_months() -%}
-- Batches are taken over all live entries of the person, whatever the work month; only the
-- batches of the entries being built are needed.
batch_keys as (

    select distinct staff_id, submission_date
    from entry_days
    where submission_date is not null

),

batch_work_dates as (

    select distinct
        batch_partner_entries.staff_id,
        batch_keys.submission_date,
        batch_partner_entries.work_date
    from batch_partner_entries
    inner join batch_keys
        on batch_partner_entries.staff_id = batch_keys.staff_id
        and cast(batch_partner_entries.submitted_at as date) = batch_keys.submission_date

),
{%- else %}
-- A build of every month holds every live entry: a batch's work dates are the rows of
-- entry_days with its submission date.
batch_work_dates as (

    select staff_id, submission_date, work_date
    from entry_days
    where submission_date is not null

),
{%- endif %}

submission_batches as (

    select
        staff_id,
        submission_date,
        count(*) as batch_work_days
    from batch_work_dates
    group by staff_id, submission_date

),

entry_days_classified as (

    select
        entry_days.*,
        {{ dbt.datediff('entry_days.work_date', 'entry_days.submission_date', 'day') }}
            as submission_lag_days,
        coalesce(submission_batches.batch_work_days, 0) as batch_work_days
    from entry_days
    cross join reporting_range
    left join submission_batches
        on entry_days.staff_id = submission_batches.staff_id
        and entry_days.submission_date = submission_batches.submission_date
    where entry_days.work_date between reporting_range.range_start and reporting_range.range_end

),

staff_days as (

    select
        staff_id,
        work_date,
        sum(declared_minutes) as declared_minutes,
        sum(live_entry_count) as live_entry_count,
        sum(case when submission_date is not null then live_entry_count else 0 end)
            as submitted_entry_count,
        sum(case when submission_lag_days > {{ bulk_days }} then live_entry_count else 0 end)
            as late_entry_count,
        sum(
            case
                when submission_lag_days > {{ bulk_days }}
                    and batch_work_days >= {{ bulk_min_days }}
                    then live_entry_count
                else 0
            end
        ) as bulk_late_entry_count,
        max(submission_lag_days) as max_submission_lag_days,
        max(agency_code) as day_agency_code
    from entry_days_classified
    group by staff_id, work_date

),

days_per_month as (

    select
        staff_id,
        cast({{ dbt.date_trunc('month', 'work_date') }} as date) as month_start,
        count(*) as declared_days,
        sum(case when declared_minutes = {{ standard_day_minutes }} then 1 else 0 end)
            as exact_standard_days,
        sum(live_entry_count) as live_entry_count,
        sum(submitted_entry_count) as submitted_entry_count,
        sum(late_entry_count) as late_entry_count,
        sum(bulk_late_entry_count) as bulk_late_entry_count,
        max(max_submission_lag_days) as max_submission_lag_days,
        -- The agency of the person's latest entry with an assignment in the month: that of the
        -- latest such day (staff_days: one agency a day). Taken in the same two
        -- aggregates, not by joining the month's latest day back to its entries (a province
        -- year: 34.5 s became 28.8 s).
        max_by(day_agency_code, work_date) filter (where day_agency_code is not null)
            as agency_code
    from staff_days
    group by staff_id, cast({{ dbt.date_trunc('month', 'work_date') }} as date)

),

-- The entries find their description's number by a 64-bit key of the text rather than by the
-- text: the join then carries no text, and DuckDB sizes the per-month lists below right (the
-- mart over a copy of a province year: 18.5 s -> 11.6 s). Two different descriptions sharing a
-- key (for thousands of descriptions, about one chance in 10^12) stop the build instead of
-- merging into one number.
description_keys as (

    select
        description_key,
        case
            when count(*) > 1 then {{ raise_error(
                "'declaration_patterns: two different descriptions share a 64-bit key; "
                ~ "the repeated-description counts cannot be told apart'"
            ) }}
            else min(description_id)
        end as description_id
    from (
        select {{ row_key(['description']) }} as description_key, description_id
        from description_ids
    ) as keyed
    group by description_key

),

-- Counted with count(distinct) per person and month over the description numbers: its hash
-- table of (person, month, number) spills under the memory limit, so it holds any length of
-- history. A list of each month's numbers made distinct was faster (a province year on a copy:
-- 22.8 s given 8 GB, against 28.9 s for the whole query), but the lists of a build of every
-- month all stay in memory: two province years ran out of the 3 GB limit in a build, and the
-- first of them, queried alone, ran out of it too. A distinct of (person, month, number) first,
-- then a count: 31.5 s.
descriptions_per_month as (

    select
        entries_in_months.staff_id,
        cast({{ dbt.date_trunc('month', 'entries_in_months.work_date') }} as date)
            as month_start,
        count(distinct description_keys.description_id)
            as distinct_description_count
    from entries_in_months
    inner join description_keys
        on {{ row_key(['entries_in_months.description']) }} = description_keys.description_key
    cross join reporting_range
    where entries_in_months.work_date
        between reporting_range.range_start and reporting_range.range_end
    group by
        entries_in_months.staff_id,
        cast({{ dbt.date_trunc('month', 'entries_in_months.work_date') }} as date)

),

measured as (

    select
        days_per_month.staff_id,
        days_per_month.month_start,
        days_per_month.agency_code,
        days_per_month.declared_days,
        days_per_month.exact_standard_days,
        1.0 * days_per_month.exact_standard_days / days_per_month.declared_days
            as exact_standard_day_share,
        days_per_month.live_entry_count,
        descriptions_per_month.distinct_description_count,
        -- every entry after the first with the same description repeats one
        days_per_month.live_entry_count - descriptions_per_month.distinct_description_count
            as repeated_description_entries,
        1.0 * (days_per_month.live_entry_count - descriptions_per_month.distinct_description_count)
            / days_per_month.live_entry_count as repeated_description_share,
        days_per_month.submitted_entry_count,
        days_per_month.late_entry_count,
        days_per_month.bulk_late_entry_count,
        1.0 * days_per_month.bulk_late_entry_count / days_per_month.live_entry_count
            as bulk_late_entry_share,
        days_per_month.max_submission_lag_days
    from days_per_month
    inner join descriptions_per_month
        on days_per_month.staff_id = descriptions_per_month.staff_id
        and days_per_month.month_start = descriptions_per_month.month_start

),

signalled as (

    select
        measured.*,
        measured.declared_days >= {{ min_declared_days }}
            and measured.exact_standard_day_share >= {{ exact_day_threshold }}
            as has_exact_day_signal,
        measured.declared_days >= {{ min_declared_days }}
            and measured.repeated_description_share >= {{ repeated_threshold }}
            as has_repeated_description_signal,
        measured.declared_days >= {{ min_declared_days }}
            and measured.bulk_late_entry_share >= {{ bulk_threshold }}
            as has_bulk_submission_signal
    from measured

)

select
    cast(staff_id as {{ dbt.type_string() }}) as staff_id,
    cast(month_start as date) as period_start,
    cast(agency_code as {{ dbt.type_string() }}) as agency_code,
    cast(declared_days as {{ dbt.type_int() }}) as declared_days,
    cast(exact_standard_days as {{ dbt.type_int() }}) as exact_standard_days,
    cast(exact_standard_day_share as double) as exact_standard_day_share,
    cast(live_entry_count as {{ dbt.type_int() }}) as live_entry_count,
    cast(distinct_description_count as {{ dbt.type_int() }}) as distinct_description_count,
    cast(repeated_description_entries as {{ dbt.type_int() }}) as repeated_description_entries,
    cast(repeated_description_share as double) as repeated_description_share,
    cast(submitted_entry_count as {{ dbt.type_int() }}) as submitted_entry_count,
    cast(late_entry_count as {{ dbt.type_int() }}) as late_entry_count,
    cast(bulk_late_entry_count as {{ dbt.type_int() }}) as bulk_late_entry_count,
    cast(bulk_late_entry_share as double) as bulk_late_entry_share,
    cast(max_submission_lag_days as {{ dbt.type_int() }}) as max_submission_lag_days,
    cast(has_exact_day_signal as {{ dbt.type_boolean() }}) as has_exact_day_signal,
    cast(has_repeated_description_signal as {{ dbt.type_boolean() }})
        as has_repeated_description_signal,
    cast(has_bulk_submission_signal as {{ dbt.type_boolean() }}) as has_bulk_submission_signal,
    cast(
        case when has_exact_day_signal then 1 else 0 end
        + case when has_repeated_description_signal then 1 else 0 end
        + case when has_bulk_submission_signal then 1 else 0 end
        as {{ dbt.type_int() }}
    ) as signal_count
from signalled
{{ cluster_by_month_and_staff('period_start') }}
