"""The dbt process `kpi build` starts ahead (dagster_project/dbt_worker.py) and `kpi-dbt`, the
executable dagster-dbt runs, which hands it the command or runs dbt itself."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from dagster_project import dbt_worker, settings
from dagster_project.resources import dbt_executable


def _fake_worker(path: Path, reply: bytes, requests: list[dict[str, object]]) -> threading.Thread:
    """A worker that records the request it gets and answers `reply`."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(1)

    def serve() -> None:
        connection, _ = listener.accept()
        requests.append(dbt_worker._read_request(connection))
        connection.sendall(reply)
        connection.close()
        listener.close()

    thread = threading.Thread(target=serve)
    thread.start()
    return thread


def _connect(path: Path) -> socket.socket:
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    connection.connect(str(path))
    return connection


def test_the_client_hands_over_the_command_and_relays_the_log_and_exit_code(
    tmp_path: Path,
) -> None:
    path = tmp_path / "worker.sock"
    requests: list[dict[str, object]] = []
    lines = b'{"info": {"msg": "one"}}\n{"info": {"msg": "two"}}\n'
    thread = _fake_worker(path, lines + dbt_worker._EXIT_MARK + b"1\n", requests)
    connection = _connect(path)
    connection.sendall(json.dumps({"args": ["build"], "env": {}, "cwd": "/"}).encode() + b"\n")
    out = io.BytesIO()

    code = dbt_worker._relay(connection, out)
    thread.join()

    assert code == 1
    assert out.getvalue() == lines
    assert requests == [{"args": ["build"], "env": {}, "cwd": "/"}]


def test_a_worker_that_ends_before_answering_leaves_the_command_to_dbt(tmp_path: Path) -> None:
    path = tmp_path / "worker.sock"
    # no worker at all: dbt runs the command itself
    assert dbt_worker._run_in_worker(path, ["build"]) is None
    # a worker that could not parse the project answers nothing: the same
    thread = _fake_worker(path, b"", [])
    connection = _connect(path)
    connection.sendall(b'{"args": [], "env": {}, "cwd": "/"}\n')
    assert dbt_worker._relay(connection, io.BytesIO()) is None
    thread.join()


def test_a_worker_that_ends_midway_fails_the_command(tmp_path: Path) -> None:
    path = tmp_path / "worker.sock"
    thread = _fake_worker(path, b'{"info": {"msg": "started"}}\n', [])
    connection = _connect(path)
    connection.sendall(b'{"args": [], "env": {}, "cwd": "/"}\n')
    # dbt's output has begun: running the command again could write twice
    assert dbt_worker._relay(connection, io.BytesIO()) == 2
    thread.join()


def test_kpi_dbt_without_a_worker_is_dbt() -> None:
    executable = dbt_executable()
    assert Path(executable).name == "kpi-dbt"
    env = {key: value for key, value in os.environ.items() if key != dbt_worker.SOCKET_ENV}
    through_client = subprocess.run(
        [executable, "--version"], capture_output=True, text=True, check=True, env=env
    )
    direct = subprocess.run(
        [dbt_worker.real_dbt(), "--version"], capture_output=True, text=True, check=True
    )
    assert through_client.stdout.splitlines()[:2] == direct.stdout.splitlines()[:2]


def test_a_kpi_build_runs_dbt_in_the_process_it_started_ahead(acceptance_warehouse: Path) -> None:
    timings = json.loads((acceptance_warehouse.parent / "logs" / "build_timings.json").read_text())
    assert timings["dbt_plan"]["dbt_started_ahead"] is True


