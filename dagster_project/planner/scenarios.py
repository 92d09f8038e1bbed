"""Planning scenarios: what a province wants to try, read from `scenarios.yml`."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

_NAME = re.compile(r"^[a-z0-9_]+$")
OBSERVED = "observed"
_KNOWN_KEYS = {
    "name",
    "description",
    "target_utilization",
    "allowance_share",
    "headcount_cut_percent",
    "max_move_share",
    "merges",
    "merge_successors",
}


class ScenarioError(ValueError):
    """A scenario file a planner has to fix: the message says where and what."""


@dataclass(frozen=True)
class Scenario:
    """One what-if: the WISN parameters, a headcount cut, mergers and the transfer cap.

    - `target_utilization`, `allowance_share`: replace the dbt vars in required_fte =
      workload_hours ÷ (awt_hours_per_fte × target_utilization) ÷ (1 − allowance_share).
      `target_utilization: observed` takes, per position group, the period's pooled
      utilisation Σ workload_hours ÷ Σ available hours (before any cut): each group's required
      FTE then adds up to its actual FTE, and the plan evens the workload out within the group.
    - `headcount_cut_percent`: every (agency, group) keeps actual_fte × (1 − N/100); its available
      hours shrink in proportion (the hours per FTE stay), its workload stays.
    - `max_move_share`: the staff moved out of an agency (all planned groups together) is at most
      floor(max_move_share × the agency's actual FTE over those groups).
    - `merges`: surviving code → the codes merged into it; they plan as one agency.
    - `merge_successors`: also merge every agency into its `successor_agency_code` (transitively).
    """

    name: str
    description: str = ""
    target_utilization: float | str = 1.0
    allowance_share: float = 0.0
    headcount_cut_percent: float = 0.0
    max_move_share: float = 0.1
    merges: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    merge_successors: bool = False

    def __post_init__(self) -> None:
        problems: list[str] = []
        if not _NAME.match(self.name):
            problems.append("name must be lower-case letters, digits and underscores")
        if isinstance(self.target_utilization, str):
            if self.target_utilization != OBSERVED:
                problems.append(f"target_utilization must be a number or {OBSERVED!r}")
        elif not 0 < self.target_utilization <= 2:
            problems.append("target_utilization must be in (0, 2]")
        if not 0 <= self.allowance_share < 1:
            problems.append("allowance_share must be in [0, 1)")
        if not 0 <= self.headcount_cut_percent < 100:
            problems.append("headcount_cut_percent must be in [0, 100)")
        if not 0 <= self.max_move_share <= 1:
            problems.append("max_move_share must be in [0, 1]")
        seen: dict[str, str] = {}
        for survivor, members in self.merges.items():
            for code in members:
                if code == survivor:
                    continue
                if code in seen:
                    problems.append(f"{code} is merged into both {seen[code]} and {survivor}")
                seen[code] = survivor
        if problems:
            raise ScenarioError(f"scenario {self.name!r}: " + "; ".join(problems))


def _number(raw: Mapping[str, Any], key: str, default: float, where: str) -> float:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ScenarioError(f"{where}: {key} must be a number, got {value!r}")
    return float(value)


def _merges(raw: Any, where: str) -> dict[str, tuple[str, ...]]:
    if raw is None:
        return {}
    # Either {SURVIVOR: [CODE, ...]} or a list of {into: SURVIVOR, agencies: [CODE, ...]}.
    items: list[tuple[Any, Any]]
    if isinstance(raw, Mapping):
        items = list(raw.items())
    elif isinstance(raw, list) and all(isinstance(m, Mapping) for m in raw):
        items = [(m.get("into"), m.get("agencies")) for m in raw]
    else:
        raise ScenarioError(f"{where}: merges must be a mapping or a list of {{into, agencies}}")
    merges: dict[str, tuple[str, ...]] = {}
    for survivor, members in items:
        if not isinstance(survivor, str) or not survivor:
            raise ScenarioError(f"{where}: a merge has no surviving agency code")
        if not isinstance(members, list) or not all(isinstance(c, str) for c in members):
            raise ScenarioError(f"{where}: merge into {survivor} needs a list of agency codes")
        merges[survivor] = tuple(dict.fromkeys([*merges.get(survivor, ()), *members]))
    return merges


def parse_scenario(raw: Any, where: str) -> Scenario:
    if not isinstance(raw, Mapping):
        raise ScenarioError(f"{where}: a scenario must be a mapping")
    unknown = sorted(set(raw) - _KNOWN_KEYS)
    if unknown:
        raise ScenarioError(f"{where}: unknown key(s) {', '.join(unknown)}")
    name = raw.get("name")
    if not isinstance(name, str):
        raise ScenarioError(f"{where}: name is required")
    where = f"{where} ({name})"
    merge_successors = raw.get("merge_successors", False)
    if not isinstance(merge_successors, bool):
        raise ScenarioError(f"{where}: merge_successors must be true or false")
    return Scenario(
        name=name,
        description=str(raw.get("description") or "").strip(),
        target_utilization=(
            OBSERVED
            if raw.get("target_utilization") == OBSERVED
            else _number(raw, "target_utilization", 1.0, where)
        ),
        allowance_share=_number(raw, "allowance_share", 0.0, where),
        headcount_cut_percent=_number(raw, "headcount_cut_percent", 0.0, where),
        max_move_share=_number(raw, "max_move_share", 0.1, where),
        merges=_merges(raw.get("merges"), where),
        merge_successors=merge_successors,
    )


def load_scenarios(path: Path) -> list[Scenario]:
    """The scenarios of a YAML file: `scenarios:` followed by a list of mappings."""
    try:
        document = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ScenarioError(f"{path}: not valid YAML: {error}") from error
    if not isinstance(document, Mapping) or not isinstance(document.get("scenarios"), list):
        raise ScenarioError(f"{path}: expected a top-level `scenarios:` list")
    scenarios = [
        parse_scenario(raw, f"{path}: scenario {number}")
        for number, raw in enumerate(document["scenarios"], start=1)
    ]
    names = [s.name for s in scenarios]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ScenarioError(f"{path}: duplicate scenario name(s) {', '.join(duplicates)}")
    if not scenarios:
        raise ScenarioError(f"{path}: no scenarios")
    return scenarios
