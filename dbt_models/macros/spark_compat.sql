{#- What the models need from Apache Spark (dbt-spark) beyond dbt's cross-database macros.
    Everything here is either a `spark__` implementation of a dispatched macro or acts only when
    target.type == 'spark'; on DuckDB nothing in this file changes the SQL. -#}


{#- ---------------------------------------------------------------------------------------------
    Sources: raw.* on Spark are external Parquet tables over the export that `kpi build --engine
    spark` writes after ingestion (one folder per raw table). Run as an on-run-start hook: every
    dbt invocation on Spark (re)points each source table of schema `raw` at its folder, so a new
    export, a moved folder or a changed column list is picked up. A managed table of that name
    is never dropped: the hook fails instead (it would hold data the export did not write).
--------------------------------------------------------------------------------------------- -#}
{% macro spark_raw_parquet_dir() -%}
    {{- env_var('KPI_SPARK_RAW_DIR', env_var('KPI_SPARK_DIR', '../data/spark') ~ '/raw') -}}
{%- endmacro %}

{% macro register_spark_raw_sources() %}
    {%- if execute and target.type == 'spark' -%}
        {%- set location = spark_raw_parquet_dir() -%}
        {%- set raw_tables = [] -%}
        {%- for source in graph.sources.values() if source.schema == 'raw' -%}
            {%- do raw_tables.append(source.identifier) -%}
        {%- endfor -%}
        {%- do run_query('create schema if not exists raw') -%}
        {%- set existing = run_query('show tables in raw').columns['tableName'].values() -%}
        {%- for table in raw_tables | unique | sort -%}
            {%- if table in existing -%}
                {%- set described = run_query('describe table extended raw.' ~ table) -%}
                {%- set kind = [] -%}
                {%- for row in described.rows if row[0] == 'Type' -%}
                    {%- do kind.append(row[1] | trim | upper) -%}
                {%- endfor -%}
                {%- if kind != ['EXTERNAL'] -%}
                    {{ exceptions.raise_compiler_error(
                        'raw.' ~ table ~ ' exists on Spark and is not an external table over the '
                        ~ 'Parquet export; drop or rename it before building') }}
                {%- endif -%}
                {%- do run_query('drop table raw.' ~ table) -%}
            {%- endif -%}
            {%- do run_query(
                'create table raw.' ~ table ~ " using parquet location '"
                ~ location ~ '/' ~ table ~ "'") -%}
        {%- endfor -%}
        {%- do log('Spark sources: ' ~ raw_tables | length ~ ' raw tables over ' ~ location, info=true) -%}
    {%- endif -%}
{% endmacro %}


{#- ---------------------------------------------------------------------------------------------
    Date arithmetic. dbt-spark's dateadd and datediff wrap their arguments in assert_not_null,
    so a null date (a missing submitted_at, an empty worklog) fails the whole query instead of
    giving null as on every other engine. These root-project versions of dbt's dispatched macros
    take precedence over dbt-spark's: same results, nulls propagate. dateadd gives a timestamp,
    as on DuckDB (date + interval); the models cast to date where they need a date.
--------------------------------------------------------------------------------------------- -#}
{% macro spark__dateadd(datepart, interval, from_date_or_timestamp) -%}
    {%- set units = {
        'day': 'DAY', 'week': 'WEEK', 'month': 'MONTH', 'quarter': 'QUARTER', 'year': 'YEAR',
        'hour': 'HOUR', 'minute': 'MINUTE', 'second': 'SECOND'} -%}
    {%- if datepart | lower not in units -%}
        {{ exceptions.raise_compiler_error('dateadd: datepart ' ~ datepart ~ ' is not supported on Spark') }}
    {%- endif -%}
    timestampadd({{ units[datepart | lower] }}, cast({{ interval }} as int), {{ from_date_or_timestamp }})
{%- endmacro %}

{% macro spark__datediff(first_date, second_date, datepart) -%}
    {%- if datepart | lower == 'day' -%}
        datediff(cast({{ second_date }} as date), cast({{ first_date }} as date))
    {%- else -%}
        {{ return(dbt.spark__datediff(first_date, second_date, datepart)) }}
    {%- endif -%}
{%- endmacro %}


{#- ---------------------------------------------------------------------------------------------
    Unit-test fixtures give a list column as text ("['a', 'b']"), which DuckDB casts to a list
    but Spark cannot cast to an array: on Spark such a value becomes array('a', 'b'). The text
    arrives quoted as a Spark string literal, its quotes escaped with a backslash.
--------------------------------------------------------------------------------------------- -#}
{% macro spark__safe_cast(field, type) -%}
    {%- set text = field.strip() if field is string else none -%}
    {%- if text and type.lower().startswith('array')
        and text.strip("'\"").startswith('[') and text.strip("'\"").endswith(']') -%}
        {%- set items = text.strip("'\"")[1:-1] | replace("\\'", "'") | replace("''", "'") -%}
        cast(array({{ items }}) as {{ type }})
    {%- else -%}
        {{ return(dbt.spark__safe_cast(field, type)) }}
    {%- endif -%}
{%- endmacro %}


{#- ---------------------------------------------------------------------------------------------
    Lists and patterns in data tests (DuckDB: list_*, len, regexp_full_match; Spark: array_*,
    size, rlike).
--------------------------------------------------------------------------------------------- -#}
{#- Number of items of a list. -#}
{% macro array_size(array_expr) -%}
    {{ return(adapter.dispatch('array_size', 'kpi_warehouse')(array_expr)) }}
{%- endmacro %}

{% macro default__array_size(array_expr) -%}
    size({{ array_expr }})
{%- endmacro %}

{% macro duckdb__array_size(array_expr) -%}
    len({{ array_expr }})
{%- endmacro %}

{#- Whether a list holds a value. -#}
{% macro array_has(array_expr, value_expr) -%}
    {{ return(adapter.dispatch('array_has', 'kpi_warehouse')(array_expr, value_expr)) }}
{%- endmacro %}

{% macro default__array_has(array_expr, value_expr) -%}
    array_contains({{ array_expr }}, {{ value_expr }})
{%- endmacro %}

{% macro duckdb__array_has(array_expr, value_expr) -%}
    list_contains({{ array_expr }}, {{ value_expr }})
{%- endmacro %}

{#- The list's distinct items in ascending order. -#}
{% macro array_sorted_distinct(array_expr) -%}
    {{ return(adapter.dispatch('array_sorted_distinct', 'kpi_warehouse')(array_expr)) }}
{%- endmacro %}

{% macro default__array_sorted_distinct(array_expr) -%}
    array_sort(array_distinct({{ array_expr }}))
{%- endmacro %}

{% macro duckdb__array_sorted_distinct(array_expr) -%}
    list_sort(list_distinct({{ array_expr }}))
{%- endmacro %}

{#- Whether the whole text matches a regular expression (no anchors in the pattern). -#}
{% macro regex_full_match(expr, pattern) -%}
    {{ return(adapter.dispatch('regex_full_match', 'kpi_warehouse')(expr, pattern)) }}
{%- endmacro %}

{% macro default__regex_full_match(expr, pattern) -%}
    ({{ expr }} rlike '^(?:{{ pattern }})$')
{%- endmacro %}

{% macro duckdb__regex_full_match(expr, pattern) -%}
    regexp_full_match({{ expr }}, '{{ pattern }}')
{%- endmacro %}
