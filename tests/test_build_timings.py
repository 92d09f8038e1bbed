"""`kpi build`'s summary and timings describe its own run, even when another build of the same
warehouse ran at the same time and wrote its dbt results and timings beside the warehouse since."""

import json
from pathlib import Path
from types import SimpleNamespace

from dagster_project import settings
from dagster_project.assets.transformation import DBT_PLAN_LOG_PREFIX
from dagster_project.build import BuildOutcome, dbt_plan_of, write_timings


def _log_line(message: str) -> SimpleNamespace:
    return SimpleNamespace(user_message=message, dagster_event=None, timestamp=0.0)


def _plan_line(months: list[str]) -> SimpleNamespace:
    plan = {"mode": "months", "months": months, "staff_scoped": {}, "patterns_only": []}
    return _log_line(DBT_PLAN_LOG_PREFIX + json.dumps({**plan, "dbt_started_ahead": True}))


def _keep_results(warehouse: Path, run_id: str, node: str) -> None:
    results = settings.dbt_run_results_file(warehouse)
    results.parent.mkdir(parents=True, exist_ok=True)
    kept = {"unique_id": node, "execution_time": 1.5, "status": "success", "relation_name": ""}
    results.write_text(json.dumps({"run_id": run_id, "results": [kept]}))


def test_the_summary_states_the_runs_own_plan(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    records = [_log_line("ingested 3 files"), _plan_line(["2025-03-01", "2025-04-01"])]
    plan = dbt_plan_of(records)
    timings = write_timings(warehouse, "run-a", records, 12.0, plan)
    assert json.loads(timings.read_text())["dbt_plan"] == plan
    # another build's timings, written after this one's, do not change this one's summary
    write_timings(warehouse, "run-b", [_log_line("ingested 3 files")], 1.0, None)
    summary = BuildOutcome(success=True, timings_file=timings, seconds=12.0, dbt_plan=plan)
    assert summary.summary.startswith("rebuilt months: 2025-03, 2025-04;")


def test_a_run_without_a_dbt_step_says_models_were_not_run() -> None:
    plan = dbt_plan_of([_log_line("ingested 3 files")])
    assert plan is None
    summary = BuildOutcome(success=True, seconds=3.0, dbt_plan=plan)
    assert summary.summary.startswith("models not run;")


def test_node_times_are_kept_only_when_they_are_the_runs_own(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    _keep_results(warehouse, "run-a", "model.kpi_warehouse.fct_staff_day")
    own = json.loads(write_timings(warehouse, "run-a", [], 1.0, None).read_text())
    assert [node["unique_id"] for node in own["dbt_nodes"]] == ["model.kpi_warehouse.fct_staff_day"]
    _keep_results(warehouse, "run-b", "model.kpi_warehouse.fct_staff_day")
    other = json.loads(write_timings(warehouse, "run-a", [], 1.0, None).read_text())
    assert other["dbt_nodes"] == []
