"""One `kpi build` of a warehouse at a time, and what a stopped build leaves behind.

A build stopped midway (the process killed, out of memory, the machine switched off) leaves its
Dagster run `STARTED` for ever, holding the slot of the writers' pool (resources.WRITER_POOL):
every later run of the warehouse then waits for that slot without end, one core spinning and
nothing printed. Two builds of one warehouse at once would also share the DuckDB file and the
prefetched copy of the analysts' snapshot.

So a build holds an exclusive lock on a file beside the warehouse for its whole life
(`warehouse.duckdb.build.lock`); the operating system releases it however the process ends. A
build that holds the lock knows that no other build is running: any run of an earlier build
still unfinished was abandoned, and is marked failed, its slots freed (settle_abandoned_runs).
A second build started while one runs waits LOCK_PATIENCE_SECONDS for it, then stops, naming
the one that runs.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dagster import DagsterInstance

# The tag of every run `kpi build` starts: the builds this module may settle. Runs launched
# from the Dagster UI carry none; the UI shows them and can terminate them.
BUILD_TAG = "kpi/build"
# How long a build waits for the lock before it gives up.
LOCK_PATIENCE_SECONDS = 10.0


class BuildInProgress(RuntimeError):
    """Another `kpi build` of the same warehouse holds the lock."""


def lock_path(warehouse: Path) -> Path:
    return warehouse.with_name(warehouse.name + ".build.lock")


def build_tag_value() -> str:
    return f"pid {os.getpid()} on {socket.gethostname()}"


def _can_lock() -> bool:
    try:
        import fcntl  # noqa: F401
    except ImportError:
        return False
    return True


@contextmanager
def exclusive_build(warehouse: Path) -> Iterator[int | None]:
    """Hold the warehouse's build lock, or raise BuildInProgress naming its holder. Yields the
    lock's file descriptor: a process of the build that inherits it holds the lock until it
    ends too (the dbt worker: dbt_worker.start)."""
    if not _can_lock():  # no flock (Windows): one build at a time is the operator's care
        yield None
        return
    import fcntl

    path = lock_path(warehouse)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+", encoding="utf-8") as lock:
        # a little patience: the dbt worker of a build just killed ends within a moment
        deadline = time.monotonic() + LOCK_PATIENCE_SECONDS
        while True:
            try:
                fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() < deadline:
                    time.sleep(0.1)
                    continue
            lock.seek(0)
            holder = lock.read().strip() or "a process that has not said which"
            raise BuildInProgress(
                f"another `kpi build` of {warehouse} is running ({holder}); "
                "build again when it has finished"
            ) from None
        # Who holds it, for the message above; the lock is the flock, not the file's content.
        lock.seek(0)
        lock.truncate()
        started = time.strftime("%Y-%m-%d %H:%M:%S")
        lock.write(f"{build_tag_value()}, started {started}\n")
        lock.flush()
        yield lock.fileno()


def settle_abandoned_runs(instance: DagsterInstance) -> list[str]:
    """Mark failed the unfinished runs of earlier builds and free the concurrency slots of
    finished runs; the caller holds the build lock. Returns a line for the person at the
    terminal about each run settled, and each run of the UI this build will wait for."""
    from dagster import DagsterRunStatus, RunsFilter

    notes: list[str] = []
    in_progress = instance.get_runs(
        filters=RunsFilter(
            statuses=[
                DagsterRunStatus.STARTING,
                DagsterRunStatus.STARTED,
                DagsterRunStatus.CANCELING,
            ]
        )
    )
    storage = instance.event_log_storage
    for run in in_progress:
        # without the lock (no flock on this system) a build cannot know the others ended
        if BUILD_TAG not in run.tags or not _can_lock():
            continue
        instance.report_run_failed(
            run,
            message=(
                f"The build that ran this ({run.tags[BUILD_TAG]}) stopped before it finished "
                "(killed, out of memory or the machine stopped); a later build marked it failed."
            ),
        )
        notes.append(
            f"run {run.run_id} of an earlier build ({run.tags[BUILD_TAG]}) stopped unfinished: "
            "marked failed; this build rebuilds what it left"
        )
    if not storage.supports_global_concurrency_limits:
        return notes
    for run_id in sorted(storage.get_concurrency_run_ids()):
        run = instance.get_run_by_id(run_id)
        if run is None or run.is_finished:
            storage.free_concurrency_slots_for_run(run_id)
        else:
            notes.append(
                f"run {run_id} ({run.job_name}, {run.status.value}, not a run of `kpi build`) "
                "holds the warehouse: this build waits for it to finish (if it is not running "
                "any more, terminate it in `kpi ui`, Runs)"
            )
    return notes
