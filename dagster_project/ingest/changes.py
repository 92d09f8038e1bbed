"""Which months of the warehouse a load changes: the queue `audit.pending_months`.

The month-partitioned dbt models (entries and staff-days) rebuild only the months in this
queue. A file's rows are compared with what is stored before they replace it, so a re-sent
export that changes nothing queues nothing, and a correction to a March entry delivered in
May queues March. The queue is written in the same transaction as the rows: a load that
commits always leaves its months behind for the next build, which empties the queue only
after it succeeded.
"""

from __future__ import annotations

import datetime as dt
from functools import cache

import duckdb
import yaml

from dagster_project import settings

from .contract import Source
from .parse import lit, q

PENDING_MONTHS_DDL = """
CREATE TABLE IF NOT EXISTS audit.pending_months (
    month_start DATE NOT NULL,
    open_ended BOOLEAN NOT NULL,
    source VARCHAR NOT NULL,
    delivery_id INTEGER NOT NULL,
    recorded_at TIMESTAMP NOT NULL
)
"""


@cache
def _dbt_var(name: str) -> int:
    project = yaml.safe_load((settings.DBT_PROJECT_DIR / "dbt_project.yml").read_text())
    return int(project["vars"][name])


def affected_dates(source: str) -> tuple[str, str | None] | None:
    """The work dates a row of `source` can change, as SQL over the contract's column names:
    (first, last), last None for "from first onwards". None: the source changes no
    month-partitioned model (agencies and evaluations feed only whole-table marts)."""
    before, after = _dbt_var("evidence_days_before"), _dbt_var("evidence_days_after")
    spans: dict[str, tuple[str, str | None]] = {
        "worklog": ("work_date", "work_date"),
        # an outgoing document is evidence for entries dated up to `after` days before it
        # and `before` days after it
        "documents": (
            f"CAST(issued_date - INTERVAL {after} DAY AS DATE)",
            f"CAST(issued_date + INTERVAL {before} DAY AS DATE)",
        ),
        "events": ("CAST(start_at AS DATE)", "CAST(end_at AS DATE)"),
        "leave": ("leave_start", "leave_end"),
        # an open assignment (no end) runs on into every later month
        "staff": ("assignment_start", "assignment_end"),
        # a new norm or quota version holds until the next one: every later month
        "positions": ("valid_from", None),
        "tasks": ("valid_from", None),
    }
    return spans.get(source)


# The rows whose stored versions move with a changed row: for the worklog every revision of
# the entry (the current version may leave a month), elsewhere the row with the same key.
_GROUP_KEY = {"worklog": ("entry_id",)}

CHANGED = "_ingest_changed"


def record_pending_months(
    con: duckdb.DuckDBPyConnection,
    spec: Source,
    staged_rows: str,
    stored: bool,
    delivery_id: int,
    now: dt.datetime,
) -> None:
    """Queue the months that the valid rows of `staged_rows` (columns `t_<name>`, error
    column `_err`) change, before they replace the stored rows with the same key."""
    span = affected_dates(spec.name)
    if span is None:
        return
    first, last = span
    cols = ", ".join(q(c.name) for c in spec.columns)
    new_rows = (
        "SELECT "
        + ", ".join(f"{q('t_' + c.name)} AS {q(c.name)}" for c in spec.columns)
        + f" FROM {staged_rows} WHERE _err = ''"
    )
    table = f"raw.{q(spec.name)}"
    if stored:
        key_match = " AND ".join(f"r.{q(k)} IS NOT DISTINCT FROM n.{q(k)}" for k in spec.key)
        # Whether any key is stored already reads the key columns alone; a day of new
        # exports has none, and then every row is a change without comparing whole rows
        # against a history of tens of millions.
        keys = ", ".join(f"r.{q(k)}" for k in spec.key)
        restated = con.execute(
            f"SELECT count(*) FROM (SELECT {keys} FROM {table} r "
            f"SEMI JOIN ({new_rows}) n ON {key_match} LIMIT 1)"
        ).fetchone()
        if restated and restated[0]:
            changed = (
                f"SELECT {cols} FROM ({new_rows}) "
                f"EXCEPT SELECT {cols} FROM {table} r SEMI JOIN ({new_rows}) n ON {key_match}"
            )
        else:
            changed = new_rows
        con.execute(f"CREATE OR REPLACE TEMP TABLE {CHANGED} AS {changed}")
        group = _GROUP_KEY.get(spec.name, spec.key)
        group_match = " AND ".join(f"r.{q(k)} IS NOT DISTINCT FROM c.{q(k)}" for k in group)
        affected = (
            f"SELECT {cols} FROM {CHANGED} UNION ALL "
            f"SELECT {cols} FROM {table} r SEMI JOIN {CHANGED} c ON {group_match}"
        )
    else:
        affected = new_rows
    last_sql = last if last is not None else "CAST(NULL AS DATE)"
    con.execute(
        f"""
        INSERT INTO audit.pending_months
        WITH spans AS (
            SELECT DISTINCT
                CAST(date_trunc('month', {first}) AS DATE) AS first_month,
                CAST(date_trunc('month', {last_sql}) AS DATE) AS last_month
            FROM ({affected})
            WHERE {first} IS NOT NULL
        ),
        months AS (
            SELECT DISTINCT
                CAST(unnest(generate_series(
                    first_month,
                    greatest(first_month, coalesce(last_month, first_month)),
                    INTERVAL 1 MONTH
                )) AS DATE) AS month_start,
                last_month IS NULL AS open_ended
            FROM spans
        )
        SELECT month_start, open_ended, {lit(spec.name)}, {delivery_id}, ?
        FROM months
        """,
        [now],
    )
    con.execute(f"DROP TABLE IF EXISTS {CHANGED}")


def months_to_rebuild(
    con: duckdb.DuckDBPyConnection, extra: tuple[dt.date, dt.date] | None = None
) -> tuple[list[dt.date], int]:
    """The queued months (open-ended ones up to the latest work_date's month), plus the
    months of `extra` (first, last month), and the latest delivery they cover."""
    row = con.execute(
        "SELECT CAST(date_trunc('month', min(work_date)) AS DATE), "
        "CAST(date_trunc('month', max(work_date)) AS DATE) FROM raw.worklog"
    ).fetchone()
    first_month, last_month = row if row else (None, None)
    queued = con.execute("SELECT month_start, open_ended FROM audit.pending_months").fetchall()
    months: set[dt.date] = set()
    for month, open_ended in queued:
        if not open_ended:
            months.add(month)
        elif last_month is not None:
            start = max(month, first_month) if first_month else month
            months.update(_month_range(start, last_month))
    if extra is not None:
        months.update(_month_range(*extra))
    latest = con.execute("SELECT coalesce(max(delivery_id), 0) FROM audit.pending_months")
    return sorted(months), int((latest.fetchone() or (0,))[0])


def clear_pending(con: duckdb.DuckDBPyConnection, up_to_delivery: int | None = None) -> None:
    """Forget the queued months a successful build covered."""
    if up_to_delivery is None:
        con.execute("DELETE FROM audit.pending_months")
    else:
        con.execute("DELETE FROM audit.pending_months WHERE delivery_id <= ?", [up_to_delivery])


def _month_range(first: dt.date, last: dt.date) -> list[dt.date]:
    months = []
    month = first.replace(day=1)
    while month <= last:
        months.append(month)
        month = (month + dt.timedelta(days=32)).replace(day=1)
    return months
