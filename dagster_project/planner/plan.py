"""A scenario applied to one period of marts.staffing_surplus: its units, plan and impact."""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from dagster_project.planner import io
from dagster_project.planner.cache import PlanCache, inputs_key
from dagster_project.planner.model import Solution, solve_transfers
from dagster_project.planner.scenarios import OBSERVED, Scenario, ScenarioError

DEFAULT_PERIOD_TYPE = "quarter"


@dataclass(frozen=True)
class PlanResult:
    scenario: Scenario
    period: tuple[str, date] | None
    plan: pd.DataFrame  # io.PLAN_COLUMNS
    impact: pd.DataFrame  # io.IMPACT_COLUMNS
    solution: Solution | None  # None when there was nothing to plan
    note: str

    @property
    def summary(self) -> dict[str, float | int | str | bool]:
        """The figures a person checks first: for logs and Dagster metadata."""
        return {
            "period": f"{self.period[0]} {self.period[1]}" if self.period else "none",
            "transfers": len(self.plan),
            "staff_moved": int(self.plan["staff_moved"].sum()) if len(self.plan) else 0,
            "imbalance_before": round(float(self.impact["imbalance_before"].sum()), 3),
            "imbalance_after": round(float(self.impact["imbalance_after"].sum()), 3),
            "solve_seconds": round(self.solution.solve_seconds, 3) if self.solution else 0.0,
            "optimal": self.solution.optimal if self.solution else True,
            "note": self.note,
        }


def status_of(difference: pd.Series) -> pd.Series:
    """The mart's staffing_status thresholds: surplus ≥ 1, shortage ≤ −1, at 9 decimals."""
    rounded = difference.round(9)
    return pd.Series(
        np.select(
            [rounded >= 1, rounded <= -1, difference.notna()],
            ["surplus", "shortage", "balanced"],
            default=None,
        ),
        index=difference.index,
        dtype=object,
    )


def merge_map(scenario: Scenario, agencies: pd.DataFrame) -> dict[str, str]:
    """Each merged code → its surviving code, chains followed (A → B → C puts A in C)."""
    parent: dict[str, str] = {}
    if scenario.merge_successors:
        for code, successor in zip(
            agencies["agency_code"], agencies["successor_agency_code"], strict=True
        ):
            if isinstance(successor, str) and successor and successor != code:
                parent[code] = successor
    # An explicit merge overrides the register's successor.
    for survivor, members in scenario.merges.items():
        for code in members:
            if code != survivor:
                parent[code] = survivor
    resolved: dict[str, str] = {}
    for code in parent:
        seen = [code]
        target = parent[code]
        while target in parent:
            if target in seen:
                raise ScenarioError(
                    f"scenario {scenario.name!r}: merges form a cycle: {' → '.join(seen)}"
                )
            seen.append(target)
            target = parent[target]
        resolved[code] = target
    return resolved


def scenario_units(
    staffing: pd.DataFrame,
    agencies: pd.DataFrame,
    scenario: Scenario,
    last_day: date,
) -> pd.DataFrame:
    """One row per (agency after mergers, group) with the scenario's FTE and need.

    Mergers sum FTE, workload and available hours (awt_hours_per_fte × actual_fte), so the
    merged agency's hours per FTE are the FTE-weighted mean. The cut then scales FTE and
    available hours by (1 − N/100): the same work, done by fewer people with the same hours
    each. required_fte is recomputed with the scenario's utilisation and allowance.
    """
    mapping = merge_map(scenario, agencies)
    frame = staffing.copy()
    frame["agency_code_after"] = [mapping.get(code, code) for code in frame["agency_code"]]
    frame["available_hours"] = (frame["awt_hours_per_fte"] * frame["actual_fte"]).fillna(0.0)
    units = (
        frame.groupby(["agency_code_after", "position_group"], sort=True)
        .agg(
            source_actual_fte=("actual_fte", "sum"),
            workload_hours=("workload_hours", "sum"),
            available_hours=("available_hours", "sum"),
            merged_agency_codes=("agency_code", lambda codes: ", ".join(sorted(set(codes)))),
        )
        .reset_index()
        .rename(columns={"agency_code_after": "agency_code"})
    )
    if scenario.target_utilization == OBSERVED:
        pooled = units.groupby("position_group")[["workload_hours", "available_hours"]].sum()
        observed = pooled["workload_hours"] / pooled["available_hours"].where(
            pooled["available_hours"] > 0
        )
        units["target_utilization"] = units["position_group"].map(observed)
    else:
        units["target_utilization"] = float(scenario.target_utilization)
    keep = 1 - scenario.headcount_cut_percent / 100
    units["actual_fte"] = units["source_actual_fte"] * keep
    available = units["available_hours"] * keep
    awt = (available / units["actual_fte"]).where(units["actual_fte"] > 0)
    units["awt_hours_per_fte"] = awt
    units["required_fte"] = (
        units["workload_hours"]
        / (awt * units["target_utilization"])
        / (1 - scenario.allowance_share)
    ).where((awt > 0) & (units["target_utilization"] > 0))

    register = agencies.set_index("agency_code")
    valid_to = units["agency_code"].map(register["valid_to"])
    # Transfers take effect after the period, so a receiver must still exist the day after it:
    # an agency whose valid_to falls on or before the period's last day receives nobody.
    units["can_receive"] = [v is None or pd.isna(v) or v > last_day for v in valid_to]
    units["agency_name"] = (
        units["agency_code"].map(register["agency_name"]).fillna(units["agency_code"])
    )
    return units


