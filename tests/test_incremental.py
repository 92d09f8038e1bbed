"""Incremental builds: exports delivered in two batches give the acceptance case's marts.

The first batch holds the reference data and most of March; the second brings April, the rest
of March (late entries of a month already built), a re-sent March entry, the documents and
the leave. Only what those files touch is rebuilt (April, new, for everyone; March for the
people they name), and every number must still equal expected.json. A backfill of a range of
months, asked for by the CLI, must too.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import duckdb
import pytest

from dagster_project import settings
from dagster_project.assets.transformation import (
    NO_BUILD_RECORDED,
    PROJECT_CHANGED,
    TABLES_MISSING,
)
from dagster_project.snapshot import snapshot_paths
from tests.conftest import ACCEPTANCE_CASE, run_kpi, stored_methods
from tests.marts_expected import relation_differences
from tests.test_acceptance import EXPECTED, MART_KEYS, _mart_rows, _same

LATE_SOURCES = ("documents", "leave")


def _differences(warehouse: Path) -> list[str]:
    problems = []
    for mart, keys in MART_KEYS.items():
        actual = _mart_rows(warehouse, mart)
        expected = {tuple(row[k] for k in keys): row for row in EXPECTED[mart]}
        if set(actual) != set(expected):
            problems.append(
                f"{mart}: {len(set(expected) - set(actual))} rows missing, "
                f"{len(set(actual) - set(expected))} extra"
            )
            continue
        problems += [
            f"{mart} {key} {column}: expected {value!r}, got {actual[key][column]!r}"
            for key, row in expected.items()
            for column, value in row.items()
            if not _same(value, actual[key].get(column))
        ]
    return problems


def _plan(warehouse: Path) -> dict[str, object]:
    """What the build's dbt step rebuilt (which process ran dbt is test_dbt_worker's)."""
    timings = json.loads((warehouse.parent / "logs" / "build_timings.json").read_text())
    plan = dict(timings["dbt_plan"])
    plan.pop("dbt_started_ahead")
    return plan


def _dbt_nodes_run(warehouse: Path) -> set[str]:
    """The unique_ids of the nodes the last build's dbt run (test names without their hash)."""
    results = json.loads(settings.dbt_run_results_file(warehouse).read_text())
    return {
        ".".join(r["unique_id"].split(".")[:3])
        if r["unique_id"].startswith("test.")
        else r["unique_id"]
        for r in results["results"]
    }


def _copy_of(incremental_warehouse: tuple[Path, str], tmp_path: Path) -> Path:
    """A copy of the module's incremental warehouse (with its run history and logs) to alter."""
    warehouse, _ = incremental_warehouse
    copy = tmp_path / "wh" / "warehouse.duckdb"
    shutil.copytree(warehouse.parent, copy.parent)
    return copy


def _build(raw: Path, warehouse: Path, *extra: str) -> str:
    result = run_kpi("build", "--raw", str(raw), "--warehouse", str(warehouse), *extra)
    assert result.returncode == 0, f"kpi build failed:\n{result.stderr[-4000:]}"
    return result.stderr


