"""What a build rebuilds, from the queue ingestion leaves (`audit.pending_months`): months for
everyone, months for some people, and declaration_patterns' own scope. The end-to-end
incremental tests (test_incremental.py) check that the marts come out right; these pin the
planning rules on a queue written by hand."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from dagster_project.ingest import changes
from dagster_project.ingest.changes import PENDING_MONTHS_DDL, months_to_rebuild


def _month(text: str) -> dt.date:
    return dt.date.fromisoformat(text + "-01")


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("create schema raw; create schema audit; create schema intermediate")
    con.execute("create table raw.worklog (work_date date)")
    # history from January to April
    con.execute("insert into raw.worklog values ('2025-01-05'), ('2025-04-02')")
    con.execute(PENDING_MONTHS_DDL)
    return con


def _queue(
    con: duckdb.DuckDBPyConnection,
    month: str,
    staff_id: str | None,
    *,
    open_ended: bool = False,
    patterns_only: bool = False,
) -> None:
    con.execute(
        "insert into audit.pending_months "
        "(month_start, open_ended, source, delivery_id, recorded_at, staff_id, patterns_only) "
        "values (?, ?, 'test', 7, now(), ?, ?)",
        [_month(month), open_ended, staff_id, patterns_only],
    )


def test_people_are_rebuilt_in_their_months_and_open_ended_rows_run_to_the_last_month(
    con: duckdb.DuckDBPyConnection,
) -> None:
    _queue(con, "1900-01", "KH1", open_ended=True)  # an assignment: every month of the person
    _queue(con, "2025-02", "KH2")  # a leave record
    _queue(con, "2025-02", "KH3", patterns_only=True)  # a submission batch
    _queue(con, "2025-03", None, open_ended=True)  # a new norm: everyone from March on

    scope = months_to_rebuild(con)

    assert scope.entries == {
        _month("2025-01"): ["KH1"],
        _month("2025-02"): ["KH1", "KH2"],
        _month("2025-03"): None,
        _month("2025-04"): None,
    }
    # declaration_patterns also rebuilds the person whose batch changed
    assert scope.patterns[_month("2025-02")] == ["KH1", "KH2", "KH3"]
    assert scope.months == [_month(m) for m in ("2025-01", "2025-02", "2025-03", "2025-04")]
    assert scope.latest_delivery == 7


def test_a_month_of_batches_alone_is_rebuilt_by_declaration_patterns_only(
    con: duckdb.DuckDBPyConnection,
) -> None:
    _queue(con, "2025-02", "KH3", patterns_only=True)
    scope = months_to_rebuild(con)
    assert scope.entries == {}
    assert scope.patterns == {_month("2025-02"): ["KH3"]}


def test_too_many_people_a_backfill_or_a_reporting_range_change_rebuild_everyone(
    con: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(changes, "STAFF_SCOPE_LIMIT", 2)
    for staff_id in ("KH1", "KH2", "KH3"):
        _queue(con, "2025-02", staff_id)
    _queue(con, "2025-03", "KH1")
    # the last build's reporting range ended in March: April enters it
    con.execute(
        "create table intermediate.int_reporting_range_derived as "
        "select date '2025-01-01' as range_start, date '2025-03-31' as range_end"
    )

    scope = months_to_rebuild(con, extra=(_month("2025-01"), _month("2025-01")))

    assert scope.entries == {
        _month("2025-01"): None,  # asked for
        _month("2025-02"): None,  # 3 people, over the limit of 2
        _month("2025-03"): ["KH1"],
        _month("2025-04"): None,  # new to the reporting range
    }


def test_a_plan_too_long_for_the_command_line_widens_its_longest_months(
    con: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(changes, "PLAN_STAFF_LIMIT", 4)
    for staff_id in ("KH1", "KH2"):
        _queue(con, "2025-02", staff_id)
    _queue(con, "2025-03", "KH1")
    # listed: 2 + 1 for the entries, the same for the patterns: 6 > 4
    scope = months_to_rebuild(con)
    assert scope.entries == {_month("2025-02"): None, _month("2025-03"): ["KH1"]}
    assert scope.patterns == {_month("2025-02"): None, _month("2025-03"): ["KH1"]}


def test_a_late_row_queues_the_other_months_of_its_batch_only_where_entries_were_late() -> None:
    # KH1 submits on 2025-03-03: a late entry of 2025-01-20 and one of 2025-02-28 were already
    # stored from that batch. The batch's size decides whether its late entries are bulk-late
    # (declaration_patterns); the entry of 2025-02-28, 3 days before, is late in no case.
    con = duckdb.connect()
    con.execute("create schema raw")
    con.execute(
        "create table raw.worklog (staff_id varchar, work_date date, submitted_at timestamp)"
    )
    con.execute(
        """
        insert into raw.worklog values
            ('KH1', '2025-01-20', '2025-03-03 09:00'),
            ('KH1', '2025-02-28', '2025-03-03 09:05'),
            ('KH1', '2024-12-02', '2025-03-04 10:00'),  -- late, but another batch
            ('KH2', '2025-01-21', '2025-03-03 09:00')   -- late, same day, another person
        """
    )
    con.execute(
        "create table affected as select 'KH1' as staff_id, date '2025-03-03' as work_date, "
        "timestamp '2025-03-03 17:00' as submitted_at"
    )
    sql = changes.affected_scopes("worklog", "affected")
    assert sql is not None
    rows = con.execute(f"select * from ({sql}) order by all").fetchall()
    assert rows == [
        (dt.date(2025, 1, 20), dt.date(2025, 1, 20), "KH1", True),
        (dt.date(2025, 3, 3), dt.date(2025, 3, 3), "KH1", False),
    ]
