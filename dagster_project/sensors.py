"""Reacting to new exports in the landing zone."""

from __future__ import annotations

import hashlib

from dagster import (
    DefaultSensorStatus,
    RunRequest,
    SensorEvaluationContext,
    SkipReason,
    sensor,
)

from dagster_project import settings
from dagster_project.schedules import build_everything


def landing_zone_fingerprint() -> str:
    """Changes whenever a file under raw/ is added, removed, renamed or rewritten."""
    digest = hashlib.sha256()
    root = settings.raw_dir()
    if root.exists():
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            stat = path.stat()
            digest.update(f"{path.relative_to(root)}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


@sensor(
    job=build_everything,
    minimum_interval_seconds=60,
    default_status=DefaultSensorStatus.STOPPED,
    description="Requests a build when files arrive in (or change under) raw/. Off by default.",
)
def raw_files_sensor(context: SensorEvaluationContext) -> RunRequest | SkipReason:
    fingerprint = landing_zone_fingerprint()
    if fingerprint == context.cursor:
        return SkipReason("No new or changed files in raw/.")
    context.update_cursor(fingerprint)
    return RunRequest(run_key=fingerprint)


sensors = [raw_files_sensor]
