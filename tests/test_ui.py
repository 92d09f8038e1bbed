"""`kpi ui` serves the Dagster UI on 127.0.0.1 with the whole lineage and the dbt checks; a plain
`dagster dev -w workspace.yaml` serves the same definitions."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from dagster import DagsterEvent, DagsterEventType, DagsterRunStatus
from dagster._core.test_utils import create_run_for_test

from dagster_project.backup import backups_of, read_manifest
from dagster_project.build import prepare_instance
from tests.conftest import ACCEPTANCE_CASE, KPI, PROJECT_ROOT, run_kpi
from tests.marts_expected import relation_differences
from tests.test_build_guard import writer_slot_step
from tests.test_run_history import age_runs

REPOSITORY_QUERY = """
{ repositoriesOrError { ... on RepositoryConnection { nodes { name location { name } } } } }
"""
LAUNCH_JOB = """
mutation { launchRun(executionParams: {selector: {repositoryLocationName: "%s",
    repositoryName: "%s", jobName: "%s"}}) {
  __typename ... on LaunchRunSuccess { run { runId } } } }
"""
RUN_STATUS = """{ runOrError(runId: "%s") { ... on Run { status } } }"""
ASSET_QUERY = """
{ assetNodes { assetKey { path } dependencyKeys { path } assetChecksOrError {
    ... on AssetChecks { checks { name } } } } }
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _graphql(port: int, query: str) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


@contextlib.contextmanager
def _serving(command: list[str], cwd: Path, env: dict[str, str]) -> Iterator[int]:
    """The port of the UI started by `command`, once it serves the repository; the UI and every
    process it started are killed on exit."""
    port = _free_port()
    # Its own session, so the whole tree (kpi, dagster dev, webserver, code server, run
    # workers) can be killed by group id: background shells here ignore SIGTERM.
    server = subprocess.Popen(
        [*command, "--port", str(port)],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 240
        while True:
            if server.poll() is not None:
                raise AssertionError(f"{command} exited with {server.returncode}")
            try:
                if _graphql(port, REPOSITORY_QUERY)["data"]["repositoriesOrError"]["nodes"]:
                    break
            except (urllib.error.URLError, ConnectionError, KeyError, TypeError):
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"{command} did not answer with its repository")
            time.sleep(2)
        yield port
    finally:
        # the group may be gone already when the server exited on its own
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=30)


def _launch(port: int, job_name: str) -> dict:
    """Launch `job_name` from the UI serving on `port`, as a person would from its launchpad."""
    (repository,) = _graphql(port, REPOSITORY_QUERY)["data"]["repositoriesOrError"]["nodes"]
    launch = LAUNCH_JOB % (repository["location"]["name"], repository["name"], job_name)
    return _graphql(port, launch)["data"]["launchRun"]


def _acceptance_environment(warehouse: Path) -> dict[str, str]:
    """The environment of a `kpi` serving the acceptance case's exports into `warehouse`."""
    return {
        **os.environ,
        "KPI_RAW_DIR": str(ACCEPTANCE_CASE / "raw"),
        "KPI_WAREHOUSE": str(warehouse),
    }


def _served_asset_nodes(command: list[str], cwd: Path, env: dict[str, str]) -> list[dict]:
    """The asset nodes the UI started by `command` serves."""
    with _serving(command, cwd, env) as port:
        nodes = _graphql(port, ASSET_QUERY)["data"]["assetNodes"]
    assert nodes, f"{command} serves no assets"
    return nodes


def test_ui_shows_lineage_and_checks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    env = _acceptance_environment(warehouse)
    # a build of long ago in the history: `kpi ui` removes it as it starts (run_history)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))  # restored after; prepare_instance sets it
    with prepare_instance(warehouse) as instance:
        old = create_run_for_test(instance, status=DagsterRunStatus.SUCCESS).run_id
    age_runs(warehouse, days=91)

    nodes = _served_asset_nodes([KPI, "ui"], PROJECT_ROOT, env)

    with prepare_instance(warehouse) as instance:
        assert instance.get_run_by_id(old) is None
    by_key = {"/".join(node["assetKey"]["path"]): node for node in nodes}
    staging = next(key for key in by_key if key.endswith("stg_kpi_tool__worklog_revisions"))
    assert {"path": ["raw", "worklog"]} in by_key[staging]["dependencyKeys"]
    mart = next(key for key in by_key if key.endswith("fct_staff_day"))
    checks = by_key[mart]["assetChecksOrError"]["checks"]
    assert checks, "dbt tests on fct_staff_day should show as asset checks"


def test_plain_dagster_dev_serves_the_workspace(tmp_path: Path) -> None:
    # Without DAGSTER_HOME, `dagster dev` keeps a temporary instance in its working folder and
    # reads that folder's dagster.yaml: the project's own, copied here so that the temporary
    # folder, which a killed server leaves behind, is not left in the project.
    shutil.copyfile(PROJECT_ROOT / "dagster.yaml", tmp_path / "dagster.yaml")
    env = {key: value for key, value in os.environ.items() if key != "DAGSTER_HOME"}
    env["KPI_WAREHOUSE"] = str(tmp_path / "warehouse.duckdb")
    dagster = str(Path(KPI).parent / "dagster")
    command = [dagster, "dev", "-w", str(PROJECT_ROOT / "workspace.yaml"), "-h", "127.0.0.1"]
    nodes = _served_asset_nodes(command, tmp_path, env)
    keys = {"/".join(node["assetKey"]["path"]) for node in nodes}
    assert "raw/worklog" in keys
    assert any(key.endswith("fct_staff_day") for key in keys)


