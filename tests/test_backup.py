"""`kpi backup` and `kpi restore` (dagster_project/backup.py): a restored warehouse is the one
backed up, marts, raw rows, ledger and analysts' snapshot alike; the next build loads what was
delivered since; a damaged backup, or one taken while a run writes, changes nothing."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import duckdb
import pytest

from dagster_project import settings, snapshot
from dagster_project.backup import (
    PSEUDONYM_KEY_NAME,
    UNDER_WAY_NAME,
    back_up,
    backups_of,
    read_manifest,
    restore,
    wal_path,
)
from dagster_project.build import prepare_instance
from dagster_project.definitions import defs
from dagster_project.resources import WarehouseResource
from dagster_project.snapshot import snapshot_paths
from tests.conftest import ACCEPTANCE_CASE, run_kpi
from tests.marts_expected import mart_differences, relation_differences, relations
from tests.test_acceptance import MART_KEYS, _mart_rows
from tests.ui_runs import ui_run_announcing

LATER_FILE = Path("worklog") / "worklog_2.csv"


def _kpi(*args: str) -> str:
    result = run_kpi(*args)
    assert result.returncode == 0, f"kpi {args[0]} failed:\n{result.stderr[-4000:]}"
    return result.stdout


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A warehouse built from the acceptance case without its second worklog file (kept aside
    as `at_backup`, with its snapshot), backed up, then built again with the file."""
    root = tmp_path_factory.mktemp("backup")
    raw = root / "raw"
    shutil.copytree(ACCEPTANCE_CASE / "raw", raw)
    aside = root / "later.csv"
    shutil.move(raw / LATER_FILE, aside)
    warehouse = root / "wh" / "warehouse.duckdb"
    _kpi("build", "--raw", str(raw), "--warehouse", str(warehouse))
    at_backup = root / "at-backup" / "warehouse.duckdb"
    shutil.copytree(warehouse.parent, at_backup.parent)
    backup = Path(
        _kpi("backup", "--warehouse", str(warehouse), "--to", str(root / "backups")).strip()
    )
    shutil.move(aside, raw / LATER_FILE)
    _kpi("build", "--raw", str(raw), "--warehouse", str(warehouse))
    # the later file changes the marts: a restore that did nothing would show
    assert relation_differences(at_backup, warehouse, "marts")
    return {"raw": raw, "warehouse": warehouse, "at_backup": at_backup, "backup": backup}


def _copy_of_warehouse(history: dict[str, Path], tmp_path: Path) -> Path:
    copy = tmp_path / "wh" / "warehouse.duckdb"
    shutil.copytree(history["warehouse"].parent, copy.parent)
    return copy


def test_a_backup_lists_each_file_with_its_checksum(history: dict[str, Path]) -> None:
    backup = history["backup"]
    assert backup.parent == history["raw"].parent / "backups"
    assert backup.name.startswith("warehouse-")
    manifest = json.loads((backup / "backup.json").read_text())
    listed = {entry["name"]: entry for entry in manifest["files"]}
    assert set(listed) == {"warehouse.duckdb", "pseudonym.key"}
    for name, entry in listed.items():
        assert entry["bytes"] == (backup / name).stat().st_size
        assert entry["sha256"] == _sha256(backup / name)
    assert manifest["loaded_files"] == 9  # the acceptance case's ten files, one held back
    # the copy is the warehouse as it was: its marts are those of the build before it
    assert relation_differences(history["at_backup"], backup / "warehouse.duckdb", "marts") == {}


