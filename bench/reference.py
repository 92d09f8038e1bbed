"""Run bench/reference.sql on a raw folder and print what it computed as one JSON line.

    python bench/reference.py --raw RAW --db OUT.duckdb [--memory-limit 6GB] [--threads N]
    python bench/reference.py --raw RAW --count     # worklog rows and files only (not timed)

bench/bench_build.py runs it in a subprocess and measures its wall time and memory; the
figures printed here are for the correctness check (total credited hours, staff-days).
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


def run_reference(raw: Path, db: Path, memory_limit: str, threads: int) -> dict[str, object]:
    for stale in (db, db.with_name(db.name + ".wal")):
        stale.unlink(missing_ok=True)
    temp_dir = db.with_name(db.stem + "_tmp")
    db.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(db))
    try:
        con.execute("SET enable_progress_bar = false")
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
    args = parser.parse_args(argv)
    if args.count:
        result = count_worklog(args.raw)
    else:
        if args.db is None:
            parser.error("--db is required unless --count")
        result = run_reference(args.raw, args.db, args.memory_limit, args.threads)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