def _impact(units: pd.DataFrame, transfers: pd.DataFrame) -> pd.DataFrame:
    out = transfers.groupby(["from_agency_code", "position_group"])["staff_moved"].sum()
    into = transfers.groupby(["to_agency_code", "position_group"])["staff_moved"].sum()
    keys = pd.MultiIndex.from_frame(units[["agency_code", "position_group"]])
    impact = units.copy()
    impact["staff_out"] = out.reindex(keys, fill_value=0).to_numpy().astype(int)
    impact["staff_in"] = into.reindex(keys, fill_value=0).to_numpy().astype(int)
    impact["actual_fte_before"] = impact["actual_fte"]
    impact["actual_fte_after"] = impact["actual_fte"] - impact["staff_out"] + impact["staff_in"]
    required = impact["required_fte"]
    for when in ("before", "after"):
        actual = impact[f"actual_fte_{when}"]
        difference = actual - required
        impact[f"wisn_difference_{when}"] = difference
        impact[f"wisn_ratio_{when}"] = (actual / required).where(required > 0)
        impact[f"staffing_status_{when}"] = status_of(difference)
        impact[f"imbalance_{when}"] = difference.abs()
    impact["role"] = np.select(
        [impact["staff_out"] > 0, impact["staff_in"] > 0], ["donor", "receiver"], "unchanged"
    )
    return impact


def _reason(row: pd.Series) -> str:
    return (
        f"{row['from_agency_code']} thừa {row['from_wisn_difference']:.2f} FTE "
        f"(thực tế {row['from_actual_fte']:.2f}, cần {row['from_required_fte']:.2f}, "
        f"tỷ số WISN {row['from_wisn_ratio']:.2f}); "
        f"{row['to_agency_code']} thiếu {-row['to_wisn_difference']:.2f} FTE "
        f"(thực tế {row['to_actual_fte']:.2f}, cần {row['to_required_fte']:.2f}, "
        f"tỷ số WISN {row['to_wisn_ratio']:.2f}). "
        f"Chuyển {int(row['staff_moved'])} người nhóm {row['position_group']}; "
        f"sau điều chuyển chênh lệch {row['from_wisn_difference_after']:+.2f} "
        f"và {row['to_wisn_difference_after']:+.2f} FTE."
    )


def _plan(impact: pd.DataFrame, transfers: pd.DataFrame) -> pd.DataFrame:
    figures = impact.set_index(["agency_code", "position_group"])[
        [
            "agency_name",
            "actual_fte_before",
            "required_fte",
            "wisn_difference_before",
            "wisn_ratio_before",
            "wisn_difference_after",
        ]
    ]
    plan = transfers.copy()
    for side in ("from", "to"):
        renamed = figures.rename(
            columns={
                "agency_name": f"{side}_agency_name",
                "actual_fte_before": f"{side}_actual_fte",
                "required_fte": f"{side}_required_fte",
                "wisn_difference_before": f"{side}_wisn_difference",
                "wisn_ratio_before": f"{side}_wisn_ratio",
                "wisn_difference_after": f"{side}_wisn_difference_after",
            }
        )
        plan = plan.merge(
            renamed,
            left_on=[f"{side}_agency_code", "position_group"],
            right_index=True,
            how="left",
        )
    plan["reason"] = [_reason(row) for _, row in plan.iterrows()] if len(plan) else []
    return plan


