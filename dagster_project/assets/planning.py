"""Planning: headcount redistribution plans from the WISN staffing mart, per scenario."""

# No `from __future__ import annotations`: Dagster checks the context type hint at runtime.

import os
from collections.abc import Iterator
from pathlib import Path

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    MaterializeResult,
    MetadataValue,
    multi_asset,
)

from dagster_project import progress, settings
from dagster_project.planner import (
    build_plans,
    combine,
    load_scenarios,
    store_plans,
    write_plan_workbook_if_changed,
)
from dagster_project.resources import WRITER_POOL, WarehouseResource

SCENARIOS_ENV = "KPI_SCENARIOS"
DEFAULT_SCENARIOS = settings.PROJECT_ROOT / "scenarios.yml"
WORKBOOK_NAME = "redistribution_plan.xlsx"
# the plans of the last build, by input digest, beside the warehouse (planner/cache.py)
PLAN_CACHE_DIR = "planner_cache"

PLAN_KEY = AssetKey(["marts", "redistribution_plan"])
IMPACT_KEY = AssetKey(["marts", "redistribution_impact"])
# The dbt assets the planner reads: the WISN mart, the agency register (valid_to, successors)
# and the staff-days that date the latest complete quarter.
UPSTREAM = [
    AssetKey(["marts", "staffing_surplus"]),
    AssetKey(["staging", "stg_hr__agencies"]),
    AssetKey(["marts", "fct_staff_day"]),
]


def scenarios_path() -> Path:
    return Path(os.environ.get(SCENARIOS_ENV) or DEFAULT_SCENARIOS).resolve()


@multi_asset(
    name="redistribution_planner",
    specs=[
        AssetSpec(
            PLAN_KEY,
            deps=UPSTREAM,
            group_name="planning",
            kinds={"python", "duckdb"},
            description=(
                "Whole-person transfers within a position group, from WISN-surplus to "
                "WISN-shortage agencies, per scenario of `scenarios.yml`, for the latest "
                "complete quarter (MILP, scipy/HiGHS): least remaining imbalance, then fewest "
                "moves. Each line gives the two agencies' WISN figures as its reason."
            ),
        ),
        AssetSpec(
            IMPACT_KEY,
            deps=UPSTREAM,
            group_name="planning",
            kinds={"python", "duckdb"},
            description=(
                "Per scenario, agency and position group: FTE, WISN difference and status "
                "before and after the plan of `marts.redistribution_plan`."
            ),
        ),
    ],
    pool=WRITER_POOL,
)
def redistribution_planner(
    context: AssetExecutionContext, warehouse: WarehouseResource
) -> Iterator[MaterializeResult]:
    path = scenarios_path()
    scenarios = load_scenarios(path)
    with warehouse.connect() as con:
        results = build_plans(
            con, scenarios, cache_dir=warehouse.warehouse_file.parent / PLAN_CACHE_DIR
        )
        counts = store_plans(con, results)
    plan, impact = combine(results)
    workbook = warehouse.warehouse_file.parent / WORKBOOK_NAME
    if not write_plan_workbook_if_changed(plan, impact, workbook):
        context.log.info(f"{workbook.name} already holds this plan: not rewritten")

    summaries = {r.scenario.name: r.summary for r in results}
    for name, summary in summaries.items():
        line = (
            f"plan {name}: {summary['transfers']} transfer line(s), {summary['staff_moved']} "
            f"person(s), imbalance {summary['imbalance_before']} → {summary['imbalance_after']} "
            f"FTE ({summary['period']})"
        )
        context.log.info(line)
        progress.report(line)
        if not summary["optimal"]:
            context.log.warning(f"plan {name}: not proven optimal: {summary['note']}")

    table = "\n".join(
        [
            "| scenario | transfers | persons | imbalance before | after | solve s | optimal |",
            "|---|---|---|---|---|---|---|",
            *(
                f"| {name} | {s['transfers']} | {s['staff_moved']} | {s['imbalance_before']} "
                f"| {s['imbalance_after']} | {s['solve_seconds']} | {s['optimal']} |"
                for name, s in summaries.items()
            ),
        ]
    )
    period = next((s["period"] for s in summaries.values()), "none")
    yield MaterializeResult(
        asset_key=PLAN_KEY,
        metadata={
            "dagster/row_count": counts["marts.redistribution_plan"],
            "period": period,
            "scenarios_file": str(path),
            "workbook": MetadataValue.path(str(workbook)),
            "scenarios": MetadataValue.md(table),
            **{f"rows_{name}": int(s["transfers"]) for name, s in summaries.items()},
            **{f"staff_moved_{name}": int(s["staff_moved"]) for name, s in summaries.items()},
        },
    )
    yield MaterializeResult(
        asset_key=IMPACT_KEY,
        metadata={
            "dagster/row_count": counts["marts.redistribution_impact"],
            "period": period,
            **{
                f"imbalance_before_{name}": float(s["imbalance_before"])
                for name, s in summaries.items()
            },
            **{
                f"imbalance_after_{name}": float(s["imbalance_after"])
                for name, s in summaries.items()
            },
        },
    )
