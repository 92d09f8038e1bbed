"""The dbt exposures (dbt_models/models/marts/_marts__exposures.yml) list the models that the
code outside dbt reads, so the lineage of `kpi docs` says who a change to a mart reaches."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from dagster_project.assets import planning, publishing
from dagster_project.assets.transformation import ensure_manifest
from tests.conftest import PROJECT_ROOT


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    return json.loads(ensure_manifest().read_text())


def _models(manifest: dict[str, Any]) -> set[str]:
    return {node["name"] for node in manifest["nodes"].values() if node["resource_type"] == "model"}


def _exposed(manifest: dict[str, Any], exposure: str) -> set[str]:
    nodes = manifest["exposures"][f"exposure.kpi_warehouse.{exposure}"]["depends_on"]["nodes"]
    return {node.split(".")[-1] for node in nodes}


def test_the_workbooks_exposure_lists_the_relations_the_extracts_query(
    manifest: dict[str, Any],
) -> None:
    code = "\n".join(
        path.read_text(encoding="utf-8")
        for path in (PROJECT_ROOT / "dagster_project" / "extracts").glob("*.py")
    )
    queried = set(re.findall(r"\b(?:marts|staging|intermediate)\.([a-z_]+)\b", code))
    assert _exposed(manifest, "leadership_workbooks") == queried & _models(manifest)


def test_the_planner_exposure_lists_the_planner_assets_inputs(manifest: dict[str, Any]) -> None:
    assert _exposed(manifest, "redistribution_planner") == {
        key.path[-1] for key in planning.UPSTREAM
    }


def test_the_snapshot_exposure_lists_every_dbt_mart_it_publishes(
    manifest: dict[str, Any],
) -> None:
    published = {key.path[-1] for key in publishing.SNAPSHOT_INPUTS}
    assert _exposed(manifest, "analysts_snapshot") == published & _models(manifest)
    assert {"norm_review", "worklog_evidence"} <= _exposed(manifest, "analysts_snapshot")
