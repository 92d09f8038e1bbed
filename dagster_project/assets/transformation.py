"""dbt: seeds, staging, intermediate models and marts, with dbt tests as asset checks."""


import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dagster import AssetCheckResult, AssetExecutionContext, Failure, Output
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)

from dagster_project import progress, settings
from dagster_project.resources import WRITER_POOL, WarehouseResource, dbt_resource

dbt_project = DbtProject(
    project_dir=settings.DBT_PROJECT_DIR,
    profiles_dir=settings.DBT_PROJECT_DIR,
)

_DBT_INPUTS = ("models", "macros", "tests", "dbt_project.yml", "profiles.yml")


def _newest_input_mtime() -> float:
    paths: list[Path] = []
    for name in _DBT_INPUTS:
        path = settings.DBT_PROJECT_DIR / name
        paths.extend(path.rglob("*") if path.is_dir() else [path])
    paths.extend(settings.SEEDS_DIR.rglob("*"))
    return max((p.stat().st_mtime for p in paths if p.is_file()), default=0.0)


def ensure_manifest() -> Path:
    """Parse the dbt project when its manifest is missing or older than any of its files.

    The asset graph is read from the manifest, so a fresh clone or an edited model must not
    load stale definitions.
    """
    manifest = dbt_project.manifest_path
    if not manifest.exists() or manifest.stat().st_mtime < _newest_input_mtime():
        os.environ.setdefault(settings.WAREHOUSE_ENV, str(settings.warehouse_path()))
        dbt_resource().cli(["parse", "--quiet"], target_path=dbt_project.target_path).wait()
    return manifest


class KpiDbtTranslator(DagsterDbtTranslator):
    def get_group_name(self, dbt_resource_props: dict[str, Any]) -> str | None:
        # Groups follow the dbt layers: staging, intermediate, marts, seeds.
        if dbt_resource_props["resource_type"] == "seed":
            return "reference"
        fqn = dbt_resource_props.get("fqn", [])
        return fqn[1] if len(fqn) > 2 else "dbt"


def _dbt_errors(invocation_target: Path) -> list[str]:
    """What failed, for a person: erroring or failing nodes from run_results.json, else the
    error lines of the JSON log (a compilation error stops dbt before it writes results)."""
    run_results = invocation_target / "run_results.json"
    if run_results.exists():
        results = json.loads(run_results.read_text())["results"]
        failed = [
            f"{r['unique_id']}: {r['status']}: {(r.get('message') or '').strip()}"
            for r in results
            if r["status"] in ("error", "fail")
        ]
        if failed:
            return failed
    log = invocation_target / "dbt.log"
    errors: list[str] = []
    if log.exists():
        for line in log.read_text(errors="replace").splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if record.get("info", {}).get("level") == "error":
                errors.append(str(record.get("data", {}).get("exc") or record["info"]["msg"]))
    return errors


@dbt_assets(
    manifest=ensure_manifest(),
    project=dbt_project,
    dagster_dbt_translator=KpiDbtTranslator(
        settings=DagsterDbtTranslatorSettings(enable_asset_checks=True)
    ),
    pool=WRITER_POOL,
)
def kpi_dbt_models(
    context: AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource
) -> Iterator[Any]:
    # dbt runs in a subprocess and finds the warehouse through the profile's env_var.
    os.environ[settings.WAREHOUSE_ENV] = str(warehouse.warehouse_file)
    invocation = dbt.cli(["build"], context=context, raise_on_error=False)
    for event in invocation.stream():
        if isinstance(event, Output):
            unique_id = event.metadata.get("unique_id")
            progress.report(f"dbt {getattr(unique_id, 'value', unique_id) or event.output_name}")
        elif isinstance(event, AssetCheckResult) and not event.passed:
            progress.report(f"dbt test failed: {event.check_name} on {event.asset_key}")
        yield event
    if not invocation.is_successful():
        failures = _dbt_errors(invocation.target_path)
        raise Failure(
            description="dbt build failed:\n" + ("\n".join(failures) or "see the dbt log"),
            metadata={"dbt_log": str(invocation.target_path / "dbt.log")},
        )