@pytest.fixture(scope="module")
def batches(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The acceptance raw data split into a first delivery and the files that come later."""
    root = tmp_path_factory.mktemp("incremental")
    raw, later = root / "raw", root / "later"
    shutil.copytree(ACCEPTANCE_CASE / "raw", raw)
    for source in LATE_SOURCES:
        shutil.move(raw / source, later / source)

    worklog = raw / "worklog" / "worklog_1.csv"
    with worklog.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        fields = list(reader.fieldnames or [])
        rows = list(reader)
    march = [row for row in rows if row["work_date"].startswith("2025-03")]
    april = [row for row in rows if row["work_date"].startswith("2025-04")]
    assert march and april and len(march) + len(april) == len(rows)
    late_march = march[-40:]
    resent = march[:1]  # delivered again, unchanged: it must change nothing

    def write(path: Path, part: list[dict[str, str]]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=fields)
            writer.writeheader()
            writer.writerows(part)

    write(worklog, march[:-40])
    # lexical order is delivery order: the late rows come before worklog_2.csv, which
    # corrects one of them
    (later / "worklog").mkdir(parents=True)
    (raw / "worklog" / "worklog_2.csv").rename(later / "worklog" / "worklog_2.csv")
    write(later / "worklog" / "worklog_1b_late_march.csv", late_march + resent)
    write(later / "worklog" / "worklog_1c_april.csv", april)
    return raw, later


@pytest.fixture(scope="module")
def incremental_warehouse(
    batches: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, str]:
    raw, later = batches
    warehouse = tmp_path_factory.mktemp("incremental-wh") / "warehouse.duckdb"
    _build(raw, warehouse)
    assert _plan(warehouse) == {"mode": "first_build", "months": None}

    for path in sorted(later.rglob("*.csv")):
        target = raw / path.relative_to(later)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    summary = _build(raw, warehouse)
    return warehouse, summary


# rows, people and a sum per partitioned mart; the snapshot replaces staff_id by staff_key
SNAPSHOT_TOTALS = {
    mart: f"select count(*), count(distinct staff_{{1}}), round(sum({column}), 4) from {{0}}"
    for mart, column in (
        ("fct_staff_day", "credited_hours"),
        ("worklog_evidence", "credited_minutes"),
        ("declaration_patterns", "live_entry_count"),
        ("staff_productivity", "credited_hours"),
    )
}


def _csv_rows(folder: Path, pattern: str = "*.csv") -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    for path in sorted(folder.glob(pattern)):
        with path.open(newline="", encoding="utf-8") as handle:
            rows += list(csv.DictReader(handle))
    return rows


def _doc_key(number: str) -> str:
    return "".join(number.split()).upper()


def _staff_named_in_march(raw: Path, later: Path) -> set[str]:
    """Who the second delivery concerns in March, from the files alone (contract/metrics.md):
    authors of its worklog rows, holders of its leave, and authors of the March entries that
    cite one of its documents' numbers in an agency of theirs."""
    delivered_first = {tuple(row.items()) for row in _csv_rows(raw / "worklog", "worklog_1.csv")}
    # the re-sent entry equals its first delivery: it names nobody
    named = {
        row["staff_id"]
        for row in _csv_rows(later / "worklog")
        if row["work_date"] < "2025-04" and tuple(row.items()) not in delivered_first
    }
    named |= {
        row["staff_id"] for row in _csv_rows(later / "leave") if row["leave_start"] < "2025-04"
    }
    agencies: dict[str, set[str]] = {}
    for row in _csv_rows(raw / "staff"):
        agencies.setdefault(row["staff_id"], set()).add(row["agency_code"])
    documents = {
        (row["agency_code"], _doc_key(row["doc_number"])) for row in _csv_rows(later / "documents")
    }
    for row in _csv_rows(raw / "worklog"):  # the first delivery and the later files
        if row["work_date"] < "2025-04" and row["document_ref"]:
            cited = {_doc_key(ref) for ref in row["document_ref"].split(";")}
            if any(
                (agency, key) in documents
                for agency in agencies.get(row["staff_id"], ())
                for key in cited
            ):
                named.add(row["staff_id"])
    return named


def test_second_delivery_rebuilds_only_what_it_touches(
    batches: tuple[Path, Path], incremental_warehouse: tuple[Path, str]
) -> None:
    raw, _ = batches
    warehouse, summary = incremental_warehouse
    later = raw.parent / "later"
    plan = _plan(warehouse)
    assert plan["mode"] == "months"
    # April enters the reporting range: every staff member. March is rebuilt for the people
    # the late files name only (the first delivery had every other source of March).
    march_staff = _staff_named_in_march(raw, later)
    everyone = len({row["staff_id"] for row in _csv_rows(raw / "staff")})
    assert 0 < len(march_staff) < everyone
    assert plan["months"] == ["2025-03-01", "2025-04-01"]
    assert plan["staff_scoped"] == {"2025-03-01": len(march_staff)}
    assert plan["patterns_only"] == []
    # declaration_patterns rebuilds those people too, and the authors of March entries
    # submitted the same day as a late row (their submission batch changed)
    assert len(march_staff) <= plan["patterns_staff_scoped"]["2025-03-01"] <= everyone
    assert f"rebuilt months: 2025-03 ({len(march_staff)} staff), 2025-04" in summary
    # Nodes reading only sources without a delivery since the first build are left out (the
    # task catalogue's table), the others run; the marts still equal expected.json
    # (test_incremental_build_gives_the_expected_marts).
    assert plan["unaffected_nodes"] > 0
    ran = _dbt_nodes_run(warehouse)
    assert "model.kpi_warehouse.int_tasks_versioned" not in ran
    assert {
        "model.kpi_warehouse.int_staff_days_assembled",
        "model.kpi_warehouse.int_leave_days_expanded",
        "test.kpi_warehouse.source_unique_eoffice_documents_doc_id",
    } <= ran
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("select count(*) from audit.pending_months").fetchone() == (0,)
        built = {
            mart: con.execute(query.format(f"marts.{mart}", "id")).fetchone()
            for mart, query in SNAPSHOT_TOTALS.items()
        }
    # the analysts' snapshot republished those people's rows of March, in its tables and files
    paths = snapshot_paths(warehouse)
    with duckdb.connect(str(paths.database), read_only=True) as con:
        for mart, query in SNAPSHOT_TOTALS.items():
            files = f"read_parquet('{paths.parquet_dir / mart}/*.parquet')"
            assert con.execute(query.format(mart, "key")).fetchone() == built[mart], mart
            assert con.execute(query.format(files, "key")).fetchone() == built[mart], mart
    # and each period of the period marts: April's month, quarter and year rows, the first
    # quarter's of those people, none other
    period_marts = (("staff_productivity", "credited_hours"), ("kpi_scorecard", "total_score"))
    for mart, column in period_marts:
        _assert_snapshot_matches(
            warehouse,
            mart,
            f"select list((period_type, period_start, rows, total) order by period_type, "
            f"period_start) from (select period_type, period_start, count(*) as rows, "
            f"round(sum({column}), 4) as total from {{}} group by all)",
        )


def _clustered_models() -> dict[str, tuple[str, str, bool]]:
    """name -> (schema, month column, sorted) of every month-partitioned model that writes its
    rows in month and staff order: sorted (cluster_by_month_and_staff) or kept from the table
    it reads (keeps_month_and_staff_order)."""
    from dagster_project.assets.transformation import dbt_project

    manifest = json.loads(dbt_project.manifest_path.read_text())
    return {
        node["name"]: (
            node["schema"],
            node["config"]["meta"]["month_partition_column"],
            "cluster_by_month_and_staff(" in node["raw_code"],
        )
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model"
        and node["config"]["materialized"] != "view"
        and "month_partition_column" in node["config"].get("meta", {})
        and (
            "cluster_by_month_and_staff(" in node["raw_code"]
            or "keeps_month_and_staff_order(" in node["raw_code"]
        )
    }


def test_partitioned_tables_are_written_in_month_and_staff_order(
    incremental_warehouse: tuple[Path, str],
) -> None:
    # A month rebuilt for a few people is read through the zone maps of staff_id, which point
    # at a few row groups only if each build wrote its rows in month, then staff_id order. Two
    # builds wrote these tables: a sorted table steps back at most once, where the second
    # build's rows begin. A table that keeps the order of the one it reads follows the probe
    # side of its hash joins, which DuckDB may swap on small inputs: a few steps back, where a
    # table in no order steps back between about half of its adjacent rows.
    warehouse, _ = incremental_warehouse
    models = _clustered_models()
    assert len(models) >= 7
    assert sum(1 for *_, is_sorted in models.values() if not is_sorted) >= 3
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for name, (schema, column, is_sorted) in models.items():
            steps_back, row_count = con.execute(
                f"""
                select
                    count(*) filter (
                        where month_start < previous_month
                        or (month_start = previous_month and staff_id < previous_staff_id)
                    ),
                    count(*)
                from (
                    select
                        date_trunc('month', {column}) as month_start,
                        staff_id,
                        lag(date_trunc('month', {column})) over (order by rowid) as previous_month,
                        lag(staff_id) over (order by rowid) as previous_staff_id
                    from {schema}.{name}
                )
                """
            ).fetchone() or (None, None)
            assert steps_back is not None and row_count, name
            allowed = 1 if is_sorted else max(1, row_count // 50)
            assert steps_back <= allowed, (name, steps_back, row_count)


def test_incremental_build_gives_the_expected_marts(
    incremental_warehouse: tuple[Path, str],
) -> None:
    warehouse, _ = incremental_warehouse
    differences = _differences(warehouse)
    assert not differences, f"{len(differences)} differences:\n" + "\n".join(differences[:30])


def test_nothing_new_rebuilds_nothing_and_a_backfill_rebuilds_its_range(
    batches: tuple[Path, Path], incremental_warehouse: tuple[Path, str]
) -> None:
    raw, _ = batches
    warehouse, _ = incremental_warehouse
    summary = _build(raw, warehouse)
    plan = _plan(warehouse)
    # no delivery since the last build: the tests, seeds and intermediate tables are left out
    assert plan.pop("unaffected_nodes") > 0
    assert plan == {
        "mode": "months",
        "months": [],
        "staff_scoped": {},
        "patterns_only": [],
        "scorecard_only": [],
        "patterns_staff_scoped": {},
    }
    assert "rebuilt months: none" in summary
    # the checks of the tests left out say nothing at the terminal; the build's log has them
    assert "Blocking asset check" not in summary
    assert "Blocking asset check" in (warehouse.parent / "logs" / "last_build.log").read_text()

    with duckdb.connect(str(warehouse)) as con:
        # damage that only recomputing April from the raw tables repairs (the table under
        # the view marts.fct_staff_day)
        damaged = con.execute(
            "update intermediate.int_staff_days_assembled "
            "set credited_hours = credited_hours + 100 "
            "where work_date = date '2025-04-15'"
        ).fetchone()
        assert damaged and damaged[0] > 0
    _build(raw, warehouse, "--from", "2025-04", "--to", "2025-04")
    assert _plan(warehouse) == {
        "mode": "months",
        "months": ["2025-04-01"],
        "staff_scoped": {},
        "patterns_only": [],
        "scorecard_only": [],
        "patterns_staff_scoped": {},
        # a range asked for runs every node
        "unaffected_nodes": 0,
    }
    differences = _differences(warehouse)
    assert not differences, f"{len(differences)} differences:\n" + "\n".join(differences[:30])
    # the analysts' snapshot republished April too, in its table and its Parquet file
    _assert_snapshot_matches(
        warehouse, "fct_staff_day", "select count(*), round(sum(credited_hours), 6) from {}"
    )


def test_a_build_drops_the_tables_of_models_no_longer_in_the_project(
    batches: tuple[Path, Path], incremental_warehouse: tuple[Path, str]
) -> None:
    raw, _ = batches
    warehouse, _ = incremental_warehouse
    with duckdb.connect(str(warehouse)) as con:
        # the table of an entry model that a later release merged into another
        con.execute(
            "create table intermediate.int_worklog_entries_evidenced as "
            "select * from intermediate.int_worklog_entries_flagged"
        )
        con.execute("create view staging.stg_retired__source as select 1 as one")
        (raw_tables,) = con.execute(
            "select count(*) from information_schema.tables where table_schema = 'raw'"
        ).fetchone() or (0,)
    _build(raw, warehouse)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        remaining = {
            f"{schema}.{name}"
            for schema, name in con.execute(
                "select table_schema, table_name from information_schema.tables"
            ).fetchall()
        }
    assert "intermediate.int_worklog_entries_evidenced" not in remaining
    assert "staging.stg_retired__source" not in remaining
    # the models' own tables and what dbt alone does not write stay
    assert {
        "intermediate.int_worklog_entries_flagged",
        "staging.stg_kpi_tool__worklog_revisions",
        "marts.fct_staff_day",
        "marts.redistribution_plan",
    } <= remaining
    assert "reference.calendar_exceptions" in remaining
    assert sum(1 for name in remaining if name.startswith("raw.")) == raw_tables > 0
    assert any(name.startswith("audit.") for name in remaining)


def test_a_build_without_months_recomputes_existing_tables_instead_of_adding_to_them(
    batches: tuple[Path, Path], incremental_warehouse: tuple[Path, str]
) -> None:
    """A first build that failed midway leaves some month-partitioned tables written (and an
    earlier version lacks the tables of models it did not have); the next build rebuilds every
    month, and must not append to the tables that are there a second time."""
    raw, _ = batches
    warehouse, _ = incremental_warehouse
    with duckdb.connect(str(warehouse)) as con:
        con.execute("drop table marts.declaration_patterns")
        (entries,) = con.execute(
            "select count(*) from intermediate.int_worklog_entries_flagged"
        ).fetchone() or (0,)
    _build(raw, warehouse)
    assert _plan(warehouse) == {"mode": "full_refresh", "months": None, "reason": TABLES_MISSING}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        counts = con.execute(
            "select count(*), count(distinct entry_id) "
            "from intermediate.int_worklog_entries_flagged"
        ).fetchone()
    assert counts == (entries, entries)
    differences = _differences(warehouse)
    assert not differences, f"{len(differences)} differences:\n" + "\n".join(differences[:30])


def _evidence_status(warehouse: Path, entry_id: str) -> str | None:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        row = con.execute(
            "select evidence_status from marts.worklog_evidence where entry_id = ?", [entry_id]
        ).fetchone()
    return row[0] if row else None


def _assert_snapshot_matches(warehouse: Path, mart: str, totals: str) -> None:
    """The snapshot's table and Parquet files of `mart` give the warehouse mart's `totals` (a
    query with `{}` for the relation)."""
    paths = snapshot_paths(warehouse)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        expected = con.execute(totals.format(f"marts.{mart}")).fetchone()
    with duckdb.connect(str(paths.database), read_only=True) as con:
        assert con.execute(totals.format(mart)).fetchone() == expected, mart
        files = f"read_parquet('{paths.parquet_dir / mart}/*.parquet')"
        assert con.execute(totals.format(files)).fetchone() == expected, mart


def test_a_late_document_rebuilds_march_for_the_author_citing_it(
    batches: tuple[Path, Path], incremental_warehouse: tuple[Path, str], tmp_path: Path
) -> None:
    """A document delivered alone, weeks later, whose number a March entry cites: March is
    rebuilt for that entry's author only, and the marts equal a first build of the same files
    (the entry's evidence and its staff-day change; nothing else may)."""
    raw, _ = batches
    warehouse, _ = incremental_warehouse
    # work on copies: the other tests keep the delivered files and the built warehouse
    late_raw, late_warehouse = tmp_path / "raw", tmp_path / "late" / "warehouse.duckdb"
    shutil.copytree(raw, late_raw)
    shutil.copytree(warehouse.parent, late_warehouse.parent)
    cited = [
        row
        for row in _csv_rows(late_raw / "worklog", "worklog_1.csv")
        if row["document_ref"].strip() == "999/STC-NS"
    ]
    assert len(cited) == 1 and cited[0]["work_date"].startswith("2025-03")
    author = cited[0]["staff_id"]
    assert _evidence_status(late_warehouse, cited[0]["entry_id"]) == "missing_document"
    with (late_raw / "documents" / "documents_late.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["doc_id", "agency_code", "direction", "doc_number", "doc_type", "issued_date",
             "subject", "drafter_staff_id", "signer_staff_id", "handler_staff_id",
             "due_date", "completed_date"]
        )  # fmt: skip
        writer.writerow(
            ["D0999", "STC", "outgoing", "999/STC-NS", "Công văn", cited[0]["work_date"],
             "V/v 999/STC-NS", author, "", "", "", ""]
        )  # fmt: skip

    _build(late_raw, late_warehouse)
    plan = _plan(late_warehouse)
    assert plan["months"] == ["2025-03-01"]
    assert plan["staff_scoped"] == {"2025-03-01": 1}
    assert plan["patterns_staff_scoped"] == {"2025-03-01": 1}

    fresh = tmp_path / "fresh" / "warehouse.duckdb"
    _build(late_raw, fresh)
    assert _plan(fresh)["mode"] == "first_build"
    assert _evidence_status(late_warehouse, cited[0]["entry_id"]) == "evidenced"
    assert relation_differences(late_warehouse, fresh, "marts") == {}


def test_a_corrected_evaluation_rebuilds_its_months_scorecard_for_everyone(
    batches: tuple[Path, Path], incremental_warehouse: tuple[Path, str], tmp_path: Path
) -> None:
    """A leader's corrected evaluation of March, delivered alone: no entry or staff-day
    changes, but kpi_scorecard rebuilds March and the first quarter (the quota ranks the whole
    agency), and every mart equals a first build of the same files."""
    raw, _ = batches
    warehouse, _ = incremental_warehouse
    late_raw, late_warehouse = tmp_path / "raw", tmp_path / "late" / "warehouse.duckdb"
    shutil.copytree(raw, late_raw)
    shutil.copytree(warehouse.parent, late_warehouse.parent)
    evaluations = _csv_rows(late_raw / "evaluations")
    corrected = next(row for row in evaluations if row["period"] == "2025-03")
    assert corrected["quality_score"] != "40"
    with (late_raw / "evaluations" / "evaluations_corrected.csv").open("w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(corrected))
        writer.writeheader()
        writer.writerow({**corrected, "quality_score": "40"})

    _build(late_raw, late_warehouse)
    plan = _plan(late_warehouse)
    assert plan["months"] == ["2025-03-01"]
    assert plan["scorecard_only"] == ["2025-03-01"]
    assert plan["staff_scoped"] == {} and plan["patterns_staff_scoped"] == {}
    with duckdb.connect(str(late_warehouse), read_only=True) as con:
        (quality,) = con.execute(
            "select quality_pct from marts.kpi_scorecard where staff_id = ? "
            "and period_type = 'month' and period_start = date '2025-03-01'",
            [corrected["staff_id"]],
        ).fetchone() or (None,)
    assert quality == 0.4

    fresh = tmp_path / "fresh" / "warehouse.duckdb"
    _build(late_raw, fresh)
    assert relation_differences(late_warehouse, fresh, "marts") == {}
    # the analysts' snapshot republished those periods: its scorecard equals the warehouse's
    _assert_snapshot_matches(
        late_warehouse,
        "kpi_scorecard",
        "select count(*), round(sum(total_score), 4), round(sum(quality_pct), 4) from {}",
    )


def test_source_tests_of_a_later_build_check_new_rows_and_the_keys_they_share(
    batches: tuple[Path, Path], incremental_warehouse: tuple[Path, str], tmp_path: Path
) -> None:
    """After a successful build the raw sources' tests read only the rows loaded since (the
    tested deliveries are recorded), but a `unique` test still reads every row sharing a key
    with a new one: a delivered document whose stored version was not replaced fails it."""
    raw, _ = batches
    copy = _copy_of(incremental_warehouse, tmp_path)
    with duckdb.connect(str(copy)) as con:
        (tested,) = con.execute(
            "select max(through_delivery_id) from audit.tested_deliveries"
        ).fetchone() or (None,)
        (loaded,) = con.execute(
            "select max(delivery_id) from audit.ingestion_ledger"
        ).fetchone() or (None,)
        assert tested is not None and tested == loaded
        # a second row of a stored document, as if a later delivery had not replaced it
        con.execute(
            "insert into raw.documents select * replace (? as _delivery_id) "
            "from raw.documents where _delivery_id <= ? limit 1",
            [tested + 1, tested],
        )
    result = run_kpi("build", "--raw", str(raw), "--warehouse", str(copy))
    assert result.returncode != 0
    assert "source_unique_eoffice_documents_doc_id" in result.stderr + result.stdout
    # dbt's messages in the failure summary (and the run log) are plain text, not colour codes
    assert "\x1b[" not in result.stderr + result.stdout


def test_a_build_after_an_edit_of_the_dbt_project_rebuilds_every_month(
    batches: tuple[Path, Path], incremental_warehouse: tuple[Path, str], tmp_path: Path
) -> None:
    """A month nothing was delivered for keeps what the project that built it made, unless the
    build rebuilds it: after an upgrade, or an edit of a model, a seed or a var, every month is
    rebuilt by the project as it is now, with every node."""
    raw, _ = batches
    copy = _copy_of(incremental_warehouse, tmp_path)
    with duckdb.connect(str(copy)) as con:
        # as if the last build had run other files, which credited March differently
        con.execute("update audit.tested_deliveries set project_digest = 'an earlier project'")
        con.execute(
            "update intermediate.int_staff_days_assembled set credited_hours = credited_hours + 1 "
            "where work_date < date '2025-04-01'"
        )
    assert _differences(copy) != []

    output = _build(raw, copy)

    assert _plan(copy) == {"mode": "full_refresh", "months": None, "reason": PROJECT_CHANGED}
    assert f"rebuilt every month: {PROJECT_CHANGED}" in output
    assert "model.kpi_warehouse.int_tasks_versioned" in _dbt_nodes_run(copy)
    assert _differences(copy) == []
    # that build recorded the project it ran: the next one rebuilds what is queued, leaving
    # nodes out again
    _build(raw, copy)
    assert _plan(copy)["mode"] == "months"
    assert _plan(copy)["unaffected_nodes"] > 0


def test_a_warehouse_of_an_earlier_version_is_rebuilt_by_the_next_build(
    batches: tuple[Path, Path], incremental_warehouse: tuple[Path, str], tmp_path: Path
) -> None:
    """Upgrading the warehouse's software needs no command of its own: a warehouse an earlier
    version built (no build recorded, a partitioned model it did not have, a table with other
    columns) is rebuilt by the next `kpi build` (it stopped, asking for --full-refresh)."""
    raw, _ = batches
    copy = _copy_of(incremental_warehouse, tmp_path)
    with duckdb.connect(str(copy)) as con:
        con.execute("drop table audit.tested_deliveries")
        con.execute("drop table intermediate.int_staff_months_aggregated")
        con.execute(
            "alter table intermediate.int_worklog_entries_credited "
            "alter column credited_minutes type double"
        )

    output = _build(raw, copy)

    assert _plan(copy) == {"mode": "full_refresh", "months": None, "reason": NO_BUILD_RECORDED}
    assert f"rebuilt every month: {NO_BUILD_RECORDED}" in output
    assert _differences(copy) == []


def test_a_partitioned_table_whose_columns_changed_asks_for_a_full_refresh(
    batches: tuple[Path, Path], incremental_warehouse: tuple[Path, str], tmp_path: Path
) -> None:
    """A month-partitioned table written by an earlier version with other columns, or with a
    column of another type: the build stops, naming the table and the columns, and a full
    refresh rebuilds it."""
    raw, _ = batches
    copy = _copy_of(incremental_warehouse, tmp_path)
    with duckdb.connect(str(copy)) as con:
        # as if an earlier version had kept a column the model no longer writes
        con.execute(
            "alter table intermediate.int_worklog_entries_credited add column reviewed_by varchar"
        )
        # and had stored the credited minutes as doubles
        con.execute(
            "alter table intermediate.int_worklog_entries_credited "
            "alter column credited_minutes type double"
        )
    # a range of months runs every node, whatever was delivered since
    result = run_kpi("build", "--raw", str(raw), "--warehouse", str(copy), "--from", "2025-03")
    assert result.returncode != 0
    output = result.stderr + result.stdout
    assert "int_worklog_entries_credited" in output
    assert "in the query, not the table: ['credited_minutes decimal(18,6)']" in output
    assert "in the table, not the query: ['credited_minutes double', 'reviewed_by varchar']" in (
        output
    )
    assert "kpi build --full-refresh" in output
    _build(raw, copy, "--full-refresh")
    with duckdb.connect(str(copy), read_only=True) as con:
        columns = {
            name
            for (name,) in con.execute(
                "select column_name from information_schema.columns "
                "where table_name = 'int_worklog_entries_credited'"
            ).fetchall()
        }
        (credited_minutes_type,) = con.execute(
            "select data_type from information_schema.columns "
            "where table_name = 'int_worklog_entries_credited' "
            "and column_name = 'credited_minutes'"
        ).fetchone()
    assert "reviewed_by" not in columns
    assert credited_minutes_type == "DECIMAL(18,6)"
    # recreated as a first build creates it (kpi_create_then_insert)
    assert _entry_id_compression(copy, "intermediate.int_worklog_entries_credited") == {"ZSTD"}


def _entry_id_compression(warehouse: Path, table: str, add_rows: int = 0) -> set[str]:
    """How `table` stores entry_id, after `add_rows` distinct ids more are checkpointed."""
    with duckdb.connect(str(warehouse)) as con:
        if add_rows:
            con.execute(
                f"insert into {table} (entry_id) select 'KK202601-' || "
                "lpad(cast(i as varchar), 7, '0') from range(?) as ids(i)",
                [add_rows],
            )
            con.execute("checkpoint")
    return stored_methods(warehouse, table, "entry_id")


def test_a_warehouse_in_the_older_storage_format_leaves_the_compression_to_duckdb(
    tmp_path: Path,
) -> None:
    """A warehouse created before kpi set the storage format keeps it; it has no ZSTD for
    text, and DuckDB would store a column asked for it uncompressed."""
    warehouse = tmp_path / "warehouse.duckdb"
    duckdb.connect(str(warehouse)).close()  # DuckDB's default format
    _build(ACCEPTANCE_CASE / "raw", warehouse)
    assert _differences(warehouse) == []
    for table in ("raw.worklog", "intermediate.int_worklog_entries_flagged"):
        # enough distinct ids for DuckDB to compress them when it chooses
        assert _entry_id_compression(warehouse, table, add_rows=200_000) == {"FSST"}, table


def test_build_rejects_a_backfill_that_is_not_a_month_range(tmp_path: Path) -> None:
    result = run_kpi("build", "--from", "2025-13", "--warehouse", str(tmp_path / "w.duckdb"))
    assert result.returncode == 2
    assert "'2025-13' is not a month as YYYY-MM" in result.stderr
    result = run_kpi("build", "--from", "2025-05", "--to", "2025-03")
    assert result.returncode == 2
    assert "--to 2025-03 is before --from 2025-05" in result.stderr
    result = run_kpi("build", "--full-refresh", "--from", "2025-05")
    assert result.returncode == 2