def _stamp(
    frame: pd.DataFrame,
    scenario: Scenario,
    period: tuple[str, date] | None,
    columns: list[tuple[str, str]],
) -> pd.DataFrame:
    frame = frame.copy()
    frame["scenario"] = scenario.name
    frame["period_type"] = period[0] if period else None
    frame["period_start"] = period[1] if period else None
    return frame.reindex(columns=[name for name, _ in columns]).reset_index(drop=True)


# What solve_transfers reads of the units: scenarios whose units agree on these, row for row,
# and that share the cap and the time limit pose the same MILP.
PROBLEM_COLUMNS = ["agency_code", "position_group", "actual_fte", "required_fte", "can_receive"]


def problem_key(units: pd.DataFrame, max_move_share: float, time_limit: float) -> str:
    """A digest of one transfer problem: its units' solver columns in order, exact values."""
    digest = hashlib.sha256(repr((max_move_share, time_limit)).encode())
    digest.update(units[PROBLEM_COLUMNS].to_csv(index=False, float_format="%r").encode())
    return digest.hexdigest()


@dataclass
class SolvedProblems:
    """The solutions of one set of scenarios by problem: two scenarios that end in the same
    units (a merge of agencies that have no staff left in the period changes nothing, for
    instance) share one solve."""

    solutions: dict[str, tuple[str, Solution]] = field(default_factory=dict)

    def solve(self, units: pd.DataFrame, scenario: Scenario, time_limit: float) -> Solution:
        key = problem_key(units, scenario.max_move_share, time_limit)
        if key in self.solutions:
            first, solution = self.solutions[key]
            if first == scenario.name:  # solved ahead for it (solve_ahead)
                return solution
            return replace(
                solution,
                solve_seconds=0.0,
                message=f"{solution.message}; the same problem as scenario {first}",
            )
        solution = solve_transfers(units, scenario.max_move_share, time_limit=time_limit)
        self.solutions[key] = (scenario.name, solution)
        return solution

    def solve_ahead(self, problems: list[tuple[Scenario, pd.DataFrame]], time_limit: float) -> None:
        """Solve the distinct problems among `problems` (scenario, units) at once, one thread
        per processor: HiGHS releases Python's lock while it solves, and a province's two
        distinct problems took 6.0 s one after the other, 3.1 s side by side. A problem
        belongs to the first scenario posing it, as when solved one by one."""
        distinct: dict[str, tuple[Scenario, pd.DataFrame]] = {}
        for scenario, units in problems:
            key = problem_key(units, scenario.max_move_share, time_limit)
            if key not in self.solutions:
                distinct.setdefault(key, (scenario, units))
        if not distinct:
            return
        workers = max(1, min(len(distinct), os.cpu_count() or 1))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="planner-solve") as pool:
            solutions = list(
                pool.map(
                    lambda problem: solve_transfers(
                        problem[1], problem[0].max_move_share, time_limit=time_limit
                    ),
                    distinct.values(),
                )
            )
        for (key, (scenario, _)), solution in zip(distinct.items(), solutions, strict=True):
            self.solutions[key] = (scenario.name, solution)


def plan_units(
    staffing: pd.DataFrame,
    agencies: pd.DataFrame,
    scenario: Scenario,
    period: tuple[str, date],
    time_limit: float = 60.0,
    solved: SolvedProblems | None = None,
    units: pd.DataFrame | None = None,
) -> PlanResult:
    """The plan and impact of one scenario from in-memory inputs (no warehouse needed);
    `solved` shares solves between the scenarios of one run; `units`: the scenario's units,
    when already made (scenario_units)."""
    if units is None:
        units = scenario_units(staffing, agencies, scenario, io.period_end(*period))
    if units.empty:
        return _nothing(scenario, period, f"no staffing rows for {period[0]} {period[1]}")
    solved = solved if solved is not None else SolvedProblems()
    solution = solved.solve(units, scenario, time_limit)
    impact = _impact(units, solution.transfers)
    plan = _plan(impact, solution.transfers)
    plan = plan.sort_values(["position_group", "from_agency_code", "to_agency_code"])
    impact = impact.sort_values(["agency_code", "position_group"])
    return PlanResult(
        scenario=scenario,
        period=period,
        plan=_stamp(plan, scenario, period, io.PLAN_COLUMNS),
        impact=_stamp(impact, scenario, period, io.IMPACT_COLUMNS),
        solution=solution,
        note=solution.message,
    )


