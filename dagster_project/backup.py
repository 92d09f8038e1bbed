"""The warehouse file as a whole: a copy to keep and putting one back (`kpi backup`, `kpi
restore`), and rewriting it without the space DuckDB keeps (`kpi compact`).

What a warehouse holds cannot all be rebuilt from the landing zone: exports are corrected and
replaced there, old ones cleared away, while the warehouse keeps every delivery it loaded, the
rows it quarantined and the months still queued (the `audit` schema). A backup is therefore the
warehouse file itself, taken whole while nothing writes it, with the pseudonym key the analysts'
snapshot is published with (without it the same person would get another key in every later
snapshot). The snapshot, the run history, the logs and the caches beside the warehouse are made
again from it and are not kept.

A backup is a folder: the files, and `backup.json` naming each with its size and SHA-256, written
last, so a folder without it is no backup (an interrupted one is left as `.<name>.partial`, and
the next backup of the same warehouse there removes it).
A restore checks every file against that list before it replaces anything, then publishes the
analysts' snapshot afresh: the one in place shows the warehouse as it was before the restore.
The next `kpi build` loads again the exports delivered since the backup (the restored ledger
has not seen them) and rebuilds the months they touch.

DuckDB reuses the space that rebuilt months and replaced rows free inside the file, but never
gives it back to the disk, and a table with a key keeps the row groups its deleted rows were in.
A compaction copies every schema, table and view into a new file of the same storage version
(`COPY FROM DATABASE`), checks that each table holds as many rows as before, and renames it over
the warehouse: the file then holds what a build from scratch would write.

All three take the build lock, and none starts while a run of the warehouse is in progress (from
the UI, a schedule or the sensor): the copy must not see half a run, and a restore or a
compaction must not replace the file under one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from dagster_project import build_guard, disk_space, settings
from dagster_project.ingest.load import storage_version

MANIFEST_NAME = "backup.json"
MANIFEST_FORMAT = 1
PSEUDONYM_KEY_NAME = "pseudonym.key"
# Written first into a backup under way, naming the warehouse: a later backup of the same
# warehouse (holding its build lock, so no backup of it is under way) removes the folders a
# stopped one left; those of other warehouses, or without this file, are not its to remove.
UNDER_WAY_NAME = "backing-up.json"


class BackupError(RuntimeError):
    """A backup or restore that cannot go on; the message says why and what is unchanged."""


@dataclass(frozen=True)
class BackupResult:
    folder: Path
    bytes_copied: int
    seconds: float
    # what the backup holds, for the person who will restore it
    loaded_files: int
    last_loaded_at: str | None
    # older backups of the same warehouse removed to keep the number asked for
    removed: list[Path]
    # folders left by backups of the same warehouse that stopped before they finished
    removed_unfinished: list[Path]
    settled_runs: list[str]


@dataclass(frozen=True)
class RestoreResult:
    created_at: str
    bytes_restored: int
    seconds: float
    snapshot_rows: dict[str, int]
    settled_runs: list[str]


@dataclass(frozen=True)
class CompactResult:
    bytes_before: int
    bytes_after: int
    seconds: float
    tables: int
    settled_runs: list[str]


def wal_path(database: Path) -> Path:
    """DuckDB's write-ahead log of a database file: the file's name with `.wal`."""
    return database.with_name(database.name + ".wal")


def _copy_hashing(source: Path, target: Path) -> tuple[int, str]:
    """Copy `source` to a new file `target`, synced to the disk; the copy's size and SHA-256,
    read back from it. The kernel copies (copy_file_range, extents shared where the file system
    can): a 925 MB warehouse took 8.2 s written through Python, 0.5 s so."""
    if target.exists():
        raise FileExistsError(target)
    shutil.copyfile(source, target)
    with target.open("rb") as written:
        os.fsync(written.fileno())
        digest = hashlib.file_digest(written, "sha256")
    return target.stat().st_size, digest.hexdigest()


def _sync_folder(folder: Path) -> None:
    """Make a rename in `folder` durable: the folder's own entry list synced to the disk."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _check_room(folder: Path, needed: int, what: str) -> None:
    free = disk_space.free_bytes(folder)
    if free < needed:
        raise BackupError(
            f"{what} needs {disk_space.size_text(needed)} on the disk holding {folder}, which "
            f"has {disk_space.size_text(free)} free: nothing was written"
        )


