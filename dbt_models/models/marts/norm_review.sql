-- Norms decide every credited hour, so each one must be reviewable against what people say the
-- work takes: for each catalogue norm (one catalogue row: agency, task, stage, valid_from) with at
-- least var `norm_review_min_entries` (30) approved entries, the median declared minutes per
-- unit against the norm, flagged when off by more than var `norm_review_tolerance` (0.5) of the
-- norm either way.
{%- set min_entries = var('norm_review_min_entries', 30) %}
{%- set tolerance = var('norm_review_tolerance', 0.5) %}

with tasks as (

    select * from {{ ref('int_tasks_versioned') }}

),

reporting_range as (

    select * from {{ ref('int_reporting_range_derived') }}

),

-- Approved current entries resolved to their norm (int_norm_declarations_resolved), inside the
-- reporting range.
declarations as (

    select declarations.*
    from {{ ref('int_norm_declarations_resolved') }} as declarations
    cross join reporting_range
    where declarations.work_date between reporting_range.range_start and reporting_range.range_end

),

-- Grouped by the norm's one integer key instead of its four columns: the aggregate then
-- hashes and compares no text per entry (assert_norm_keys_are_unique guards the key).
entries_per_norm as (

    select
        norm_key,
        count(*) as approved_entry_count,
        count(distinct staff_id) as staff_count,
        {{ exact_sum(exact_number('quantity')) }} as total_quantity,
        -- p25, median, p75
        {{ continuous_percentiles('declared_minutes_per_unit', [0.25, 0.5, 0.75]) }}
            as declared_minutes_per_unit_quartiles
    from declarations
    group by norm_key

),

reviewed as (

    select
        tasks.agency_code,
        tasks.task_code,
        tasks.stage_code,
        tasks.task_name,
        tasks.stage_name,
        tasks.task_group,
        tasks.unit,
        tasks.evidence_type,
        tasks.valid_from,
        tasks.valid_until,
        tasks.standard_minutes,
        entries_per_norm.approved_entry_count,
        entries_per_norm.staff_count,
        entries_per_norm.total_quantity,
        {{ array_item('entries_per_norm.declared_minutes_per_unit_quartiles', 1) }}
            as p25_declared_minutes_per_unit,
        {{ array_item('entries_per_norm.declared_minutes_per_unit_quartiles', 2) }}
            as median_declared_minutes_per_unit,
        {{ array_item('entries_per_norm.declared_minutes_per_unit_quartiles', 3) }}
            as p75_declared_minutes_per_unit,
        {{ array_item('entries_per_norm.declared_minutes_per_unit_quartiles', 2) }}
            / tasks.standard_minutes as declared_to_norm_ratio
    from tasks
    inner join entries_per_norm
        on tasks.norm_key = entries_per_norm.norm_key
    where entries_per_norm.approved_entry_count >= {{ min_entries }}

),

flagged as (

    select
        reviewed.*,
        -- Compared in minutes (not through the ratio) so that "exactly half off" stays unflagged.
        abs(reviewed.median_declared_minutes_per_unit - reviewed.standard_minutes)
            > {{ tolerance }} * reviewed.standard_minutes as is_flagged,
        case
            when reviewed.median_declared_minutes_per_unit - reviewed.standard_minutes
                > {{ tolerance }} * reviewed.standard_minutes
                then 'declared_above_norm'
            when reviewed.standard_minutes - reviewed.median_declared_minutes_per_unit
                > {{ tolerance }} * reviewed.standard_minutes
                then 'declared_below_norm'
        end as flag_direction
    from reviewed

)

select
    cast(agency_code as {{ dbt.type_string() }}) as agency_code,
    cast(task_code as {{ dbt.type_string() }}) as task_code,
    cast(stage_code as {{ dbt.type_string() }}) as stage_code,
    cast(task_name as {{ dbt.type_string() }}) as task_name,
    cast(stage_name as {{ dbt.type_string() }}) as stage_name,
    cast(task_group as {{ dbt.type_string() }}) as task_group,
    cast(unit as {{ dbt.type_string() }}) as unit,
    cast(evidence_type as {{ dbt.type_string() }}) as evidence_type,
    cast(valid_from as date) as valid_from,
    cast(valid_until as date) as valid_until,
    cast(standard_minutes as double) as standard_minutes,
    cast(approved_entry_count as {{ dbt.type_int() }}) as approved_entry_count,
    cast(staff_count as {{ dbt.type_int() }}) as staff_count,
    cast(total_quantity as double) as total_quantity,
    cast(p25_declared_minutes_per_unit as double) as p25_declared_minutes_per_unit,
    cast(median_declared_minutes_per_unit as double) as median_declared_minutes_per_unit,
    cast(p75_declared_minutes_per_unit as double) as p75_declared_minutes_per_unit,
    cast(declared_to_norm_ratio as double) as declared_to_norm_ratio,
    cast(is_flagged as {{ dbt.type_boolean() }}) as is_flagged,
    cast(flag_direction as {{ dbt.type_string() }}) as flag_direction,
    cast({{ tolerance }} as double) as tolerance
from flagged
