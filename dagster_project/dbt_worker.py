"""A dbt process started before it is needed, so that `kpi build` does not wait for dbt to start.

A dbt command spends about 2.5 s before its first node: 1.7 s importing dbt and its adapters,
then reading the project's parse state. `kpi build` starts this worker first thing, before it
imports Dagster and ingests the day's files: the worker imports dbt and parses the project
(partial parsing, from the warehouse's last parse state) on the other core meanwhile, then
waits. When the dbt step runs `dbt build`, the executable dagster-dbt starts is `kpi-dbt`
(`client_main`), which hands its arguments and environment to the waiting worker over a
Unix socket and relays the worker's output (dbt's JSON log lines, which dagster-dbt reads) and
exit code. Without a worker (the Dagster UI's runs, `dbt parse`, any other command, another
platform) `kpi-dbt` simply runs dbt.

The worker serves one command and exits. It runs it with the environment the client was
started with (dagster-dbt's), from the manifest it parsed at start: the parse ran with the same
project files and dbt environment (`dbt_environment()` in transformation.py); the rebuild plan
reaches the macros through an environment variable read only when they execute. It closes the
warehouse before it reports the exit code, so the step after dbt can open the file at once.
"""

import gc
import json
import logging
import os
import socket
import sys
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

# The client finds a waiting worker through this variable; the dbt step sets it around the
# one command the worker is for.
SOCKET_ENV = "KPI_DBT_WORKER_SOCKET"
# ... and the process to interrupt when the client is interrupted (dagster-dbt sends SIGINT to
# the dbt it started when a run is cancelled): dbt then stops as it would in its own process.
PID_ENV = "KPI_DBT_WORKER_PID"
# The last line the worker sends: the exit code of the command. dbt's log lines are JSON
# objects, which never start with this character.
_EXIT_MARK = b"\x1e"
_LISTEN_BACKLOG = 1
# How often a worker still waiting checks that `kpi build` is alive.
_PARENT_POLL_SECONDS = 1.0
# ... and, while it runs a command, that it still is (a check costs a system call).
_COMMAND_PARENT_POLL_SECONDS = 0.1


def real_dbt() -> str:
    """The dbt installed beside this interpreter."""
    return str(Path(sys.executable).parent / "dbt")


@dataclass
class Worker:
    """A started worker, as `kpi build` holds it."""

    process: Any  # subprocess.Popen
    socket_path: Path
    target_path: Path
    taken: bool = False

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self.socket_path.unlink(missing_ok=True)


def start(
    project_dir: Path,
    target_path: Path,
    env: Mapping[str, str],
    log_file: Path,
    inherited_fds: Sequence[int] = (),
) -> Worker | None:
    """Start a worker that parses `project_dir` into `target_path` with `env` added to this
    process's environment, and keeps `inherited_fds` open (the build's lock); None where Unix
    sockets are missing."""
    if not hasattr(socket, "AF_UNIX"):
        return None
    import subprocess

    target_path.mkdir(parents=True, exist_ok=True)
    socket_path = target_path / "worker.sock"
    socket_path.unlink(missing_ok=True)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "dagster_project.dbt_worker",
                str(socket_path),
                str(project_dir),
                str(target_path),
                str(os.getpid()),
            ],
            env={**os.environ, **env, "PYTHONUNBUFFERED": "1"},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            # kpi build's Ctrl-C reaches dbt through the client, not twice
            start_new_session=True,
            pass_fds=tuple(inherited_fds),
        )
    return Worker(process, socket_path, target_path)


_waiting: dict[Path, Worker] = {}


def start_for_build(warehouse: Path, inherited_fds: Sequence[int] = ()) -> Worker | None:
    """Start the worker of a `kpi build` of `warehouse` (DuckDB), from its last parse state,
    and keep it for the dbt step (take())."""
    from dagster_project import settings

    target = settings.new_dbt_invocation_target(uuid.uuid4().hex[:12], warehouse)
    worker = start(
        settings.DBT_PROJECT_DIR,
        target,
        settings.dbt_environment(warehouse),
        warehouse.parent / "logs" / "dbt_worker.log",
        inherited_fds,
    )
    if worker is not None:
        _waiting[warehouse] = worker
    return worker


