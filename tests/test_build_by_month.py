"""A build of every month computes the models with config `build_by_month` a month at a time.

Each such model's table, built month by month by `kpi build`, must hold exactly the rows its
query gives in one go over the whole history (the compiled SQL, whose month variables are
unset), and the month variables must narrow that query to their months: otherwise the chunks
would have written every month several times, or some never.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from tests.conftest import run_dbt


@dataclass(frozen=True)
class MonthlyModel:
    """A model built month by month: its compiled SQL, its table and its month column."""

    sql: str
    table: str
    month_column: str


@pytest.fixture(scope="module")
def monthly_models(
    acceptance_warehouse: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, MonthlyModel]:
    """Every model with config `build_by_month`, by name, compiled for a build of every month."""
    workdir = tmp_path_factory.mktemp("build_by_month")
    result = run_dbt(
        "compile",
        "--select",
        "config.materialized:incremental",
        warehouse=acceptance_warehouse,
        workdir=workdir,
    )
    assert result.returncode == 0, result.stdout[-4000:]
    compiled = workdir / "target" / "compiled" / "kpi_warehouse"
    manifest = json.loads((workdir / "target" / "manifest.json").read_text())
    return {
        node["name"]: MonthlyModel(
            (compiled / node["original_file_path"]).read_text(),
            f"{node['schema']}.{node['alias']}",
            node["config"]["meta"]["month_partition_column"],
        )
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["config"].get("build_by_month")
    }


@pytest.fixture
def warehouse(acceptance_warehouse: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    with duckdb.connect(str(acceptance_warehouse), read_only=True) as con:
        yield con


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
    monthly_models: dict[str, MonthlyModel],
) -> None:
    assert set(monthly_models) == {
        "int_staff_assignment_days_expanded",
        "int_worklog_entries_flagged",
        "int_staff_days_assembled",
    }


def test_a_model_built_month_by_month_holds_what_one_query_gives(
    warehouse: duckdb.DuckDBPyConnection, monthly_models: dict[str, MonthlyModel]
) -> None:
    for name, model in monthly_models.items():
        (months, rows) = warehouse.execute(
            f"select count(distinct date_trunc('month', {model.month_column})), count(*) "
            f"from {model.table}"
        ).fetchone() or (0, 0)
        # more than one month, or the build was a single chunk
        assert months >= 2 and rows > 0, (name, months, rows)
        assert _table_differences(warehouse, model.sql, model.table) == (0, 0), name


def test_the_month_variables_narrow_the_query_to_their_months(
    warehouse: duckdb.DuckDBPyConnection, monthly_models: dict[str, MonthlyModel]
) -> None:
    for name, model in monthly_models.items():
        (last_month,) = warehouse.execute(
            f"select cast(date_trunc('month', max({model.month_column})) as date) "
            f"from {model.table}"
        ).fetchone() or (None,)
        # a first chunk: every month before the last
        warehouse.execute("set variable kpi_month_first = cast(null as date)")
        warehouse.execute(f"set variable kpi_month_after = date '{last_month}'")
        before = f"(select * from {model.table} where {model.month_column} < '{last_month}')"
        assert _table_differences(warehouse, model.sql, before) == (0, 0), name
        # a last chunk: the last month on
        warehouse.execute(f"set variable kpi_month_first = date '{last_month}'")
        warehouse.execute("set variable kpi_month_after = cast(null as date)")
        from_last = f"(select * from {model.table} where {model.month_column} >= '{last_month}')"
        assert _table_differences(warehouse, model.sql, from_last) == (0, 0), name
