"""The dbt nodes a build can leave out because nothing they read has changed.

A day of exports usually delivers the worklog, documents, events and leave, not the HR
register, the task catalogue or the evaluations, and never the seeds: 38 of the project's 142
nodes (data tests above all) read only sources and seeds without a new delivery since the last
successful build. Left out, they keep what that build made and tested. This is
what `dbt build --select source_status:fresher+ state:modified+` does with dbt's own
artifacts; here the raw tables' `_delivery_id` says which sources are fresher, and a digest of
the dbt project's files stands in for `state:modified`: any edit to a model, macro, test, seed
or `dbt_project.yml` since the last successful build runs every node.

Left out are the data tests and seeds, and the intermediate models materialised as tables
(staging models are views, free to recreate; marts are what readers and the planner read, and
Dagster skips an asset whose upstream output a run does not produce).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import duckdb

# The nodes other than data tests and seeds that may be left out, by schema and materialisation.
_PRUNABLE_MODEL_SCHEMAS = {"intermediate"}
_PRUNABLE_MATERIALIZATIONS = {"table", "incremental"}


def project_files(project_dir: Path, inputs: Iterable[str], seeds_dir: Path) -> list[Path]:
    """The files of the dbt project a build depends on: `inputs` under `project_dir` (folders
    and files) and the seeds, sorted."""
    files: list[Path] = []
    for name in inputs:
        path = project_dir / name
        files.extend(path.rglob("*") if path.is_dir() else [path])
    files.extend(seeds_dir.rglob("*"))
    return sorted(path for path in files if path.is_file())


def project_digest(files: Iterable[Path], root: Path) -> str:
    """A digest of the project's files (their paths under `root` and content): any edit
    changes it."""
    digest = hashlib.sha256()
    for path in files:
        digest.update(str(path.relative_to(root)).encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def sources_changed_since(
    con: duckdb.DuckDBPyConnection, manifest: Mapping[str, Any], delivery_id: int
) -> set[str]:
    """The raw tables of the project's sources holding rows of a delivery after
    `delivery_id`: ingestion writes every new or replaced row under its delivery's id. A table
    that is missing or has no `_delivery_id` counts as changed."""
    changed = set()
    for source in manifest["sources"].values():
        table = source.get("identifier") or source["name"]
        try:
            row = con.execute(
                f'select max(_delivery_id) from "{source["schema"]}"."{table}"'
            ).fetchone()
        except duckdb.Error:
            changed.add(table)
            continue
        if row and row[0] is not None and row[0] > delivery_id:
            changed.add(table)
    return changed


def unaffected_nodes(manifest: Mapping[str, Any], changed_sources: set[str]) -> list[str]:
    """`fqn:` selectors of the prunable nodes (module doc) that no changed source reaches,
    sorted. A test is left out only when every node it reads is unaffected: a relationships
    test between a rebuilt mart and an unchanged register still runs."""
    children: Mapping[str, list[str]] = manifest["child_map"]
    affected: set[str] = set()
    pending = [
        unique_id
        for unique_id, source in manifest["sources"].items()
        if (source.get("identifier") or source["name"]) in changed_sources
    ]
    while pending:
        for child in children.get(pending.pop(), []):
            if child not in affected:
                affected.add(child)
                pending.append(child)
    selectors = []
    for unique_id, node in manifest["nodes"].items():
        if unique_id in affected or not _prunable(node):
            continue
        selectors.append("fqn:" + ".".join(node["fqn"]))
    return sorted(selectors)


def _prunable(node: Mapping[str, Any]) -> bool:
    resource_type = node["resource_type"]
    if resource_type in ("test", "seed"):
        return True
    return (
        resource_type == "model"
        and node["config"].get("materialized") in _PRUNABLE_MATERIALIZATIONS
        and node.get("schema") in _PRUNABLE_MODEL_SCHEMAS
    )
