-- Decree 335/2025/NĐ-CP's 100-point scale: 30 points of general criteria (the leader's score)
-- and 70 of task results measured from quantity, quality and progress, banded into the four
-- ratings, with the quota on "excellent" applied within each agency and period.
-- Partitioned by period: a build rebuilds the months and quarters holding the months it
-- rebuilds for the entries, or that a delivered evaluation or document due in them changed
-- (the plan's `scorecard_months`), whole, for everyone (the quota ranks an agency's people).
{{ period_partitioned(scope_var='scorecard_months') }}

with staff_productivity as (

    select * from {{ ref('staff_productivity') }}
    where period_type in ('month', 'quarter')
        and {{ in_rebuilt_periods('period_type', 'period_start', scope_var='scorecard_months') }}

),

periods as (

    select * from {{ ref('int_periods_enumerated') }}

),

evaluations as (

    select
        staff_id,
        cast(concat(period, '-01') as date) as evaluation_month,
        quality_score,
        general_score
    from {{ ref('stg_kpi_tool__evaluations') }}

),

documents as (

    select * from {{ ref('stg_eoffice__documents') }}
    where direction = 'incoming'

),

weights as (

    select
        max(case when component = 'quantity' then weight end) as quantity_weight,
        max(case when component = 'quality' then weight end) as quality_weight,
        max(case when component = 'progress' then weight end) as progress_weight
    from {{ ref('score_weights') }}

),

bands as (

    select * from {{ ref('evaluation_bands') }}

),

scored_rows as (

    select
        staff_productivity.staff_id,
        staff_productivity.agency_code,
        staff_productivity.period_type,
        staff_productivity.period_start,
        staff_productivity.utilization
    from staff_productivity
    inner join periods
        on staff_productivity.period_type = periods.period_type
        and staff_productivity.period_start = periods.period_start

),

-- The periods scored (months and quarters), each with its days inside the range.
scored_periods as (

    select period_type, period_start, first_day_in_range, last_day_in_range
    from periods
    where period_type in ('month', 'quarter')
        and {{ in_rebuilt_periods('period_type', 'period_start', scope_var='scorecard_months') }}

),

-- A quarter takes the mean over its months inside the range that have an evaluation; a month
-- cut by the range edge still counts (its evaluation is dated to its first day). Evaluations
-- and documents are matched to the few periods first, then to the people's rows by key: a
-- range join against every scored row produced a row per person, period and document (at a
-- province year, 1.4 million rows for 0.8 million scored rows).
evaluation_means as (

    select
        evaluations.staff_id,
        scored_periods.period_type,
        scored_periods.period_start,
        {{ exact_mean('evaluations.quality_score') }} as quality_score,
        {{ exact_mean('evaluations.general_score') }} as general_score
    from evaluations
    inner join scored_periods
        on evaluations.evaluation_month
            >= cast({{ dbt.date_trunc('month', 'scored_periods.first_day_in_range') }} as date)
        and evaluations.evaluation_month <= scored_periods.last_day_in_range
    group by evaluations.staff_id, scored_periods.period_type, scored_periods.period_start

),

-- Incoming documents of the agency handled by the person and due in the period; one with no
-- completion date counts as late.
progress as (

    select
        documents.handler_staff_id as staff_id,
        documents.agency_code,
        scored_periods.period_type,
        scored_periods.period_start,
        1.0 * sum(
            case
                when documents.completed_date is not null
                    and documents.completed_date <= documents.due_date
                    then 1
                else 0
            end
        ) / count(*) as progress_pct
    from documents
    inner join scored_periods
        on documents.due_date between scored_periods.first_day_in_range
            and scored_periods.last_day_in_range
    where documents.handler_staff_id is not null
    group by
        documents.handler_staff_id,
        documents.agency_code,
        scored_periods.period_type,
        scored_periods.period_start

),

components as (

    select
        scored_rows.staff_id,
        scored_rows.agency_code,
        scored_rows.period_type,
        scored_rows.period_start,
        case
            when scored_rows.utilization > 1 then 1.0
            else scored_rows.utilization
        end as quantity_pct,
        evaluation_means.quality_score / 100.0 as quality_pct,
        progress.progress_pct,
        evaluation_means.general_score as leader_general_score
    from scored_rows
    left join evaluation_means
        on scored_rows.staff_id = evaluation_means.staff_id
        and scored_rows.period_type = evaluation_means.period_type
        and scored_rows.period_start = evaluation_means.period_start
    left join progress
        on scored_rows.staff_id = progress.staff_id
        and scored_rows.agency_code = progress.agency_code
        and scored_rows.period_type = progress.period_type
        and scored_rows.period_start = progress.period_start

),