def take(warehouse: Path) -> Worker | None:
    """The worker started for a build of `warehouse`, once."""
    worker = _waiting.pop(warehouse, None)
    if worker is None or worker.process.poll() is not None:
        return None
    return worker


@contextmanager
def serving(worker: Worker | None) -> Iterator[None]:
    """Point the dbt command started inside this block (dagster-dbt copies the environment) at
    the worker."""
    if worker is None:
        yield
        return
    os.environ[SOCKET_ENV] = str(worker.socket_path)
    os.environ[PID_ENV] = str(worker.process.pid)
    try:
        yield
    finally:
        os.environ.pop(SOCKET_ENV, None)
        os.environ.pop(PID_ENV, None)


# --- the worker -------------------------------------------------------------------------------


def _serve(socket_path: Path, project_dir: Path, target_path: Path, parent_pid: int) -> int:
    import signal

    # Interruptible by the client (PID_ENV) even when started with SIGINT ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(socket_path))
    # Listening before the imports: a client that comes early waits in the backlog.
    listener.listen(_LISTEN_BACKLOG)
    os.chdir(project_dir)
    # dbt's modules and the parsed project are some hundreds of thousands of objects that live
    # as long as the worker: made with the cyclic collector off and then left out of its passes,
    # they cost no collection while they load, nor in every pass of the command's own (a one-day
    # build at 3 months: 0.4 s less on average over three runs each).
    gc.disable()
    try:
        from dbt.cli.main import dbtRunner

        format_only_lines_kept()
        fire_only_events_kept()
        templates = _template_cache_file()
        keep_templates = reuse_compiled_templates(templates) if templates else None
        parsed = dbtRunner().invoke(
            ["parse", "--target-path", str(target_path), "--log-path", str(target_path)]
            + ["--log-level-file", "none", "--no-write-json", "--quiet"]
        )
    finally:
        gc.freeze()
        gc.enable()
    manifest = parsed.result if parsed.success else None
    listener.settimeout(_PARENT_POLL_SECONDS)
    while True:
        try:
            connection, _ = listener.accept()
            break
        except TimeoutError:
            if os.getppid() != parent_pid:
                return 0
    listener.close()
    socket_path.unlink(missing_ok=True)
    connection.settimeout(None)
    request = _read_request(connection)
    if manifest is None:
        # The client runs dbt itself, which reports the parse error as dbt does.
        connection.close()
        return 0
    os.environ.clear()
    os.environ.update(request["env"])
    os.chdir(request["cwd"])
    # dbt writes its log lines to file descriptors 1 and 2: the client relays them.
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(connection.fileno(), 1)
    os.dup2(connection.fileno(), 2)
    _end_with(parent_pid)
    schedule_longest_chain_first(_last_node_seconds(request["env"]))
    result = dbtRunner(manifest=manifest).invoke(list(request["args"]))
    code = 0 if result.success else (2 if result.exception is not None else 1)
    if result.exception is not None:
        print(f"dbt: {result.exception!r}", file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    if keep_templates is not None:
        keep_templates()
    _close_warehouse()
    connection.sendall(_EXIT_MARK + str(code).encode() + b"\n")
    connection.close()
    return code


def _end_with(parent_pid: int) -> None:
    """Kill this worker as soon as `kpi build` is gone (killed, out of memory): a dbt command
    left running would go on writing the warehouse while the next build starts on it."""
    import signal
    import threading
    import time

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(_COMMAND_PARENT_POLL_SECONDS)
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, name="end-with-kpi-build", daemon=True).start()


# What a node not in the last build's timings is expected to take (most are data tests).
_UNKNOWN_NODE_SECONDS = 0.1


