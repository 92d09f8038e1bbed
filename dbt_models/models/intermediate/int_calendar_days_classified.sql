-- Every day the warehouse reasons about (the reporting range, widened to any work_date outside
-- it so each entry can be classified), with the civil-service working-day rule: Monday–Friday
-- unless a public holiday, plus compensatory working Saturdays (seed calendar_exceptions).
with reporting_range as (

    select * from {{ ref('int_reporting_range_derived') }}

),

calendar_bounds as (

    select
        case when first_work_date < range_start then first_work_date else range_start end
            as first_day,
        case when last_work_date > range_end then last_work_date else range_end end
            as last_day,
        range_start,
        range_end
    from reporting_range

),

-- 2^16 days (about 179 years) from 2000-01-01 covers any plausible range.
day_numbers as (

    {{ dbt.generate_series(65536) }}

),

days as (

    select
        cast({{ dbt.dateadd('day', 'cast(day_numbers.generated_number as integer) - 1', "cast('2000-01-01' as date)") }} as date)
            as calendar_date
    from day_numbers

),

days_in_bounds as (

    select
        days.calendar_date,
        calendar_bounds.range_start,
        calendar_bounds.range_end
    from days
    inner join calendar_bounds
        on days.calendar_date between calendar_bounds.first_day and calendar_bounds.last_day

),

exceptions as (

    select
        cast(date as date) as exception_date,
        day_kind,
        name as exception_name
    from {{ ref('calendar_exceptions') }}

),

classified as (

    select
        days_in_bounds.calendar_date,
        {{ iso_day_of_week('days_in_bounds.calendar_date') }} as iso_day_of_week,
        exceptions.day_kind as exception_kind,
        exceptions.exception_name,
        days_in_bounds.calendar_date between days_in_bounds.range_start
            and days_in_bounds.range_end as is_in_reporting_range
    from days_in_bounds
    left join exceptions
        on days_in_bounds.calendar_date = exceptions.exception_date

),

final as (

    select
        calendar_date,
        iso_day_of_week,
        case
            when exception_kind = 'working_day' then true
            when exception_kind = 'holiday' then false
            else iso_day_of_week <= 5
        end as is_working_day,
        case
            when exception_kind = 'working_day' then 'compensatory_working_day'
            when exception_kind = 'holiday' then 'holiday'
            when iso_day_of_week <= 5 then 'weekday'
            else 'weekend'
        end as day_kind,
        exception_name,
        is_in_reporting_range
    from classified

)

select * from final
