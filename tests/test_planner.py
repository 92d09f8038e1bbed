"""The headcount redistribution planner: hand-checked optima, the tables, the workbook, and one
plan of a generated warehouse."""

from __future__ import annotations

import itertools
import subprocess
import sys
import threading
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import openpyxl
import pandas as pd
import pytest

from dagster_project.planner import (
    IMPACT_TABLE,
    PLAN_TABLE,
    Scenario,
    ScenarioError,
    latest_complete_quarter,
    load_scenarios,
    period_end,
    plan_redistribution,
    plan_units,
    solve_transfers,
    write_plan_workbook,
    write_plan_workbook_if_changed,
    write_plans,
)
from dagster_project.planner import plan as plan_module
from dagster_project.planner.io import IMPACT_COLUMNS, PLAN_COLUMNS
from dagster_project.planner.model import GRID
from dagster_project.planner.plan import SolvedProblems

PROJECT_ROOT = Path(__file__).resolve().parent.parent
KPI = str(Path(sys.executable).parent / "kpi")
SCENARIOS_FILE = PROJECT_ROOT / "scenarios.yml"
Q2 = ("quarter", date(2025, 4, 1))
AWT = 500.0  # available hours per FTE in the hand-made tables


def staffing(*rows: tuple[str, str, float, float] | tuple[str, str, float, float, float]):
    """Mart rows from (agency, group, actual_fte, required_fte at utilisation 1[, awt])."""
    records = []
    for row in rows:
        agency, group, actual, required = row[:4]
        awt = row[4] if len(row) > 4 else AWT
        records.append(
            {
                "agency_code": agency,
                "position_group": group,
                "actual_fte": float(actual),
                "workload_hours": required * awt,
                "awt_hours_per_fte": awt,
                "approved_headcount": None,
            }
        )
    return pd.DataFrame(records)


def agencies(*codes: str, valid_to: dict[str, date] | None = None, successors=None):
    valid_to = valid_to or {}
    successors = successors or {}
    return pd.DataFrame(
        {
            "agency_code": list(codes),
            "agency_name": [f"Cơ quan {c}" for c in codes],
            "valid_to": [valid_to.get(c) for c in codes],
            "successor_agency_code": [successors.get(c) for c in codes],
        }
    )


def run(
    rows: pd.DataFrame,
    register: pd.DataFrame,
    period: tuple[str, date] = Q2,
    **parameters: object,
):
    scenario = Scenario(name="test", **{"max_move_share": 1.0, **parameters})  # type: ignore[arg-type]
    return plan_units(rows, register, scenario, period)


def moves(result) -> dict[tuple[str, str, str], int]:
    return {
        (r.position_group, r.from_agency_code, r.to_agency_code): int(r.staff_moved)
        for r in result.plan.itertuples()
    }


def impact_row(result, agency: str, group: str = "specialist") -> pd.Series:
    impact = result.impact
    rows = impact[(impact["agency_code"] == agency) & (impact["position_group"] == group)]
    assert len(rows) == 1, rows
    return rows.iloc[0]


# --- hand-checked optima -------------------------------------------------------------------


def test_surplus_moves_whole_persons_to_the_shortage() -> None:
    # A: d = +4 (keeps 6, may give 4); B: d = −2.5. Each person given lowers A's imbalance by
    # 1; B's by 1 then 0 (−0.5 → +0.5): 3 persons leave 1 + 0.5, 2 leave 2 + 0.5.
    result = run(
        staffing(("A", "specialist", 10, 6), ("B", "specialist", 4, 6.5)),
        agencies("A", "B"),
    )
    assert moves(result) == {("specialist", "A", "B"): 3}
    assert impact_row(result, "A")["actual_fte_after"] == pytest.approx(7)
    assert impact_row(result, "B")["wisn_difference_after"] == pytest.approx(0.5)
    assert result.impact["imbalance_before"].sum() == pytest.approx(6.5)
    assert result.impact["imbalance_after"].sum() == pytest.approx(1.5)
    assert result.solution is not None and result.solution.optimal
    reason = result.plan.loc[0, "reason"]
    assert "A thừa 4.00 FTE" in reason and "B thiếu 2.50 FTE" in reason