def schedule_longest_chain_first(node_seconds: Mapping[str, float]) -> None:
    """Make dbt start, whenever a thread is free, the ready node heading the longest chain of
    work still to do. dbt ranks ready nodes by their depth in the graph, shallowest first
    (`GraphQueue._get_scores`), and hands every ready node to its thread pool at once, where
    they wait in the order they became ready: in a one-day build, the staff's assignment days,
    which the entries' chain waits for, queued behind staging tests and small models that had
    become ready before it, and that chain set the build's length. Here a node is taken from
    the queue only when a thread is free, and by the longest chain it heads, measured in the
    seconds each node took in the warehouse's last build (`node_seconds`), or
    _UNKNOWN_NODE_SECONDS. Only this process's dbt is concerned."""
    import networkx as nx
    from dbt.graph.queue import GraphQueue
    from dbt.task.runnable import GraphRunnableTask

    def longest_chain_first(_queue: GraphQueue, graph: nx.DiGraph) -> dict[str, float]:
        chain: dict[str, float] = {}
        for node in reversed(list(nx.topological_sort(graph))):
            after = max((chain[child] for child in graph.successors(node)), default=0.0)
            chain[node] = node_seconds.get(node, _UNKNOWN_NODE_SECONDS) + after
        # the queue takes the lowest score first
        return {node: -seconds for node, seconds in chain.items()}

    queue_get = GraphQueue.get
    run_queue = GraphRunnableTask.run_queue

    def get_when_a_thread_is_free(
        queue: GraphQueue, block: bool = True, timeout: float | None = None
    ) -> Any:
        threads = getattr(queue, "_kpi_threads", None)
        # dbt's internals as of the pinned 1.11: without them, dbt's own order
        if threads and hasattr(queue, "some_task_done") and hasattr(queue, "in_progress"):
            with queue.some_task_done:
                while len(queue.in_progress) >= threads:
                    queue.some_task_done.wait()
        return queue_get(queue, block, timeout)

    def run_queue_with_threads(task: GraphRunnableTask, pool: Any) -> None:
        if task.job_queue is not None:
            task.job_queue._kpi_threads = getattr(pool, "max_threads", None)  # type: ignore[attr-defined]
        run_queue(task, pool)

    GraphQueue._get_scores = longest_chain_first  # type: ignore[method-assign]
    GraphQueue.get = get_when_a_thread_is_free  # type: ignore[method-assign]
    GraphRunnableTask.run_queue = run_queue_with_threads  # type: ignore[method-assign]


# The Python logging level of each level dbt gives its events (dbt_common's send_to_logger).
_LOGGING_LEVELS = {
    "test": logging.DEBUG,
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "error": logging.ERROR,
}


def _logger_keeps(logger: Any, event_name: str, level: str) -> bool:
    """Whether one of dbt's loggers writes the line of an event of that name and level. dbt's
    internals as of the pinned 1.11 (write_line, send_to_logger): a logger without a Python
    logger writes nothing, a print event goes out at error level, and a level dbt does not know
    is left to dbt (it raises)."""
    from dbt_common.events.logger import PRINT_EVENT_NAMES

    python_logger = getattr(logger, "_python_logger", None)
    if python_logger is None:
        return False
    if event_name in PRINT_EVENT_NAMES:
        level = "error"
    return level not in _LOGGING_LEVELS or python_logger.isEnabledFor(_LOGGING_LEVELS[level])


def format_only_lines_kept() -> None:
    """Make dbt format an event as a log line only for the loggers that keep the line. dbt
    formats every event for each of its loggers (for JSON: the event as a dict, dumped, then
    scrubbed of the environment's secrets) and only then lets Python's logging drop the lines
    below the logger's level: in a one-day build, 4,650 of the 4,875 lines its two loggers
    formatted (debug events: each SQL statement, connection and cache action) were dropped.
    The lines kept are the same; only this process's dbt is concerned."""
    from dbt_common.events import logger as dbt_logging

    write_line = dbt_logging._Logger.write_line

    def write_line_if_kept(self: Any, msg: Any) -> None:
        if _logger_keeps(self, msg.info.name, msg.info.level):
            write_line(self, msg)

    dbt_logging._Logger.write_line = write_line_if_kept  # type: ignore[method-assign]