def test_a_ui_run_whose_process_died_does_not_stop_the_next_build(
    tmp_path: Path, acceptance_warehouse: Path
) -> None:
    """A run launched from the UI holds the writers' slot; killed with the UI (the machine
    switched off, say), it stayed started for ever and `kpi build` waited for it without end."""
    raw, warehouse = ACCEPTANCE_CASE / "raw", tmp_path / "warehouse.duckdb"
    env = _acceptance_environment(warehouse)
    with _serving([KPI, "ui"], PROJECT_ROOT, env) as port:
        launched = _launch(port, "build_warehouse")
        assert launched["__typename"] == "LaunchRunSuccess", launched
        deadline = time.monotonic() + 300
        while writer_slot_step(warehouse) != "kpi_dbt_models":
            assert time.monotonic() < deadline, "the UI's run never reached dbt"
            time.sleep(0.2)
        time.sleep(1.0)  # into dbt
    # _serving killed the UI and its run worker with it

    build = run_kpi("build", "--raw", str(raw), "--warehouse", str(warehouse), timeout=600)

    assert build.returncode == 0, build.stderr[-3000:]
    run_id = launched["run"]["runId"]
    assert f"run {run_id} (build_warehouse, not a run of `kpi build`) stopped" in build.stderr
    assert "its process (pid " in build.stderr
    assert writer_slot_step(warehouse) is None
    assert relation_differences(warehouse, acceptance_warehouse, "marts") == {}


def test_a_ui_run_that_never_started_is_failed_by_the_ui(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run whose launch died before its process started (the UI stopped as it launched it)
    announced no process for a build to check: it stayed STARTING, and the UI's queue of one run
    at a time waited for it for ever. The UI's daemon fails it (dagster.yaml, run_monitoring)."""
    warehouse = tmp_path / "warehouse.duckdb"
    env = _acceptance_environment(warehouse)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))  # restored after; prepare_instance sets it
    with prepare_instance(warehouse) as instance:
        stuck = create_run_for_test(
            instance, job_name="build_warehouse", status=DagsterRunStatus.STARTING
        ).run_id
        launched_at = time.time() - 3600
        instance.report_dagster_event(
            DagsterEvent(DagsterEventType.RUN_STARTING.value, job_name="build_warehouse"),
            stuck,
            timestamp=launched_at,
        )
        cancelling = create_run_for_test(
            instance, job_name="build_warehouse", status=DagsterRunStatus.CANCELING
        ).run_id
        instance.report_dagster_event(
            DagsterEvent(DagsterEventType.RUN_CANCELING.value, job_name="build_warehouse"),
            cancelling,
            timestamp=launched_at,
        )

    statuses: dict[str, DagsterRunStatus] = {}
    with _serving([KPI, "ui"], PROJECT_ROOT, env), prepare_instance(warehouse) as instance:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            statuses = {
                run_id: instance.get_run_by_id(run_id).status for run_id in (stuck, cancelling)
            }
            if statuses == {stuck: DagsterRunStatus.FAILURE, cancelling: DagsterRunStatus.CANCELED}:
                break
            time.sleep(2)
    assert statuses == {stuck: DagsterRunStatus.FAILURE, cancelling: DagsterRunStatus.CANCELED}


def test_the_ui_backs_up_the_warehouse(tmp_path: Path, acceptance_warehouse: Path) -> None:
    """The job of the schedule `nightly_backup`, launched from the UI: its run worker, with the
    UI's queue and the writer's slot, makes a backup of the warehouse it serves."""
    warehouse = tmp_path / "wh" / acceptance_warehouse.name
    shutil.copytree(acceptance_warehouse.parent, warehouse.parent)
    backups = tmp_path / "nightly"
    env = {**_acceptance_environment(warehouse), "KPI_BACKUP_DIR": str(backups)}
    status = None
    with _serving([KPI, "ui"], PROJECT_ROOT, env) as port:
        launched = _launch(port, "backup_warehouse")
        assert launched["__typename"] == "LaunchRunSuccess", launched
        deadline = time.monotonic() + 180
        while status not in ("SUCCESS", "FAILURE", "CANCELED"):
            assert time.monotonic() < deadline, f"the backup's run is still {status}"
            time.sleep(1)
            run = _graphql(port, RUN_STATUS % launched["run"]["runId"])["data"]["runOrError"]
            status = run["status"]
    assert status == "SUCCESS"
    (backup,) = backups_of(warehouse.resolve(), backups)
    listed = {entry["name"]: entry["sha256"] for entry in read_manifest(backup)["files"]}
    assert listed[warehouse.name] == hashlib.sha256(warehouse.read_bytes()).hexdigest()