def test_donor_keeps_its_required_fte_rounded_up() -> None:
    # A: d = +1.8 but ceil(6.2) = 7 of its 8 stay, so one person, not two.
    result = run(
        staffing(("A", "specialist", 8, 6.2), ("B", "specialist", 2, 5)),
        agencies("A", "B"),
    )
    assert moves(result) == {("specialist", "A", "B"): 1}
    assert impact_row(result, "A")["actual_fte_after"] >= 7


def test_cap_on_the_share_moved_binds() -> None:
    rows = staffing(("A", "specialist", 20, 10), ("B", "specialist", 5, 12))
    assert moves(run(rows, agencies("A", "B"), max_move_share=0.1)) == {("specialist", "A", "B"): 2}
    assert moves(run(rows, agencies("A", "B"), max_move_share=0.5)) == {("specialist", "A", "B"): 7}


def test_cap_counts_all_groups_of_an_agency() -> None:
    # 10% of A's 30 FTE is 3 persons in all, though each group could give 5.
    rows = staffing(
        ("A", "specialist", 20, 15),
        ("A", "support", 10, 5),
        ("B", "specialist", 5, 10),
        ("B", "support", 2, 7),
    )
    result = run(rows, agencies("A", "B"), max_move_share=0.1)
    assert sum(moves(result).values()) == 3


def test_dissolved_agency_receives_nothing() -> None:
    rows = staffing(
        ("A", "specialist", 10, 5),
        ("GONE", "specialist", 2, 5),
        ("ENDS", "specialist", 2, 5),
        ("C", "specialist", 3, 5),
    )
    register = agencies(
        "A",
        "GONE",
        "ENDS",
        "C",
        # GONE ended inside the quarter; ENDS on its last day, so not after it either.
        valid_to={"GONE": date(2025, 5, 31), "ENDS": date(2025, 6, 30)},
    )
    result = run(rows, register)
    assert moves(result) == {("specialist", "A", "C"): 2}
    assert not impact_row(result, "GONE")["can_receive"]
    assert not impact_row(result, "ENDS")["can_receive"]
    assert impact_row(result, "GONE")["staff_in"] == 0


def test_two_groups_never_mix() -> None:
    rows = staffing(
        ("A", "specialist", 10, 5),
        ("B", "support", 1, 4),
        ("C", "support", 6, 5.5),
    )
    result = run(rows, agencies("A", "B", "C"))
    assert result.plan.empty
    rows = staffing(
        ("A", "specialist", 10, 5),
        ("B", "specialist", 3, 5),
        ("B", "support", 1, 4),
    )
    assert moves(run(rows, agencies("A", "B"))) == {("specialist", "A", "B"): 2}


def test_fewest_moves_among_equal_imbalance_plans() -> None:
    # B is 2.0004 FTE short: on the solver's 0.001-FTE grid a third person changes nothing
    # (A −1, B +1), so the two-person plan has the same imbalance and fewer moves.
    rows = staffing(("A", "specialist", 10, 5), ("B", "specialist", 3, 5.0004))
    result = run(rows, agencies("A", "B"))
    assert moves(result) == {("specialist", "A", "B"): 2}
    # Two donors, one receiver short by exactly 2: two moves, whichever donors give them.
    rows = staffing(
        ("A", "specialist", 4, 2),
        ("C", "specialist", 4, 2),
        ("B", "specialist", 3, 5),
    )
    result = run(rows, agencies("A", "B", "C"))
    assert sum(moves(result).values()) == 2
    assert result.impact["imbalance_after"].sum() == pytest.approx(2)


