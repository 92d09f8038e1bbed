"""`kpi ui` serves the Dagster UI on 127.0.0.1 with the whole lineage and the dbt checks."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.conftest import ACCEPTANCE_CASE, KPI, PROJECT_ROOT

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


def test_ui_shows_lineage_and_checks(tmp_path: Path) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "KPI_RAW_DIR": str(ACCEPTANCE_CASE / "raw"),
        "KPI_WAREHOUSE": str(tmp_path / "warehouse.duckdb"),
    }
    # Its own session, so the whole tree (kpi, dagster dev, webserver, code server) can be
    # killed by group id: background shells here ignore SIGTERM.
    server = subprocess.Popen(
        [KPI, "ui", "--port", str(port)],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 240
        nodes = None
        while time.monotonic() < deadline:
            try:
                nodes = _graphql(port, ASSET_QUERY)["data"]["assetNodes"]
                if nodes:
                    break
            except (urllib.error.URLError, ConnectionError, KeyError, TypeError):
                pass
            time.sleep(2)
        assert nodes, "the Dagster UI did not answer with the asset graph"
        by_key = {"/".join(node["assetKey"]["path"]): node for node in nodes}
        staging = next(key for key in by_key if key.endswith("stg_kpi_tool__worklog_revisions"))
        assert {"path": ["raw", "worklog"]} in by_key[staging]["dependencyKeys"]
        mart = next(key for key in by_key if key.endswith("fct_staff_day"))
        checks = by_key[mart]["assetChecksOrError"]["checks"]
        assert checks, "dbt tests on fct_staff_day should show as asset checks"
    finally:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=30)
