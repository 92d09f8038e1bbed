{#- Engine-specific SQL lives here and in spark_compat.sql, behind adapter.dispatch, so that
    every model runs unchanged on DuckDB (duckdb__) and Apache Spark (default__, dbt-spark). -#}

{#- ISO day of week (1 = Monday .. 7 = Sunday), from day arithmetic alone so no engine's
    day-numbering convention leaks in. 2000-01-03 was a Monday. -#}
{% macro iso_day_of_week(date_expr) -%}
    (mod({{ dbt.datediff("cast('2000-01-03' as date)", date_expr, 'day') }}, 7) + 1)
{%- endmacro %}

{#- Text compared as people read it: NFC, lower case, white-space runs collapsed, trimmed;
    null counts as empty. Spark SQL has no Unicode normalisation: on Spark the text arrives in
    NFC already (the Parquet export of raw.* writes it so). -#}
{% macro normalize_text(expr) -%}
    {{ return(adapter.dispatch('normalize_text', 'kpi_warehouse')(expr)) }}
{%- endmacro %}

{% macro default__normalize_text(expr) -%}
    trim(regexp_replace(lower(coalesce({{ expr }}, '')), '\\s+', ' '))
{%- endmacro %}

{#- NFC and the white-space collapse cost a regular expression rewrite per value; most values
    need neither, and a match test is several times cheaper than the rewrite, so each runs only
    on the values that need it: NFC on values holding a combining mark (U+0300–U+036F, the
    marks of decomposed Vietnamese), the collapse on values with a run of white space or a
    tab or line break. -#}
{% macro duckdb__normalize_text(expr) -%}
    {%- set value = "coalesce(" ~ expr ~ ", '')" -%}
    {%- set composed -%}
        lower(case
            when regexp_matches({{ value }}, '[\x{0300}-\x{036F}]') then nfc_normalize({{ value }})
            else {{ value }}
        end)
    {%- endset -%}
    trim(case
        when regexp_matches({{ value }}, '\s\s|[\t\n\f\r]')
            then regexp_replace({{ composed }}, '\s+', ' ', 'g')
        else {{ composed }}
    end)
{%- endmacro %}

{#- A 64-bit hash of several columns, to group or join a large table by one integer column
    where the key is several text columns: DuckDB hashes and compares the texts of every row in
    its aggregate otherwise (norm_review over a province year: 2.5 s → 1.9 s). Only where two
    values sharing a key cannot go unnoticed: a data test proves the distinct values free of
    collisions (assert_norm_keys_are_unique), the query stops on one (raise_error, in
    declaration_patterns), or a shared key only adds rows an exact comparison then tells apart
    (the duplicate candidates of int_worklog_entries_flagged). -#}
{% macro row_key(columns) -%}
    {{ return(adapter.dispatch('row_key', 'kpi_warehouse')(columns)) }}
{%- endmacro %}

{% macro default__row_key(columns) -%}
    xxhash64({{ columns | join(', ') }})
{%- endmacro %}

{% macro duckdb__row_key(columns) -%}
    hash({{ columns | join(', ') }})
{%- endmacro %}

{#- Stops the query with `message` (a text literal) where it is evaluated, as the branch of a
    case: for what the data should never hold and a model cannot build correct rows from (two
    different texts sharing a 64-bit key). -#}
{% macro raise_error(message) -%}
    {{ return(adapter.dispatch('raise_error', 'kpi_warehouse')(message)) }}
{%- endmacro %}

{% macro default__raise_error(message) -%}
    raise_error({{ message }})
{%- endmacro %}

{% macro duckdb__raise_error(message) -%}
    error({{ message }})
{%- endmacro %}

{#- A document number as E-Office compares it: upper case, all white space removed. -#}
{% macro normalize_doc_number(expr) -%}
    {{ return(adapter.dispatch('normalize_doc_number', 'kpi_warehouse')(expr)) }}
{%- endmacro %}

{% macro default__normalize_doc_number(expr) -%}
    upper(regexp_replace({{ expr }}, '\\s+', ''))
{%- endmacro %}

{% macro duckdb__normalize_doc_number(expr) -%}
    upper(regexp_replace({{ expr }}, '\s+', '', 'g'))
{%- endmacro %}

{#- One output row per item of a ';'-separated list column (used in a select list). -#}
{% macro list_items(list_expr) -%}
    {{ return(adapter.dispatch('list_items', 'kpi_warehouse')(list_expr)) }}
{%- endmacro %}

{% macro default__list_items(list_expr) -%}
    explode(split({{ list_expr }}, ';'))
{%- endmacro %}

{% macro duckdb__list_items(list_expr) -%}
    unnest(string_split({{ list_expr }}, ';'))
{%- endmacro %}

{#- Drops the nulls of an array built with dbt.array_construct, keeping order. -#}
{% macro array_without_nulls(array_expr) -%}
    {{ return(adapter.dispatch('array_without_nulls', 'kpi_warehouse')(array_expr)) }}
{%- endmacro %}

{% macro default__array_without_nulls(array_expr) -%}
    filter({{ array_expr }}, x -> x is not null)
{%- endmacro %}

{% macro duckdb__array_without_nulls(array_expr) -%}
    list_filter({{ array_expr }}, lambda x: x is not null)
{%- endmacro %}

{#- The data type of a list of text, for contracts and casts. -#}
{% macro type_string_array() -%}
    {{ return(adapter.dispatch('type_string_array', 'kpi_warehouse')()) }}
{%- endmacro %}

{% macro default__type_string_array() -%}array<string>{%- endmacro %}

{% macro duckdb__type_string_array() -%}varchar[]{%- endmacro %}

{#- Minutes and quantities that are summed: fixed-point, so that a sum is exact and the
    same whatever order the rows come in. A sum of doubles is not: a staff-day's credited hours
    (minutes ÷ 60) summed over a quarter in another order gave 0.4999999999999999 instead of
    0.5, which put a person on the streamlining list in a warehouse built day by day and not in
    one built at once. Six decimals of a minute are far below what any export states. An
    entry's minutes fit in 18 digits (ingestion quarantines a quantity or a norm above 100,000,
    contract.MAX_QUANTITY_OR_NORM: at most 10^10 minutes), which DuckDB sums as 64-bit integers
    (as 38-digit decimals, the staff-days of 3 months of a province, 7.4 million entries, took
    5.1 s instead of 3.5 s); sums are kept in 38 (type_exact_sum), which no number of entries
    fills. -#}
{% macro type_exact_number() -%}decimal(18, 6){%- endmacro %}

{% macro type_exact_sum() -%}decimal(38, 6){%- endmacro %}

{#- `expr` (a number) as type_exact_number, rounded to its six decimals. -#}
{% macro exact_number(expr) -%}
    cast({{ expr }} as {{ type_exact_number() }})
{%- endmacro %}

{#- The exact sum of `expr` (fixed-point numbers), as type_exact_sum. -#}
{% macro exact_sum(expr) -%}
    cast(sum({{ expr }}) as {{ type_exact_sum() }})
{%- endmacro %}

{#- The mean of the non-null values of `expr`, from their exact sum: the same whatever order the
    rows come in. Each value is taken to 12 decimals, not type_exact_number's 6: the means are of
    a few scores (a quarter's, a year's months), some of them computed ones. Null when there are
    none. -#}
{% macro exact_mean(expr) -%}
    cast(sum(cast({{ expr }} as decimal(38, 12))) as double) / count({{ expr }})
{%- endmacro %}

{#- Hours from a sum of minutes (fixed-point or whole), as a double: divided once, after the
    sum, so that the hours are the same however the minutes were added up. -#}
{% macro minutes_to_hours(minutes_expr) -%}
    cast({{ minutes_expr }} as double) / 60.0
{%- endmacro %}

{#- For a CTE read more than once: `entries as {{ inline_cte() }} (`. DuckDB would write such a
    CTE out whole before reading it; for a wide CTE over millions of entries that costs more
    than reading the table twice (int_worklog_entries_flagged at 7.4 million entries: 22 s
    with, 13 s without). Spark SQL has no hint and inlines CTEs itself. -#}
{% macro inline_cte() -%}
    {{ return(adapter.dispatch('inline_cte', 'kpi_warehouse')()) }}
{%- endmacro %}

{% macro default__inline_cte() -%}
{%- endmacro %}

{% macro duckdb__inline_cte() -%}
    not materialized
{%- endmacro %}

{#- For a CTE the engine must compute on its own: `name as {{ materialized_cte() }} (`. DuckDB
    pushes filters of its readers into an inlined CTE, which can turn a semi-join on a few keys
    into a hash of a whole table (int_worklog_entries_credited). Spark SQL has no hint. -#}
{% macro materialized_cte() -%}
    {{ return(adapter.dispatch('materialized_cte', 'kpi_warehouse')()) }}
{%- endmacro %}

{% macro default__materialized_cte() -%}
{%- endmacro %}

{% macro duckdb__materialized_cte() -%}
    materialized
{%- endmacro %}

{#- Continuous percentiles of an expression in a group, as an array in the order of
    `fractions` (read them with array_item). DuckDB computes them all from one sort of the
    group's values (quantile_cont with a list), where three percentile_cont aggregates sort
    three times: a quarter of norm_review's time over a province year of entries. -#}
{% macro continuous_percentiles(expr, fractions) -%}
    {{ return(adapter.dispatch('continuous_percentiles', 'kpi_warehouse')(expr, fractions)) }}
{%- endmacro %}

{% macro default__continuous_percentiles(expr, fractions) -%}
    array(
        {%- for fraction in fractions %}
        percentile_cont({{ fraction }}) within group (order by {{ expr }})
        {%- if not loop.last %},{% endif %}
        {%- endfor %}
    )
{%- endmacro %}

{% macro duckdb__continuous_percentiles(expr, fractions) -%}
    quantile_cont({{ expr }}, [{{ fractions | join(', ') }}])
{%- endmacro %}

{#- The item at a 1-based position of an array. -#}
{% macro array_item(array_expr, position) -%}
    {{ return(adapter.dispatch('array_item', 'kpi_warehouse')(array_expr, position)) }}
{%- endmacro %}

{% macro default__array_item(array_expr, position) -%}
    element_at({{ array_expr }}, {{ position }})
{%- endmacro %}

{% macro duckdb__array_item(array_expr, position) -%}
    ({{ array_expr }})[{{ position }}]
{%- endmacro %}

{#- The value of `value_expr` (null included) on the row with the largest `ordering_expr` of the
    group, rows with a null ordering left out; null when every ordering is null. -#}
{% macro value_at_max(value_expr, ordering_expr) -%}
    {{ return(adapter.dispatch('value_at_max', 'kpi_warehouse')(value_expr, ordering_expr)) }}
{%- endmacro %}

{% macro default__value_at_max(value_expr, ordering_expr) -%}
    max_by({{ value_expr }}, {{ ordering_expr }})
{%- endmacro %}

{% macro duckdb__value_at_max(value_expr, ordering_expr) -%}
    {#- arg_max would skip the rows whose value is null -#}
    arg_max_null({{ value_expr }}, {{ ordering_expr }})
{%- endmacro %}