def _brute_force(units: pd.DataFrame, share: float) -> tuple[float, int]:
    """The lexicographic optimum (imbalance on the solver's grid, moves) by enumeration, with
    no receiver bound, so it also checks that bounding a receiver by ceil(−d) loses nothing."""
    d = ((units["actual_fte"] - units["required_fte"]) / GRID).round() * GRID
    keep = np.ceil(units["required_fte"] - 1e-9)
    spare = np.floor(units["actual_fte"] - keep + 1e-9).where(d >= 1, 0).clip(lower=0)
    cap = np.floor(share * units["actual_fte"] + 1e-9)  # one unit per agency here
    donors = [u for u in units.index if spare[u] > 0]
    receivers = [u for u in units.index if d[u] <= -1 and units.loc[u, "can_receive"]]
    pairs = [(i, j) for i in donors for j in receivers]
    best = (round(float(d.abs().sum()), 6), 0)
    for plan in itertools.product(*(range(int(spare[i]) + 1) for i, _ in pairs)):
        out = {i: sum(x for (a, _), x in zip(pairs, plan, strict=True) if a == i) for i in donors}
        if any(out[i] > min(spare[i], cap[i]) for i in donors):
            continue
        after = d.copy()
        for (i, j), x in zip(pairs, plan, strict=True):
            after[i] -= x
            after[j] += x
        best = min(best, (round(float(after.abs().sum()), 6), sum(plan)))
    return best


@pytest.mark.parametrize("seed", range(12))
def test_lexicographic_optimum_matches_enumeration(seed: int) -> None:
    # Differences near whole numbers (±0.0004) make plans tie on the grid but differ in moves.
    rng = np.random.default_rng(seed)
    units = pd.DataFrame(
        {
            "agency_code": [f"A{k}" for k in range(4)],
            "position_group": "specialist",
            "actual_fte": rng.integers(2, 9, 4).astype(float),
            "can_receive": True,
        }
    )
    units["required_fte"] = units["actual_fte"] - rng.choice(
        [-3.0004, -2.5, -2.0, -1.0004, 1.0, 1.5, 2.0004, 3.2], 4
    )
    solution = solve_transfers(units, max_move_share=0.4)
    assert solution.optimal
    imbalance, moved = _brute_force(units, 0.4)
    assert (round(solution.imbalance_after, 6), solution.staff_moved) == (imbalance, moved)


def test_merged_agencies_plan_as_one() -> None:
    # A (awt 400) merges into B (awt 500): FTE 2 + 6 = 8, workload 1600 + 1500 h,
    # available 800 + 3000 h, so 475 h per FTE and 3100 / 475 = 6.53 required.
    rows = staffing(
        ("A", "specialist", 2, 4, 400.0),
        ("B", "specialist", 6, 3, 500.0),
        ("C", "specialist", 3, 5),
    )
    register = agencies("A", "B", "C", valid_to={"A": date(2025, 4, 30)})
    # Apart, B has 3 to spare and C needs 2; A is short but dissolved.
    assert moves(run(rows, register)) == {("specialist", "B", "C"): 2}
    merged = run(rows, register, merges={"B": ("A",)})
    row = impact_row(merged, "B")
    assert row["merged_agency_codes"] == "A, B"
    assert row["actual_fte_before"] == pytest.approx(8)
    assert row["required_fte"] == pytest.approx(3100 / 475)
    assert set(merged.impact["agency_code"]) == {"B", "C"}
    # Together they keep ceil(6.53) = 7 of 8: one person for C.
    assert moves(merged) == {("specialist", "B", "C"): 1}


def test_merging_into_a_successor_makes_a_dissolved_shortage_receivable() -> None:
    rows = staffing(("OLD", "specialist", 2, 5), ("C", "specialist", 10, 5))
    register = agencies(
        "OLD", "NEW", "C", valid_to={"OLD": date(2025, 6, 30)}, successors={"OLD": "NEW"}
    )
    assert run(rows, register).plan.empty
    merged = run(rows, register, merge_successors=True)
    assert moves(merged) == {("specialist", "C", "NEW"): 3}
    assert impact_row(merged, "NEW")["agency_name"] == "Cơ quan NEW"


