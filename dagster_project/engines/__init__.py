"""The engines the dbt models run on: DuckDB (the default, `dagster_project.definitions`) and
Apache Spark through dbt-spark (`spark`)."""

ENGINES = ("duckdb", "spark")
