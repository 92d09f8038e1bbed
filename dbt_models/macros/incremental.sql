{#- Month-partitioned incremental models.

    The models whose size grows with the worklog (entries and staff-days) are incremental,
    partitioned by the month of their date column. A build passes the months to rebuild in
    the plan's `rebuild_months` (a list of 'YYYY-MM-01'; kpi_rebuild_plan); the orchestrator
    derives them from what ingestion changed (audit.pending_months) plus any range asked for. Each such model:
      - selects only rows of those months (`in_rebuild_months`), reading upstream
        incremental models through the same filter;
      - removes those months from its table before inserting them again
        (`delete_rebuild_months`, a pre-hook), so a month that became empty is emptied too.
    Without a plan (a plain `dbt build`), or on the first build or with --full-refresh, the
    models compute every month (and the pre-hook empties an existing table first).

    A month can be rebuilt for some staff members only. A late document, a leave record or a
    corrected entry changes the entries and staff-days of the people it names, not everyone's:
    the plan's `entry_months` maps each month the entry and staff-day models rebuild to the
    staff_ids to rebuild in it, or to none for every staff member (`in_rebuild_scope`);
    `pattern_months` does the same for declaration_patterns, whose submission batches span a
    person's other months. A model skips the months of `rebuild_months` missing from its map.
    Without the map, and on Spark (whose partition overwrite replaces whole months), every
    listed month is rebuilt for everyone. -#}

{#- One entry of the rebuild plan: `rebuild_months`, `entry_months` or `pattern_months`.
    `kpi build` hands the plan over as JSON in the environment variable KPI_DBT_REBUILD_PLAN,
    read only when executing: dbt parses the whole project again whenever its vars change
    (about 8 s a build), and partial parsing records the environment variables read while
    parsing only. A plain `dbt build --vars '{rebuild_months: [...]}'` works as well. -#}
{% macro kpi_rebuild_plan(name) -%}
    {%- if execute -%}
        {%- set plan = env_var('KPI_DBT_REBUILD_PLAN', '') -%}
        {%- if plan -%}
            {{ return(fromjson(plan).get(name)) }}
        {%- endif -%}
    {%- endif -%}
    {{ return(var(name, none)) }}
{%- endmacro %}

{% macro rebuild_months() -%}
    {{ return(kpi_rebuild_plan('rebuild_months')) }}
{%- endmacro %}

{#- True when this run rebuilds selected months of an existing table. -#}
{% macro rebuilds_selected_months() -%}
    {#- unit tests have no `this` unless they give one -#}
    {{ return(rebuild_months() is not none and this is not none and is_incremental()) }}
{%- endmacro %}

{#- A predicate keeping rows whose date falls in a month being rebuilt; true on full builds. -#}
{% macro in_rebuild_months(date_column) -%}
    {%- if rebuilds_selected_months() -%}
        {{ in_rebuild_months_literal(date_column, rebuild_months()) }}
    {%- elif kpi_builds_by_month() -%}
        {{ kpi_in_month_chunk(date_column) }}
    {%- else -%}
        1 = 1
    {%- endif -%}
{%- endmacro %}

{#- A predicate keeping the spans [start, end] (dates) that overlap a month being rebuilt: the
    events, leave and the like that can touch a rebuilt day; true on full builds. One range per
    run of consecutive months, so a build of last January and this one reads two months of
    spans, not the year between. -#}
{% macro overlaps_rebuild_months(start_date, end_date) -%}
    {%- if rebuilds_selected_months() -%}
        {%- set predicates = [] -%}
        {%- for first, after in kpi_month_runs(rebuild_months()) -%}
            {%- do predicates.append(
                "(" ~ start_date ~ " < cast('" ~ after ~ "' as date) and "
                ~ end_date ~ " >= cast('" ~ first ~ "' as date))"
            ) -%}
        {%- endfor -%}
        ({{ predicates | join(' or ') or '1 = 0' }})
    {%- elif kpi_builds_by_month() -%}
        {{ kpi_overlaps_month_chunk(start_date, end_date) }}
    {%- else -%}
        1 = 1
    {%- endif -%}
{%- endmacro %}

{#- A predicate keeping the rows this run rebuilds: the rebuilt months, narrowed to the listed
    staff members in the months rebuilt for some of them (the var named by scope_var); true on
    full builds. staff_column none: whole months. -#}
{% macro in_rebuild_scope(date_column, staff_column='staff_id', scope_var='entry_months') -%}
    {%- if rebuilds_selected_months() -%}
        {{ in_rebuild_scope_literal(date_column, staff_column, rebuild_months(), scope_var) }}
    {%- elif kpi_builds_by_month() -%}
        {{ kpi_in_month_chunk(date_column) }}
    {%- else -%}
        1 = 1
    {%- endif -%}
{%- endmacro %}

{#- in_rebuild_scope outside a model. -#}
{% macro in_rebuild_scope_literal(date_column, staff_column, months, scope_var='entry_months') -%}
    {%- set scope = rebuild_scope_pieces(date_column, staff_column, months, scope_var) -%}
    {%- if scope.predicates | length == 0 -%}
        1 = 0
    {%- elif scope.predicates | length == 1 -%}
        {{ scope.predicates[0] }}
    {%- else -%}
        {#- the months' date ranges alone first: a filter the engine can push into the
            scan to skip other months' row groups, which the staff lists prevent -#}
        ({{ in_rebuild_months_literal(date_column, scope.months) }}
        and ({{ scope.predicates | join(' or ') }}))
    {%- endif -%}
{%- endmacro %}

{#- The rows of the rebuild scope as separate predicates, each one the engine can push into a
    table scan: the months rebuilt for everyone (date ranges), then each month rebuilt for some
    people (its date range and `staff_id in (...)`). Joined by `or` they cannot be pushed, and a
    month rebuilt for one person was read whole; read one by one (rebuild_scope_rows), DuckDB's
    zone maps skip the row groups of other months and, the partitioned tables being written in
    month and staff_id order (cluster_by_month_and_staff), of other people.
    Returns {'months': the months covered, 'predicates': [...], 'staff_conditions': [...]}, the
    last giving each piece's condition on staff alone ('1 = 1' for everyone); no predicate:
    nothing. -#}
{% macro rebuild_scope_pieces(date_column, staff_column, months, scope_var='entry_months') -%}
    {%- set entry_months = kpi_rebuild_plan(scope_var) -%}
    {%- if entry_months is none or target.type == 'spark' -%}
        {{ return({
            'months': months | sort,
            'predicates': [in_rebuild_months_literal(date_column, months)] if months else [],
            'staff_conditions': ['1 = 1'] if months else [],
        }) }}
    {%- endif -%}
    {%- if staff_column is none -%}
        {#- whole months, those of the map only: a month queued for declaration_patterns or
            kpi_scorecard alone does not change this model -#}
        {%- set mapped = [] -%}
        {%- for month in months | sort if month in entry_months -%}
            {%- do mapped.append(month) -%}
        {%- endfor -%}
        {{ return({
            'months': mapped,
            'predicates': [in_rebuild_months_literal(date_column, mapped)] if mapped else [],
            'staff_conditions': ['1 = 1'] if mapped else [],
        }) }}
    {%- endif -%}
    {%- set whole_months = [] -%}
    {%- set staff_months = [] -%}
    {%- set predicates = [] -%}
    {%- set staff_conditions = [] -%}
    {%- for month in months | sort if month in entry_months -%}
        {%- set staff_ids = entry_months[month] -%}
        {%- if staff_ids is none -%}
            {%- do whole_months.append(month) -%}
        {%- else -%}
            {%- do staff_months.append(month) -%}
            {%- set staff_condition = kpi_staff_condition(staff_column, staff_ids) -%}
            {%- do staff_conditions.append(staff_condition) -%}
            {%- do predicates.append(
                "(" ~ in_rebuild_months_literal(date_column, [month]) ~ " and " ~ staff_condition ~ ")"
            ) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if whole_months -%}
        {%- do predicates.insert(0, in_rebuild_months_literal(date_column, whole_months)) -%}
        {%- do staff_conditions.insert(0, '1 = 1') -%}
    {%- endif -%}
    {{ return({
        'months': whole_months + staff_months,
        'predicates': predicates,
        'staff_conditions': staff_conditions,
    }) }}
{%- endmacro %}

{#- `staff_column in (...)` for a list of staff_ids; '1 = 1' for none (everyone). -#}
{% macro kpi_staff_condition(staff_column, staff_ids) -%}
    {%- if staff_ids is none -%}
        {{ return('1 = 1') }}
    {%- endif -%}
    {%- set quoted = [] -%}
    {%- for staff_id in staff_ids -%}
        {%- do quoted.append("'" ~ (staff_id | replace("'", "''")) ~ "'") -%}
    {%- endfor -%}
    {{ return(staff_column ~ " in (" ~ (quoted | join(', ') or 'null') ~ ")") }}
{%- endmacro %}

{#- The rows of `relation` this run rebuilds, as a subquery for a FROM clause (alias it); the
    relation itself on full builds. One `union all` branch per piece of rebuild_scope_pieces:
    the pieces are disjoint, and each branch reads only its own row groups. -#}
{% macro rebuild_scope_rows(relation, date_column, staff_column='staff_id', scope_var='entry_months') -%}
    {%- if rebuilds_selected_months() -%}
        {{ rebuild_scope_union(relation, date_column, staff_column, rebuild_months(), scope_var) }}
    {%- elif kpi_builds_by_month() -%}
        (select * from {{ relation }} where {{ kpi_in_month_chunk(date_column) }})
    {%- else -%}
        {{ relation }}
    {%- endif -%}
{%- endmacro %}

{#- rebuild_scope_rows outside a model. -#}
{% macro rebuild_scope_union(relation, date_column, staff_column, months, scope_var='entry_months') -%}
    {%- set scope = rebuild_scope_pieces(date_column, staff_column, months, scope_var) -%}
    {%- set branches = [] -%}
    {%- for predicate in scope.predicates or ['1 = 0'] -%}
        {%- do branches.append('select * from ' ~ relation ~ ' where ' ~ predicate) -%}
    {%- endfor -%}
    ({{ branches | join(' union all ') }})
{%- endmacro %}

{#- The order a month-partitioned model writes its rows in: by month, then by staff member, so
    that the zone maps of a month rebuilt for a few people point at their row groups. A model
    whose rows come out of an aggregate, a window or a union sorts them here: a full build pays
    one sort for it (about 20 s for a province year of wide entry rows, which spill under the
    memory limit); Spark, whose partitions are whole months, skips it. -#}
{% macro cluster_by_month_and_staff(date_column, staff_column='staff_id') -%}
    {%- if target.type != 'spark' -%}
        order by {{ dbt.date_trunc('month', date_column) }}, {{ staff_column }}
    {%- endif -%}
{%- endmacro %}

{#- A model whose rows are those of a table already written in month and staff order, filtered
    and left-joined to smaller ones, writes them in that order without a sort: DuckDB keeps the
    order of the scanned rows through filters, projections and the probe side of hash joins
    (preserve_insertion_order, on in profiles.yml). It marks the model for the test that checks
    the order of every clustered table (tests/test_incremental.py), and emits nothing, unless
    `sort_rebuilt_months_by` names the date column: a build of some months then sorts its rows
    (they are few, and come from a union of the scope's pieces and from joins DuckDB may turn
    around on small inputs), while a build of every month keeps the stored order. -#}
{% macro keeps_month_and_staff_order(sort_rebuilt_months_by=none, staff_column='staff_id') -%}
    {%- if sort_rebuilt_months_by and rebuilds_selected_months() -%}
        {{ cluster_by_month_and_staff(sort_rebuilt_months_by, staff_column) }}
    {%- endif -%}
{%- endmacro %}

{% macro kpi_incremental_strategy() -%}
    {{ return(adapter.dispatch('kpi_incremental_strategy', 'kpi_warehouse')()) }}
{%- endmacro %}

{#- DuckDB: the pre-hook deletes the months, then the new rows are appended, in one
    transaction. -#}
{% macro duckdb__kpi_incremental_strategy() -%}
    {{ return('append') }}
{%- endmacro %}

{#- Spark: partitions of the rebuilt months are overwritten (dynamic partition overwrite). -#}
{% macro default__kpi_incremental_strategy() -%}
    {{ return('insert_overwrite') }}
{%- endmacro %}

{#- The pre-hook of a month-partitioned model. -#}
{% macro delete_rebuild_months(date_column, staff_column=none, scope_var='entry_months') -%}
    {{ return(adapter.dispatch('delete_rebuild_months', 'kpi_warehouse')(date_column, staff_column, scope_var)) }}
{%- endmacro %}

{% macro duckdb__delete_rebuild_months(date_column, staff_column, scope_var) -%}
    {%- if rebuilds_selected_months() -%}
        {#- one delete per piece: each finds its rows through the zone maps -#}
        {%- set scope = rebuild_scope_pieces(date_column, staff_column, rebuild_months(), scope_var) -%}
        {%- for predicate in scope.predicates or ['1 = 0'] %}
        delete from {{ this }} where {{ predicate }};
        {%- endfor -%}
    {%- elif this is not none and is_incremental() -%}
        {#- No months given (a plain `dbt build`, or a first build retried after it failed with
            some tables written): the query computes every month, so every month goes; an
            append alone would hold each entry twice. -#}
        delete from {{ this }}
    {%- endif -%}
{%- endmacro %}

{#- insert_overwrite replaces whole partitions already; nothing to delete first. -#}
{% macro default__delete_rebuild_months(date_column, staff_column, scope_var) -%}
{%- endmacro %}

{#- The config shared by every month-partitioned model. staff_column: the column whose
    staff members a month may be rebuilt for alone (in_rebuild_scope), following the var
    scope_var; none for a model whose rows mix people's (every month it rebuilds, whole). -#}
{% macro month_partitioned(date_column, staff_column='staff_id', scope_var='entry_months') -%}
    {{ config(
        materialized='incremental',
        incremental_strategy=kpi_incremental_strategy(),
        partition_by=[date_column] if target.type == 'spark' else none,
        on_schema_change='fail',
        pre_hook="{{ delete_rebuild_months('" ~ date_column ~ "', "
            ~ ("none" if staff_column is none else "'" ~ staff_column ~ "'") ~ ", '"
            ~ scope_var ~ "') }}",
        meta=month_scope_meta(date_column, staff_column, scope_var),
    ) }}
{%- endmacro %}

{#- A mart that shows the rows of one month-partitioned model with its columns cast to the
    contract (worklog_evidence, fct_staff_day). On DuckDB a view over that model: its rows are
    not written a second time, and the analysts' snapshot stores the mart as a table, month by
    month (dagster_project/snapshot.py); month_scope_meta() makes its data tests check the
    rebuilt months only, as a partitioned model's. On Spark a month-partitioned table: a Spark
    warehouse's marts are the Parquet files other tools read. -#}
{% macro partitioned_mart(date_column) -%}
    {%- if target.type == 'spark' -%}
        {{ month_partitioned(date_column) }}
    {%- else -%}
        {{ config(materialized='view', meta=month_scope_meta(date_column)) }}
    {%- endif -%}
{%- endmacro %}

{#- A mart that only renames and types the rows of one intermediate table: a view on DuckDB,
    so that a build does not write and check-point those rows a second time
    (staff_productivity: 0.4 s of node time and 10 MB of writes in a 3-month province
    warehouse's one-day build); a table on Spark, whose marts are the Parquet files other tools
    read. The analysts' snapshot stores it as a table either way. -#}
{% macro projection_mart() -%}
    {%- if target.type != 'spark' -%}
        {{ config(materialized='view') }}
    {%- endif -%}
{%- endmacro %}

{#- What a partitioned_mart() reads of `relation`: every row in the view, the rebuild scope in
    the table. -#}
{% macro partitioned_mart_rows(relation, date_column) -%}
    {%- if target.type == 'spark' -%}
        {{ rebuild_scope_rows(relation, date_column) }}
    {%- else -%}
        {{ relation }}
    {%- endif -%}
{%- endmacro %}

{#- The meta that says a model's rows change by month (and by staff member in a month rebuilt
    for some): its data tests then check the rebuilt scope only (kpi_scoped_test_relation), and
    the orchestrator and the snapshot treat it as partitioned. month_partitioned() sets it;
    partitioned_mart() sets it alone on its view. -#}
{% macro month_scope_meta(date_column, staff_column='staff_id', scope_var='entry_months') -%}
    {{ return({
        'month_partition_column': date_column,
        'staff_scope_column': staff_column,
        'staff_scope_var': scope_var,
    }) }}
{%- endmacro %}

{#- Data tests of a month-partitioned model check the rebuilt months only: the other months
    were checked when they were built and have not changed. dbt wraps every test's relation
    through this macro; singular tests call kpi_scoped_test_relation themselves. A model that
    is not partitioned but whose rows only change in queued months (the staging view of the
    worklog) scopes its tests the same way with meta `month_scope_column`. -#}
{% macro default__get_where_subquery(relation) -%}
    {{ return(kpi_scoped_test_relation(relation)) }}
{%- endmacro %}

{% macro kpi_scoped_test_relation(relation) -%}
    {%- set where = config.get('where') -%}
    {%- set partition_column = none -%}
    {%- set months = rebuild_months() -%}
    {%- set delivered_scope = kpi_new_deliveries_relation(relation) -%}
    {%- if delivered_scope is not none -%}
        {%- if where -%}
            {{ return("(select * from " ~ delivered_scope ~ " where " ~ where ~ ") dbt_subquery") }}
        {%- endif -%}
        {{ return(delivered_scope) }}
    {%- endif -%}
    {%- if months is not none and execute -%}
        {%- for node in graph.nodes.values()
            if node.resource_type == 'model'
            and (node.alias or node.name) | lower == relation.identifier | lower
            and node.schema | lower == relation.schema | lower -%}
            {%- if node.config.meta.get('period_partition_column') -%}
                {#- a period-partitioned model: the rebuilt periods -#}
                {%- set scoped = "(select * from " ~ relation ~ " where "
                    ~ in_rebuilt_periods_literal('period_type', node.config.meta['period_partition_column'],
                        node.config.meta.get('staff_scope_column', 'staff_id'),
                        node.config.meta.get('period_scope_var', 'entry_months'))
                    ~ (" and (" ~ where ~ ")" if where else "") ~ ") dbt_subquery" -%}
                {{ return(scoped) }}
            {%- endif -%}
            {%- set partition_column = node.config.meta.get('month_partition_column')
                or node.config.meta.get('month_scope_column') -%}
            {%- set staff_column = node.config.meta.get('staff_scope_column') -%}
            {%- set scope_var = node.config.meta.get('staff_scope_var', 'entry_months') -%}
            {%- if partition_column -%}
                {%- set scoped = rebuild_scope_union(relation, partition_column, staff_column, months, scope_var) ~ " dbt_subquery" -%}
                {%- if where -%}
                    {%- set scoped = "(select * from " ~ scoped ~ " where " ~ where ~ ") dbt_subquery" -%}
                {%- endif -%}
                {{ return(scoped) }}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {%- if where -%}
        {{ return("(select * from " ~ relation ~ " where " ~ where ~ ") dbt_subquery") }}
    {%- endif -%}
    {{ return(relation) }}
{%- endmacro %}

{#- Data tests of a raw source check the rows loaded since the last successful build only
    (the plan's `tested_through_delivery`: rows with a later `_delivery_id`), as the tests of
    a month-partitioned model check its rebuilt months. Ingestion never changes a stored row in
    place: a changed row is deleted and loaded again under the new delivery, so the rows
    checked before are still there unchanged. A `unique` test reads every row sharing a key
    with a new row, so a key loaded again beside its old row still fails it. None: no scope
    (no plan, a full build, or a relation that is not a source with `_delivery_id`). -#}
{% macro kpi_new_deliveries_relation(relation) -%}
    {%- set through = kpi_rebuild_plan('tested_through_delivery') -%}
    {%- if through is none or not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {%- for source_node in graph.sources.values()
        if (source_node.identifier or source_node.name) | lower == relation.identifier | lower
        and source_node.schema | lower == relation.schema | lower
        and '_delivery_id' in source_node.columns -%}
        {%- set delivered = "_delivery_id > " ~ (through | int) -%}
        {%- set test = model.get('test_metadata') or {} -%}
        {%- set column = (test.get('kwargs') or {}).get('column_name') -%}
        {%- if test.get('name') == 'unique' and column -%}
            {{ return("(select * from " ~ relation ~ " where " ~ column ~ " in (select " ~ column
                ~ " from " ~ relation ~ " where " ~ delivered ~ ")) dbt_subquery") }}
        {%- endif -%}
        {{ return("(select * from " ~ relation ~ " where " ~ delivered ~ ") dbt_subquery") }}
    {%- endfor -%}
    {{ return(none) }}
{%- endmacro %}

{#- in_rebuild_months outside a model (tests have no is_incremental()).
    Consecutive months become one date range, `d >= first day and d < day after`, not a test
    on date_trunc(d): a range on the bare column lets the engine skip the row groups (DuckDB
    zone maps) or partitions (Spark) of other months, so a rebuild reads what it rebuilds. -#}
{% macro in_rebuild_months_literal(date_column, months) -%}
    {%- if months | length == 0 -%}
        1 = 0
    {%- else -%}
        {%- set predicates = [] -%}
        {%- for first, after in kpi_month_runs(months) -%}
            {%- do predicates.append(
                "(" ~ date_column ~ " >= cast('" ~ first ~ "' as date) and "
                ~ date_column ~ " < cast('" ~ after ~ "' as date))"
            ) -%}
        {%- endfor -%}
        {%- if predicates | length == 1 -%}
            {{ predicates[0] }}
        {%- else -%}
            ({{ predicates | join(' or ') }})
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}

{#- [first month, month after] of each run of consecutive months of a list of 'YYYY-MM-01'. -#}
{% macro kpi_month_runs(months) -%}
    {%- set runs = [] -%}
    {%- for month in months | sort -%}
        {%- if runs and runs[-1][1] == month -%}
            {%- set run = runs.pop() -%}
            {%- do runs.append([run[0], kpi_next_month(month)]) -%}
        {%- else -%}
            {%- do runs.append([month, kpi_next_month(month)]) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(runs) }}
{%- endmacro %}

{#- 'YYYY-MM-01' of the month after a 'YYYY-MM-01'. -#}
{% macro kpi_next_month(month) -%}
    {%- set year = month[0:4] | int -%}
    {%- set month_number = month[5:7] | int -%}
    {%- if month_number == 12 -%}
        {{ return('%04d-01-01' % (year + 1)) }}
    {%- else -%}
        {{ return('%04d-%02d-01' % (year, month_number + 1)) }}
    {%- endif -%}
{%- endmacro %}

{#- Period-partitioned models: rows of reporting periods (months, quarters, years) summed from
    a month-partitioned model. A rebuilt month changes its month, its quarter and its year, for
    the staff members it was rebuilt for (the plan's `entry_months`), and nothing else: such a
    model rebuilds those periods' rows alone (in_rebuilt_periods), from the months of their
    years (in_rebuilt_periods_months), after deleting them (delete_rebuild_periods, a
    pre-hook). At a province year the staff-periods are 0.9 M rows, rebuilt whole by every
    one-day build before (1.2 s). On Spark a table: its partitions would be whole periods. -#}
{% macro period_partitioned(staff_column='staff_id', scope_var='entry_months') -%}
    {{ config(
        materialized=('table' if target.type == 'spark' else 'incremental'),
        incremental_strategy=kpi_incremental_strategy(),
        on_schema_change='fail',
        pre_hook="{{ delete_rebuild_periods('" ~ staff_column ~ "', '" ~ scope_var ~ "') }}",
        meta=period_scope_meta(staff_column, scope_var),
    ) }}
{%- endmacro %}

{#- The meta that says a model's rows change by period: its data tests then check the rebuilt
    periods only (kpi_scoped_test_relation), and the snapshot republishes them alone
    (dagster_project/snapshot.py, PERIOD_MARTS). period_partitioned() sets it; a view over
    such a model (staff_productivity) sets it alone. -#}
{% macro period_scope_meta(staff_column='staff_id', scope_var='entry_months') -%}
    {{ return({
        'period_partition_column': 'period_start',
        'staff_scope_column': staff_column,
        'period_scope_var': scope_var,
    }) }}
{%- endmacro %}

{#- [{'month': 'YYYY-MM-01', 'staff_condition': ...}] of the months this run rebuilds, each
    with its condition on staff (rebuild_scope_pieces' reading of the plan). -#}
{% macro rebuild_period_pieces(staff_column, scope_var) -%}
    {%- set entry_months = kpi_rebuild_plan(scope_var) -%}
    {%- set pieces = [] -%}
    {%- for month in rebuild_months() | sort -%}
        {%- if entry_months is none or target.type == 'spark' -%}
            {%- do pieces.append({'month': month, 'staff_condition': '1 = 1'}) -%}
        {%- elif month in entry_months -%}
            {%- do pieces.append({
                'month': month,
                'staff_condition': kpi_staff_condition(staff_column, entry_months[month]),
            }) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(pieces) }}
{%- endmacro %}

{#- A predicate keeping the period rows (period_type, period_start) a rebuilt month changes:
    its month, quarter and year, narrowed to the staff it was rebuilt for; true on full
    builds. -#}
{% macro in_rebuilt_periods(period_type_column, period_start_column, staff_column='staff_id', scope_var='entry_months') -%}
    {%- if rebuilds_selected_months() -%}
        {{ in_rebuilt_periods_literal(period_type_column, period_start_column, staff_column, scope_var) }}
    {%- else -%}
        1 = 1
    {%- endif -%}
{%- endmacro %}

{#- in_rebuilt_periods outside a model (tests have no is_incremental()). -#}
{% macro in_rebuilt_periods_literal(period_type_column, period_start_column, staff_column='staff_id', scope_var='entry_months') -%}
        {%- set predicates = [] -%}
        {%- for piece in rebuild_period_pieces(staff_column, scope_var) -%}
            {%- set month = piece.month -%}
            {%- set quarter = '%s-%02d-01' % (month[0:4], ((month[5:7] | int) - 1) // 3 * 3 + 1) -%}
            {%- set periods = [] -%}
            {%- for period_type, period_start in [('month', month), ('quarter', quarter), ('year', month[0:4] ~ '-01-01')] -%}
                {%- do periods.append(
                    "(" ~ period_type_column ~ " = '" ~ period_type ~ "' and " ~ period_start_column
                    ~ " = cast('" ~ period_start ~ "' as date))"
                ) -%}
            {%- endfor -%}
            {%- do predicates.append("((" ~ periods | join(' or ') ~ ") and " ~ piece.staff_condition ~ ")") -%}
        {%- endfor -%}
        ({{ predicates | join(' or ') or '1 = 0' }})
{%- endmacro %}

{#- A predicate keeping the month rows that make up the periods in_rebuilt_periods keeps: the
    months of each rebuilt month's year (its quarter and month lie inside), for the same staff;
    true on full builds. -#}
{% macro in_rebuilt_periods_months(month_column, staff_column='staff_id', scope_var='entry_months') -%}
    {%- if rebuilds_selected_months() -%}
        {{ in_rebuilt_periods_months_literal(month_column, staff_column, scope_var) }}
    {%- else -%}
        1 = 1
    {%- endif -%}
{%- endmacro %}

{#- in_rebuilt_periods_months outside a model. -#}
{% macro in_rebuilt_periods_months_literal(month_column, staff_column='staff_id', scope_var='entry_months') -%}
        {%- set predicates = [] -%}
        {%- for piece in rebuild_period_pieces(staff_column, scope_var) -%}
            {%- set year = piece.month[0:4] | int -%}
            {%- do predicates.append(
                "(" ~ month_column ~ " >= cast('" ~ year ~ "-01-01' as date) and " ~ month_column
                ~ " < cast('" ~ (year + 1) ~ "-01-01' as date) and " ~ piece.staff_condition ~ ")"
            ) -%}
        {%- endfor -%}
        ({{ predicates | join(' or ') or '1 = 0' }})
{%- endmacro %}

{#- The pre-hook of a period-partitioned model. -#}
{% macro delete_rebuild_periods(staff_column, scope_var) -%}
    {%- if rebuilds_selected_months() -%}
        delete from {{ this }}
        where {{ in_rebuilt_periods('period_type', 'period_start', staff_column, scope_var) }}
    {%- elif this is not none and is_incremental() -%}
        {#- no months given: the query computes every period (duckdb__delete_rebuild_months) -#}
        delete from {{ this }}
    {%- endif -%}
{%- endmacro %}
