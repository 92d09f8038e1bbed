"""The `row_rules` data test: every row-level rule of a model in one query, naming the rules
that rows break and how many rows break each."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb

from tests.conftest import run_dbt


def test_row_rules_names_each_broken_rule_with_its_row_count(
    acceptance_warehouse: Path, tmp_path: Path
) -> None:
    # same file name: dbt-duckdb's views name their catalog after it
    warehouse = tmp_path / acceptance_warehouse.name
    shutil.copyfile(acceptance_warehouse, warehouse)
    with duckdb.connect(str(warehouse)) as con:
        # the mart's rows as a table in place of its view, so that rows can be broken
        con.execute("create table marts.rows as select * from marts.staff_productivity")
        con.execute("drop view marts.staff_productivity")
        con.execute("alter table marts.rows rename to staff_productivity")
        # one row outside the accepted values, two outside the accepted range, one null, and
        # one breaking an expression between columns (fde = available_hours / 8)
        con.execute(
            "update marts.staff_productivity set hours_status = 'bogus' "
            "where rowid = (select min(rowid) from marts.staff_productivity)"
        )
        con.execute(
            "update marts.staff_productivity set evidence_rate = 1.5 "
            "where rowid in (select rowid from marts.staff_productivity order by rowid limit 2)"
        )
        last_with_hours = (
            "where rowid = (select max(rowid) from marts.staff_productivity where fde > 0)"
        )
        con.execute(f"update marts.staff_productivity set credited_hours = null {last_with_hours}")
        con.execute(f"update marts.staff_productivity set fde = fde + 1 {last_with_hours}")
    target = tmp_path / "target"
    result = run_dbt(
        "test",
        "--select",
        "staff_productivity,test_name:row_rules",
        warehouse=warehouse,
        workdir=tmp_path,
    )
    assert result.returncode != 0, "row_rules passed on broken rows"
    (test_result,) = [
        r
        for r in json.loads((target / "run_results.json").read_text())["results"]
        if r["unique_id"].startswith("test.")
    ]
    assert test_result["status"] == "fail"
    with duckdb.connect(str(warehouse), read_only=True) as con:
        broken = dict(con.execute(test_result["compiled_code"]).fetchall())
    assert broken == {
        "accepted_values: hours_status": 1,
        "accepted_range: evidence_rate": 2,
        "not_null: credited_hours": 1,
        "expression: fde = available_hours ÷ 8.": 1,
    }
