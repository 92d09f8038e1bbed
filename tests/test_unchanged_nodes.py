"""Which dbt nodes a build leaves out when nothing they read has changed (unchanged_nodes.py),
on the project's own manifest."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import duckdb
import pytest

from dagster_project.assets.transformation import ensure_manifest
from dagster_project.unchanged_nodes import (
    project_digest,
    project_files,
    sources_changed_since,
    unaffected_nodes,
)
from tests.conftest import PROJECT_ROOT

# what a day of exports usually brings
DAILY_SOURCES = {"worklog", "documents", "events", "leave"}


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    return json.loads(ensure_manifest().read_text())


def _selector(manifest: dict[str, Any], unique_id_start: str) -> str:
    matches = [
        "fqn:" + ".".join(node["fqn"])
        for unique_id, node in manifest["nodes"].items()
        if unique_id.startswith(unique_id_start)
    ]
    assert len(matches) == 1, (unique_id_start, matches)
    return matches[0]


def test_a_daily_delivery_leaves_out_what_reads_only_unchanged_sources_and_seeds(
    manifest: dict[str, Any],
) -> None:
    left_out = set(unaffected_nodes(manifest, DAILY_SOURCES))
    for unchanged in (
        # a table built from the task catalogue only, and its tests
        "model.kpi_warehouse.int_tasks_versioned",
        "test.kpi_warehouse.row_rules_int_tasks_versioned",
        # the seeds and their tests
        "seed.kpi_warehouse.calendar_exceptions",
        "test.kpi_warehouse.assert_calendar_exceptions_give_250_working_days",
        # the HR register's source and staging tests
        "test.kpi_warehouse.source_unique_hr_agencies_agency_code",
        "test.kpi_warehouse.unique_stg_hr__agencies_agency_code",
    ):
        assert _selector(manifest, unchanged) in left_out, unchanged
    for runs in (
        # a test reading a rebuilt mart and an unchanged register
        "test.kpi_warehouse.relationships_fct_staff_day_staff_id__staff_id__ref_stg_hr__assign",
        # every model the day's sources reach, and their tests
        "model.kpi_warehouse.int_staff_days_assembled",
        "model.kpi_warehouse.int_calendar_days_classified",
        "test.kpi_warehouse.unique_int_worklog_entries_flagged_entry_id",
        # views, free to recreate, and marts, which other assets read
        "model.kpi_warehouse.stg_hr__agencies",
        "model.kpi_warehouse.kpi_scorecard",
        # the source tests of the delivered sources
        "test.kpi_warehouse.source_unique_eoffice_documents_doc_id",
    ):
        assert _selector(manifest, runs) not in left_out, runs
    # nothing else than tests, seeds and intermediate tables
    kinds = {
        node["resource_type"] + ("/" + node["schema"] if node["resource_type"] == "model" else "")
        for node in manifest["nodes"].values()
        if "fqn:" + ".".join(node["fqn"]) in left_out
    }
    assert kinds == {"test", "seed", "model/intermediate"}


def test_a_delivery_of_the_task_catalogue_rebuilds_the_catalogue(
    manifest: dict[str, Any],
) -> None:
    tasks = _selector(manifest, "model.kpi_warehouse.int_tasks_versioned")
    assert tasks in unaffected_nodes(manifest, DAILY_SOURCES)
    assert tasks not in unaffected_nodes(manifest, DAILY_SOURCES | {"tasks"})
    every_source = {
        source.get("identifier") or source["name"] for source in manifest["sources"].values()
    }
    # seeds (no source reaches them) and a test of a seed alone are left out even then
    assert unaffected_nodes(manifest, every_source) == sorted(
        _selector(manifest, unique_id)
        for unique_id, node in manifest["nodes"].items()
        if node["resource_type"] in ("seed", "test")
        and all(parent.startswith("seed.") for parent in manifest["parent_map"][unique_id])
    )


def test_sources_changed_since_reads_the_raw_tables_delivery_ids(
    manifest: dict[str, Any], tmp_path: Path
) -> None:
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        con.execute("create schema raw")
        for source in manifest["sources"].values():
            table = source.get("identifier") or source["name"]
            if table == "events":
                continue  # a missing table counts as changed
            delivery = 7 if table in ("worklog", "leave") else 3
            con.execute(f"create table raw.{table} as select {delivery} as _delivery_id")
        assert sources_changed_since(con, manifest, 5) == {"worklog", "leave", "events"}
        assert sources_changed_since(con, manifest, 7) == {"events"}


def test_the_project_digest_changes_with_any_file_of_the_project(tmp_path: Path) -> None:
    project = tmp_path / "dbt_models"
    shutil.copytree(PROJECT_ROOT / "dbt_models" / "models", project / "models")
    shutil.copytree(PROJECT_ROOT / "dbt_models" / "macros", project / "macros")
    shutil.copy(PROJECT_ROOT / "dbt_models" / "dbt_project.yml", project)
    seeds = tmp_path / "seeds"
    shutil.copytree(PROJECT_ROOT / "seeds", seeds)
    inputs = ("models", "macros", "dbt_project.yml")

    def digest() -> str:
        return project_digest(project_files(project, inputs, seeds), tmp_path)

    before = digest()
    assert digest() == before
    model = project / "models" / "marts" / "staff_productivity.sql"
    model.write_text(model.read_text() + "\n")
    edited = digest()
    assert edited != before
    seed = next(seeds.glob("*.csv"))
    seed.write_text(seed.read_text() + "\n")
    assert digest() not in (before, edited)
