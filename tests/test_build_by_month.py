"""A build of every month computes the models with config `build_by_month` a month at a time.

Each such model's table, built month by month by `kpi build`, must hold exactly the rows its
query gives in one go over the whole history (the compiled SQL, whose month variables are
unset), and the month variables must narrow that query to their months: otherwise the chunks
would have written every month several times, or some never.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from tests.conftest import run_dbt


@pytest.fixture(scope="module")
def compiled_models(
    acceptance_warehouse: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, tuple[str, str]]:
    """{model name: (compiled SQL, month column)} of every model built month by month."""
    workdir = tmp_path_factory.mktemp("build_by_month")
    result = run_dbt(
        "compile",
        "--select",
        "config.materialized:incremental",
        warehouse=acceptance_warehouse,
        workdir=workdir,
    )
    assert result.returncode == 0, result.stdout[-4000:]
    manifest = json.loads((workdir / "target" / "manifest.json").read_text())
    return {
        node["name"]: (
            (
                workdir / "target" / "compiled" / "kpi_warehouse" / node["original_file_path"]
            ).read_text(),
            node["config"]["meta"]["month_partition_column"],
        )
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["config"].get("build_by_month")
    }


def _table_differences(con: duckdb.DuckDBPyConnection, query: str, table: str) -> tuple[int, int]:
    """(rows of the query not in the table, rows of the table not in the query), as multisets."""
    (missing,) = con.execute(
        f"select count(*) from (({query}\n) except all (select * from {table}))"
    ).fetchone() or (0,)
    (extra,) = con.execute(
        f"select count(*) from ((select * from {table}) except all ({query}\n))"
    ).fetchone() or (0,)
    return missing, extra


def test_the_largest_person_day_models_are_built_month_by_month(
    compiled_models: dict[str, tuple[str, str]],
) -> None:
    assert set(compiled_models) == {
        "int_staff_assignment_days_expanded",
        "int_worklog_entries_flagged",
        "int_staff_days_assembled",
    }


def test_a_model_built_month_by_month_holds_what_one_query_gives(
    acceptance_warehouse: Path, compiled_models: dict[str, tuple[str, str]]
) -> None:
    with duckdb.connect(str(acceptance_warehouse), read_only=True) as con:
        for name, (sql, month_column) in compiled_models.items():
            table = f"intermediate.{name}"
            months = [
                month
                for (month,) in con.execute(
                    f"select distinct date_trunc('month', {month_column}) from {table} order by 1"
                ).fetchall()
            ]
            # more than one month, or the chunks would be a single query
            assert len(months) >= 2, (name, months)
            assert _table_differences(con, sql, table) == (0, 0), name
            (table_rows,) = con.execute(f"select count(*) from {table}").fetchone() or (0,)
            assert table_rows > 0, name


def test_the_month_variables_narrow_the_query_to_their_months(
    acceptance_warehouse: Path, compiled_models: dict[str, tuple[str, str]]
) -> None:
    with duckdb.connect(str(acceptance_warehouse), read_only=True) as con:
        for name, (sql, month_column) in compiled_models.items():
            table = f"intermediate.{name}"
            (second_month,) = con.execute(
                f"select cast(date_trunc('month', max({month_column})) as date) from {table}"
            ).fetchone() or (None,)
            # the first chunk: everything before the last month
            con.execute("set variable kpi_month_first = cast(null as date)")
            con.execute(f"set variable kpi_month_after = date '{second_month}'")
            before = f"(select * from {table} where {month_column} < '{second_month}')"
            assert _table_differences(con, sql, before) == (0, 0), name
            # the last chunk: that month on
            con.execute(f"set variable kpi_month_first = date '{second_month}'")
            con.execute("set variable kpi_month_after = cast(null as date)")
            from_month = f"(select * from {table} where {month_column} >= '{second_month}')"
            assert _table_differences(con, sql, from_month) == (0, 0), name
            con.execute("reset variable kpi_month_first")
            con.execute("reset variable kpi_month_after")
