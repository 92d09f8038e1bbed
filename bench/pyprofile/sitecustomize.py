"""Profiles every Python process of a `kpi build` that the benchmark starts with this folder on
PYTHONPATH and KPI_BENCH_PYPROFILE_DIR set (bench_build.py, step "python profile").

Each thread gets its own cProfile profiler; when the process ends (normally, or through
`os._exit`, which `kpi build` uses to skip Python's teardown) their statistics are merged and
written to `<KPI_BENCH_PYPROFILE_DIR>/<pid>.prof`. The benchmark reads how many calls each
Python function made: a loop over rows in Python would make some function's calls grow with
the rows.

Python imports this module by name at start-up; it does nothing without the variable.
"""

import os

PROFILE_DIR_ENV = "KPI_BENCH_PYPROFILE_DIR"


def _install(folder: str) -> None:
    import atexit
    import cProfile
    import pstats
    import sys
    import threading

    profiles: list[cProfile.Profile] = []
    lock = threading.Lock()
    written = False

    def start() -> None:
        profile = cProfile.Profile()
        with lock:
            profiles.append(profile)
        profile.enable()

    def start_in_thread(frame: object, event: str, arg: object) -> None:
        # the first event of a new thread: replace this hook by the thread's own profiler
        sys.setprofile(None)
        start()

    def write() -> None:
        nonlocal written
        if written:
            return
        written = True
        merged: pstats.Stats | None = None
        with lock:
            taken = list(profiles)
        for profile in taken:
            try:
                stats = pstats.Stats(profile)
            except (TypeError, ValueError):  # a profiler that recorded nothing
                continue
            if merged is None:
                merged = stats
            else:
                merged.add(stats)
        if merged is not None:
            os.makedirs(folder, exist_ok=True)
            merged.dump_stats(os.path.join(folder, f"{os.getpid()}.prof"))

    real_exit = os._exit

    def exit_after_writing(code: int) -> None:
        write()
        real_exit(code)

    os._exit = exit_after_writing
    atexit.register(write)
    threading.setprofile(start_in_thread)
    start()


if os.environ.get(PROFILE_DIR_ENV):
    _install(os.environ[PROFILE_DIR_ENV])
