"""`kpi status`: what the person who runs the warehouse checks in the morning, in one screen.

The last build and the runs in progress (Dagster's run history beside the warehouse); what the
warehouse holds and what it did not take (its `audit` schema: the built range, the ingestion
ledger, the quarantine, the months queued) and the free space inside its file; when the
analysts' snapshot was published; and the latest backup. It changes nothing: the warehouse is
opened read-only and closed at once, and while a build writes it, the build is named instead of
its audit tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from dagster_project import disk_space, settings

if TYPE_CHECKING:
    import duckdb
    from dagster import DagsterInstance, DagsterRun

# How many of each kind of problem the report names before it counts the rest.
SHOWN = 5
# The share of the warehouse file held free from which the report suggests `kpi compact`.
FREE_SPACE_SHOWN = 0.1
QUARANTINE_QUERY = (
    "select source, path, row_number, reason_code, message from audit.quarantine "
    "order by quarantined_at desc, path, row_number"
)


@dataclass
class Status:
    lines: list[str] = field(default_factory=list)
    # the latest build failed, or there is no warehouse: what a monitor alerts on
    failing: bool = False

    def add(self, line: str) -> None:
        self.lines.append(line)


def warehouse_status(warehouse: Path, kpi: str = "kpi", warehouse_option: str = "") -> Status:
    """The report on `warehouse`; the commands it suggests start with `kpi` and name the
    warehouse with `warehouse_option` (empty for the default one)."""
    status = Status()
    if not warehouse.is_file():
        status.add(f"No warehouse at {warehouse}: `kpi build` makes it.")
        status.failing = True
        return status
    wal = warehouse.with_name(warehouse.name + ".wal")
    size = warehouse.stat().st_size + (wal.stat().st_size if wal.is_file() else 0)
    status.add(f"Warehouse: {warehouse} ({disk_space.size_text(size)})")
    _runs(warehouse, status)
    _audit(warehouse, status, kpi, warehouse_option)
    _snapshot(warehouse, status)
    _backups(warehouse, status)
    return status


def _when(timestamp: float | None) -> str:
    return "?" if timestamp is None else f"{datetime.fromtimestamp(timestamp):%Y-%m-%d %H:%M}"


def _runs(warehouse: Path, status: Status) -> None:
    """The latest build and what is in progress, from the run history `kpi ui` shows."""
    from dagster import DagsterRunStatus, RunsFilter

    from dagster_project import build_guard
    from dagster_project.build import prepare_instance

    if not settings.dagster_home_for(warehouse).is_dir():
        status.add("Last build: none recorded beside this warehouse")
        return
    instance = prepare_instance(warehouse)
    try:
        records = instance.get_run_records(
            filters=RunsFilter(
                job_name=build_guard.BUILD_JOB_NAME,
                statuses=[
                    DagsterRunStatus.SUCCESS,
                    DagsterRunStatus.FAILURE,
                    DagsterRunStatus.CANCELED,
                ],
            ),
            limit=1,
        )
        if not records:
            status.add("Last build: none recorded beside this warehouse")
        for record in records:
            run = record.dagster_run
            took = (
                f", {record.end_time - record.start_time:.0f} s"
                if record.start_time and record.end_time
                else ""
            )
            how = (
                "`kpi build`"
                if build_guard.BUILD_TAG in run.tags
                else "the UI, a schedule or the sensor"
            )
            if run.status == DagsterRunStatus.SUCCESS:
                status.add(f"Last build: {_when(record.end_time)}, succeeded ({how}{took})")
            else:
                # a cancelled build was stopped on purpose; its months stay queued either way
                status.failing = run.status == DagsterRunStatus.FAILURE
                status.add(
                    f"Last build: {_when(record.end_time)}, {run.status.value.lower()} ({how}"
                    f"{took}; run {run.run_id})"
                )
                for step, reason in _failures(instance, run.run_id):
                    status.add(f"  {step}: {reason}")
        running = [
            f"{run.job_name} ({run.status.value}{_gone(instance, run)}; run {run.run_id})"
            for run in build_guard.runs_in_progress(instance)
        ]
        status.add("Runs in progress: " + (", ".join(running) or "none"))
    finally:
        instance.dispose()


def _gone(instance: DagsterInstance, run: DagsterRun) -> str:
    """For a run in progress whose process has ended (killed, out of memory, the machine
    restarted), what to say of it; nothing while the process runs or cannot be told."""
    from dagster_project import build_guard

    pid = build_guard.run_process_gone(instance, run.run_id)
    # `kpi build` runs its job in its own process, which the run's tag names
    build_pid = build_guard.build_tag_pid(run)
    record = instance.get_run_record_by_id(run.run_id)
    if pid is None and build_pid is not None and record is not None:
        created = record.create_timestamp.timestamp()
        if not build_guard.process_alive(build_pid, started_by=created):
            pid = build_pid
    if pid is None:
        return ""
    return f"; its process {pid} is gone: the next build marks it failed"


def _failures(instance: DagsterInstance, run_id: str) -> list[tuple[str, str]]:
    from dagster import DagsterEventType

    from dagster_project.build import failure_reason

    records = instance.get_records_for_run(
        run_id, of_type=DagsterEventType.STEP_FAILURE, limit=SHOWN
    ).records
    return [
        (entry.dagster_event.step_key or "run", failure_reason(entry.dagster_event))
        for record in records
        if (entry := record.event_log_entry).dagster_event is not None
    ]


def _audit(warehouse: Path, status: Status, kpi: str, warehouse_option: str) -> None:
    import duckdb

    try:
        con = duckdb.connect(str(warehouse), read_only=True)
    except duckdb.IOException as error:
        if not settings.held_by_another_process(error):
            raise
        status.add(
            "Ledger, quarantine and queue: not read, a build is writing the warehouse now "
            f"({error})"
        )
        return
    with con:
        _free_space(con, status, f"{kpi} compact{warehouse_option}")
        tables = {
            name
            for (name,) in con.execute(
                "select table_name from information_schema.tables where table_schema = 'audit'"
            ).fetchall()
        }
        if "built_range" in tables:
            span = con.execute("select min(range_start), max(range_end) from audit.built_range")
            start, end = span.fetchone() or (None, None)
            if start is not None:
                status.add(f"Reporting range built: {start} – {end} (the worklog's months)")
        if "ingestion_ledger" in tables:
            _ledger(con, status)
        if "quarantine" in tables:
            _quarantine(con, status, f"{kpi} sql --audit{warehouse_option}")
        if "pending_months" in tables:
            months = _months(con, "pending_months")
            status.add(
                "Months queued for the next build: " + (", ".join(months) if months else "none")
            )
        if "snapshot_pending" in tables:
            months = _months(con, "snapshot_pending")
            if months:
                status.add("Months waiting to be published to the snapshot: " + ", ".join(months))


def _free_space(con: duckdb.DuckDBPyConnection, status: Status, compact_command: str) -> None:
    """The space DuckDB keeps inside the file for later writes, when it is worth giving back:
    a tenth of the file or more (a one-day build frees about as much as it rewrites; a full
    refresh, about half the file)."""
    block_size, total_blocks, free_blocks = con.execute(
        "select block_size, total_blocks, free_blocks from pragma_database_size() "
        "where database_name = current_database()"
    ).fetchone() or (0, 0, 0)
    if total_blocks and free_blocks >= FREE_SPACE_SHOWN * total_blocks:
        status.add(
            f"Free space inside the file: {disk_space.size_text(block_size * free_blocks)} "
            f"({free_blocks / total_blocks:.0%}), reused by later builds; `{compact_command}` "
            "gives it back to the disk"
        )


def _ledger(con: duckdb.DuckDBPyConnection, status: Status) -> None:
    loaded, rows, last_at = con.execute(
        "select count(*), coalesce(sum(rows_loaded), 0), max(loaded_at) "
        "from audit.ingestion_ledger where status = 'loaded'"
    ).fetchone() or (0, 0, None)
    last = f"; the last at {last_at:%Y-%m-%d %H:%M}" if last_at else ""
    status.add(f"Exports loaded: {loaded:,} files, {rows:,} rows{last}")
    # A file's latest word in the ledger: one rejected and then delivered again, corrected, is
    # loaded and not a problem any more.
    refused = con.execute(
        "select path, status, message from audit.ingestion_ledger "
        "qualify row_number() over (partition by source, path order by delivery_id desc) = 1 "
        "and status <> 'loaded' order by path"
    ).fetchall()
    if refused:
        status.add(f"Files not loaded ({len(refused)}; delivered again corrected, they load):")
        status.lines.extend(
            # the ledger's message names the file first, as the build's output does
            f"  {path}: {(why or '').removeprefix(f'{path}: ')} ({state})"
            for path, state, why in refused[:SHOWN]
        )
        _more(status, len(refused))


def _quarantine(con: duckdb.DuckDBPyConnection, status: Status, audit_command: str) -> None:
    by_reason = con.execute(
        "select source, reason_code, count(*) as quarantined_rows from audit.quarantine "
        "group by all order by quarantined_rows desc, source, reason_code"
    ).fetchall()
    total = sum(count for _, _, count in by_reason)
    if not total:
        status.add("Rows quarantined: none")
        return
    status.add(f"Rows quarantined: {total:,} (kept with their reasons), by source and reason:")
    status.lines.extend(
        f"  {source} {reason}: {count:,}" for source, reason, count in by_reason[:SHOWN]
    )
    _more(status, len(by_reason))
    status.add(f'  see them: {audit_command} "{QUARANTINE_QUERY}"')


def _months(con: duckdb.DuckDBPyConnection, table: str) -> Sequence[str]:
    return [
        f"{month:%Y-%m}"
        for (month,) in con.execute(
            f"select distinct month_start from audit.{table} order by 1"
        ).fetchall()
    ]


def _more(status: Status, count: int) -> None:
    if count > SHOWN:
        status.add(f"  … and {count - SHOWN} more")


def _snapshot(warehouse: Path, status: Status) -> None:
    from dagster_project.snapshot import snapshot_paths

    database = snapshot_paths(warehouse).database
    if database.is_file():
        published = _when(database.stat().st_mtime)
        status.add(f"Analysts' snapshot: {database}, published {published}")
    else:
        status.add(f"Analysts' snapshot: none at {database} (the next build publishes it)")


def _backups(warehouse: Path, status: Status) -> None:
    from dagster_project.backup import BackupError, backups_of, read_manifest

    folder = settings.backups_dir(warehouse)
    found = backups_of(warehouse, folder) if folder.is_dir() else []
    if not found:
        status.add(f"Latest backup: none in {folder} (`kpi backup`)")
        return
    try:
        created = datetime.fromisoformat(read_manifest(found[-1])["created_at"])
        made = f"made {created.astimezone():%Y-%m-%d %H:%M}"
    except BackupError as problem:
        made = f"incomplete: {problem}"
    status.add(f"Latest backup: {found[-1]} ({made}; {len(found)} in {folder})")
