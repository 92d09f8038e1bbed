{#- DuckDB's incremental materialisation, for the month-partitioned models (strategy `append`):
    their rebuilt months are inserted straight from the model's query.

    dbt-duckdb first writes the query's result into a temporary table, then copies it into the
    target. For a month of a province's worklog that copy is the costliest step of the model
    (3 million wide rows: about 5 s to compute, 8 s to copy). The pre-hook has already deleted
    those months, in the same transaction.

    Everything else (the first build, --full-refresh, other strategies, Python models) goes to
    dbt-duckdb's own materialisation. What the temporary table was also used for is kept:
    a query whose columns no longer match the table fails (on_schema_change 'fail', asking for
    --full-refresh), and an enforced contract is checked. -#}
{% materialization incremental, adapter="duckdb", supported_languages=['sql', 'python'] -%}

    {%- set existing_relation = load_cached_relation(this) -%}
    {%- if model['language'] != 'sql'
        or existing_relation is none
        or existing_relation.is_view
        or should_full_refresh()
        or config.get('incremental_strategy') != 'append'
        or config.get('on_schema_change') != 'fail' -%}
        {{ return(dbt.materialization_incremental_duckdb()) }}
    {%- endif -%}

    {%- set target_relation = this.incorporate(type='table') -%}
    {%- set table_columns = adapter.get_columns_in_relation(existing_relation)
        | map(attribute='name') | map('lower') | list -%}
    {%- set query_columns = get_column_schema_from_query(sql)
        | map(attribute='name') | map('lower') | list -%}
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

    {{ run_hooks(pre_hooks, inside_transaction=False) }}
    -- `BEGIN` happens here:
    {{ run_hooks(pre_hooks, inside_transaction=True) }}

    {%- call statement('main') -%}
        insert into {{ target_relation }} by name (
            {{ sql }}
        )
    {%- endcall -%}

    {% do persist_docs(target_relation, model) %}
    {{ run_hooks(post_hooks, inside_transaction=True) }}
    -- `COMMIT` happens here
    {% do adapter.commit() %}
    {{ run_hooks(post_hooks, inside_transaction=False) }}

    {{ return({'relations': [target_relation]}) }}

{%- endmaterialization %}
