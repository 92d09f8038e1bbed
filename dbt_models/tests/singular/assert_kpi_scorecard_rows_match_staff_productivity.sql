-- kpi_scorecard has exactly one row for every month and quarter row of staff_productivity, and
-- no other. Returns the keys present on one side only. A build of some months compares the
-- periods kpi_scorecard rebuilt (they hold every period staff_productivity changed in).
{%- set rebuilt = "1 = 1" if rebuild_months() is none
    else in_rebuilt_periods_literal('period_type', 'period_start', 'staff_id', 'scorecard_months') %}
with scorecard as (

    select staff_id, agency_code, period_type, period_start
    from {{ ref('kpi_scorecard') }}
    where {{ rebuilt }}

),

productivity as (

    select staff_id, agency_code, period_type, period_start
    from {{ ref('staff_productivity') }}
    where period_type in ('month', 'quarter')
        and {{ rebuilt }}

),

only_in_scorecard as (

    select *, 'only_in_kpi_scorecard' as problem from scorecard
    except
    select *, 'only_in_kpi_scorecard' as problem from productivity

),

only_in_productivity as (

    select *, 'only_in_staff_productivity' as problem from productivity
    except
    select *, 'only_in_staff_productivity' as problem from scorecard

)

select * from only_in_scorecard
union all
select * from only_in_productivity