def _runs_in_progress_refused(
    warehouse: Path, doing: str, own_run_id: str | None = None
) -> list[str]:
    """Settle the runs of the warehouse whose process is gone (the caller holds the build lock)
    and raise BackupError if any other run than `own_run_id` (the Dagster run doing this) is in
    progress; the notes of the runs settled."""
    from dagster_project.build import prepare_instance

    instance = prepare_instance(warehouse)
    try:
        notes = build_guard.settle_abandoned_runs(instance)
        running = [
            run for run in build_guard.runs_in_progress(instance) if run.run_id != own_run_id
        ]
        if running:
            names = ", ".join(
                f"{run.run_id} ({run.job_name}, {run.status.value})" for run in running
            )
            raise BackupError(
                f"run {names} of {warehouse} is in progress: {doing} when it has finished "
                "(see `kpi ui`, Runs)"
            )
    finally:
        instance.dispose()
    return notes


def _open_for_writing(warehouse: Path) -> duckdb.DuckDBPyConnection:
    """The warehouse opened for writing, which keeps every other process out of it; a process
    that has it open already is named (DuckDB's message gives its pid)."""
    try:
        return duckdb.connect(
            str(warehouse), config=settings.duckdb_config(settings.spill_dir_for(warehouse))
        )
    except duckdb.IOException as error:
        if not settings.held_by_another_process(error):
            raise
        raise BackupError(
            f"{warehouse} is open in another process, which must close it first ({error})"
        ) from error


def _loaded_files(con: duckdb.DuckDBPyConnection) -> tuple[int, str | None]:
    """How many exports the warehouse has loaded, and when it loaded the last."""
    has_ledger = con.execute(
        "select count(*) from information_schema.tables "
        "where table_schema = 'audit' and table_name = 'ingestion_ledger'"
    ).fetchone()
    if not has_ledger or not has_ledger[0]:
        return 0, None
    count, last = con.execute(
        "select count(*) filter (where status = 'loaded'), max(loaded_at) "
        "from audit.ingestion_ledger"
    ).fetchone() or (0, None)
    return int(count), None if last is None else f"{last:%Y-%m-%d %H:%M:%S}"


def _check_readable(database: Path) -> None:
    """Open the copy as DuckDB would: a file that does not open is no backup."""
    try:
        with duckdb.connect(str(database), read_only=True) as con:
            con.execute("select count(*) from information_schema.tables").fetchone()
    except duckdb.Error as error:
        raise BackupError(f"{database} does not open as a DuckDB database: {error}") from error


