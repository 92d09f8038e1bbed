-- Who a planner should look at for streamlining (tinh giản biên chế, Decree 154/2025/NĐ-CP), and
-- why: one line per person, agency, reason and period, with the evidence behind it.
--   year_rating_failed: the year's rating (mean of the monthly total scores, banded with the
--     evaluation bands) is the lowest band, `Không hoàn thành nhiệm vụ`;
--   low_utilization_two_quarters: utilization under var `streamlining_utilization_threshold`
--     (0.5) in two consecutive quarters at the same agency; the line sits on the second quarter.
{%- set utilization_threshold = var('streamlining_utilization_threshold', 0.5) %}

with years_rated as (

    select * from {{ ref('int_staff_years_rated') }}

),

staff_productivity as (

    select * from {{ ref('staff_productivity') }}

),

year_rows as (

    select * from staff_productivity
    where period_type = 'year'

),

quarter_rows as (

    select * from staff_productivity
    where period_type = 'quarter'
        and utilization is not null

),

failed_years as (

    select
        years_rated.staff_id,
        years_rated.agency_code,
        'year_rating_failed' as reason,
        'year' as period_type,
        years_rated.year_start as period_start,
        year_rows.position_group,
        years_rated.mean_total_score as year_mean_total_score,
        years_rated.months_scored,
        years_rated.months_imputed,
        years_rated.min_month_total_score,
        years_rated.max_month_total_score,
        years_rated.year_classification,
        cast(null as date) as previous_quarter_start,
        cast(null as double) as previous_quarter_utilization,
        cast(null as double) as previous_quarter_available_hours,
        cast(null as double) as previous_quarter_credited_hours,
        cast(null as double) as quarter_utilization,
        cast(null as double) as quarter_available_hours,
        cast(null as double) as quarter_credited_hours,
        cast(null as double) as utilization_threshold
    from years_rated
    left join year_rows
        on years_rated.staff_id = year_rows.staff_id
        and years_rated.agency_code = year_rows.agency_code
        and years_rated.year_start = year_rows.period_start
    where years_rated.is_lowest_band

),

-- Consecutive means the previous calendar quarter (so Q4 and the next year's Q1 are consecutive);
-- a quarter without available hours (utilization null) breaks the run.
low_quarter_pairs as (

    select
        current_quarter.staff_id,
        current_quarter.agency_code,
        'low_utilization_two_quarters' as reason,
        'quarter' as period_type,
        current_quarter.period_start,
        current_quarter.position_group,
        cast(null as double) as year_mean_total_score,
        cast(null as {{ dbt.type_int() }}) as months_scored,
        cast(null as {{ dbt.type_int() }}) as months_imputed,
        cast(null as double) as min_month_total_score,
        cast(null as double) as max_month_total_score,
        cast(null as {{ dbt.type_string() }}) as year_classification,
        previous_quarter.period_start as previous_quarter_start,
        previous_quarter.utilization as previous_quarter_utilization,
        previous_quarter.available_hours as previous_quarter_available_hours,
        previous_quarter.credited_hours as previous_quarter_credited_hours,
        current_quarter.utilization as quarter_utilization,
        current_quarter.available_hours as quarter_available_hours,
        current_quarter.credited_hours as quarter_credited_hours,
        {{ utilization_threshold }} as utilization_threshold
    from quarter_rows as current_quarter
    inner join quarter_rows as previous_quarter
        on current_quarter.staff_id = previous_quarter.staff_id
        and current_quarter.agency_code = previous_quarter.agency_code
        and current_quarter.period_start
            = cast({{ dbt.dateadd('month', 3, 'previous_quarter.period_start') }} as date)
    where current_quarter.utilization < {{ utilization_threshold }}
        and previous_quarter.utilization < {{ utilization_threshold }}

),

review_lines as (

    select * from failed_years
    union all
    select * from low_quarter_pairs

)

select
    cast(staff_id as {{ dbt.type_string() }}) as staff_id,
    cast(agency_code as {{ dbt.type_string() }}) as agency_code,
    cast(reason as {{ dbt.type_string() }}) as reason,
    cast(period_type as {{ dbt.type_string() }}) as period_type,
    cast(period_start as date) as period_start,
    cast(position_group as {{ dbt.type_string() }}) as position_group,
    cast(year_mean_total_score as double) as year_mean_total_score,
    cast(months_scored as {{ dbt.type_int() }}) as months_scored,
    cast(months_imputed as {{ dbt.type_int() }}) as months_imputed,
    cast(min_month_total_score as double) as min_month_total_score,
    cast(max_month_total_score as double) as max_month_total_score,
    cast(year_classification as {{ dbt.type_string() }}) as year_classification,
    cast(previous_quarter_start as date) as previous_quarter_start,
    cast(previous_quarter_utilization as double) as previous_quarter_utilization,
    cast(previous_quarter_available_hours as double) as previous_quarter_available_hours,
    cast(previous_quarter_credited_hours as double) as previous_quarter_credited_hours,
    cast(quarter_utilization as double) as quarter_utilization,
    cast(quarter_available_hours as double) as quarter_available_hours,
    cast(quarter_credited_hours as double) as quarter_credited_hours,
    cast(utilization_threshold as double) as utilization_threshold
from review_lines