def test_an_unused_worker_stops_with_the_build(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    worker = dbt_worker.start_for_build(warehouse)
    assert worker is not None
    assert dbt_worker.take(warehouse) is worker
    assert dbt_worker.take(warehouse) is None  # one command only
    worker.stop()
    assert worker.process.returncode is not None
    assert not worker.socket_path.exists()


def test_only_the_newest_dbt_invocation_folders_are_kept(tmp_path: Path) -> None:
    now = time.time()
    for age_days in range(25):
        folder = tmp_path / f"{settings.DBT_INVOCATION_PREFIX}{age_days:02d}"
        folder.mkdir()
        (folder / "dbt.log").write_text("{}")
        os.utime(folder, (now - age_days * 86400, now - age_days * 86400))
    (tmp_path / "manifest.json").write_text("{}")

    removed = settings.prune_dbt_invocations(tmp_path, keep=20)

    assert sorted(p.name for p in removed) == [
        f"{settings.DBT_INVOCATION_PREFIX}{age:02d}" for age in range(20, 25)
    ]
    assert len(list(tmp_path.iterdir())) == 20 + 1

    # a folder written to within the hour stays whatever the count: a build may be using it
    settings.prune_dbt_invocations(tmp_path, keep=0)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        f"{settings.DBT_INVOCATION_PREFIX}00",
        "manifest.json",
    ]


