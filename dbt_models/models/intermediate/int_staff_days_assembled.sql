-- The staff-day: one row per staff member and day inside the reporting range that is active
-- (a working day with an assignment) or carries a live entry. Hours and counts come from live
-- entries; evidence minutes are kept so that periods can pool the evidence rate.
{{ month_partitioned('work_date') }}
{#- A build of every month computes it month by month (macros/build_by_month.sql). -#}
{{ config(build_by_month={'months_of': 'int_staff_assignment_days_expanded', 'date_column': 'work_date'}) }}

with assignment_days as (

    select * from {{ rebuild_scope_rows(ref('int_staff_assignment_days_expanded'), 'work_date') }}
        as assignment_days
    where is_in_reporting_range

),

calendar_days as (

    select * from {{ ref('int_calendar_days_classified') }}
    where is_in_reporting_range and {{ in_rebuild_months('calendar_date') }}

),

leave_days as (

    select * from {{ rebuild_scope_rows(ref('int_leave_days_expanded'), 'leave_date') }} as leave_days

),

live_entries as (

    select * from {{ rebuild_scope_rows(ref('int_worklog_entries_flagged'), 'work_date') }} as flagged
    where is_live

),

entries_per_staff_day as (

    select
        staff_id,
        work_date,
        -- exact sums of the entries' fixed-point minutes (type_exact_sum)
        {{ exact_sum('credited_minutes') }} as credited_minutes,
        {{ exact_sum('pending_minutes') }} as pending_minutes,
        -- counts as bigint: DuckDB sums integers into a 128-bit hugeint, three times slower
        -- to scan for the views and tests that read every staff-day
        cast(sum(coalesce(declared_minutes, 0)) as {{ dbt.type_bigint() }}) as declared_minutes,
        count(*) as entry_count,
        cast(sum(case when is_flagged then 1 else 0 end) as {{ dbt.type_bigint() }})
            as flagged_entry_count,
        {{ exact_sum(
            "case when evidence_status = 'evidenced' then credited_minutes else 0 end"
        ) }} as evidenced_credited_minutes,
        {{ exact_sum(
            "case when evidence_type is not null and evidence_type <> 'none' "
            ~ "then credited_minutes else 0 end"
        ) }} as evidence_required_credited_minutes
    from live_entries
    group by staff_id, work_date

),

-- The staff-days are the assignment's working days and the days with live entries: one full
-- join of the two by person and day, not a union of their keys joined back to each (a province
-- year: 57 s of operator time became 19 s, the union's distinct and the joins back each
-- hashing 11 million keys). Leave counts on active days only, so it is looked up for the
-- assignment's days, before the join.
staff_day_sources as (

    select
        coalesce(assignment_days.staff_id, entries_per_staff_day.staff_id) as staff_id,
        coalesce(assignment_days.work_date, entries_per_staff_day.work_date) as work_date,
        assignment_days.agency_code,
        assignment_days.department,
        assignment_days.position_code,
        assignment_days.position_group,
        leave_days.leave_hours,
        entries_per_staff_day.credited_minutes,
        entries_per_staff_day.pending_minutes,
        entries_per_staff_day.declared_minutes,
        entries_per_staff_day.entry_count,
        entries_per_staff_day.flagged_entry_count,
        entries_per_staff_day.evidenced_credited_minutes,
        entries_per_staff_day.evidence_required_credited_minutes
    from assignment_days
    left join leave_days
        on assignment_days.staff_id = leave_days.staff_id
        and assignment_days.work_date = leave_days.leave_date
    full outer join entries_per_staff_day
        on assignment_days.staff_id = entries_per_staff_day.staff_id
        and assignment_days.work_date = entries_per_staff_day.work_date
    where assignment_days.is_working_day or entries_per_staff_day.staff_id is not null

),

-- the calendar's days of the reporting range (and of the months rebuilt) only
assembled as (

    select
        staff_day_sources.staff_id,
        staff_day_sources.work_date,
        staff_day_sources.agency_code,
        staff_day_sources.department,
        staff_day_sources.position_code,
        staff_day_sources.position_group,
        calendar_days.is_working_day,
        calendar_days.is_working_day and staff_day_sources.agency_code is not null as is_active,
        case
            when calendar_days.is_working_day and staff_day_sources.agency_code is not null
                then coalesce(staff_day_sources.leave_hours, 0)
            else 0
        end as leave_hours,
        coalesce(staff_day_sources.credited_minutes, 0) as credited_minutes,
        coalesce(staff_day_sources.pending_minutes, 0) as pending_minutes,
        coalesce(staff_day_sources.declared_minutes, 0) as declared_minutes,
        coalesce(staff_day_sources.entry_count, 0) as entry_count,
        coalesce(staff_day_sources.flagged_entry_count, 0) as flagged_entry_count,
        coalesce(staff_day_sources.evidenced_credited_minutes, 0)
            as evidenced_credited_minutes,
        coalesce(staff_day_sources.evidence_required_credited_minutes, 0)
            as evidence_required_credited_minutes
    from staff_day_sources
    inner join calendar_days
        on staff_day_sources.work_date = calendar_days.calendar_date

),

final as (

    select
        assembled.*,
        case
            when is_active then {{ var('standard_day_hours') }} - leave_hours
            else 0
        end as available_hours,
        -- the periods sum the minutes, not these hours (type_exact_number)
        {{ minutes_to_hours('credited_minutes') }} as credited_hours,
        {{ minutes_to_hours('pending_minutes') }} as pending_hours,
        {{ minutes_to_hours('declared_minutes') }} as declared_hours
    from assembled

)

-- Sorted by month and staff_id like the other partitioned models: the joins above write their
-- rows in no order, and unsorted, every row group of a province year spanned all twelve months,
-- so the readers of a rebuilt month (the staff-months, fct_staff_day's tests, the snapshot)
-- scanned the whole history. The sort costs a province year's full build 1.7 s of this model's
-- 15 s on a copy (3.7 s between two benchmark runs; an earlier sort here ran out of 3 GB);
-- a one-day build at 12 months took 24.7 s instead of 27.1 s (means of 3 runs).
select * from final
{{ cluster_by_month_and_staff('work_date') }}
