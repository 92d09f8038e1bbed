{#- DuckDB's incremental materialisation, for the month-partitioned models (strategy `append`):
    their rebuilt months are inserted straight from the model's query.

    dbt-duckdb first writes the query's result into a temporary table, then copies it into the
    target. For a month of a province's worklog that copy is the costliest step of the model
    (3 million wide rows: about 5 s to compute, 8 s to copy). The pre-hook has already deleted
    those months, in the same transaction.

    A model with config `column_compression` ({column: method}) or `build_by_month`
    (macros/build_by_month.sql) is created by kpi_create_then_insert below on its first build
    and at --full-refresh.

    Everything else (the first build, --full-refresh, other strategies, Python models) goes to
    dbt-duckdb's own materialisation. What the temporary table was also used for is kept:
    a query whose columns (names or types) no longer match the table fails (on_schema_change
    'fail', asking for --full-refresh), and an enforced contract is checked. -#}
{% materialization incremental, adapter="duckdb", supported_languages=['sql', 'python'] -%}

    {%- set existing_relation = load_cached_relation(this) -%}
    {%- if model['language'] == 'sql'
        and (config.get('column_compression') or config.get('build_by_month'))
        and not config.get('contract').enforced
        and (existing_relation is none
            or (should_full_refresh() and not existing_relation.is_view)) -%}
        {{ return(kpi_create_then_insert(existing_relation)) }}
    {%- endif -%}
    {%- if model['language'] != 'sql'
        or existing_relation is none
        or existing_relation.is_view
        or should_full_refresh()
        or config.get('incremental_strategy') != 'append'
        or config.get('on_schema_change') != 'fail' -%}
        {{ return(dbt.materialization_incremental_duckdb()) }}
    {%- endif -%}

    {%- set target_relation = this.incorporate(type='table') -%}
    {#- Names and types (both as DuckDB's DESCRIBE spells them): a column whose type changed
        would take the new rows cast to the old type. -#}
    {%- set table_columns = [] -%}
    {%- for column in adapter.get_columns_in_relation(existing_relation) -%}
        {%- do table_columns.append(column.name | lower ~ ' ' ~ column.dtype | lower) -%}
    {%- endfor -%}
    {%- set query_columns = [] -%}
    {%- for column in get_column_schema_from_query(sql) -%}
        {%- do query_columns.append(column.name | lower ~ ' ' ~ column.dtype | lower) -%}
    {%- endfor -%}
    {%- if table_columns | sort != query_columns | sort -%}
        {%- do exceptions.raise_compiler_error(
            "The columns of " ~ target_relation ~ " changed (in the query, not the table: "
            ~ (query_columns | reject('in', table_columns) | list) ~ "; in the table, not the "
            ~ "query: " ~ (table_columns | reject('in', query_columns) | list)
            ~ "). Rebuild it with --full-refresh (kpi build --full-refresh)."
        ) -%}
    {%- endif -%}
    {%- if config.get('contract').enforced -%}
        {%- do get_assert_columns_equivalent(sql) -%}
    {%- endif -%}

    {{ return(kpi_insert_in_transaction(target_relation)) }}

{%- endmaterialization %}


{#- The model's rows inserted into `target_relation` between its hooks, in one transaction,
    after the statements `before_insert` (SQL, or ''); in a build of every month of a model
    with config `build_by_month`, one insert per month (macros/build_by_month.sql). -#}
{% macro kpi_insert_in_transaction(target_relation, before_insert='') -%}
    {{ run_hooks(pre_hooks, inside_transaction=False) }}
    -- `BEGIN` happens here:
    {{ run_hooks(pre_hooks, inside_transaction=True) }}

    {%- set chunks = kpi_month_chunks() if kpi_builds_by_month() else [none] -%}
    {%- call statement('main') -%}
        {{ before_insert }}
        {%- for chunk in chunks %}
        {%- if chunk is not none %}
        {{ kpi_set_month_chunk(chunk[0], chunk[1]) }}
        {%- endif %}
        insert into {{ target_relation }} by name (
            {{ sql }}
        );
        {%- endfor %}
        {%- if chunks != [none] %}
        {{ kpi_reset_month_chunk() }}
        {%- endif %}
    {%- endcall -%}

    {% do persist_docs(target_relation, model) %}
    {{ run_hooks(post_hooks, inside_transaction=True) }}
    -- `COMMIT` happens here
    {% do adapter.commit() %}
    {{ run_hooks(post_hooks, inside_transaction=False) }}

    {{ return({'relations': [target_relation]}) }}
{%- endmacro %}


{#- The first build, or a --full-refresh, of a model with config `column_compression`
    ({column: DuckDB compression method}) or `build_by_month`: the table is created (with those
    columns' methods, USING COMPRESSION), then filled from the model's query (month by month for
    `build_by_month`), in one transaction. A column keeps its method in every later insert.
    DuckDB otherwise picks a method per column segment, trying each: for a text column whose
    values are all different (a worklog entry's id) its dictionary is tried on every value and
    never kept (33 million entry ids at a province year: 9.0 s of CPU to write with DuckDB's
    choice, 3.6 s with ZSTD, 176 MB against 211 MB).
    A database file of a storage version before v1.2.0 has no ZSTD for text, and DuckDB would
    store such a column uncompressed: there the method is left to DuckDB
    (kpi_storage_version_at_least). -#}
{% macro kpi_create_then_insert(existing_relation) -%}
    {%- set target_relation = this.incorporate(type='table') -%}
    {%- set methods = {} -%}
    {%- if kpi_storage_version_at_least(target_relation.database, [1, 2, 0]) -%}
        {%- for column_name, method in (config.get('column_compression') or {}).items() -%}
            {%- do methods.update({column_name | lower: method}) -%}
        {%- endfor -%}
    {%- endif -%}
    {%- set columns = get_column_schema_from_query(sql) -%}
    {%- set create_table -%}
        {%- if existing_relation is not none %}
        drop table {{ existing_relation }};
        {%- endif %}
        create table {{ target_relation }} (
            {%- for column in columns %}
            {{ adapter.quote(column.name) }} {{ column.dtype }}
            {%- if column.name | lower in methods %} using compression {{ methods[column.name | lower] }}{% endif %}
            {{- "," if not loop.last }}
            {%- endfor %}
        );
    {%- endset -%}
    {{ return(kpi_insert_in_transaction(target_relation, create_table)) }}
{%- endmacro %}

{#- Whether the DuckDB database `database` is stored in a storage version of at least
    `version` ([major, minor, patch]): duckdb_databases() tags it, e.g. 'v1.4.0+'. -#}
{% macro kpi_storage_version_at_least(database, version) -%}
    {%- set found = run_query(
        "select tags['storage_version'] from duckdb_databases() where database_name = '"
        ~ database ~ "'"
    ) -%}
    {%- set stored = found.columns[0].values()[0] if found and found.rows | length else none -%}
    {%- if not stored -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set parts = stored.replace('v', '').replace('+', '').split('.') -%}
    {{ return(parts | map('int') | list >= version) }}
{%- endmacro %}
