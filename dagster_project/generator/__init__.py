"""Demo exports for the 19 pilot agencies of Khánh Hòa's KPI programme.

``generate()`` writes every source of ``contract/raw-sources.md`` into ``out_dir``; see
``docs/demo-data.md`` for the model, the messiness rates and the calibration.
"""

from __future__ import annotations

import re
import sys
import time
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from .agencies import Agency, all_agencies
from .behaviour import CALIBRATION, CalibrationTarget, World, simulate
from .calendar import month_bounds, months_between
from .catalogue import build_catalogue, catalogue_table
from .leave import LEAVE_TYPES, build_leave
from .messiness import MessinessRates
from .people import build_population
from .schema import SOURCE_NAMES, labels
from .writers import FileForm, form_for, to_strings, with_broken_rows, write_table

__all__ = ["CALIBRATION", "CalibrationTarget", "GenerationSummary", "MessinessRates", "generate"]

_OWN_FILE = re.compile(
    r"^(\d{4}-\d{2}(-\d{2})?(-part\d+)?|agencies|positions|tasks|staff)"
    r"\.(csv|xlsx)$"
)


@dataclass
class GenerationSummary:
    out_dir: Path
    files: list[Path] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)
    broken_rows: dict[str, int] = field(default_factory=dict)
    agencies: int = 0
    people: int = 0
    windows: int = 0
    seconds: float = 0.0

    def add(self, source: str, paths: list[Path], n: int) -> None:
        self.files.extend(paths)
        self.rows[source] = self.rows.get(source, 0) + n


def _horizon(start: date, end: date, append_day: date | None) -> tuple[date, date]:
    # The population is simulated over a fixed horizon so that a longer range, or an
    # appended day, sees the very same people.
    h0 = min(start, date(2025, 1, 1))
    h1 = max(end, append_day or end, date(2026, 12, 31))
    return h0, date(h1.year, 12, 31)


def build_world(
    seed: int,
    start: date,
    end: date,
    scale: float,
    rates: MessinessRates,
    append_day: date | None = None,
) -> World:
    h0, h1 = _horizon(start, end, append_day)
    agencies = all_agencies(scale)
    cat = build_catalogue(agencies, min(start, date(2025, 1, 1)))
    pop = build_population(seed, agencies, h0, h1)
    asg = pop.assignments
    n = pop.staff_id.size
    first = np.full(n, np.datetime64("9999-12-31"), dtype="datetime64[D]")
    last = np.full(n, np.datetime64("1900-01-01"), dtype="datetime64[D]")
    np.minimum.at(first, asg["person"].to_numpy(), asg["start"].to_numpy())
    ends = asg["end"].to_numpy().astype("datetime64[D]")
    ends = np.where(np.isnat(ends), np.datetime64("9999-12-31"), ends)
    np.maximum.at(last, asg["person"].to_numpy(), ends)
    leave = build_leave(
        seed, pop.service_start, pop.female, first, last, range(h0.year, h1.year + 1)
    )
    return World(seed=seed, agencies=agencies, cat=cat, pop=pop, leave=leave, rates=rates)


def _reference_tables(world: World, end: date) -> dict[str, pd.DataFrame]:
    E = np.datetime64(end, "D")
    ags: list[Agency] = [a for a in world.agencies if a.valid_from <= end]
    agencies = pd.DataFrame(
        {
            "agency_code": [a.code for a in ags],
            "agency_name": [a.name for a in ags],
            "agency_type": [a.type for a in ags],
            "parent_agency_code": [a.parent for a in ags],
            "valid_from": np.array([a.valid_from for a in ags], dtype="datetime64[D]"),
            "valid_to": np.array([a.valid_to or "NaT" for a in ags], dtype="datetime64[D]"),
            "successor_agency_code": [a.successor for a in ags],
        }
    )
    pos = world.pop.positions
    pos = pos[pd.to_datetime(pos["valid_from"]).to_numpy() <= E].copy()
    pos["valid_from"] = pd.to_datetime(pos["valid_from"]).to_numpy().astype("datetime64[D]")
    tasks = catalogue_table(world.cat)
    tasks["valid_from"] = pd.to_datetime(tasks["valid_from"]).to_numpy().astype("datetime64[D]")
    tasks = tasks[tasks["valid_from"].to_numpy() <= E]
    asg = world.pop.assignments
    asg = asg[asg["start"].to_numpy() <= E]
    end_v = asg["end"].to_numpy().astype("datetime64[D]")
    # The HR export is taken at the end of the range: later departures are not known yet.
    end_v = np.where(end_v <= E, end_v, np.datetime64("NaT"))
    codes = np.array([a.code for a in world.agencies], dtype=object)
    staff = pd.DataFrame(
        {
            "staff_id": world.pop.staff_id[asg["person"].to_numpy()],
            "full_name": world.pop.full_name[asg["person"].to_numpy()],
            "agency_code": codes[asg["agency_idx"].to_numpy()],
            "department": asg["department"].to_numpy(object),
            "position_code": asg["position_code"].to_numpy(object),
            "is_leader": asg["is_leader"].to_numpy(bool),
            "assignment_start": asg["start"].to_numpy().astype("datetime64[D]"),
            "assignment_end": end_v,
        }
    )
    return {"agencies": agencies, "positions": pos, "tasks": tasks, "staff": staff}


