-- metrics.md: "within one agency and period, those rated excellent may be at most 20% (var
-- excellent_quota_share) of those rated good or better (rounded down)". Also: the quota moves
-- only the lowest-ranked excellent ones (by total_score rounded to 4 decimals desc, quantity_pct
-- rounded to 4 decimals desc, staff_id asc). Returns the agency-periods that break either rule.
with scored as (

    select
        *,
        row_number() over (
            partition by agency_code, period_type, period_start
            order by
                case when classification = 'Hoàn thành xuất sắc nhiệm vụ' then 0 else 1 end,
                round(total_score, 4) desc,
                round(quantity_pct, 4) desc,
                staff_id asc
        ) as excellent_rank
    -- the periods this build rebuilt (all of them on a full build): the others were checked
    -- when they were built
    from {{ kpi_scoped_test_relation(ref('kpi_scorecard')) }}

),

per_group as (

    select
        agency_code,
        period_type,
        period_start,
        sum(case when classification in ('Hoàn thành xuất sắc nhiệm vụ', 'Hoàn thành tốt nhiệm vụ') then 1 else 0 end)
            as good_or_better,
        sum(case when final_classification = 'Hoàn thành xuất sắc nhiệm vụ' then 1 else 0 end)
            as final_excellent,
        -- the excellent ones kept must be the top-ranked ones
        max(case when final_classification = 'Hoàn thành xuất sắc nhiệm vụ' then excellent_rank end)
            as last_kept_rank
    from scored
    group by agency_code, period_type, period_start

)

select *
from per_group
where final_excellent > floor({{ var('excellent_quota_share') }} * good_or_better)
   or coalesce(last_kept_rank, 0) <> final_excellent
