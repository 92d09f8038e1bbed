"""Plans kept between builds: a scenario's plan is a function of its inputs, so a build whose
inputs did not change (an incremental build that rebuilt only months after the planned
quarter, or left its staffing figures as they were) reuses the previous solve instead of
solving the same MILP again (seconds per scenario at province scale)."""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from dagster_project.planner.plan import PlanResult
    from dagster_project.planner.scenarios import Scenario

# The staffing figures are sums of doubles, whose last bits depend on the order DuckDB adds
# them in; inputs equal to this many decimals are the same inputs.
FIGURE_DECIMALS = 9

_PLANNER_SOURCES = ("cache.py", "io.py", "model.py", "plan.py", "scenarios.py")
_CODE_DIGEST = hashlib.sha256(
    b"".join((Path(__file__).parent / name).read_bytes() for name in _PLANNER_SOURCES)
).digest()


def code_digest() -> bytes:
    """The digest of the planner's own code: a plan or a workbook made by other code is stale."""
    return _CODE_DIGEST


def inputs_key(
    staffing: pd.DataFrame,
    agencies: pd.DataFrame,
    scenario: Scenario,
    period: tuple[str, date],
    time_limit: float,
) -> str:
    """A digest of everything a plan depends on, the planner's own code included."""
    digest = hashlib.sha256(_CODE_DIGEST)
    digest.update(repr((scenario, period, time_limit)).encode())
    digest.update(_canonical_csv(staffing.round(FIGURE_DECIMALS)))
    digest.update(_canonical_csv(agencies))
    return digest.hexdigest()


def _canonical_csv(frame: pd.DataFrame) -> bytes:
    """The frame's rows in a fixed order: a query without ORDER BY returns them in any."""
    ordered = frame.sort_values(list(frame.columns), na_position="last", kind="stable")
    return ordered.to_csv(index=False).encode()


class PlanCache:
    """Plans by input digest, as files in one folder; a run keeps only what it used."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.used: set[str] = set()

    def has(self, key: str) -> bool:
        """Whether a plan is kept for `key` (one that cannot be read is solved again)."""
        return (self.folder / f"{key}.pickle").is_file()

    def plan(self, key: str, solve: Callable[[], PlanResult]) -> PlanResult:
        self.used.add(key)
        path = self.folder / f"{key}.pickle"
        if path.is_file():
            try:
                with path.open("rb") as f:
                    cached: PlanResult = pickle.load(f)
                return cached
            except (OSError, pickle.UnpicklingError, EOFError, AttributeError):
                path.unlink(missing_ok=True)  # unreadable: solve again
        result = solve()
        self.folder.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        with partial.open("wb") as f:
            pickle.dump(result, f)
        partial.replace(path)
        return result

    def forget_unused(self) -> None:
        for path in self.folder.glob("*.pickle"):
            if path.stem not in self.used:
                path.unlink(missing_ok=True)