def _leave_rows(world: World, d1: date, d2: date, first: bool) -> pd.DataFrame:
    lv = world.leave
    s = lv["start"].to_numpy()
    e = lv["end"].to_numpy()
    D1, D2 = np.datetime64(d1, "D"), np.datetime64(d2, "D")
    sel = (s >= D1) & (s <= D2)
    if first:
        sel |= (s < D1) & (e >= D1)  # spells already running when the range begins
    lv = lv[sel]
    return pd.DataFrame(
        {
            "staff_id": world.pop.staff_id[lv["person"].to_numpy()],
            "leave_type": np.array(LEAVE_TYPES, dtype=object)[lv["type"].to_numpy()],
            "leave_start": lv["start"].to_numpy(),
            "leave_end": lv["end"].to_numpy(),
            "half_day": lv["half"].to_numpy(bool),
        }
    )


class _Progress:
    def __init__(self, total: int, enabled: bool) -> None:
        self.total, self.enabled, self.done = total, enabled, 0
        self.t0 = time.monotonic()

    def step(self, label: str) -> None:
        self.done += 1
        if not self.enabled:
            return
        width = 30
        filled = int(width * self.done / max(self.total, 1))
        secs = time.monotonic() - self.t0
        sys.stderr.write(
            f"\r[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} "
            f"{label} {secs:6.1f}s"
        )
        if self.done >= self.total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def _write(
    summary: GenerationSummary,
    out_dir: Path,
    source: str,
    name: str,
    df: pd.DataFrame,
    form: FileForm,
    rng: np.random.Generator | None,
    rate: float,
    year: int,
) -> None:
    cols = to_strings(df, source, form)
    broken = 0
    if rng is not None:
        cols, broken = with_broken_rows(cols, source, rate, rng, form, year)
    paths = write_table(out_dir / source / name, source, cols, form)
    summary.add(source, paths, len(df) + broken)
    if broken:
        summary.broken_rows[source] = summary.broken_rows.get(source, 0) + broken


def _clear_own_files(out_dir: Path) -> None:
    for source in SOURCE_NAMES:
        folder = out_dir / source
        if folder.is_dir():
            for p in folder.iterdir():
                if p.is_file() and _OWN_FILE.match(p.name):
                    p.unlink()


def generate(
    out_dir: Path,
    *,
    seed: int = 42,
    start: date = date(2025, 3, 1),
    end: date = date(2025, 12, 31),
    scale: float = 1.0,
    formats: str = "mixed",
    clean: bool = False,
    append_day: date | None = None,
    progress: bool = False,
    rates: MessinessRates | None = None,
) -> GenerationSummary:
    """Write a raw dataset of every source into ``out_dir`` (see ``docs/demo-data.md``).

    With ``append_day``, only that day's new files are written (worklog, documents, events,
    leave), consistent with the population and catalogues that the same ``seed``, ``start``,
    ``end`` and ``scale`` produced; existing files are never rewritten.
    """
    t0 = time.monotonic()
    if formats not in ("mixed", "csv", "xlsx"):
        raise ValueError(f"formats must be mixed, csv or xlsx, not {formats!r}")
    if end < start:
        raise ValueError("end is before start")
    if scale <= 0:
        raise ValueError("scale must be positive")
    out_dir = Path(out_dir)
    rates = MessinessRates.clean() if clean else (rates or MessinessRates())
    world = build_world(seed, start, end, scale, rates, append_day)
    summary = GenerationSummary(
        out_dir=out_dir, agencies=len(world.agencies), people=int(world.pop.staff_id.size)
    )
    if append_day is not None:
        if append_day <= end:
            raise ValueError("append_day must come after end")
        _append(world, summary, out_dir, append_day, formats, clean, progress)
        summary.seconds = time.monotonic() - t0
        return summary

    out_dir.mkdir(parents=True, exist_ok=True)
    _clear_own_files(out_dir)
    months = months_between(start, end)
    bar = _Progress(len(months) + 1, progress)
    for source, df in _reference_tables(world, end).items():
        _write(
            summary,
            out_dir,
            source,
            source,
            df,
            form_for(source, formats, clean, 0),
            None,
            0.0,
            start.year,
        )
    bar.step("reference data")
    for i, (y, m) in enumerate(months):
        m1, m2 = month_bounds(y, m)
        d1, d2 = max(start, m1), min(end, m2)
        _window(
            world, summary, out_dir, d1, d2, f"{y:04d}-{m:02d}", i, formats, clean, first=(i == 0)
        )
        bar.step(f"{y:04d}-{m:02d}")
    summary.windows = len(months)
    summary.seconds = time.monotonic() - t0
    return summary