def test_headcount_cut_lowers_every_actual_fte() -> None:
    rows = staffing(("A", "specialist", 10, 8), ("B", "specialist", 10, 11))
    before = run(rows, agencies("A", "B"))
    assert moves(before) == {("specialist", "A", "B"): 1}
    cut = run(rows, agencies("A", "B"), headcount_cut_percent=20)
    a, b = impact_row(cut, "A"), impact_row(cut, "B")
    assert a["source_actual_fte"] == pytest.approx(10)
    assert a["actual_fte_before"] == pytest.approx(8)
    assert a["required_fte"] == pytest.approx(8)  # same work, same hours per FTE
    assert b["wisn_difference_before"] == pytest.approx(-3)
    assert cut.plan.empty  # A is exactly staffed after the cut: nobody to give


def test_target_utilization_changes_the_plan() -> None:
    rows = staffing(("A", "specialist", 10, 8), ("B", "specialist", 10, 11.5))
    assert moves(run(rows, agencies("A", "B"))) == {("specialist", "A", "B"): 2}
    # At 0.8 A needs 10: no surplus. At 1.25 B needs 9.2: no shortage.
    assert run(rows, agencies("A", "B"), target_utilization=0.8).plan.empty
    assert run(rows, agencies("A", "B"), target_utilization=1.25).plan.empty
    # A 10% allowance raises B's need to 12.78, A's to 8.89: A gives 1 (keeps 9).
    assert moves(run(rows, agencies("A", "B"), allowance_share=0.1)) == {
        ("specialist", "A", "B"): 1
    }


