{#- A build of every month computes the largest month-partitioned models one month at a time on
    DuckDB, as a build of some months does, instead of in one query over the whole history: the
    hash tables of their joins and aggregates and their final sort then hold a month, not a
    year (a province year on a copy: int_staff_days_assembled 23.0 s -> 13.6 s, the flagged
    entries 46.6 s -> 41.4 s, the assignment days 7.0 s -> 5.2 s; the same rows).

    A model opts in with config `build_by_month`: {'months_of': a model it reads, 'date_column':
    that model's date column}, which gives the months (one chunk each). Its SQL then reads its
    inputs through the usual rebuild macros (rebuild_scope_rows, in_rebuild_months,
    overlaps_rebuild_months, in_rebuild_scope), which in a build of every month filter on two
    DuckDB variables, kpi_month_first and kpi_month_after (getvariable, folded into the scans'
    filters, so the zone maps skip the other months' row groups). Unset, as when the compiled
    SQL is run by hand or in unit tests, they keep every row. The materialisation
    (kpi_insert_in_transaction) sets them chunk by chunk and inserts the query's rows each time,
    in one transaction: the first chunk is open below (and takes rows without a date), the last
    open above, so each row falls in exactly one chunk whatever months it is given.
    Spark, whose partitions are written whole, builds every month in one query. -#}

{% macro kpi_builds_by_month() -%}
    {{ return(
        target.type == 'duckdb'
        and config.get('build_by_month') is not none
        and not rebuilds_selected_months()
    ) }}
{%- endmacro %}

{% macro kpi_month_chunk_first() -%}
    cast(getvariable('kpi_month_first') as date)
{%- endmacro %}

{% macro kpi_month_chunk_after() -%}
    cast(getvariable('kpi_month_after') as date)
{%- endmacro %}

{#- Rows whose `date_column` falls in the chunk being built (every row when none is). -#}
{% macro kpi_in_month_chunk(date_column) -%}
    {%- set first = kpi_month_chunk_first() -%}
    {%- set after = kpi_month_chunk_after() -%}
    (({{ first }} is null and ({{ date_column }} is null or {{ after }} is null
            or {{ date_column }} < {{ after }}))
        or ({{ date_column }} >= {{ first }}
            and ({{ after }} is null or {{ date_column }} < {{ after }})))
{%- endmacro %}

{#- Spans [start_date, end_date] that overlap the chunk being built (all when none is). -#}
{% macro kpi_overlaps_month_chunk(start_date, end_date) -%}
    {%- set first = kpi_month_chunk_first() -%}
    {%- set after = kpi_month_chunk_after() -%}
    (({{ after }} is null or {{ start_date }} < {{ after }})
        and ({{ first }} is null or {{ end_date }} >= {{ first }}))
{%- endmacro %}

{#- The chunks of this build of every month: [[first or none, after or none], ...], from the
    months holding rows of `build_by_month.months_of` (one chunk: every row). -#}
{% macro kpi_month_chunks() -%}
    {%- set options = config.get('build_by_month') -%}
    {%- for node in graph.nodes.values()
        if node.unique_id in model.depends_on.nodes and node.name == options['months_of'] -%}
        {%- set source_relation = api.Relation.create(
            database=node.database, schema=node.schema, identifier=node.alias) -%}
        {%- set months_sql -%}
            select distinct cast({{ dbt.date_trunc('month', options['date_column']) }} as date)
                as month_start
            from {{ source_relation }}
            where {{ options['date_column'] }} is not null
            order by month_start
        {%- endset -%}
        {%- set months = run_query(months_sql).columns[0].values() | map('string') | list -%}
        {#- chunk i runs from month i (none for the first) to month i + 1 (none for the last) -#}
        {%- set starts = [none] + months[1:] -%}
        {%- set ends = months[1:] + [none] -%}
        {%- set chunks = [] -%}
        {%- for first in starts -%}
            {%- do chunks.append([first, ends[loop.index0]]) -%}
        {%- endfor -%}
        {{ return(chunks) }}
    {%- endfor -%}
    {%- do exceptions.raise_compiler_error(
        "build_by_month of " ~ this ~ " names " ~ options['months_of']
        ~ ", which is not a model it reads"
    ) -%}
{%- endmacro %}

{#- The statements that set the chunk [first, after] (dates as 'YYYY-MM-DD', or none). -#}
{% macro kpi_set_month_chunk(first, after) -%}
    set variable kpi_month_first = {{ "cast('" ~ first ~ "' as date)" if first else 'cast(null as date)' }};
    set variable kpi_month_after = {{ "cast('" ~ after ~ "' as date)" if after else 'cast(null as date)' }};
{%- endmacro %}

{% macro kpi_reset_month_chunk() -%}
    reset variable kpi_month_first;
    reset variable kpi_month_after;
{%- endmacro %}
