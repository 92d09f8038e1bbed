"""Benchmark of the demo-data generator: rows per second and peak memory.

Usage: ``.venv/bin/python bench/bench_generator.py [--scale 1 3] [--months 3]``; writes
``bench/GENERATOR.md``. Each run is a separate process so that peak RSS is its own.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

_CHILD = """
import json, resource, sys, time
from datetime import date
sys.path.insert(0, {root!r})
from dagster_project.generator import generate
t = time.monotonic()
s = generate({out!r}, seed=42, start=date(2025, 3, 1), end=date({ey}, {em}, {ed}),
             scale={scale}, formats={fmt!r})
secs = time.monotonic() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({{"rows": s.rows, "people": s.people, "agencies": s.agencies,
                  "seconds": secs, "peak_mb": peak, "files": len(s.files)}}))
"""


def _end(months: int) -> tuple[int, int, int]:
    import calendar

    m = 3 + months - 1
    y = 2025 + (m - 1) // 12
    m = (m - 1) % 12 + 1
    return y, m, calendar.monthrange(y, m)[1]


def run(scale: float, months: int, fmt: str) -> dict:
    out = Path(tempfile.mkdtemp(prefix="kpi-bench-")) / "raw"
    ey, em, ed = _end(months)
    code = _CHILD.format(root=str(ROOT), out=str(out), ey=ey, em=em, ed=ed, scale=scale, fmt=fmt)
    try:
        res = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        data = json.loads(res.stdout.strip().splitlines()[-1])
        data["bytes"] = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    finally:
        shutil.rmtree(out.parent, ignore_errors=True)
    data.update(scale=scale, months=months, formats=fmt)
    return data


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=float, nargs="+", default=[1.0, 3.0])
    ap.add_argument("--months", type=int, default=3)
    ap.add_argument("--formats", default="csv")
    args = ap.parse_args()
    results = [run(s, args.months, args.formats) for s in args.scale]
    _ = resource  # the child measures its own peak RSS
    lines = [
        "# Demo-data generator benchmark",
        "",
        f"Machine: {platform.machine()}, {platform.processor() or 'cpu'}, "
        f"Python {platform.python_version()}; `{' '.join(sys.argv[1:]) or 'defaults'}`.",
        "Range 2025-03-01 onwards, seed 42. Rows = all rows written (every source).",
        "",
        "| scale | formats | months | agencies | people | worklog rows | all rows | seconds "
        "| rows/s | worklog rows/s | peak RSS MB | MB written |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        total = sum(r["rows"].values())
        lines.append(
            f"| {r['scale']:g} | {r['formats']} | {r['months']} | {r['agencies']} | {r['people']} "
            f"| {r['rows'].get('worklog', 0):,} | {total:,} | {r['seconds']:.1f} "
            f"| {total / r['seconds']:,.0f} | {r['rows'].get('worklog', 0) / r['seconds']:,.0f} "
            f"| {r['peak_mb']:.0f} | {r['bytes'] / 1e6:.0f} |"
        )
    (HERE / "GENERATOR.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