def back_up(
    warehouse: Path, destination: Path, keep: int | None = None, own_run_id: str | None = None
) -> BackupResult:
    """Copy the warehouse (and its pseudonym key) into a new folder under `destination`; with
    `keep`, then remove the oldest backups of this warehouse there beyond that many. From a
    Dagster run, `own_run_id` is that run, which is not one to wait for."""
    if keep is not None and keep < 1:
        raise BackupError(f"--keep {keep}: keep at least the backup being made (1 or more)")
    warehouse = warehouse.resolve()
    if not warehouse.is_file():
        raise BackupError(f"no warehouse at {warehouse}: nothing to back up")
    started = time.monotonic()
    created = datetime.now().astimezone()
    stamp = f"{warehouse.stem}-{created:%Y%m%d-%H%M%S}"
    folder = destination.resolve() / stamp
    taken = 1
    while folder.exists():  # two backups in one second
        taken += 1
        folder = destination.resolve() / f"{stamp}-{taken}"
    name = folder.name
    partial = folder.with_name(f".{name}.partial")
    # Everything under the build lock: a later backup of this warehouse removes the `.partial`
    # folders it finds (_remove_unfinished_backups), so this one's must be finished before.
    with build_guard.exclusive_build(warehouse):
        settled = _runs_in_progress_refused(warehouse, "back up", own_run_id)
        # Open for writing, so no other process can, and checkpointed, so the file alone holds
        # every commit; it stays open until the copy is made.
        with _open_for_writing(warehouse) as con:
            con.execute("force checkpoint")
            loaded_files, last_loaded_at = _loaded_files(con)
            sources = [warehouse]
            wal = wal_path(warehouse)
            if wal.is_file() and wal.stat().st_size > 0:
                sources.append(wal)  # a checkpoint that left a log: it is part of the state
            key_file = warehouse.parent / PSEUDONYM_KEY_NAME
            if key_file.is_file():
                sources.append(key_file)
            needed = sum(path.stat().st_size for path in sources)
            partial.parent.mkdir(parents=True, exist_ok=True)
            removed_unfinished = _remove_unfinished_backups(warehouse, partial.parent)
            _check_room(partial.parent, needed, "the backup")
            shutil.rmtree(partial, ignore_errors=True)
            partial.mkdir()
            under_way = partial / UNDER_WAY_NAME
            under_way.write_text(json.dumps({"warehouse": str(warehouse)}) + "\n", "utf-8")
            files: list[dict[str, Any]] = []
            try:
                for source in sources:
                    size, sha256 = _copy_hashing(source, partial / source.name)
                    files.append({"name": source.name, "bytes": size, "sha256": sha256})
            except OSError as error:
                shutil.rmtree(partial, ignore_errors=True)
                raise _write_failed(error, partial.parent, "the backup") from error
        _check_readable(partial / warehouse.name)
        under_way.unlink()
        _write_manifest(
            partial,
            {
                "format": MANIFEST_FORMAT,
                "created_at": created.isoformat(timespec="seconds"),
                "warehouse": str(warehouse),
                "warehouse_file": warehouse.name,
                "duckdb_version": duckdb.__version__,
                "loaded_files": loaded_files,
                "last_loaded_at": last_loaded_at,
                "files": files,
            },
        )
        os.replace(partial, folder)
        _sync_folder(folder.parent)
        removed = [] if keep is None else backups_of(warehouse, folder.parent)[:-keep]
        for old in removed:
            shutil.rmtree(old)
    return BackupResult(
        folder=folder,
        bytes_copied=sum(entry["bytes"] for entry in files),
        seconds=time.monotonic() - started,
        loaded_files=loaded_files,
        last_loaded_at=last_loaded_at,
        removed=removed,
        removed_unfinished=removed_unfinished,
        settled_runs=settled,
    )


def _write_manifest(folder: Path, manifest: dict[str, Any]) -> None:
    """The backup's list of files, written and synced last: it makes the folder a backup."""
    manifest_file = folder / MANIFEST_NAME
    manifest_file.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    with manifest_file.open("rb") as written:
        os.fsync(written.fileno())


def _remove_unfinished_backups(warehouse: Path, folder: Path) -> list[Path]:
    """Remove the folders that backups of `warehouse` into `folder` left when they stopped
    before they finished (killed, or the machine stopped); the caller holds the build lock."""
    removed: list[Path] = []
    for under_way in sorted(folder.glob(f".*.partial/{UNDER_WAY_NAME}")):
        try:
            named = json.loads(under_way.read_text(encoding="utf-8")).get("warehouse")
        except (OSError, ValueError, AttributeError):
            continue
        if named == str(warehouse):
            shutil.rmtree(under_way.parent)
            removed.append(under_way.parent)
    return removed


def backups_of(warehouse: Path, folder: Path) -> list[Path]:
    """The complete backups of `warehouse` in `folder`, oldest first; those of other warehouses
    kept there, and folders that are no backup, are left out."""
    found: list[tuple[str, str, Path]] = []
    for manifest_file in folder.glob(f"*/{MANIFEST_NAME}"):
        try:
            manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(manifest, dict) and manifest.get("warehouse") == str(warehouse):
            found.append(
                (str(manifest.get("created_at")), manifest_file.parent.name, manifest_file.parent)
            )
    return [path for _, _, path in sorted(found)]


def _write_failed(error: OSError, folder: Path, what: str) -> BackupError:
    full = disk_space.full_disk([disk_space.error_text(error)], folder)
    reason = full or f"{error.__class__.__name__}: {error}"
    return BackupError(f"{what} stopped: {reason}; its partial copy was removed")