-- Weights are renormalised over the percentages that have a basis.
task_scores as (

    select
        components.*,
        case
            when components.quantity_pct is null
                and components.quality_pct is null
                and components.progress_pct is null
                then null
            else 70.0 * (
                coalesce(components.quantity_pct * weights.quantity_weight, 0)
                + coalesce(components.quality_pct * weights.quality_weight, 0)
                + coalesce(components.progress_pct * weights.progress_weight, 0)
            ) / (
                case when components.quantity_pct is not null then weights.quantity_weight else 0 end
                + case when components.quality_pct is not null then weights.quality_weight else 0 end
                + case when components.progress_pct is not null then weights.progress_weight else 0 end
            )
        end as task_score
    from components
    cross join weights

),

totals as (

    select
        task_scores.*,
        coalesce(task_scores.leader_general_score, 30.0 * task_scores.task_score / 70.0)
            as general_score,
        task_scores.leader_general_score is null as general_score_imputed
    from task_scores

),

banded as (

    select
        totals.*,
        totals.general_score + totals.task_score as total_score
    from totals

),

band_matches as (

    select
        banded.staff_id,
        banded.agency_code,
        banded.period_type,
        banded.period_start,
        max(bands.band_rank) as score_band_rank
    from banded
    inner join bands
        on banded.total_score >= bands.min_score
    group by banded.staff_id, banded.agency_code, banded.period_type, banded.period_start

),

-- Without the leader's general score a person is rated at most "good" (rank 3).
classified as (

    select
        banded.*,
        case
            when banded.total_score is null then null
            when banded.general_score_imputed and coalesce(band_matches.score_band_rank, 1) > 3
                then 3
            else coalesce(band_matches.score_band_rank, 1)
        end as band_rank
    from banded
    left join band_matches
        on banded.staff_id = band_matches.staff_id
        and banded.agency_code = band_matches.agency_code
        and banded.period_type = band_matches.period_type
        and banded.period_start = band_matches.period_start

),

quota_ranked as (

    select
        classified.*,
        sum(case when classified.band_rank >= 3 then 1 else 0 end) over (
            partition by classified.agency_code, classified.period_type, classified.period_start
        ) as good_or_better_count,
        case
            when classified.band_rank = 4 then row_number() over (
                partition by
                    classified.agency_code,
                    classified.period_type,
                    classified.period_start,
                    case when classified.band_rank = 4 then 1 else 0 end
                order by
                    round(classified.total_score, 4) desc,
                    round(classified.quantity_pct, 4) desc,
                    classified.staff_id asc
            )
        end as excellent_rank
    from classified

),

final_ranked as (

    select
        quota_ranked.*,
        case
            when quota_ranked.band_rank = 4
                and quota_ranked.excellent_rank
                    > floor({{ var('excellent_quota_share') }} * quota_ranked.good_or_better_count)
                then 3
            else quota_ranked.band_rank
        end as final_band_rank
    from quota_ranked

),

final as (

    select
        final_ranked.*,
        classification_bands.classification,
        final_bands.classification as final_classification
    from final_ranked
    left join bands as classification_bands
        on final_ranked.band_rank = classification_bands.band_rank
    left join bands as final_bands
        on final_ranked.final_band_rank = final_bands.band_rank

)

select
    cast(staff_id as {{ dbt.type_string() }}) as staff_id,
    cast(agency_code as {{ dbt.type_string() }}) as agency_code,
    cast(period_type as {{ dbt.type_string() }}) as period_type,
    cast(period_start as date) as period_start,
    cast(quantity_pct as double) as quantity_pct,
    cast(quality_pct as double) as quality_pct,
    cast(progress_pct as double) as progress_pct,
    cast(task_score as double) as task_score,
    cast(general_score as double) as general_score,
    cast(general_score_imputed as {{ dbt.type_boolean() }}) as general_score_imputed,
    cast(total_score as double) as total_score,
    cast(classification as {{ dbt.type_string() }}) as classification,
    cast(final_classification as {{ dbt.type_string() }}) as final_classification
from final
