"""The transfer MILP: whole persons, within one position group, from surplus to shortage.

Units are (agency, position group) rows with an actual and a required FTE; d = actual − required
is the WISN difference. The model (solved by HiGHS through `scipy.optimize.milp`):

variables
    x[k] ∈ ℤ, 0 ≤ x[k] ≤ ub[k], one per pair k = (g, i, j): persons of group g moved from donor
         unit (i, g) to receiver unit (j, g). Donors are surplus units (d ≥ 1) that can give at
         least one person, receivers shortage units (d ≤ −1) of agencies that still exist after
         the period. The two sets are disjoint, so i ≠ j and a person moves at most once (no
         chains), and pairs only exist inside one group, so groups never mix.
    t[u] ≥ 0, continuous, one per unit taking part: its remaining imbalance.
constraints
    t[u] ≥  (d[u] − out[u] + in[u])      } t[u] ≥ |remaining difference| (tight at the optimum)
    t[u] ≥ −(d[u] − out[u] + in[u])      }
    out[u] ≤ floor(actual[u] − ceil(required[u]))   the donor keeps ≥ ceil(required) persons
    Σ_g out[a, g] ≤ floor(max_move_share × Σ_g actual[a, g])   the cap, per agency
objective (lexicographic, two solves)
    1. V = min Σ t    2. min Σ x subject to Σ t ≤ V + GRID/2.
    Why exact: d is rounded to a multiple of GRID (1/GRID is an integer) and out, in are
    integers, so every attainable imbalance |d − out + in| is a multiple of GRID, and so is any
    sum of them. Two different attainable totals therefore differ by at least GRID, and a plan
    with Σ t ≤ V + GRID/2 < V + GRID has total imbalance exactly V. Stage 1 runs with
    mip_rel_gap = 0 (HiGHS's default 1e-4 would stop short of V), and the solver's
    tolerances (~1e-6) are far below GRID/2. A single weighted solve would need a weight above
    (max moves) / GRID ≈ 1e6, which invites exactly the numerical trouble the two solves avoid.

The receiver bound in[j] ≤ ceil(−d[j]) loses no lexicographic optimum: a receiver given more is
left with difference ≥ 1, and taking one of those moves back leaves the total imbalance equal
(donor +1, receiver −1, both stay ≥ 0) with one move fewer.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from scipy.optimize import Bounds, LinearConstraint

GRID = 1e-3  # FTE: imbalances are compared to a thousandth of a full-time person.
_EPS = 1e-9  # float noise guard for ceil/floor of FTE figures that are "really" integers.

TRANSFER_COLUMNS = ["position_group", "from_agency_code", "to_agency_code", "staff_moved"]


@dataclass(frozen=True)
class Solution:
    transfers: pd.DataFrame  # TRANSFER_COLUMNS, staff_moved ≥ 1
    imbalance_before: float  # Σ |d| over the units, with d on the GRID (the solver's view)
    imbalance_after: float  # stage-1 optimum V plus the units that took no part
    staff_moved: int  # stage-2 optimum
    pairs: int  # integer variables
    solve_seconds: float
    optimal: bool  # False when a time limit stopped a stage (the plan is feasible, not proven)
    message: str


def keep_at_least(required_fte: pd.Series) -> pd.Series:
    """ceil(required_fte), the persons an agency keeps, without 3.0000000001 becoming 4."""
    return np.ceil(required_fte - _EPS)


def donor_capacity(units: pd.DataFrame) -> pd.Series:
    """Persons a unit may give before the cap: 0 unless it is a surplus unit (d ≥ 1)."""
    difference = units["actual_fte"] - units["required_fte"]
    spare = np.floor(units["actual_fte"] - keep_at_least(units["required_fte"]) + _EPS)
    return spare.where(difference >= 1 - _EPS, 0).clip(lower=0).fillna(0).astype(int)


def agency_cap(units: pd.DataFrame, max_move_share: float) -> pd.Series:
    """floor(max_move_share × the agency's actual FTE over its planned groups), per agency."""
    total = units.groupby("agency_code")["actual_fte"].sum()
    return np.floor(max_move_share * total + _EPS).astype(int)


def receiver_need(units: pd.DataFrame) -> pd.Series:
    """ceil(−d) for a shortage unit (d ≤ −1) that may receive, else 0."""
    difference = units["actual_fte"] - units["required_fte"]
    need = np.ceil(-difference - _EPS)
    eligible = (difference <= -1 + _EPS) & units["can_receive"].astype(bool)
    return need.where(eligible, 0).fillna(0).astype(int)


def _on_grid(values: np.ndarray) -> np.ndarray:
    return np.round(values / GRID) * GRID


def _milp(
    c: np.ndarray,
    constraints: list[LinearConstraint],
    integrality: np.ndarray,
    bounds: Bounds,
    time_limit: float,
) -> tuple[np.ndarray | None, bool, str]:
    from scipy.optimize import milp

    result = milp(
        c,
        integrality=integrality,
        bounds=bounds,
        constraints=constraints,
        options={"time_limit": time_limit, "mip_rel_gap": 0.0, "disp": False},
    )
    return result.x, result.status == 0, str(result.message)


def solve_transfers(
    units: pd.DataFrame, max_move_share: float, time_limit: float = 60.0
) -> Solution:
    """The lexicographically best transfers for `units`.

    `units`: one row per (agency_code, position_group) with actual_fte, required_fte and
    can_receive; rows without a required_fte (no available time to base it on) are left out.
    """
    # Imported when a plan is solved, not with the definitions: every build loads these, most
    # reuse a cached plan, and scipy's optimiser takes 0.2-0.3 s to import.
    from scipy import sparse
    from scipy.optimize import Bounds, LinearConstraint

    started = time.perf_counter()
    units = units[units["required_fte"].notna() & units["actual_fte"].notna()].copy()
    units = units.reset_index(drop=True)
    units["d"] = _on_grid((units["actual_fte"] - units["required_fte"]).to_numpy(float))
    units["capacity"] = donor_capacity(units)
    caps = agency_cap(units, max_move_share)
    units["agency_cap"] = units["agency_code"].map(caps).fillna(0).astype(int)
    units["need"] = receiver_need(units)
    imbalance_before = float(units["d"].abs().sum())

    donors = units[(units["capacity"] > 0) & (units["agency_cap"] > 0)]
    receivers = units[units["need"] > 0]
    pairs = (
        donors.drop(columns="need")
        .reset_index(names="i")
        .merge(
            receivers.reset_index(names="j")[["j", "position_group", "need"]],
            on="position_group",
        )
    )

    def no_plan(message: str) -> Solution:
        return Solution(
            transfers=pd.DataFrame(columns=TRANSFER_COLUMNS),
            imbalance_before=imbalance_before,
            imbalance_after=imbalance_before,
            staff_moved=0,
            pairs=len(pairs),
            solve_seconds=time.perf_counter() - started,
            optimal=True,
            message=message,
        )

    if pairs.empty:
        return no_plan("no group has both a donor and a receiver")

    n = len(pairs)
    # Units taking part, in model order: row u of the imbalance block is participants[u].
    participants = np.union1d(pairs["i"].to_numpy(), pairs["j"].to_numpy())
    m = len(participants)
    position = {unit: u for u, unit in enumerate(participants)}
    from_row = pairs["i"].map(position).to_numpy()
    to_row = pairs["j"].map(position).to_numpy()
    columns = np.arange(n)

    # net[u, k]: +1 when pair k takes a person out of unit u, −1 when it brings one in.
    net = sparse.coo_array(
        (
            np.concatenate([np.ones(n), -np.ones(n)]),
            (np.concatenate([from_row, to_row]), np.concatenate([columns, columns])),
        ),
        shape=(m, n),
    ).tocsr()
    identity = sparse.identity(m, format="csr")
    d = units.loc[participants, "d"].to_numpy(float)

    donor_units = np.unique(pairs["i"].to_numpy())
    donor_row = {unit: r for r, unit in enumerate(donor_units)}
    out_unit = sparse.coo_array(
        (np.ones(n), (pairs["i"].map(donor_row).to_numpy(), columns)),
        shape=(len(donor_units), n),
    ).tocsr()
    donor_agencies = np.unique(pairs["agency_code"].to_numpy())
    agency_row = {agency: r for r, agency in enumerate(donor_agencies)}
    out_agency = sparse.coo_array(
        (np.ones(n), (pairs["agency_code"].map(agency_row).to_numpy(), columns)),
        shape=(len(donor_agencies), n),
    ).tocsr()
    constraints = [
        LinearConstraint(sparse.hstack([net, identity]), d, np.inf),
        LinearConstraint(sparse.hstack([-net, identity]), -d, np.inf),
        LinearConstraint(
            sparse.hstack([out_unit, sparse.csr_array((len(donor_units), m))]),
            -np.inf,
            units.loc[donor_units, "capacity"].to_numpy(float),
        ),
        LinearConstraint(
            sparse.hstack([out_agency, sparse.csr_array((len(donor_agencies), m))]),
            -np.inf,
            caps.loc[donor_agencies].to_numpy(float),
        ),
    ]
    upper = np.minimum(
        np.minimum(pairs["capacity"].to_numpy(), pairs["agency_cap"].to_numpy()),
        pairs["need"].to_numpy(),
    ).astype(float)
    bounds = Bounds(np.zeros(n + m), np.concatenate([upper, np.full(m, np.inf)]))
    integrality = np.concatenate([np.ones(n), np.zeros(m)])
    limit = max(time_limit / 2, 1.0)

    x1, optimal1, message1 = _milp(
        np.concatenate([np.zeros(n), np.ones(m)]), constraints, integrality, bounds, limit
    )
    if x1 is None:
        return no_plan(f"stage 1 found no plan: {message1}")
    best = float(np.round(x1[n:].sum() / GRID) * GRID)
    stage2 = [
        *constraints,
        LinearConstraint(
            sparse.hstack([sparse.csr_array((1, n)), sparse.csr_array(np.ones((1, m)))]),
            -np.inf,
            best + GRID / 2,
        ),
    ]
    x2, optimal2, message2 = _milp(
        np.concatenate([np.ones(n), np.zeros(m)]), stage2, integrality, bounds, limit
    )
    # Stage 1's plan satisfies stage 2, so a missing stage-2 answer falls back to it.
    x = x2 if x2 is not None else x1
    moved = np.rint(x[:n]).astype(int)

    _check(units, pairs, moved, caps)
    remaining = d - net @ moved
    untouched = units.index.difference(participants)
    imbalance_after = float(np.abs(remaining).sum() + units.loc[untouched, "d"].abs().sum())
    chosen = pairs.assign(staff_moved=moved)[moved > 0]
    transfers = (
        chosen.rename(columns={"agency_code": "from_agency_code"})
        .assign(to_agency_code=units.loc[chosen["j"], "agency_code"].to_numpy())[TRANSFER_COLUMNS]
        .sort_values(TRANSFER_COLUMNS[:3])
        .reset_index(drop=True)
    )
    return Solution(
        transfers=transfers,
        imbalance_before=imbalance_before,
        imbalance_after=imbalance_after,
        staff_moved=int(moved.sum()),
        pairs=n,
        solve_seconds=time.perf_counter() - started,
        optimal=optimal1 and optimal2 and x2 is not None,
        message=f"stage 1: {message1}; stage 2: {message2}",
    )


def _check(
    units: pd.DataFrame,
    pairs: pd.DataFrame,
    moved: np.ndarray,
    caps: pd.Series,
) -> None:
    """Re-check the rounded plan against the rules: a solver answer is not taken on trust."""
    out = pd.Series(moved, index=pairs.index).groupby(pairs["i"]).sum()
    into = pd.Series(moved, index=pairs.index).groupby(pairs["j"]).sum()
    problems: list[str] = []
    for unit, persons in out.items():
        row = units.loc[unit]
        if (
            persons > row["capacity"]
            or row["actual_fte"] - persons < math.ceil(row["required_fte"] - _EPS) - _EPS
        ):
            problems.append(f"{row['agency_code']}/{row['position_group']} gives {persons}")
    by_agency = out.groupby(units.loc[out.index, "agency_code"].to_numpy()).sum()
    for agency, persons in by_agency.items():
        if persons > caps.loc[agency]:
            problems.append(f"{agency} gives {persons} > cap {caps.loc[agency]}")
    for unit in into.index[into.to_numpy() > 0]:
        if not bool(units.loc[unit, "can_receive"]):
            problems.append(f"{units.loc[unit, 'agency_code']} cannot receive")
    if (moved < 0).any():
        problems.append("negative transfer")
    if problems:
        raise RuntimeError("the solver's plan breaks the rules: " + "; ".join(problems))