def fire_only_events_kept() -> None:
    """Make dbt build an event's message only when a logger keeps its line. dbt parses each
    event's fields into a protobuf message as it creates the event, and builds a second one
    with the time, thread and formatted text when it fires it, before any logger looks at the
    level: in a one-day build some 2,300 of the 2,550 events (each SQL statement, connection
    and cache action, at debug level) were built for no logger. An event below every logger's
    level now returns before that, and an event's fields are parsed when first read (dbt step
    of a one-day build at 3 months, three runs each, alternating: 7.56, 7.35, 6.97 s with,
    7.84, 7.72, 7.21 s without; dbt.log the same 225 lines). Only this process's dbt is
    concerned, which runs no callbacks but dbt's own, and that one reads only behaviour-change
    warnings (dbt.tracking); an event a callback would see is fired as dbt fires it."""
    from dbt.tracking import track_behavior_change_warn
    from dbt_common.events import base_types
    from dbt_common.events.event_manager import EventManager

    base_event = base_types.BaseEvent
    parse_fields = base_event.__init__
    fire_event = EventManager.fire_event

    def keep_fields(self: Any, *args: Any, **kwargs: Any) -> None:
        object.__setattr__(self, "_kpi_fields", (args, kwargs))

    def parsed(self: Any) -> Any:
        fields = self.__dict__.pop("_kpi_fields", None)
        if fields is not None:
            parse_fields(self, *fields[0], **fields[1])
        return object.__getattribute__(self, "pb_msg")

    def get_field(self: Any, key: str) -> Any:
        message = parsed(self)
        return message if key == "pb_msg" else message.__getattribute__(key)

    def set_field(self: Any, key: str, value: Any) -> None:
        if key == "pb_msg":
            object.__setattr__(self, key, value)
        else:
            parsed(self).__setattr__(key, value)

    def fire_event_if_kept(
        self: Any,
        e: Any,
        level: Any = None,
        node: Any = None,
        force_warn_or_error_handling: bool = False,
    ) -> None:
        event_level = level.value if level else e.level_tag().value
        if (
            not force_warn_or_error_handling
            and event_level in ("debug", "info")
            and all(callback is track_behavior_change_warn for callback in self.callbacks)
            and not any(
                _logger_keeps(logger, type(e).__name__, event_level) for logger in self.loggers
            )
        ):
            return
        fire_event(self, e, level, node, force_warn_or_error_handling)

    base_event.__init__ = keep_fields  # type: ignore[method-assign]
    base_event.__getattr__ = get_field  # type: ignore[method-assign]
    base_event.__setattr__ = set_field  # type: ignore[method-assign]
    EventManager.fire_event = fire_event_if_kept  # type: ignore[method-assign]


def _template_cache_file() -> Path | None:
    """Where the worker of a build keeps its compiled templates (beside the warehouse's parse
    state: settings.dbt_template_cache)."""
    from dagster_project import settings

    warehouse = os.environ.get(settings.WAREHOUSE_ENV)
    return settings.dbt_template_cache(Path(warehouse)) if warehouse else None


def reuse_compiled_templates(cache_file: Path) -> Callable[[], None]:
    """Make dbt's Jinja environments take a template's compiled code from `cache_file` when an
    earlier build compiled the same source in the same kind of environment, and return what
    writes the templates this process used back to it. dbt compiles every SQL file, macro and
    test argument it renders from its source anew in each process (about 650 in a one-day
    build, 0.5 s of the worker's Python time, on the threads' one interpreter lock); reading
    their code back takes a few milliseconds. The key is the source and all that Jinja's code
    generation reads from the environment (its class, extensions, filter and test names); the
    file is used only by the Python, Jinja and dbt-common it was written with."""
    import marshal
    from importlib.metadata import version

    import jinja2
    from dbt_common.clients import jinja as dbt_jinja

    written_by = f"{sys.version} jinja2 {jinja2.__version__} dbt-common {version('dbt-common')}"
    stored: dict[tuple[Any, ...], Any] = {}
    try:
        version, entries = marshal.loads(cache_file.read_bytes())
        if version == written_by and isinstance(entries, dict):
            stored = entries
    except (OSError, ValueError, EOFError, TypeError):
        pass  # none yet, or unreadable: compiled afresh and written again
    used: dict[tuple[Any, ...], Any] = {}
    compile_template = jinja2.Environment.compile

    def compile_once(
        env: jinja2.Environment,
        source: Any,
        name: str | None = None,
        filename: str | None = None,
        raw: bool = False,
        defer_init: bool = False,
    ) -> Any:
        # dbt's macro debugging names each template's code after a file it writes
        if raw or not isinstance(source, str) or dbt_jinja.MACRO_DEBUGGING:
            return compile_template(env, source, name, filename, raw, defer_init)
        key = (
            f"{type(env).__module__}.{type(env).__qualname__}",
            tuple(sorted(env.extensions)),
            tuple(sorted(env.filters)),
            tuple(sorted(env.tests)),
            env.is_async,
            name,
            filename,
            defer_init,
            source,
        )
        code = stored.get(key)
        if code is None:
            code = compile_template(env, source, name, filename, raw, defer_init)
        used[key] = code
        return code

    def write_used() -> None:
        if used.keys() == stored.keys():
            return
        partial = cache_file.with_suffix(".partial")
        try:
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            partial.write_bytes(marshal.dumps((written_by, dict(used))))
            partial.replace(cache_file)
        except OSError as error:
            # the next build compiles them again: no reason to fail this one
            print(f"dbt worker: compiled templates not kept: {error}", file=sys.stderr)

    jinja2.Environment.compile = compile_once  # type: ignore[method-assign,assignment]
    return write_used


