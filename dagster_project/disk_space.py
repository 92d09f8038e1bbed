"""A build that runs out of disk space says so, in place of the error of whichever writer hit it.

A full disk reaches `kpi build` through several writers, each with its own words: DuckDB ("Could
not write file ….wal: No space left on device"), SQLite under Dagster's run history ("database
or disk is full", or only "disk I/O error" when its journal could not be written), Python's own
files ("[Errno 28]"). Filling the disk under a build at every stage (the warehouse on a small
tmpfs, then enlarged and built again) showed the data safe each time: the next build finished
what the stopped one left, marts and snapshot equal to a build from scratch. What it showed the
person at the terminal was a SQLite traceback of 100 lines, half the time.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path

# The words of a write refused for want of space, in the messages of the writers a build uses.
NO_SPACE_SIGNS = (
    "no space left on device",
    "database or disk is full",
    "[errno 28]",
    "disk quota exceeded",
    "[errno 122]",
)
# SQLite's words for a write that failed for any reason, a full disk among them: taken for a full
# disk only when the disk has little room left.
AMBIGUOUS_WRITE_FAILURES = ("disk i/o error",)
LITTLE_ROOM_BYTES = 256 * 1024**2

BUILD_ADVICE = (
    "Nothing is lost: the next build loads the files this one did not load and rebuilds the "
    "months it did not rebuild.",
    "Free some space on that disk and run `kpi build` again: beside the warehouse, a build "
    "needs room for DuckDB's write-ahead log (up to about 1 GB) and its spill files.",
)

EXTRACT_ADVICE = (
    "Each workbook is replaced only once written whole, but until the manifest is written the "
    "folder may hold this period's workbooks beside earlier ones: free some space and run "
    "`kpi extract` again."
)


def free_bytes(path: Path) -> int:
    """Free space on the file system of `path`, or of its nearest existing parent."""
    for candidate in (path, *path.parents):
        if candidate.exists():
            return shutil.disk_usage(candidate).free
    return 0


def size_text(bytes_count: int) -> str:
    """A size for a person: gigabytes from one on, megabytes below."""
    if bytes_count >= 1024**3:
        return f"{bytes_count / 1024**3:.2f} GB"
    return f"{bytes_count / 1024**2:.1f} MB"


def describe_free(path: Path) -> str:
    free = free_bytes(path)
    if free >= 10 * 1024**3:
        return f"{free / 1024**3:.0f} GB free"
    return f"{free / 1024**2:.0f} MB free"


def _chain(error: BaseException) -> list[BaseException]:
    """The exception, then those it was raised from or during, innermost last."""
    chain = [error]
    while (cause := chain[-1].__cause__ or chain[-1].__context__) is not None:
        chain.append(cause)
    return chain


def error_text(error: BaseException) -> str:
    """The messages of an exception and of those it was raised from or during: a full disk is
    often the innermost cause of a framework's error."""
    return "\n".join(f"{e.__class__.__name__}: {e}" for e in _chain(error))


def innermost_cause(error: BaseException) -> str:
    """The first line of the exception the others were raised from: the writer's own words."""
    innermost = _chain(error)[-1]
    first_line = (str(innermost).strip().splitlines() or [""])[0]
    return f"{innermost.__class__.__name__}: {first_line}"


def full_disk(messages: Iterable[str], folder: Path) -> str | None:
    """What to tell the person when `messages` (errors of a build) say the disk of `folder` ran
    out of space; None when they do not."""
    text = "\n".join(messages).lower()
    says_full = any(sign in text for sign in NO_SPACE_SIGNS)
    if not says_full and any(sign in text for sign in AMBIGUOUS_WRITE_FAILURES):
        says_full = free_bytes(folder) < LITTLE_ROOM_BYTES
    if not says_full:
        return None
    return f"the disk holding {folder} is full ({describe_free(folder)} now)"
