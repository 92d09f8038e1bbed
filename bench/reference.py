"""Run bench/reference.sql on a raw folder and print what it computed as one JSON line.

    python bench/reference.py --raw RAW --db OUT.duckdb [--memory-limit 6GB] [--threads N]
    python bench/reference.py --raw RAW --db OUT.duckdb --store-once   # the floor (below)
    python bench/reference.py --raw RAW --count     # worklog rows and files only (not timed)

bench/bench_build.py runs it in a subprocess and measures its wall time and memory; the
figures printed here are for the correctness check (total credited hours, staff-days).

--store-once measures the floor of any build that keeps the worklog: DuckDB reading the same
CSVs the same way and storing them, typed, as one table of the same file, with nothing else
(no checks, no source positions, no current versions). A build that stores the rows it reads
cannot take less than that.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

import duckdb

SQL_FILE = Path(__file__).resolve().with_name("reference.sql")
# where reference.sql's core work starts: the statements before it set up the typed worklog view
STORE_ONCE_MARKER = "-- {store_once}"


def _sql_path(path: Path) -> str:
    return str(path.resolve()).replace("'", "''")


def render(raw: Path, temp_dir: Path, memory_limit: str, threads: int) -> str:
    values = {
        "{raw_dir}": _sql_path(raw),
        "{temp_dir}": _sql_path(temp_dir),
        "{memory_limit}": memory_limit.replace("'", ""),
        "{threads}": str(int(threads)),
    }
    sql = SQL_FILE.read_text(encoding="utf-8")
    for key, value in values.items():
        sql = sql.replace(key, value)
    return sql


def _fresh_database(db: Path) -> tuple[duckdb.DuckDBPyConnection, Path]:
    for stale in (db, db.with_name(db.name + ".wal")):
        stale.unlink(missing_ok=True)
    db.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(db))
    con.execute("SET enable_progress_bar = false")
    return con, db.with_name(db.stem + "_tmp")


def run_reference(raw: Path, db: Path, memory_limit: str, threads: int) -> dict[str, object]:
    con, temp_dir = _fresh_database(db)
    try:
        con.execute(render(raw, temp_dir, memory_limit, threads))
        row = con.execute(
            "select count(*), count(*) filter (where credited_hours > 0), "
            "sum(credited_hours) from staff_day_credited"
        ).fetchone()
    finally:
        con.close()
        shutil.rmtree(temp_dir, ignore_errors=True)
    assert row is not None
    return {
        "staff_days": int(row[0]),
        "staff_days_credited": int(row[1]),
        "credited_hours": float(row[2] or 0.0),
    }


def store_once(raw: Path, db: Path, memory_limit: str, threads: int) -> dict[str, object]:
    """The worklog read as the reference reads it and stored as a table, checkpointed."""
    con, temp_dir = _fresh_database(db)
    try:
        setup = render(raw, temp_dir, memory_limit, threads).split(STORE_ONCE_MARKER)[0]
        con.execute(setup)
        con.execute("CREATE TABLE worklog_stored AS SELECT * FROM worklog")
        con.execute("CHECKPOINT")
        row = con.execute("select count(*) from worklog_stored").fetchone()
    finally:
        con.close()
        shutil.rmtree(temp_dir, ignore_errors=True)
    assert row is not None
    return {"stored_rows": int(row[0]), "stored_bytes": db.stat().st_size}


def count_worklog(raw: Path) -> dict[str, object]:
    files = sorted((raw / "worklog").glob("*.csv"))
    con = duckdb.connect()
    try:
        con.execute("SET enable_progress_bar = false")
        # Every column as text: this only counts the data rows of the same files.
        row = con.execute(
            f"select count(*) from read_csv('{_sql_path(raw)}/worklog/*.csv', header = true, "
            "auto_detect = false, all_varchar = true, columns = {"
            "'entry_id': 'VARCHAR', 'revision': 'VARCHAR', 'staff_id': 'VARCHAR', "
            "'work_date': 'VARCHAR', 'task_code': 'VARCHAR', 'stage_code': 'VARCHAR', "
            "'quantity': 'VARCHAR', 'declared_minutes': 'VARCHAR', 'description': 'VARCHAR', "
            "'document_ref': 'VARCHAR', 'status': 'VARCHAR', 'submitted_at': 'VARCHAR', "
            "'reviewed_by': 'VARCHAR', 'reviewed_at': 'VARCHAR'})"
        ).fetchone()
    finally:
        con.close()
    assert row is not None
    return {
        "worklog_rows": int(row[0]),
        "worklog_files": len(files),
        "worklog_bytes": sum(p.stat().st_size for p in files),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw", type=Path, required=True, help="raw folder (clean CSV)")
    parser.add_argument("--db", type=Path, help="DuckDB file for the result (recreated)")
    parser.add_argument("--memory-limit", default="6GB")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--count", action="store_true", help="only count the worklog rows")
    parser.add_argument(
        "--store-once", action="store_true", help="only store the worklog as a table (the floor)"
    )
    args = parser.parse_args(argv)
    if args.count:
        result = count_worklog(args.raw)
    else:
        if args.db is None:
            parser.error("--db is required unless --count")
        run = store_once if args.store_once else run_reference
        result = run(args.raw, args.db, args.memory_limit, args.threads)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