def _last_node_seconds(env: Mapping[str, str]) -> dict[str, float]:
    """How long each dbt node took in the last build of the warehouse the command builds
    (settings.dbt_run_results_file, written by the dbt step); empty when unknown."""
    from dagster_project import settings

    warehouse = env.get(settings.WAREHOUSE_ENV)
    if not warehouse:
        return {}
    try:
        results = json.loads(settings.dbt_run_results_file(Path(warehouse)).read_text())["results"]
        return {r["unique_id"]: float(r.get("execution_time") or 0.0) for r in results}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def _read_request(connection: socket.socket) -> dict[str, Any]:
    data = b""
    while not data.endswith(b"\n"):
        chunk = connection.recv(65536)
        if not chunk:
            break
        data += chunk
    return json.loads(data)


def _close_warehouse() -> None:
    """Close dbt-duckdb's database, which checkpoints it, before the client is told the command
    ended: the next step opens the file as soon as it is."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    environment = DuckDBConnectionManager._ENV
    if environment is not None:
        environment.close()
        DuckDBConnectionManager._ENV = None


# --- the client (`kpi-dbt`) ------------------------------------------------------------------


def client_main() -> None:
    """`kpi-dbt`: run a dbt command in the waiting worker, or in a new dbt process."""
    args = sys.argv[1:]
    path = os.environ.get(SOCKET_ENV)
    if path:
        code = _run_in_worker(Path(path), args)
        if code is not None:
            sys.exit(code)
    os.execv(real_dbt(), [real_dbt(), *args])


def _run_in_worker(socket_path: Path, args: list[str]) -> int | None:
    """The command's exit code, or None when no worker took it (start dbt instead)."""
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        connection.connect(str(socket_path))
    except OSError:
        return None
    env = {key: value for key, value in os.environ.items() if key not in (SOCKET_ENV, PID_ENV)}
    request = {"args": args, "env": env, "cwd": os.getcwd()}
    connection.sendall(json.dumps(request).encode() + b"\n")
    worker_pid = int(os.environ.get(PID_ENV) or 0)
    if worker_pid:
        import signal

        def interrupt_worker(signum: int, _frame: object) -> None:
            os.kill(worker_pid, signal.SIGINT)

        signal.signal(signal.SIGINT, interrupt_worker)
        signal.signal(signal.SIGTERM, interrupt_worker)
    return _relay(connection, sys.stdout.buffer)


def _relay(connection: socket.socket, out: IO[bytes]) -> int | None:
    """Copy the worker's lines to `out` until its exit code."""
    pending = b""
    relayed = False
    while True:
        chunk = connection.recv(65536)
        if not chunk:
            break
        pending += chunk
        lines = pending.split(b"\n")
        pending = lines.pop()
        for line in lines:
            if line.startswith(_EXIT_MARK):
                return int(line[1:])
            out.write(line + b"\n")
            relayed = True
        out.flush()
    if pending:
        out.write(pending)
        out.flush()
    # The worker ended without a code: before the command (dbt runs it instead) or during it.
    return 2 if relayed else None


if __name__ == "__main__":
    socket_arg, project_arg, target_arg, parent_arg = sys.argv[1:5]
    sys.exit(_serve(Path(socket_arg), Path(project_arg), Path(target_arg), int(parent_arg)))
