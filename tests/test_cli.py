"""The `kpi` command as a user meets it: help, exit status, messages that name the problem."""

from __future__ import annotations

import argparse
import json
import os
import queue
import shlex
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

import duckdb
import pytest

from dagster_project import cli
from tests.conftest import ACCEPTANCE_CASE, KPI, PROJECT_ROOT, run_kpi

# every subcommand the parser knows, so that a new one is tested without being listed here
SUBCOMMANDS = sorted(
    next(
        action.choices
        for action in cli.make_parser()._actions
        if isinstance(action, argparse._SubParsersAction)
    )
)


def test_the_subcommands_are_those_the_readme_lists() -> None:
    assert "compact" in SUBCOMMANDS
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    assert [command for command in SUBCOMMANDS if f"`kpi {command}" not in readme] == []


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_every_subcommand_has_help(command: str) -> None:
    result = run_kpi(command, "--help")
    assert result.returncode == 0
    assert "--warehouse" in result.stdout or command == "generate"
    assert f"usage: kpi {command}" in result.stdout


def test_build_fails_naming_the_missing_agencies_folder(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    shutil.copytree(ACCEPTANCE_CASE / "raw", raw)
    shutil.rmtree(raw / "agencies")

    result = run_kpi("build", "--raw", str(raw), "--warehouse", str(tmp_path / "w.duckdb"))

    assert result.returncode != 0
    # The ingestion step names the failed source and its reason on one line.
    lines = [line for line in result.stderr.splitlines() if "raw/agencies:" in line]
    assert lines, result.stderr
    reason = lines[0].split("raw/agencies:", 1)[1]
    assert "required source folder" in reason
    assert "agencies" in reason


def test_environment_variables_choose_the_paths(tmp_path: Path) -> None:
    warehouse = tmp_path / "env" / "warehouse.duckdb"
    result = run_kpi(
        "build",
        env={"KPI_RAW_DIR": str(ACCEPTANCE_CASE / "raw"), "KPI_WAREHOUSE": str(warehouse)},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    with duckdb.connect(str(warehouse), read_only=True) as con:
        (staff_days,) = con.execute("select count(*) from marts.fct_staff_day").fetchone()
    assert staff_days > 0


def test_run_says_where_each_reader_finds_the_results_and_its_commands_work(
    tmp_path: Path,
) -> None:
    """`make run` is the first thing a user meets: every path it prints must exist, and the
    commands it suggests must read the warehouse it built, pasted as printed."""
    raw = tmp_path / "raw"
    shutil.copytree(ACCEPTANCE_CASE / "raw", raw)
    warehouse = tmp_path / "elsewhere" / "warehouse.duckdb"
    exports = tmp_path / "exports"
    environment = {key: value for key, value in os.environ.items() if not key.startswith("KPI_")}
    result = subprocess.run(
        [KPI, "run", "--raw", str(raw), "--warehouse", str(warehouse)],
        cwd=PROJECT_ROOT,
        env={**environment, "KPI_EXPORTS_DIR": str(exports)},
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()

    def after(label: str) -> str:
        (line,) = [line for line in lines if line.startswith(label)]
        return line.removeprefix(label)

    period, folder = after("Leadership workbooks of ").split(": ", 1)
    assert Path(folder) == exports
    workbooks = sorted(path.name for path in exports.glob(f"{period}_*.xlsx"))
    listing = lines[lines.index(f"Leadership workbooks of {period}: {folder}") + 1]
    assert listing.strip() == (
        f"{period}_toan-tinh.xlsx (the province) and {len(workbooks) - 1} agencies' "
        f"({period}_<agency>.xlsx); checksums in {period}_manifest.json"
    )
    assert len(workbooks) > 1 and (exports / f"{period}_manifest.json").is_file()
    assert Path(after("Warehouse: ")) == warehouse.resolve()
    assert Path(after("Planner's workbook: ")).is_file()
    snapshot = Path(after("Analysts' snapshot: "))
    with duckdb.connect(str(snapshot), read_only=True) as con:
        expected = con.execute(cli.EXAMPLE_QUERY).fetchall()

    query = shlex.split(lines[lines.index("Try a query:") + 1])
    assert Path(query[0]).name == "kpi" and query[1] == "sql"
    asked = subprocess.run(
        [str(PROJECT_ROOT / query[0]), *query[1:], "--csv"],
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert asked.returncode == 0, asked.stderr
    printed = [row.split(",")[:2] for row in asked.stdout.splitlines()[1:]]
    assert expected and printed == [[code, str(start)] for code, start, *_ in expected]

    ui = shlex.split(lines[lines.index("Or browse the asset graph:") + 1])
    arguments = cli.make_parser().parse_args(ui[1:])
    assert arguments.command == "ui"
    assert Path(arguments.raw).resolve() == raw.resolve()
    assert Path(arguments.warehouse).resolve() == warehouse.resolve()


def test_sql_prints_a_query_result(acceptance_warehouse: Path) -> None:
    result = run_kpi(
        "sql",
        "select agency_code, staff_count from marts.agency_productivity "
        "where period_type = 'month' and period_start = date '2025-03-01' order by 1",
        "--csv",
        "--warehouse",
        str(acceptance_warehouse),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "agency_code,staff_count"
    assert "STC,6" in result.stdout.splitlines()


def test_sql_prompt_runs_statements_until_quit(acceptance_warehouse: Path) -> None:
    typed = "select 41 + 1 as answer\n;\n.quit\nselect 'after quit' as never;\n"
    result = subprocess.run(
        [KPI, "sql", "--warehouse", str(acceptance_warehouse)],
        input=typed,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "answer" in result.stdout and "42" in result.stdout
    assert "after quit" not in result.stdout
    assert "Query failed" not in result.stderr + result.stdout


def _readme_command(starting: str) -> list[str]:
    """The README's command line that starts with `starting`, as argv with the installed kpi."""
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    (line,) = [line for line in readme.splitlines() if line.startswith(starting)]
    return [KPI, *shlex.split(line)[1:]]


def test_the_readmes_quarantine_query_lists_the_quarantined_row(
    acceptance_warehouse: Path,
) -> None:
    """The operator reads the quarantine with the README's own command (the acceptance case
    quarantines one row: a second open assignment of KH007, raw-sources.md)."""
    command = _readme_command(".venv/bin/kpi sql --audit ")
    result = subprocess.run(
        [*command, "--csv", "--warehouse", str(acceptance_warehouse)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    rows = result.stdout.splitlines()
    assert rows[0] == "source,path,row_number,reason_code,message"
    assert len(rows) == 2 and rows[1].startswith("staff,staff/staff.csv,18,overlapping_assignment,")


class _Lines:
    """The lines a process writes to one of its pipes, read by a thread of their own, so that
    waiting for a line that never comes fails after a while instead of hanging."""

    def __init__(self, stream: IO[str]) -> None:
        self._lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self._lines.put(line.rstrip("\n"))

    def next_line(self, timeout: float = 60) -> str:
        return self._lines.get(timeout=timeout)

    def until(self, text: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while text not in (line := self._lines.get(timeout=max(deadline - time.monotonic(), 0.1))):
            pass
        return line


def test_an_audit_prompt_does_not_keep_a_build_out(
    acceptance_warehouse: Path, tmp_path: Path
) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copyfile(acceptance_warehouse, warehouse)
    prompt = subprocess.Popen(
        [KPI, "sql", "--audit", "--csv", "--warehouse", str(warehouse)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert prompt.stdin and prompt.stdout and prompt.stderr
        out, err = _Lines(prompt.stdout), _Lines(prompt.stderr)

        def type_in(text: str) -> None:
            assert prompt.stdin
            prompt.stdin.write(text)
            prompt.stdin.flush()

        type_in("select count(*) as loaded from audit.ingestion_ledger;\n")
        assert [out.next_line(), out.next_line()] == ["loaded", "10"]
        # between statements the file is free: a build can open it for writing
        with duckdb.connect(str(warehouse)) as build:
            build.execute("create table audit.written_meanwhile as select 1 as one")
            # a statement typed while the build writes is refused, and the prompt goes on
            type_in("select 1 as refused;\n")
            assert "Query not run: a build is writing" in err.until("Query not run")
        type_in(
            "select count(*) as tables from duckdb_tables() where schema_name = 'audit' "
            "and table_name = 'written_meanwhile';\n.quit\n"
        )
        assert [out.next_line(), out.next_line()] == ["tables", "1"]
        assert prompt.wait(timeout=60) == 0
    finally:
        prompt.kill()


def test_docs_generates_one_static_page(acceptance_warehouse: Path) -> None:
    result = run_kpi("docs", "--warehouse", str(acceptance_warehouse))
    assert result.returncode == 0, result.stderr[-3000:]
    page = acceptance_warehouse.parent / "docs" / "static_index.html"
    assert "agency_productivity" in page.read_text(encoding="utf-8")


# What dagster-dbt makes of dbt's statuses and node types when `kpi build` loads it with
# dbt-core hidden (cli._dbt_core_hidden), printed by a process of its own.
_FALLBACK_NAMES = """
import json, sys
from dagster_project.cli import _dbt_core_hidden
with _dbt_core_hidden():
    from dagster_dbt import compat
print(json.dumps({
    "dbt_version": str(compat.DBT_PYTHON_VERSION),
    "dbt_modules": sorted(m for m in sys.modules if m.split(".")[0] == "dbt" and sys.modules[m]),
    "refable": sorted(map(str, compat.REFABLE_NODE_TYPES)),
    **{e.__name__: {m.name: str(m) for m in e}
       for e in (compat.NodeStatus, compat.TestStatus, compat.NodeType)},
}))
"""


def test_dagster_dbt_loaded_without_dbt_core_names_what_dbt_core_names() -> None:
    loaded = subprocess.run(
        [sys.executable, "-c", _FALLBACK_NAMES], capture_output=True, text=True, check=True
    )
    fallback = json.loads(loaded.stdout)
    assert fallback["dbt_version"] == "None" and fallback["dbt_modules"] == []

    from dbt.contracts.results import NodeStatus, TestStatus
    from dbt.node_types import REFABLE_NODE_TYPES, NodeType

    assert fallback["refable"] == sorted(map(str, REFABLE_NODE_TYPES))
    for enum in (NodeStatus, TestStatus, NodeType):
        dbt_core = {member.name: member.value for member in enum}
        names = fallback[enum.__name__]
        differ = {
            name for name in dbt_core.keys() | names.keys() if dbt_core.get(name) != names.get(name)
        }
        # dbt 1.12's `reused` status, and the user-defined functions of dbt 1.11 that this
        # project does not have: any other difference needs a look after an upgrade.
        assert differ <= {"Reused", "Function"}, (enum.__name__, differ)
