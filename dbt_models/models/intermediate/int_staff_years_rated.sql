-- The year rating for streamlining review (metrics.md, kpi_scorecard: "the mean of the year's
-- monthly total scores, banded the same way"), per person, agency and calendar year. A person
-- with scorecard rows at two agencies is rated at each agency on the months scored there (a
-- month split between them counts at both). Months without a total score (no basis) are left
-- out; the imputed-general-score cap is already inside each month's score, so the mean is banded
-- as it is.
with monthly_scores as (

    select * from {{ ref('kpi_scorecard') }}
    where period_type = 'month'
        and total_score is not null

),

bands as (

    select * from {{ ref('evaluation_bands') }}

),

lowest_band as (

    select min(band_rank) as lowest_band_rank
    from bands

),

years as (

    select
        staff_id,
        agency_code,
        cast({{ dbt.date_trunc('year', 'period_start') }} as date) as year_start,
        -- summed exactly: a mean near a band's edge must not depend on the order of the months
        {{ exact_mean('total_score') }} as mean_total_score,
        min(total_score) as min_month_total_score,
        max(total_score) as max_month_total_score,
        count(*) as months_scored,
        sum(case when general_score_imputed then 1 else 0 end) as months_imputed,
        min(period_start) as first_month_scored,
        max(period_start) as last_month_scored
    from monthly_scores
    group by
        staff_id,
        agency_code,
        cast({{ dbt.date_trunc('year', 'period_start') }} as date)

),

band_matches as (

    select
        years.staff_id,
        years.agency_code,
        years.year_start,
        max(bands.band_rank) as band_rank
    from years
    inner join bands
        on years.mean_total_score >= bands.min_score
    group by years.staff_id, years.agency_code, years.year_start

),

rated as (

    select
        years.*,
        coalesce(band_matches.band_rank, lowest_band.lowest_band_rank) as band_rank,
        coalesce(band_matches.band_rank, lowest_band.lowest_band_rank)
            = lowest_band.lowest_band_rank as is_lowest_band
    from years
    cross join lowest_band
    left join band_matches
        on years.staff_id = band_matches.staff_id
        and years.agency_code = band_matches.agency_code
        and years.year_start = band_matches.year_start

),

final as (

    select
        rated.*,
        bands.classification as year_classification
    from rated
    left join bands
        on rated.band_rank = bands.band_rank

)

select * from final
