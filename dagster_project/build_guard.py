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

A run started from the UI, a schedule or a sensor is not a build and takes no lock: while it
runs, a build waits for its slot. Its process can die too (killed, out of memory, the machine
restarted), and then a build would wait for ever, a cron job's included. Dagster records the
process of such a run ("Started process for run (pid: N)"); when that process is gone, the run
is marked failed and its slot freed, also while a build waits for it. This reads the process
table of the machine it runs on: the UI and the builds of a warehouse run on the machine that
holds it (DuckDB's lock on the file assumes as much).
"""

from __future__ import annotations

import os
import re
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dagster import DagsterInstance, DagsterRun

# The tag of every run `kpi build` starts: the builds whose lock tells whether they still run.
# Runs launched from the Dagster UI carry none; their process tells (run_process_gone).
BUILD_TAG = "kpi/build"
# The job that builds the warehouse, from `kpi build`, the UI, its schedules and sensor.
BUILD_JOB_NAME = "build_warehouse"
# How Dagster's run worker announces its process (dagster/_cli/api.py, dagster/_grpc/impl.py):
# "Started process for run (pid: N)." or, resumed, "Started process for resuming job …".
RUN_PROCESS_EVENT_PREFIX = "Started process for"
# How long a build waits for the lock before it gives up.
LOCK_PATIENCE_SECONDS = 10.0
# How often a build waiting for a run of the UI looks again whether that run's process is gone.
WAIT_POLL_SECONDS = 2.0
# The states of proc(5) of a process that has ended: a zombie stays in the process table until
# its parent (or, orphaned, the machine's init) reaps it, which some inits never do.
ENDED_PROCESS_STATES = frozenset("ZXx")


class BuildInProgress(RuntimeError):
    """Another `kpi build` of the same warehouse holds the lock."""


def lock_path(warehouse: Path) -> Path:
    return warehouse.with_name(warehouse.name + ".build.lock")


def build_tag_value() -> str:
    return f"pid {os.getpid()} on {socket.gethostname()}"


def build_tag_pid(run: DagsterRun) -> int | None:
    """The pid of the `kpi build` that started `run` on this machine (build_tag_value); None
    for a run of the UI, or of a build on another machine."""
    tagged = re.fullmatch(r"pid (\d+) on (.+)", run.tags.get(BUILD_TAG, ""))
    return int(tagged[1]) if tagged and tagged[2] == socket.gethostname() else None


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
    notes: list[str] = []
    in_progress = runs_in_progress(instance)
    storage = instance.event_log_storage
    # without the lock (no flock on this system) a build cannot know the others ended
    for run in in_progress if _can_lock() else []:
        abandoned = _abandonment(instance, run)
        if abandoned is None:
            continue
        message, note = abandoned
        instance.report_run_failed(run, message=message)
        notes.append(note)
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


def settle_and_wait_for_runs(
    instance: DagsterInstance,
    say: Callable[[str], None],
    poll_seconds: float = WAIT_POLL_SECONDS,
) -> None:
    """Settle the abandoned runs, then wait while runs of the UI hold the warehouse's slots,
    settling again every `poll_seconds`: a run whose process dies while the build waits (the UI
    killed meanwhile) is marked failed then, and the build goes on. Each note is said once."""
    said: set[str] = set()
    while True:
        for note in settle_abandoned_runs(instance):
            if note not in said:
                said.add(note)
                say(note)
        storage = instance.event_log_storage
        # settle_abandoned_runs freed the slots of finished runs: those left are held
        if not storage.supports_global_concurrency_limits or not storage.get_concurrency_run_ids():
            return
        time.sleep(poll_seconds)


def runs_in_progress(instance: DagsterInstance) -> list[DagsterRun]:
    """The runs of the instance that have started and not finished."""
    from dagster import DagsterRunStatus, RunsFilter

    statuses = [DagsterRunStatus.STARTING, DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING]
    return list(instance.get_runs(filters=RunsFilter(statuses=statuses)))


def _abandonment(instance: DagsterInstance, run: DagsterRun) -> tuple[str, str] | None:
    """For an unfinished run nothing runs any more: the run log's message and the terminal's
    note. None for a run that may still run."""
    if BUILD_TAG in run.tags:
        # the caller holds the lock: the build that ran this has ended
        build = run.tags[BUILD_TAG]
        return (
            f"The build that ran this ({build}) stopped before it finished (killed, out of "
            "memory or the machine stopped); a later build marked it failed.",
            f"run {run.run_id} of an earlier build ({build}) stopped unfinished: marked failed; "
            "this build rebuilds what it left",
        )
    gone = run_process_gone(instance, run.run_id)
    if gone is None:
        return None
    return (
        f"The process that ran this (pid {gone}) is gone (killed, out of memory or the machine "
        "restarted); a later build marked it failed.",
        f"run {run.run_id} ({run.job_name}, not a run of `kpi build`) stopped unfinished, its "
        f"process (pid {gone}) gone: marked failed; this build rebuilds what it left",
    )


def run_process_gone(instance: DagsterInstance, run_id: str) -> int | None:
    """The pid of the run's process when that process is gone; None while it may still run, or
    when the run has not said which process it is (it is starting: it claims no slot yet)."""
    from dagster import DagsterEventType

    records = instance.get_records_for_run(
        run_id, of_type=DagsterEventType.ENGINE_EVENT, ascending=False
    ).records
    for record in records:
        entry = record.event_log_entry
        event = entry.dagster_event
        if event is None or not (event.message or "").startswith(RUN_PROCESS_EVENT_PREFIX):
            continue
        pid_value = event.engine_event_data.metadata.get("pid")
        if pid_value is None or not str(pid_value.value).isdigit():
            return None
        pid = int(str(pid_value.value))
        return None if process_alive(pid, started_by=entry.timestamp) else pid
    return None


def process_alive(pid: int, started_by: float) -> bool:
    """Whether process `pid` runs and is the one that was running at `started_by` (epoch
    seconds): a pid freed by a dead process is given to a later one, which started after."""
    stat = _process_stat(pid)
    if stat is not None:
        state, started = stat
        # clock ticks round the start down; a second of slack for the rounding and the clock
        return state not in ENDED_PROCESS_STATES and started <= started_by + 1.0
    try:  # no start time to compare (not Linux, or no entry: ended): alive when it answers
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: there is one
        return True
    return True


def _process_stat(pid: int) -> tuple[str, float] | None:
    """The state of process `pid` and when it started (epoch seconds), from Linux's /proc;
    None where unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        boot = [line for line in Path("/proc/stat").read_text().splitlines() if "btime " in line]
    except OSError:
        return None
    if not boot:
        return None
    try:
        # the command name, in parentheses, may hold spaces: fields are counted after it
        fields = stat[stat.rindex(")") + 2 :].split()
        state = fields[0]  # field 3 of proc(5)
        start_ticks = int(fields[19])  # field 22 of proc(5)
        return state, int(boot[0].split()[1]) + start_ticks / os.sysconf("SC_CLK_TCK")
    except (ValueError, IndexError):  # a format this code does not know: no start time
        return None