def test_the_worker_starts_the_longest_chain_first_when_a_thread_is_free(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import networkx as nx
    from dbt.graph.queue import GraphQueue
    from dbt.task.runnable import GraphRunnableTask

    for cls, name in (
        (GraphQueue, "_get_scores"),
        (GraphQueue, "get"),
        (GraphRunnableTask, "run_queue"),
    ):
        monkeypatch.setattr(cls, name, getattr(cls, name))  # restored after the test
    # "z_stage" heads the longest chain (stage → slow model); "test_a" and "test_b" are ready too
    dbt_worker.schedule_longest_chain_first({"z_slow_model": 5.0, "z_stage": 0.2})
    graph = nx.DiGraph([("z_stage", "z_slow_model")])
    graph.add_nodes_from(["test_a", "test_b"])

    class Manifest:
        def expect(self, unique_id: str) -> str:
            return unique_id

    queue = GraphQueue(graph, Manifest(), set(graph.nodes))  # type: ignore[arg-type]
    queue._kpi_threads = 1  # type: ignore[attr-defined]
    assert queue.get() == "z_stage"

    taken: list[str] = []
    waiting = threading.Thread(target=lambda: taken.append(queue.get()))
    waiting.start()
    waiting.join(0.3)
    assert taken == []  # the only thread is busy: nothing else is taken from the queue
    queue.mark_done("z_stage")
    waiting.join(5)
    # the slow model became ready after the tests, and goes before them
    assert taken == ["z_slow_model"]


def test_the_worker_formats_only_the_log_lines_a_logger_keeps(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from dbt_common.events import logger as dbt_logging
    from dbt_common.events.base_types import EventLevel, msg_from_base_event
    from dbt_common.events.types import Note

    monkeypatch.setattr(dbt_logging._Logger, "write_line", dbt_logging._Logger.write_line)
    dbt_worker.format_only_lines_kept()
    out = io.StringIO()
    logger = dbt_logging._JsonLogger(
        dbt_logging.LoggerConfig(
            name="kpi_test_log",
            level=EventLevel.INFO,
            output_stream=out,
            line_format=dbt_logging.LineFormat.Json,
        )
    )
    formatted: list[str] = []
    create_line = logger.create_line

    def counting_create_line(msg: object) -> str:
        formatted.append(msg.info.msg)  # type: ignore[attr-defined]
        return create_line(msg)  # type: ignore[arg-type]

    logger.create_line = counting_create_line  # type: ignore[method-assign]
    for text, level in (
        ("a debug line", EventLevel.DEBUG),
        ("an info line", EventLevel.INFO),
        ("a warning", EventLevel.WARN),
    ):
        logger.write_line(msg_from_base_event(Note(msg=text), level=level))
    assert formatted == ["an info line", "a warning"]
    assert [json.loads(line)["info"]["msg"] for line in out.getvalue().splitlines()] == formatted


def test_the_worker_builds_only_the_events_a_logger_keeps(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from dbt_common.events import base_types
    from dbt_common.events import logger as dbt_logging
    from dbt_common.events.base_types import EventLevel
    from dbt_common.events.event_manager import EventManager
    from dbt_common.events.types import Note

    for name in ("__init__", "__getattr__", "__setattr__"):
        monkeypatch.setattr(base_types.BaseEvent, name, getattr(base_types.BaseEvent, name))
    monkeypatch.setattr(EventManager, "fire_event", EventManager.fire_event)
    dbt_worker.fire_only_events_kept()
    built: list[str] = []
    message = Note.message

    def counting_message(self: Note) -> str:
        built.append(self.msg)
        return message(self)

    monkeypatch.setattr(Note, "message", counting_message)
    manager = EventManager()
    out = io.StringIO()
    manager.add_logger(
        dbt_logging.LoggerConfig(
            name="kpi_test_events",
            level=EventLevel.INFO,
            output_stream=out,
            line_format=dbt_logging.LineFormat.Json,
        )
    )
    for text, level in (
        ("a debug event", EventLevel.DEBUG),
        ("an info event", EventLevel.INFO),
        ("a warning", EventLevel.WARN),
    ):
        manager.fire_event(Note(msg=text), level=level)
    assert built == ["an info event", "a warning"]
    lines = [json.loads(line)["info"]["msg"] for line in out.getvalue().splitlines()]
    assert lines == ["an info event", "a warning"]
    # an event's fields are there when read, and take what is set
    note = Note(msg="read later")
    assert note.msg == "read later"
    note.msg = "changed"
    assert note.pb_msg.msg == "changed"
    # a callback of its own sees every event, as in dbt
    seen: list[str] = []
    manager.callbacks.append(lambda msg: seen.append(msg.info.msg))
    manager.fire_event(Note(msg="for a callback"), level=EventLevel.DEBUG)
    assert seen == ["for a callback"]


def test_the_worker_reuses_the_templates_an_earlier_build_compiled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import marshal

    import jinja2
    from dbt.clients.jinja import get_rendered

    monkeypatch.setattr(jinja2.Environment, "compile", jinja2.Environment.compile)
    cache = tmp_path / "dbt_state" / "jinja_templates.marshal"
    keep = dbt_worker.reuse_compiled_templates(cache)
    assert get_rendered("select {{ 40 + 2 }}", {}) == "select 42"
    keep()
    written_by, entries = marshal.loads(cache.read_bytes())
    assert [key[-1] for key in entries] == ["select {{ 40 + 2 }}"]

    # The next build's worker: Jinja's compiler is not called for a template the file holds.
    compiled: list[str] = []
    compile_template = jinja2.Environment.compile

    def counting_compile(env: jinja2.Environment, source: str, *args: object) -> object:
        compiled.append(source)
        return compile_template(env, source, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(jinja2.Environment, "compile", counting_compile)
    dbt_worker.reuse_compiled_templates(cache)
    assert get_rendered("select {{ 40 + 2 }}", {}) == "select 42"
    assert get_rendered("select {{ 6 * 7 }}", {}) == "select 42"
    assert compiled == ["select {{ 6 * 7 }}"]

    # A file another Python, Jinja or dbt-common wrote is not used.
    cache.write_bytes(marshal.dumps(("another version", entries)))
    monkeypatch.setattr(jinja2.Environment, "compile", counting_compile)
    dbt_worker.reuse_compiled_templates(cache)
    assert get_rendered("select {{ 40 + 2 }}", {}) == "select 42"
    assert compiled[-1] == "select {{ 40 + 2 }}"


def test_templates_that_cannot_be_kept_do_not_fail_the_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import jinja2
    from dbt.clients.jinja import get_rendered

    monkeypatch.setattr(jinja2.Environment, "compile", jinja2.Environment.compile)
    not_a_folder = tmp_path / "dbt_state"
    not_a_folder.write_text("a file where the folder should be")
    keep = dbt_worker.reuse_compiled_templates(not_a_folder / "jinja_templates.marshal")
    assert get_rendered("select {{ 40 + 2 }}", {}) == "select 42"
    keep()
    assert "compiled templates not kept" in capsys.readouterr().err
