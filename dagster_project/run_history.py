"""How long the Dagster run history beside a warehouse keeps finished runs.

Every build adds a run to the history (`dagster_home/history/`): its events in a file of its own
(1.5 MB for a build of every month, whatever the province's size: a line per dbt node and check;
0.7 MB for a build with nothing new) and 0.5 MB in the index the UI searches. Dagster keeps them
for ever: daily builds alone would add half a gigabyte a year, the sensor's more. A successful
`kpi build`, and `kpi ui` when it starts, remove the finished runs older than
KPI_RUN_HISTORY_DAYS. The warehouse itself does not read the history: what it needs of earlier
builds (deliveries, the months queued, the project digest) lives in its own `audit` tables.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dagster import DagsterInstance

RUN_HISTORY_DAYS_ENV = "KPI_RUN_HISTORY_DAYS"
DEFAULT_RUN_HISTORY_DAYS = 90


def run_history_days() -> int | None:
    """Days a finished run stays in the history; None keeps every run (the setting is 0)."""
    text = os.environ.get(RUN_HISTORY_DAYS_ENV, "").strip()
    if not text:
        return DEFAULT_RUN_HISTORY_DAYS
    if not text.isdigit():
        raise ValueError(
            f"{RUN_HISTORY_DAYS_ENV}={text!r}: give a whole number of days "
            f"(default {DEFAULT_RUN_HISTORY_DAYS}; 0 keeps every run)"
        )
    return int(text) or None


def prune_run_history(
    instance: DagsterInstance, keep_days: int | None, now: float | None = None
) -> list[str]:
    """Remove the runs that finished and were created more than `keep_days` ago, with their
    events and captured logs; returns their ids."""
    from dagster import DagsterRunStatus, RunsFilter

    if keep_days is None:
        return []
    cutoff = datetime.fromtimestamp((now or time.time()) - keep_days * 86_400, tz=UTC)
    finished = [
        DagsterRunStatus.SUCCESS,
        DagsterRunStatus.FAILURE,
        DagsterRunStatus.CANCELED,
    ]
    records = instance.get_run_records(filters=RunsFilter(statuses=finished, created_before=cutoff))
    removed = []
    for record in records:
        run_id = record.dagster_run.run_id
        instance.delete_run(run_id)
        # the captured stdout and stderr of the run's steps (`dagster_home/storage/<run id>/`)
        instance.compute_log_manager.delete_logs(prefix=[run_id])
        removed.append(run_id)
    return removed
