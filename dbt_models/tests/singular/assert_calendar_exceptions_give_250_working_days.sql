-- vn-calendar.md: "With these, 2025 has 250 working days and so does 2026."
-- Independent of the models (which only span the reporting range): an own date spine over
-- 2025-01-01 .. 2026-12-31, the Monday–Friday rule and the calendar_exceptions seed.
-- Returns the years whose count is not 250.
with day_numbers as (

    {{ dbt.generate_series(730) }}

),

days as (

    select
        cast({{ dbt.dateadd('day', 'cast(generated_number as integer) - 1', "cast('2025-01-01' as date)") }} as date)
            as calendar_date
    from day_numbers

),

exceptions as (

    select cast(date as date) as exception_date, day_kind
    from {{ ref('calendar_exceptions') }}

),

classified as (

    select
        extract(year from days.calendar_date) as calendar_year,
        case
            when exceptions.day_kind = 'working_day' then 1
            when exceptions.day_kind = 'holiday' then 0
            when {{ iso_day_of_week('days.calendar_date') }} <= 5 then 1
            else 0
        end as is_working_day
    from days
    left join exceptions
        on days.calendar_date = exceptions.exception_date

),

per_year as (

    select calendar_year, sum(is_working_day) as working_days, count(*) as days
    from classified
    group by calendar_year

)

select *
from per_year
where working_days <> 250
   or days not in (365, 366)
   or calendar_year not in (2025, 2026)