def read_manifest(folder: Path) -> dict[str, Any]:
    """The backup's list of files, checked for what a restore needs."""
    manifest_file = folder / MANIFEST_NAME
    try:
        manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        held = sorted(path.parent.name for path in folder.glob(f"*/{MANIFEST_NAME}"))
        inside = (
            f"; it holds {len(held)} backup(s), the latest {held[-1]}"
            if held
            else " (a backup stopped before it finished is left as a .partial folder)"
        )
        raise BackupError(
            f"{folder} is not a backup made by `kpi backup`: it has no {MANIFEST_NAME}{inside}"
        ) from None
    except (OSError, ValueError) as error:
        raise BackupError(f"{manifest_file} cannot be read: {error}") from error
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        raise BackupError(
            f"{manifest_file}: not a backup list of format {MANIFEST_FORMAT} (this version of "
            "the warehouse cannot restore it)"
        )
    for entry in manifest.get("files", []):
        path = folder / entry["name"]
        if not path.is_file():
            raise BackupError(f"{path} is missing: the backup is incomplete; nothing was changed")
    return manifest


def restore(folder: Path, warehouse: Path) -> RestoreResult:
    """Replace the warehouse with the backup in `folder`, then publish the analysts' snapshot
    from it. Every file is checked against the backup's list before the warehouse is touched."""
    from dagster_project import snapshot

    started = time.monotonic()
    folder = folder.resolve()
    warehouse = warehouse.resolve()
    manifest = read_manifest(folder)
    if manifest["warehouse_file"] != warehouse.name:
        # dbt-duckdb's views name the tables they read with the database's file name
        raise BackupError(
            f"the backup is of a warehouse file named {manifest['warehouse_file']}: restore it "
            f"to a file of that name (--warehouse {warehouse.parent / manifest['warehouse_file']})"
        )
    entries = {entry["name"]: entry for entry in manifest["files"]}
    database_entry = entries[manifest["warehouse_file"]]
    staged = warehouse.with_name(warehouse.name + ".restoring")
    staged_wal = wal_path(staged)
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    with build_guard.exclusive_build(warehouse):
        settled = _runs_in_progress_refused(warehouse, "restore")
        needed = sum(entry["bytes"] for entry in entries.values())
        _check_room(warehouse.parent, needed, "the restore")
        key_file = warehouse.parent / PSEUDONYM_KEY_NAME
        staged_key = key_file.with_name(key_file.name + ".restoring")
        staged_copies = {
            manifest["warehouse_file"]: staged,
            wal_path(warehouse).name: staged_wal,
            PSEUDONYM_KEY_NAME: staged_key,
        }
        for path in staged_copies.values():
            path.unlink(missing_ok=True)
        try:
            for name, target in staged_copies.items():
                if name not in entries:
                    continue
                size, sha256 = _copy_hashing(folder / name, target)
                expected = entries[name]
                if (size, sha256) != (expected["bytes"], expected["sha256"]):
                    raise BackupError(
                        f"{folder / name} is damaged: {size} bytes with SHA-256 {sha256[:12]}…, "
                        f"the backup listed {expected['bytes']} bytes with "
                        f"{expected['sha256'][:12]}…; the warehouse was not changed"
                    )
            _check_readable(staged)
            if warehouse.exists():
                # a damaged warehouse, the reason for many a restore, is replaced all the same
                with contextlib.suppress(duckdb.Error):
                    _open_for_writing(warehouse).close()
        except BaseException as error:
            for path in staged_copies.values():
                path.unlink(missing_ok=True)
            if isinstance(error, OSError):
                raise _write_failed(error, warehouse.parent, "the restore") from error
            raise
        # The snapshot in place shows the warehouse being replaced: without its settings file
        # the next publish, this one or the next build's if this one is stopped, publishes
        # everything instead of the months queued in the backup.
        snapshot.snapshot_paths(warehouse).settings.unlink(missing_ok=True)
        # The log of the warehouse being replaced would be replayed onto the backup's file.
        wal_path(warehouse).unlink(missing_ok=True)
        os.replace(staged, warehouse)
        if staged_wal.exists():
            os.replace(staged_wal, wal_path(warehouse))
        if staged_key.exists():
            staged_key.chmod(0o600)
            os.replace(staged_key, key_file)
        rows = snapshot.publish_snapshot(warehouse)
    return RestoreResult(
        created_at=str(manifest.get("created_at")),
        bytes_restored=database_entry["bytes"],
        seconds=time.monotonic() - started,
        snapshot_rows=rows,
        settled_runs=settled,
    )


# the compacted copy's catalog while it is written
COMPACTING_CATALOG = "compacting"


