"""Reacting to new exports in the landing zone."""

from __future__ import annotations

import hashlib
import json

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


def _cursor_state(cursor: str | None) -> tuple[str | None, str | None]:
    """(the landing zone's fingerprint at the last tick, the one last built). A cursor of an
    earlier version holds the fingerprint alone, requested when it was seen."""
    if not cursor:
        return None, None
    if not cursor.startswith("{"):
        return cursor, cursor
    state = json.loads(cursor)
    return state.get("seen"), state.get("requested")


@sensor(
    job=build_everything,
    minimum_interval_seconds=60,
    default_status=DefaultSensorStatus.STOPPED,
    description=(
        "Requests a build when files have arrived in (or changed under) raw/ and then stayed "
        "unchanged from one tick to the next: a file still being copied in waits. Off by default."
    ),
)
def raw_files_sensor(context: SensorEvaluationContext) -> RunRequest | SkipReason:
    fingerprint = landing_zone_fingerprint()
    seen, requested = _cursor_state(context.cursor)
    if fingerprint == requested:
        return SkipReason("No new or changed files in raw/.")
    if fingerprint != seen:
        # A copy under way shows as a change at every tick; a build of its first half would
        # load a delivery that the second half replaces.
        context.update_cursor(json.dumps({"seen": fingerprint, "requested": requested}))
        return SkipReason("Files in raw/ changed since the last tick: waiting for them to settle.")
    context.update_cursor(json.dumps({"seen": fingerprint, "requested": fingerprint}))
    return RunRequest(run_key=fingerprint)


sensors = [raw_files_sensor]