def test_a_restore_brings_back_the_warehouse_and_its_snapshot_and_the_next_build_catches_up(
    history: dict[str, Path],
) -> None:
    warehouse, at_backup = history["warehouse"], history["at_backup"]
    # what the warehouse being replaced leaves beside it must not reach the restored one: a
    # write still in its log, and another pseudonym key (people would get other keys)
    with duckdb.connect(str(warehouse)) as con:
        con.execute("pragma disable_checkpoint_on_shutdown")
        con.execute("create table audit.written_after_the_backup as select 1 as one")
    assert wal_path(warehouse).stat().st_size > 0
    (warehouse.parent / "pseudonym.key").write_text("another key")

    result = run_kpi("restore", str(history["backup"]), "--warehouse", str(warehouse))
    assert result.returncode == 0, result.stderr[-4000:]
    assert "published the analysts' snapshot" in result.stderr

    for schema in ("raw", "marts", "audit"):
        assert relations(warehouse, schema) == relations(at_backup, schema), schema
        assert relation_differences(at_backup, warehouse, schema) == {}, schema
    assert (
        relation_differences(
            snapshot_paths(at_backup).database, snapshot_paths(warehouse).database, "main"
        )
        == {}
    )

    # the file delivered after the backup is not in the restored ledger: the next build loads it
    build = run_kpi("build", "--raw", str(history["raw"]), "--warehouse", str(warehouse))
    assert build.returncode == 0, build.stderr[-4000:]
    problems = [
        problem
        for mart in MART_KEYS
        for problem in mart_differences(mart, _mart_rows(warehouse, mart))
    ]
    assert problems == []


def test_a_damaged_backup_changes_nothing(history: dict[str, Path], tmp_path: Path) -> None:
    warehouse = _copy_of_warehouse(history, tmp_path)
    before = _sha256(warehouse)
    damaged = tmp_path / "damaged"
    shutil.copytree(history["backup"], damaged)
    with (damaged / "warehouse.duckdb").open("r+b") as file:
        file.seek(4096 * 10)
        byte = file.read(1)
        file.seek(4096 * 10)
        file.write(bytes([byte[0] ^ 0xFF]))

    result = run_kpi("restore", str(damaged), "--warehouse", str(warehouse))

    assert result.returncode == 1
    assert f"Restore not made: {damaged / 'warehouse.duckdb'} is damaged" in result.stderr
    assert "the warehouse was not changed" in result.stderr
    assert _sha256(warehouse) == before
    assert sorted(path.name for path in warehouse.parent.glob("*.restoring*")) == []

    # the folder holding the backups is not one: the message names those it holds
    holder = run_kpi("restore", str(history["backup"].parent), "--warehouse", str(warehouse))
    assert holder.returncode == 1
    assert "has no backup.json" in holder.stderr
    assert history["backup"].name in holder.stderr


def test_neither_starts_while_a_run_of_the_warehouse_is_in_progress(
    history: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    warehouse = _copy_of_warehouse(history, tmp_path)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))  # prepare_instance sets it for the test
    instance = prepare_instance(warehouse)
    run_id = ui_run_announcing(instance, os.getpid())  # a UI run whose process (this one) runs
    instance.dispose()
    before = _sha256(warehouse)

    backup = run_kpi("backup", "--warehouse", str(warehouse), "--to", str(tmp_path / "backups"))
    restore = run_kpi("restore", str(history["backup"]), "--warehouse", str(warehouse))

    for result, doing in ((backup, "back up"), (restore, "restore")):
        assert result.returncode == 1
        assert f"run {run_id} (build_warehouse, STARTED) of {warehouse} is in progress" in (
            result.stderr
        )
        assert f"{doing} when it has finished" in result.stderr
    assert not (tmp_path / "backups").exists() or not any((tmp_path / "backups").iterdir())
    assert _sha256(warehouse) == before


