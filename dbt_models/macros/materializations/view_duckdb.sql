{#- DuckDB's views in one statement: `create or replace view`, committed once.

    dbt's own view materialisation creates the view under a temporary name, renames the old one
    away, renames the new one into place, commits, then drops the old one and commits again:
    about 0.15 s a view on DuckDB, and a one-day build re-creates a dozen views (the staging
    views first of all, before any model can start). DuckDB replaces a view atomically, so a
    reader never finds it missing. An enforced contract is checked as before; a table of the
    same name (a model that was a table) is dropped first. -#}
{% materialization view, adapter="duckdb" -%}

    {%- set existing_relation = load_cached_relation(this) -%}
    {%- set target_relation = this.incorporate(type='view') -%}
    {%- set sql_header = config.get('sql_header', none) -%}

    {{ run_hooks(pre_hooks, inside_transaction=False) }}
    {{ run_hooks(pre_hooks, inside_transaction=True) }}

    {%- if existing_relation is not none and not existing_relation.is_view %}
        {{ adapter.drop_relation(existing_relation) }}
    {%- endif %}
    {%- if config.get('contract').enforced %}
        {%- do get_assert_columns_equivalent(sql) %}
    {%- endif %}

    {% call statement('main') -%}
        {{ sql_header if sql_header is not none }}
        create or replace view {{ target_relation }} as (
            {{ sql }}
        );
    {%- endcall %}

    {% do persist_docs(target_relation, model) %}
    {{ run_hooks(post_hooks, inside_transaction=True) }}
    {{ adapter.commit() }}
    {{ run_hooks(post_hooks, inside_transaction=False) }}

    {{ return({'relations': [target_relation]}) }}

{%- endmaterialization %}