def _nothing(scenario: Scenario, period: tuple[str, date] | None, note: str) -> PlanResult:
    return PlanResult(
        scenario=scenario,
        period=period,
        plan=io.empty_frame(io.PLAN_COLUMNS),
        impact=io.empty_frame(io.IMPACT_COLUMNS),
        solution=None,
        note=note,
    )


def resolve_period(
    con: duckdb.DuckDBPyConnection, period: tuple[str, date] | None
) -> tuple[str, date] | None:
    if period is not None:
        return period[0], io._as_date(period[1])
    quarter = io.latest_complete_quarter(con)
    return (DEFAULT_PERIOD_TYPE, quarter) if quarter is not None else None


def build_plans(
    con: duckdb.DuckDBPyConnection,
    scenarios: list[Scenario],
    period: tuple[str, date] | None = None,
    time_limit: float = 60.0,
    cache_dir: Path | None = None,
) -> list[PlanResult]:
    """Every scenario's plan for one period (default: the latest complete quarter). With a
    cache folder, a scenario whose inputs are those of a previous call reuses its plan."""
    resolved = resolve_period(con, period)
    if resolved is None:
        return [_nothing(s, None, "the data holds no complete quarter") for s in scenarios]
    staffing = io.read_staffing(con, *resolved)
    agencies = io.read_agencies(con)
    cache = PlanCache(cache_dir) if cache_dir is not None else None
    keys = {
        s.name: inputs_key(staffing, agencies, s, resolved, time_limit)
        for s in scenarios
        if cache is not None
    }
    solved = SolvedProblems()
    units = {
        s.name: scenario_units(staffing, agencies, s, io.period_end(*resolved))
        for s in scenarios
        if cache is None or not cache.has(keys[s.name])
    }
    solved.solve_ahead(
        [(s, units[s.name]) for s in scenarios if s.name in units and not units[s.name].empty],
        time_limit,
    )

    def plan(scenario: Scenario) -> PlanResult:
        return plan_units(
            staffing, agencies, scenario, resolved, time_limit, solved, units.get(scenario.name)
        )

    if cache is None:
        return [plan(s) for s in scenarios]
    results = [cache.plan(keys[s.name], lambda s=s: plan(s)) for s in scenarios]
    cache.forget_unused()
    return results


def plan_redistribution(
    con: duckdb.DuckDBPyConnection,
    scenario: Scenario,
    period: tuple[str, date] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(plan, impact) of one scenario; `plan.attrs` holds the solve figures."""
    result = build_plans(con, [scenario], period)[0]
    result.plan.attrs.update(result.summary)
    return result.plan, result.impact


def combine(results: list[PlanResult]) -> tuple[pd.DataFrame, pd.DataFrame]:
    plans = [r.plan for r in results if len(r.plan)]
    impacts = [r.impact for r in results if len(r.impact)]
    plan = pd.concat(plans, ignore_index=True) if plans else io.empty_frame(io.PLAN_COLUMNS)
    impact = pd.concat(impacts, ignore_index=True) if impacts else io.empty_frame(io.IMPACT_COLUMNS)
    return plan, impact


def store_plans(con: duckdb.DuckDBPyConnection, results: list[PlanResult]) -> dict[str, int]:
    plan, impact = combine(results)
    return io.replace_tables(con, plan, impact)


def write_plans(
    con: duckdb.DuckDBPyConnection,
    scenarios: list[Scenario],
    period: tuple[str, date] | None = None,
) -> dict[str, int]:
    """Replace marts.redistribution_plan and marts.redistribution_impact with every scenario's
    rows; returns the rows written per table."""
    return store_plans(con, build_plans(con, scenarios, period))
