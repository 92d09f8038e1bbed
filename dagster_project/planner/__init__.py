"""Headcount redistribution planner: whole-person transfers from WISN surplus to shortage.

`load_scenarios` reads `scenarios.yml`; `plan_redistribution` plans one scenario for a period
(default: the latest complete quarter); `write_plans` replaces marts.redistribution_plan and
marts.redistribution_impact with every scenario's rows; `write_plan_workbook` writes them for
Excel. The MILP and the proof that its lexicographic objective is exact are in `model`.
"""

from dagster_project.planner.io import (
    IMPACT_TABLE,
    PLAN_TABLE,
    latest_complete_quarter,
    period_end,
    write_plan_workbook,
    write_plan_workbook_if_changed,
)
from dagster_project.planner.model import Solution, solve_transfers
from dagster_project.planner.plan import (
    PlanResult,
    build_plans,
    combine,
    plan_redistribution,
    plan_units,
    scenario_units,
    store_plans,
    write_plans,
)
from dagster_project.planner.scenarios import Scenario, ScenarioError, load_scenarios

__all__ = [
    "IMPACT_TABLE",
    "PLAN_TABLE",
    "PlanResult",
    "Scenario",
    "ScenarioError",
    "Solution",
    "build_plans",
    "combine",
    "latest_complete_quarter",
    "load_scenarios",
    "period_end",
    "plan_redistribution",
    "plan_units",
    "scenario_units",
    "solve_transfers",
    "store_plans",
    "write_plan_workbook",
    "write_plan_workbook_if_changed",
    "write_plans",
]
