-- Hours reconcile between the two grains: for every staff-day, credited, pending and declared
-- hours and the entry counts of fct_staff_day equal the sums over the live entries of
-- worklog_evidence on that staff and date (live = approved or submitted), and every live entry
-- inside the reporting range lands on a staff-day. Returns the staff-days that differ. Both are
-- partitioned by the month of work_date: an incremental build checks the months it rebuilt.
with live_entries as (

    select
        staff_id,
        work_date,
        {{ minutes_to_hours('sum(credited_minutes)') }} as credited_hours,
        {{ minutes_to_hours('sum(pending_minutes)') }} as pending_hours,
        {{ minutes_to_hours('sum(coalesce(declared_minutes, 0))') }} as declared_hours,
        count(*) as entry_count,
        sum(case when {{ array_size('flags') }} > 0 then 1 else 0 end) as flagged_entry_count
    from {{ kpi_scoped_test_relation(ref('worklog_evidence')) }}
    where status in ('approved', 'submitted')
      and work_date between (select range_start from {{ ref('int_reporting_range_derived') }})
          and (select range_end from {{ ref('int_reporting_range_derived') }})
    group by staff_id, work_date

),

staff_days as (

    select * from {{ kpi_scoped_test_relation(ref('fct_staff_day')) }}

)

select
    coalesce(staff_days.staff_id, live_entries.staff_id) as staff_id,
    coalesce(staff_days.work_date, live_entries.work_date) as work_date,
    staff_days.credited_hours as mart_credited_hours,
    live_entries.credited_hours as entry_credited_hours,
    staff_days.entry_count as mart_entry_count,
    live_entries.entry_count as entry_entry_count
from staff_days
full outer join live_entries
    on staff_days.staff_id = live_entries.staff_id
    and staff_days.work_date = live_entries.work_date
where staff_days.staff_id is null
   or abs(staff_days.credited_hours - coalesce(live_entries.credited_hours, 0)) > 1e-9
   or abs(staff_days.pending_hours - coalesce(live_entries.pending_hours, 0)) > 1e-9
   or abs(staff_days.declared_hours - coalesce(live_entries.declared_hours, 0)) > 1e-9
   or staff_days.entry_count <> coalesce(live_entries.entry_count, 0)
   or staff_days.flagged_entry_count <> coalesce(live_entries.flagged_entry_count, 0)