def _window(
    world: World,
    summary: GenerationSummary,
    out_dir: Path,
    d1: date,
    d2: date,
    tag: str,
    index: int,
    formats: str,
    clean: bool,
    first: bool,
) -> None:
    out = simulate(world, d1, d2, tag)
    rng = np.random.default_rng([world.seed, 51, d1.toordinal()])
    rate = world.rates.broken_row
    docs = pd.concat([out["documents"], out["incoming"]], ignore_index=True)
    docs = docs.sort_values(["issued_date", "doc_id"], kind="stable").reset_index(drop=True)
    parts = {
        "worklog": out["worklog"],
        "documents": docs,
        "events": out["events"],
        "leave": _leave_rows(world, d1, d2, first),
    }
    if "evaluations" in out and (d2 - d1).days > 0:
        parts["evaluations"] = out["evaluations"]
    for source, df in parts.items():
        _write(
            summary,
            out_dir,
            source,
            tag,
            df,
            form_for(source, formats, clean, index),
            rng if not clean else None,
            rate,
            d1.year,
        )


def _append(
    world: World,
    summary: GenerationSummary,
    out_dir: Path,
    day: date,
    formats: str,
    clean: bool,
    progress: bool,
) -> None:
    world.doc_counters.update(_existing_counters(world, out_dir))
    tag = day.isoformat()
    for source in ("worklog", "documents", "events", "leave"):
        if (out_dir / source / f"{tag}.csv").exists() or (
            out_dir / source / f"{tag}.xlsx"
        ).exists():
            raise FileExistsError(f"{source}/{tag} already exists")
    bar = _Progress(1, progress)
    # The day's files take the form of the month they fall in.
    index = day.year * 12 + day.month
    _window(world, summary, out_dir, day, day, tag, index, formats, clean, first=False)
    summary.windows = 1
    bar.step(tag)


def _existing_counters(world: World, out_dir: Path) -> dict[tuple[int, str, int], int]:
    """The last document number already used per agency, type and year in ``out_dir``."""
    folder = out_dir / "documents"
    if not folder.is_dir():
        return {}
    lab = {unicodedata.normalize("NFC", v).lower(): k for k, v in labels("documents").items()}
    frames = []
    for p in sorted(folder.iterdir()):
        if p.suffix == ".csv":
            df = pd.read_csv(p, dtype=str, encoding="utf-8-sig", keep_default_na=False)
        elif p.suffix == ".xlsx":
            df = pd.read_excel(p, dtype=str, engine="calamine")
        else:
            continue
        df.columns = [
            lab.get(unicodedata.normalize("NFC", str(c)).strip().lower(), str(c).strip())
            for c in df.columns
        ]
        if {"agency_code", "doc_number", "issued_date", "direction"} <= set(df.columns):
            frames.append(df[["agency_code", "doc_number", "issued_date", "direction"]])
    if not frames:
        return {}
    df = pd.concat(frames)
    df = df[df["direction"].str.strip().str.lower().isin(["outgoing", "đi"])]
    num = df["doc_number"].str.extract(r"^(\d+)/([^-]+)-(.+)$")
    year = df["issued_date"].str.extract(r"(\d{4})")[0]
    code_idx = {a.code: i for i, a in enumerate(world.agencies)}
    abbr_of = {a.doc_abbr for a in world.agencies}
    out: dict[tuple[int, str, int], int] = {}
    for ag, n, left, y in zip(df["agency_code"], num[0], num[1], year, strict=True):
        if ag not in code_idx or not isinstance(n, str) or not isinstance(y, str):
            continue
        # `125/STC-NS` is a Công văn (type key ""); `12/QĐ-STC` has its type first.
        t = "" if left in abbr_of else left
        key = (code_idx[ag], t, int(y))
        out[key] = max(out.get(key, 0), int(n))
    return out
