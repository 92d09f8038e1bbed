"""One line per finished asset on a terminal, so a long headless build shows where it is."""

from __future__ import annotations

import os
import sys

PROGRESS_ENV = "KPI_PROGRESS"


def enabled() -> bool:
    return os.environ.get(PROGRESS_ENV) == "1"


def report(line: str) -> None:
    if enabled():
        print(f"  {line}", file=sys.stderr, flush=True)
