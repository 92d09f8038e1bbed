"""Plans reused between builds: the same inputs give the stored plan, other inputs a solve."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd

from dagster_project.assets.planning import scenarios_path
from dagster_project.planner import load_scenarios
from dagster_project.planner.cache import PlanCache, inputs_key

PERIOD = ("quarter", date(2025, 10, 1))


def _inputs() -> tuple[pd.DataFrame, pd.DataFrame]:
    staffing = pd.DataFrame(
        {
            "agency_code": ["A", "B"],
            "position_group": ["specialist", "specialist"],
            "actual_fte": [10.0, 4.0],
            "workload_hours": [1234.5, 987.25],
        }
    )
    agencies = pd.DataFrame({"agency_code": ["A", "B"], "agency_name": ["Ay", "Bee"]})
    return staffing, agencies


def test_inputs_key_ignores_row_order_and_summation_noise() -> None:
    scenario = load_scenarios(scenarios_path())[0]
    staffing, agencies = _inputs()
    key = inputs_key(staffing, agencies, scenario, PERIOD, 60.0)

    shuffled = staffing.iloc[::-1].reset_index(drop=True)
    noisy = staffing.assign(workload_hours=staffing["workload_hours"] + 1e-12)
    assert inputs_key(shuffled, agencies.iloc[::-1], scenario, PERIOD, 60.0) == key
    assert inputs_key(noisy, agencies, scenario, PERIOD, 60.0) == key

    changed = staffing.assign(workload_hours=staffing["workload_hours"] + 0.01)
    other = load_scenarios(scenarios_path())[1]
    assert inputs_key(changed, agencies, scenario, PERIOD, 60.0) != key
    assert inputs_key(staffing, agencies, other, PERIOD, 60.0) != key
    assert inputs_key(staffing, agencies, scenario, ("quarter", date(2025, 7, 1)), 60.0) != key


def test_cache_solves_once_per_inputs_and_keeps_what_a_run_used(tmp_path: Path) -> None:
    solves: list[str] = []

    def solve(name: str) -> object:
        solves.append(name)
        return {"plan": name}

    first = PlanCache(tmp_path)
    assert first.plan("k1", lambda: solve("k1")) == {"plan": "k1"}
    assert first.plan("k2", lambda: solve("k2")) == {"plan": "k2"}
    first.forget_unused()

    second = PlanCache(tmp_path)
    assert second.plan("k1", lambda: solve("again")) == {"plan": "k1"}
    second.forget_unused()
    assert solves == ["k1", "k2"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k1.pickle"]