def test_scenarios_posing_the_same_problem_share_one_solve(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    solved_caps: list[float] = []

    def counting_solve(units: pd.DataFrame, max_move_share: float, time_limit: float = 60.0):
        solved_caps.append(max_move_share)
        return solve_transfers(units, max_move_share, time_limit=time_limit)

    monkeypatch.setattr(plan_module, "solve_transfers", counting_solve)
    rows = staffing(("A", "specialist", 10, 6), ("B", "specialist", 4, 6.5))
    # C has no staff in the period: merging it into B changes no unit
    register = agencies("A", "B", "C")
    solved = SolvedProblems()

    def plan(name: str, **parameters: object):
        scenario = Scenario(name=name, **{"max_move_share": 1.0, **parameters})  # type: ignore[arg-type]
        return plan_units(rows, register, scenario, Q2, solved=solved)

    plain = plan("plain")
    merged = plan("merged", merges={"B": ("C",)})
    capped = plan("capped", max_move_share=0.2)
    assert solved_caps == [1.0, 0.2]
    assert moves(plain) == moves(merged) == {("specialist", "A", "B"): 3}
    assert merged.solution is not None and merged.solution.solve_seconds == 0.0
    assert "the same problem as scenario plain" in merged.note
    # the cap is another problem: floor(0.2 × 10) = 2 persons may leave A
    assert moves(capped) == {("specialist", "A", "B"): 2}


def test_distinct_problems_are_solved_side_by_side_before_the_plans(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Each solve waits for the other: solved one after the other, the barrier breaks.
    both_solving = threading.Barrier(2, timeout=10)
    solved_caps: list[float] = []

    def waiting_solve(units: pd.DataFrame, max_move_share: float, time_limit: float = 60.0):
        both_solving.wait()
        solved_caps.append(max_move_share)
        return solve_transfers(units, max_move_share, time_limit=time_limit)

    monkeypatch.setattr(plan_module, "solve_transfers", waiting_solve)
    monkeypatch.setattr(plan_module.os, "cpu_count", lambda: 2)
    rows = staffing(("A", "specialist", 10, 6), ("B", "specialist", 4, 6.5))
    register = agencies("A", "B", "C")
    scenarios = [
        Scenario(name="plain", max_move_share=1.0),
        Scenario(name="merged", max_move_share=1.0, merges={"B": ("C",)}),
        Scenario(name="capped", max_move_share=0.2),
    ]
    units = [
        (s, plan_module.scenario_units(rows, register, s, date(2025, 6, 30))) for s in scenarios
    ]
    solved = SolvedProblems()
    solved.solve_ahead(units, time_limit=60.0)
    assert sorted(solved_caps) == [0.2, 1.0]
    results = {s.name: plan_units(rows, register, s, Q2, solved=solved) for s in scenarios}
    assert len(solved_caps) == 2  # the plans use the solutions
    assert moves(results["plain"]) == moves(results["merged"]) == {("specialist", "A", "B"): 3}
    assert moves(results["capped"]) == {("specialist", "A", "B"): 2}
    assert "the same problem as scenario plain" in results["merged"].note
    assert "the same problem" not in results["plain"].note


def test_solver_scales_to_sixty_agencies_and_four_groups() -> None:
    groups = ["leadership", "specialist", "shared_specialist", "support"]
    units = pd.DataFrame(
        [
            {
                "agency_code": f"A{a:02d}",
                "position_group": g,
                "actual_fte": 10.0 + (a * 7 + k * 3) % 9,
                "required_fte": 10.0 + (a * 5 + k * 11) % 9 + 0.37,
                "can_receive": a % 13 != 0,
            }
            for a in range(60)
            for k, g in enumerate(groups)
        ]
    )
    solution = solve_transfers(units, max_move_share=0.1, time_limit=60)
    assert solution.optimal
    assert solution.solve_seconds < 30
    assert solution.imbalance_after < solution.imbalance_before
    assert solution.staff_moved == int(solution.transfers["staff_moved"].sum())


# --- scenarios, tables, workbook -----------------------------------------------------------


def test_repository_scenarios_load() -> None:
    scenarios = load_scenarios(SCENARIOS_FILE)
    names = [s.name for s in scenarios]
    assert len(names) == len(set(names)) >= 4
    assert any(s.headcount_cut_percent > 0 for s in scenarios)
    assert any(s.merges or s.merge_successors for s in scenarios)
    assert any(s.target_utilization != 1 for s in scenarios)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("scenarios: [{name: x, utilisation: 0.8}]", "unknown key"),
        ("scenarios: [{name: x, allowance_share: 1.0}]", "allowance_share"),
        ("scenarios: [{name: x}, {name: x}]", "duplicate"),
        ("scenarios: [{name: x, merges: {B: [A], C: [A]}}]", "merged into both"),
        ("scenarios: [{name: x, headcount_cut_percent: ten}]", "must be a number"),
        ("nothing: here", "scenarios"),
    ],
)
def test_bad_scenario_files_say_what_is_wrong(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "scenarios.yml"
    path.write_text(text)
    with pytest.raises(ScenarioError, match=message):
        load_scenarios(path)


def test_merge_cycles_are_refused() -> None:
    rows = staffing(("A", "specialist", 2, 5), ("B", "specialist", 10, 5))
    with pytest.raises(ScenarioError, match="cycle"):
        run(rows, agencies("A", "B"), merges={"A": ("B",), "B": ("A",)})


def _small_warehouse(last_work_date: date) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("create schema marts; create schema staging")
    con.execute(
        "create table marts.fct_staff_day as select d::date as work_date "
        "from range(date '2025-03-01', ?::date + 1, interval 1 day) t(d)",
        [last_work_date],
    )
    rows = staffing(
        ("A", "specialist", 10, 6),
        ("B", "specialist", 4, 6.5),
        ("A", "unknown", 5, 1),
        ("B", "unknown", 1, 5),
    )
    frames = []
    for period_type, start in [
        ("quarter", date(2025, 1, 1)),
        ("quarter", date(2025, 4, 1)),
        ("month", date(2025, 6, 1)),
    ]:
        frames.append(rows.assign(period_type=period_type, period_start=start))
    con.register("rows", pd.concat(frames))
    con.execute("create table marts.staffing_surplus as select * from rows")
    con.register("register", agencies("A", "B").assign(valid_from=date(2020, 1, 1)))
    con.execute("create table staging.stg_hr__agencies as select * from register")
    return con


def test_latest_complete_quarter_lies_wholly_inside_the_data() -> None:
    assert latest_complete_quarter(_small_warehouse(date(2025, 6, 30))) == date(2025, 4, 1)
    # Q1 starts before the data (March only) and Q2 is one day short: no complete quarter.
    assert latest_complete_quarter(_small_warehouse(date(2025, 6, 29))) is None
    assert period_end("quarter", date(2025, 10, 1)) == date(2025, 12, 31)
    assert period_end("month", date(2024, 2, 1)) == date(2024, 2, 29)


def test_write_plans_replaces_both_tables(tmp_path: Path) -> None:
    con = _small_warehouse(date(2025, 6, 30))
    scenarios = [
        Scenario(name="base", max_move_share=1.0),
        Scenario(name="strict", target_utilization=0.5, max_move_share=1.0),
    ]
    plan, impact = plan_redistribution(con, scenarios[0])
    assert plan.attrs["period"] == "quarter 2025-04-01"
    assert "unknown" not in set(impact["position_group"])
    counts = write_plans(con, scenarios)
    assert counts == {PLAN_TABLE: 1, IMPACT_TABLE: 4}
    stored = con.execute(f"select * from {PLAN_TABLE}").df()
    assert list(stored.columns) == [name for name, _ in PLAN_COLUMNS]
    assert stored.loc[0, "staff_moved"] == 3 and stored.loc[0, "period_start"].month == 4
    described = con.execute(f"describe {IMPACT_TABLE}").df()
    assert list(described["column_name"]) == [name for name, _ in IMPACT_COLUMNS]
    # Replacing with a plan for a quarter with nothing to move leaves typed, empty tables.
    counts = write_plans(con, scenarios[1:])
    assert counts[PLAN_TABLE] == 0
    assert con.execute(f"select count(*) from {PLAN_TABLE}").fetchone() == (0,)
    assert con.execute(f"select distinct scenario from {IMPACT_TABLE}").fetchall() == [("strict",)]
    # A warehouse with no complete quarter still gets (empty) tables, not an error.
    counts = write_plans(_small_warehouse(date(2025, 6, 29)), scenarios)
    assert counts == {PLAN_TABLE: 0, IMPACT_TABLE: 0}


def test_workbook_has_vietnamese_headers_and_frozen_rows(tmp_path: Path) -> None:
    result = run(
        staffing(("A", "specialist", 10, 6), ("B", "specialist", 4, 6.5)),
        agencies("A", "B"),
    )
    path = write_plan_workbook(result.plan, result.impact, tmp_path / "plan.xlsx")
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["Tóm tắt", "Kế hoạch điều chuyển", "Trước và sau"]
    sheet = book["Kế hoạch điều chuyển"]
    headers = [cell.value for cell in sheet[1]]
    assert "Cơ quan chuyển đi" in headers and "Lý do" in headers
    assert sheet.freeze_panes == "A2"
    assert sheet.cell(2, headers.index("Số người điều chuyển") + 1).value == 3
    summary = book["Tóm tắt"]
    assert [c.value for c in summary[2]][3:5] == [1, 3]


def test_workbook_is_written_again_only_for_another_plan(tmp_path: Path) -> None:
    path = tmp_path / "plan.xlsx"
    first = run(
        staffing(("A", "specialist", 10, 6), ("B", "specialist", 4, 6.5)),
        agencies("A", "B"),
    )
    assert write_plan_workbook_if_changed(first.plan, first.impact, path)
    written = path.stat().st_mtime_ns
    # the same plan again (as when every scenario comes from the plan cache): left as it is
    assert not write_plan_workbook_if_changed(first.plan.copy(), first.impact.copy(), path)
    assert path.stat().st_mtime_ns == written
    # another plan: written again
    other = run(
        staffing(("A", "specialist", 12, 6), ("B", "specialist", 4, 7.5)),
        agencies("A", "B"),
    )
    assert not other.plan.equals(first.plan)
    assert write_plan_workbook_if_changed(other.plan, other.impact, path)
    sheet = openpyxl.load_workbook(path)["Kế hoạch điều chuyển"]
    headers = [cell.value for cell in sheet[1]]
    moved = sheet.cell(2, headers.index("Số người điều chuyển") + 1).value
    assert moved == other.plan["staff_moved"].iloc[0] != first.plan["staff_moved"].iloc[0]
    # a file without its digest (a write cut short) is written again
    path.with_name(path.name + ".digest").unlink()
    assert write_plan_workbook_if_changed(other.plan, other.impact, path)


# --- a generated warehouse -----------------------------------------------------------------


@pytest.fixture(scope="module")
def generated_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("planner")
    for args in (
        ["generate", "--out", str(root / "raw"), "--start", "2025-03-01", "--end", "2025-06-30"],
        ["build", "--raw", str(root / "raw"), "--warehouse", str(root / "wh.duckdb")],
    ):
        done = subprocess.run(
            [KPI, *args], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=900
        )
        assert done.returncode == 0, f"kpi {args[0]} failed:\n{done.stderr[-4000:]}"
    return root / "wh.duckdb"


def test_plans_of_a_generated_warehouse(generated_warehouse: Path) -> None:
    scenarios = load_scenarios(SCENARIOS_FILE)
    with duckdb.connect(str(generated_warehouse)) as con:
        counts = write_plans(con, scenarios)
        plan = con.execute(f"select * from {PLAN_TABLE}").df()
        impact = con.execute(f"select * from {IMPACT_TABLE}").df()
    assert counts == {PLAN_TABLE: len(plan), IMPACT_TABLE: len(impact)}
    assert set(impact["scenario"]) == {s.name for s in scenarios}
    assert set(impact["period_start"].dt.date) == {date(2025, 4, 1)}
    assert "unknown" not in set(impact["position_group"])
    assert len(plan) > 0, "no scenario moves anybody on the demo data"

    figures = impact.set_index(["scenario", "agency_code", "position_group"])
    for row in plan.itertuples():
        donor = figures.loc[(row.scenario, row.from_agency_code, row.position_group)]
        receiver = figures.loc[(row.scenario, row.to_agency_code, row.position_group)]
        assert donor["staffing_status_before"] == "surplus"
        assert receiver["staffing_status_before"] == "shortage"
        assert bool(receiver["can_receive"])
        assert row.staff_moved >= 1 and row.reason
    # Within one group: a donor gives, a receiver takes, in that group only.
    assert not (
        set(plan["from_agency_code"] + plan["position_group"])
        & set(plan["to_agency_code"] + plan["position_group"])
    )
    kept = impact[impact["staff_out"] > 0]
    assert (
        kept["actual_fte_after"] >= kept["required_fte"].apply(lambda r: -(-r // 1)) - 1e-9
    ).all()
    assert (impact["imbalance_after"] <= impact["imbalance_before"] + 1e-9).all()
    totals = impact.groupby("scenario")[["imbalance_before", "imbalance_after"]].sum()
    assert (totals["imbalance_after"] <= totals["imbalance_before"] + 1e-9).all()


def test_planning_asset_materialises(generated_warehouse: Path, tmp_path: Path) -> None:
    from dagster import AssetKey, materialize

    from dagster_project.assets.planning import redistribution_planner
    from dagster_project.resources import WarehouseResource

    result = materialize(
        [redistribution_planner],
        resources={
            "warehouse": WarehouseResource(
                path=str(generated_warehouse), raw_dir=str(tmp_path / "raw")
            )
        },
    )
    assert result.success
    materialised = {event.asset_key for event in result.get_asset_materialization_events()}
    assert materialised == {
        AssetKey(["marts", "redistribution_plan"]),
        AssetKey(["marts", "redistribution_impact"]),
    }
    assert (generated_warehouse.parent / "redistribution_plan.xlsx").exists()