def test_a_restore_stopped_before_its_publish_leaves_the_next_build_to_publish_everything(
    history: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The snapshot in place shows the warehouse a restore replaced: were the next build to
    publish only the months it rebuilds onto it, the others would stay those of that warehouse."""
    warehouse = _copy_of_warehouse(history, tmp_path)
    raw = tmp_path / "raw"  # the landing zone as it was at the backup: nothing for a build to load
    shutil.copytree(history["raw"], raw)
    (raw / LATER_FILE).unlink()
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))  # restore's prepare_instance sets it

    def stopped(_warehouse: Path) -> dict[str, int]:
        raise RuntimeError("stopped before the publish")

    monkeypatch.setattr(snapshot, "publish_snapshot", stopped)
    with pytest.raises(RuntimeError, match="stopped before the publish"):
        restore(history["backup"], warehouse)
    monkeypatch.undo()

    _kpi("build", "--raw", str(raw), "--warehouse", str(warehouse))

    at_backup = snapshot_paths(history["at_backup"]).database
    assert relation_differences(at_backup, snapshot_paths(warehouse).database, "main") == {}


def test_keep_removes_only_the_oldest_backups_of_the_same_warehouse(
    history: dict[str, Path], tmp_path: Path
) -> None:
    warehouse = _copy_of_warehouse(history, tmp_path)
    backups = tmp_path / "backups"
    shutil.copytree(history["backup"], backups / history["backup"].name)  # another warehouse's
    (backups / ".warehouse-20250101-000000.partial").mkdir()  # a backup stopped midway
    made = [
        Path(_kpi("backup", "--warehouse", str(warehouse), "--to", str(backups)).strip())
        for _ in range(3)
    ]
    kept = run_kpi("backup", "--warehouse", str(warehouse), "--to", str(backups), "--keep", "2")

    assert kept.returncode == 0, kept.stderr[-3000:]
    newest = Path(kept.stdout.strip())
    assert sorted(path.name for path in backups.iterdir()) == sorted(
        [history["backup"].name, ".warehouse-20250101-000000.partial", made[-1].name, newest.name]
    )
    assert kept.stderr.count("Removed an older backup (--keep 2)") == 2
    refused = run_kpi("backup", "--warehouse", str(warehouse), "--to", str(backups), "--keep", "0")
    assert refused.returncode == 1
    assert "--keep 0: keep at least the backup being made" in refused.stderr


def test_a_backup_removes_what_a_stopped_backup_of_the_same_warehouse_left(
    history: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    warehouse = _copy_of_warehouse(history, tmp_path)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))  # prepare_instance sets it for the test
    backups = tmp_path / "backups"
    others = [
        backups / ".warehouse-20250101-000000.partial",  # no word of whose it is
        backups / ".warehouse-20250102-000000.partial",  # another warehouse's, under way
    ]
    for other in others:
        other.mkdir(parents=True)
    (others[1] / UNDER_WAY_NAME).write_text(json.dumps({"warehouse": "/srv/other.duckdb"}))

    def killed(source: Path, target: Path) -> tuple[int, str]:
        target.write_bytes(source.read_bytes()[:4096])
        raise KeyboardInterrupt  # the process stopped midway: nothing cleans up after it

    with monkeypatch.context() as stopping:
        stopping.setattr("dagster_project.backup._copy_hashing", killed)
        with pytest.raises(KeyboardInterrupt):
            back_up(warehouse, backups)
    (stopped,) = set(backups.iterdir()) - set(others)
    assert stopped.name.endswith(".partial")

    made = back_up(warehouse, backups)

    assert made.removed_unfinished == [stopped]
    assert sorted(backups.iterdir()) == sorted([*others, made.folder])
    assert not (made.folder / UNDER_WAY_NAME).exists()
    assert [entry["name"] for entry in read_manifest(made.folder)["files"]] == [
        warehouse.name,
        PSEUDONYM_KEY_NAME,
    ]


def test_the_backup_job_runs_from_dagster_and_waits_for_no_run_but_its_own(
    history: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The UI's `backup_warehouse` (schedule `nightly_backup`): its own run is in progress while
    it copies, which must not stop it; another run in progress must."""
    warehouse = _copy_of_warehouse(history, tmp_path)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    monkeypatch.setenv(settings.BACKUP_DIR_ENV, str(tmp_path / "nightly"))
    instance = prepare_instance(warehouse)
    resources = {"warehouse": WarehouseResource(path=str(warehouse), raw_dir=str(tmp_path))}
    job = defs.resolve_job_def("backup_warehouse")
    assert defs.resolve_schedule_def("nightly_backup").job_name == "backup_warehouse"
    try:
        made = job.execute_in_process(instance=instance, resources=resources)
        assert made.success
        (folder,) = backups_of(warehouse, tmp_path / "nightly")
        assert _sha256(folder / warehouse.name) == _sha256(warehouse)

        other = ui_run_announcing(instance, os.getpid())
        refused = job.execute_in_process(
            instance=instance,
            resources=resources,
            run_config={"ops": {"back_up_warehouse": {"config": {"to": str(tmp_path / "b")}}}},
            raise_on_error=False,
        )
        assert not refused.success
        (failure,) = [event for event in refused.all_events if event.is_step_failure]
        reason = failure.step_failure_data.user_failure_data.description
        assert f"run {other} (build_warehouse, STARTED) of {warehouse}" in reason
        assert not (tmp_path / "b").exists() or not any((tmp_path / "b").iterdir())
    finally:
        instance.dispose()