def _relations(con: duckdb.DuckDBPyConnection, catalog: str, kind: str) -> set[str]:
    """The tables or views (`kind`) of an attached database, as quoted schema.name."""
    return {
        f'"{schema}"."{name}"'
        for schema, name in con.execute(
            f"select schema_name, {kind}_name from duckdb_{kind}s() "
            "where database_name = ? and not internal",
            [catalog],
        ).fetchall()
    }


def _copy_differences(con: duckdb.DuckDBPyConnection, catalog: str) -> list[str]:
    """What the compacted copy lacks or holds otherwise: a table or view missing, or a table
    with another number of rows."""
    problems: list[str] = []
    for kind in ("table", "view"):
        missing = _relations(con, catalog, kind) - _relations(con, COMPACTING_CATALOG, kind)
        problems += [f"{kind} {name} missing" for name in sorted(missing)]
    # only the tables both hold: counting one the copy lacks would stop at DuckDB's error
    both = _relations(con, catalog, "table") & _relations(con, COMPACTING_CATALOG, "table")
    for table in sorted(both):
        counts = con.execute(
            f'select (select count(*) from "{catalog}".{table}), '
            f"(select count(*) from {COMPACTING_CATALOG}.{table})"
        ).fetchone()
        if counts is None or counts[0] != counts[1]:
            problems.append(
                f"{table}: {counts and counts[1]} rows copied of {counts and counts[0]}"
            )
    return problems


def compact(warehouse: Path, own_run_id: str | None = None) -> CompactResult:
    """Rewrite the warehouse into a new file without the space DuckDB keeps inside it, and put
    that file in its place. From a Dagster run, `own_run_id` is that run, which is not one to
    wait for."""
    warehouse = warehouse.resolve()
    if not warehouse.is_file():
        raise BackupError(f"no warehouse at {warehouse}: nothing to compact")
    started = time.monotonic()
    staged = warehouse.with_name(warehouse.name + ".compacting")
    # dbt-duckdb's views name the tables they read with the database's file name
    catalog = warehouse.stem
    with build_guard.exclusive_build(warehouse):
        settled = _runs_in_progress_refused(warehouse, "compact", own_run_id)
        bytes_before = warehouse.stat().st_size
        for path in (staged, wal_path(staged)):
            path.unlink(missing_ok=True)
        try:
            # Open for writing, so no other process can while the copy is made, and
            # checkpointed, so that the file alone holds every commit when it is replaced.
            with _open_for_writing(warehouse) as con:
                con.execute("set enable_progress_bar = false")
                con.execute("force checkpoint")
                version = storage_version(con)
                block_size, used_blocks = con.execute(
                    "select block_size, used_blocks from pragma_database_size() "
                    "where database_name = current_database()"
                ).fetchone() or (0, 0)
                _check_room(warehouse.parent, block_size * used_blocks, "the compaction")
                # the same storage version: a newer one would lock out the DuckDB of older tools
                # reading it, and the raw tables' compression depends on it (ingest.load)
                keep_version = (
                    ""
                    if version is None
                    else f" (storage_version 'v{'.'.join(map(str, version))}')"
                )
                con.execute(f"attach '{staged}' as {COMPACTING_CATALOG}{keep_version}")
                con.execute(f'copy from database "{catalog}" to {COMPACTING_CATALOG}')
                differences = _copy_differences(con, catalog)
                tables = len(_relations(con, catalog, "table"))
                con.execute(f"detach {COMPACTING_CATALOG}")
            if differences:
                raise BackupError(
                    "the compacted copy differs from the warehouse ("
                    + "; ".join(differences[:5])
                    + "): the warehouse was not changed"
                )
            with staged.open("rb") as written:
                os.fsync(written.fileno())
            _check_readable(staged)
        except BaseException as error:
            for path in (staged, wal_path(staged)):
                path.unlink(missing_ok=True)
            if isinstance(error, OSError):
                raise _write_failed(error, warehouse.parent, "the compaction") from error
            raise
        # checkpointed and closed: a log left now would be replayed onto the new file
        wal_path(warehouse).unlink(missing_ok=True)
        os.replace(staged, warehouse)
        _sync_folder(warehouse.parent)
    return CompactResult(
        bytes_before=bytes_before,
        bytes_after=warehouse.stat().st_size,
        seconds=time.monotonic() - started,
        tables=tables,
        settled_runs=settled,
    )
