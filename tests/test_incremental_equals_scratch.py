"""Incremental builds against a build from scratch, on generated exports.

The demo generator's exports of a quarter arrive as a province's would: the reference data and
April, then May and June, then one more day; then corrections of what people declared and did
(worklog revisions that change an entry's status, quantity, task or month, revisions that must
lose, new duplicates, late documents and events that evidence April entries, a document whose
drafter changed, new and extended leave, corrected evaluations), rebuilt for the people they
name; then corrections of the reference data (a transfer and a departure in the HR register, a
new norm, a changed quota). The warehouse built step by step must hold exactly what a warehouse
built once from the same files holds: every row of every mart (the planner's too), and of the
analysts' snapshot. The acceptance case checks the numbers against expected values; this checks
the rebuild scopes (which months, which people) against the whole, on data with every kind of
flag and mess the generator makes, and that no number depends on the order a build happened to
add rows in.
"""

from __future__ import annotations

import itertools
import json
import shutil
from pathlib import Path
from typing import Any

import duckdb
import pytest

from dagster_project.snapshot import PSEUDONYM_KEY_ENV, snapshot_paths
from tests.conftest import run_kpi
from tests.marts_expected import relation_differences, relations

# a whole quarter (the second of 2025), so that the planner has one to plan
GENERATED = ("--start", "2025-04-01", "--end", "2025-06-30", "--scale", "0.1", "--seed", "7")
APPENDED_DAY = "2025-07-01"
# the same pseudonyms in both snapshots, so that their rows compare
SAME_KEY = {PSEUDONYM_KEY_ENV: "incremental-equals-scratch"}
CORRECTIONS = "zz_corrections.csv"  # sorts after the generator's files: the latest delivery


def _build(raw: Path, warehouse: Path) -> None:
    result = run_kpi("build", "--raw", str(raw), "--warehouse", str(warehouse), env=SAME_KEY)
    assert result.returncode == 0, f"kpi build failed:\n{result.stderr[-4000:]}"


def _deliver(generated: Path, raw: Path, wanted: str | None = None) -> list[str]:
    """Copy the generated files not yet in `raw` (those whose name holds `wanted`, and the
    reference tables, when given); returns what was copied."""
    copied = []
    for path in sorted(generated.rglob("*.*")):
        target = raw / path.relative_to(generated)
        if target.exists() or (wanted is not None and "-" in path.stem and wanted not in path.stem):
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        copied.append(path.relative_to(generated).as_posix())
    return copied


# Each correction is a query over the warehouse built so far (canonical columns): the rows it
# picks are chosen by a hash of their key, so the same rows are picked on every run.
WORKLOG_COLUMNS = (
    "entry_id, revision, staff_id, work_date, task_code, stage_code, quantity, "
    "declared_minutes, description, document_ref, status, submitted_at, reviewed_by, reviewed_at"
)
WORKLOG_CURRENT = """
    select * from raw.worklog
    qualify row_number() over (partition by entry_id order by revision desc) = 1
"""


def _worklog_corrections() -> str:
    salts = itertools.count()

    def revised(where: str, limit: int, changes: dict[str, str], bump: int = 1) -> str:
        columns = [c.strip() for c in WORKLOG_COLUMNS.split(",")]
        values = {**{c: c for c in columns}, "revision": f"revision + {bump}", **changes}
        select = ", ".join(f"{values[c]} as {c}" for c in columns)
        # a salt of its own for each kind of correction: each picks other entries
        salt = next(salts)
        return (
            f"(select {select} from ({WORKLOG_CURRENT}) as current "
            f"where {where} order by md5(entry_id || '{salt}') limit {limit})"
        )

    # 30 April to 4 May 2025 were public holidays
    april = "work_date between date '2025-04-01' and date '2025-04-29'"
    may = "work_date between date '2025-05-05' and date '2025-05-30'"
    parts = [
        # approved work withdrawn, submitted work approved, a draft submitted
        revised(f"{april} and status = 'approved'", 12, {"status": "'rejected'"}),
        revised(f"{april} and status = 'submitted'", 12, {"status": "'approved'"}),
        revised(f"{may} and status = 'draft'", 4, {"status": "'submitted'"}),
        # an entry moved to the next month, and one moved back
        revised(
            f"{april} and status = 'approved' and work_date <= date '2025-04-28'",
            6,
            {"work_date": "work_date + 28"},
            bump=2,
        ),
        revised(
            f"{may} and status = 'approved' and work_date >= date '2025-05-07'",
            6,
            {"work_date": "work_date - 28"},
            bump=2,
        ),
        # more work declared, and a task the catalogue does not know
        revised(f"{april} and status = 'approved'", 6, {"quantity": "quantity * 3"}, bump=3),
        revised(f"{may} and status = 'approved'", 3, {"task_code": "'NO-SUCH-TASK'"}, bump=3),
        # the same revision delivered again with other values: the later delivery wins
        revised(f"{april} and revision = 1", 5, {"declared_minutes": "480"}, bump=0),
        # an older revision delivered late: the stored higher one stays current
        revised(f"{april} and revision = 2", 4, {"status": "'cancelled'"}, bump=-1),
        # new entries copying others of the same day: duplicate suspects
        revised(f"{april} and status = 'approved'", 5, {"entry_id": "entry_id || '-copy'"}, bump=0),
    ]
    return " union all ".join(parts)


EVIDENCE = """
    select *
    from marts.worklog_evidence
    where work_date between date '2025-04-01' and date '2025-04-30'
"""

DOCUMENT_CORRECTIONS = f"""
    select
        'LATE-' || evidence.entry_id as doc_id, evidence.agency_code, 'outgoing' as direction,
        split_part(worklog.document_ref, ';', 1) as doc_number, 'Công văn' as doc_type,
        evidence.work_date as issued_date, 'late export' as subject,
        evidence.staff_id as drafter_staff_id,
        null as signer_staff_id, null as handler_staff_id, null as due_date,
        null as completed_date
    from ({EVIDENCE}) as evidence
    inner join raw.worklog using (entry_id, revision)
    where evidence_status in ('missing_document', 'document_mismatch')
        and evidence.agency_code is not null and coalesce(worklog.document_ref, '') <> ''
    order by md5(evidence.entry_id) limit 15
"""

DRAFTER_CHANGES = """
    select
        doc_id, agency_code, direction, doc_number, doc_type, issued_date, subject,
        signer_staff_id as drafter_staff_id, drafter_staff_id as signer_staff_id,
        handler_staff_id, due_date, completed_date
    from raw.documents
    where direction = 'outgoing' and issued_date between date '2025-04-01' and date '2025-04-30'
        and drafter_staff_id is not null and signer_staff_id is not null
        and drafter_staff_id <> signer_staff_id
    order by md5(doc_id) limit 10
"""

EVENT_CORRECTIONS = f"""
    select
        'LATE-' || entry_id as event_id, agency_code, evidence_type as event_type,
        'late export' as title, work_date + interval 8 hour as start_at,
        work_date + interval 10 hour as end_at, staff_id as participant_staff_ids
    from ({EVIDENCE}) as evidence
    where evidence_status = 'missing_event' and agency_code is not null
    order by md5(entry_id) limit 10
"""

LEAVE_CORRECTIONS = f"""
    (select distinct on (staff_id)
        staff_id, 'sick' as leave_type, work_date as leave_start, work_date as leave_end,
        false as half_day
    from ({EVIDENCE}) as evidence
    where status = 'approved' and agency_code is not null
        and not exists (
            select 1 from raw.leave
            where leave.staff_id = evidence.staff_id
                and evidence.work_date between leave.leave_start and leave.leave_end
        )
    order by staff_id, work_date
    limit 6)
    union all
    (select staff_id, leave_type, leave_start, leave_end + 2, false
    from raw.leave
    where leave_start between date '2025-04-01' and date '2025-05-20' and not half_day
    order by md5(staff_id || leave_start) limit 3)
"""

# A transfer: an ongoing assignment ends mid-April and the person starts in another agency
# (a position of that agency) the next Monday. A departure: an assignment ends in May.
STAFF_COLUMNS = (
    "staff_id, full_name, agency_code, department, position_code, is_leader, "
    "assignment_start, assignment_end"
)
STAFF_CORRECTIONS = f"""
    with ongoing as (
        select *, row_number() over (order by md5(staff_id)) as pick
        from raw.staff
        where assignment_end is null and assignment_start < date '2025-04-01'
    ),
    other_agency as (
        select agency_code, min(position_code) as position_code
        from raw.positions
        where agency_code <> (select agency_code from ongoing where pick = 1)
        group by agency_code
        order by agency_code limit 1
    )
    select {STAFF_COLUMNS.replace("assignment_end", "date '2025-04-11' as assignment_end")}
    from ongoing where pick = 1
    union all
    select staff_id, full_name, other_agency.agency_code, null, other_agency.position_code,
        false, date '2025-04-14', null
    from ongoing cross join other_agency where pick = 1
    union all
    select {STAFF_COLUMNS.replace("assignment_end", "date '2025-05-09' as assignment_end")}
    from ongoing where pick = 2
"""

# A new norm from mid-May for the task declared most often, in each agency that uses it.
TASK_CORRECTIONS = """
    with busiest as (
        select task_code from raw.worklog group by task_code order by count(*) desc limit 1
    )
    select
        agency_code, task_code, task_name, task_group, stage_code, stage_name, unit,
        standard_minutes * 1.5 as standard_minutes, evidence_type,
        date '2025-05-12' as valid_from
    from raw.tasks
    where task_code in (select task_code from busiest)
    qualify row_number() over (
        partition by agency_code, task_code, stage_code order by valid_from desc
    ) = 1
"""

EVALUATION_CORRECTIONS = """
    select staff_id, period, evaluator_staff_id, greatest(quality_score - 25, 0) as quality_score,
        general_score, 'corrected' as comment
    from raw.evaluations
    where period = '2025-04'
    order by md5(staff_id) limit 8
"""

POSITION_CORRECTIONS = """
    select agency_code, position_code, position_name, position_group,
        approved_headcount + 2 as approved_headcount, date '2025-05-01' as valid_from
    from raw.positions
    qualify row_number() over (partition by agency_code, position_code order by valid_from desc) = 1
    order by md5(agency_code || position_code) limit 3
"""


# What people declared and did, then the reference data: delivered apart, the first stays
# within the months and people it names, the second (a new norm) rebuilds months for everyone.
ACTIVITY_CORRECTIONS = {
    "worklog": f"select {WORKLOG_COLUMNS} from ({_worklog_corrections()}) as corrections",
    "documents": f"({DOCUMENT_CORRECTIONS}) union all ({DRAFTER_CHANGES})",
    "events": EVENT_CORRECTIONS,
    "leave": LEAVE_CORRECTIONS,
    "evaluations": EVALUATION_CORRECTIONS,
}
REFERENCE_CORRECTIONS = {
    "staff": STAFF_CORRECTIONS,
    "tasks": TASK_CORRECTIONS,
    "positions": POSITION_CORRECTIONS,
}


def _write_corrections(warehouse: Path, raw: Path, queries: dict[str, str]) -> None:
    """Write each source's corrections (a query over `warehouse`) into its folder of `raw`."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for source, query in queries.items():
            path = raw / source / CORRECTIONS
            con.execute(f"copy ({query}) to '{path}' (header, timestampformat '%Y-%m-%d %H:%M:%S')")
            (rows,) = con.execute(f"select count(*) from read_csv('{path}')").fetchone()
            assert rows >= 2, f"the generated data gave {rows} {source} rows to correct"


def _plan(warehouse: Path) -> dict[str, Any]:
    timings = json.loads((warehouse.parent / "logs" / "build_timings.json").read_text())
    return dict(timings["dbt_plan"])


@pytest.fixture(scope="module")
def warehouses(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(built step by step, built from scratch) from the same raw folder."""
    root = tmp_path_factory.mktemp("incremental-equals-scratch")
    generated, raw = root / "generated", root / "raw"
    made = run_kpi("generate", "--out", str(generated), *GENERATED)
    assert made.returncode == 0, made.stderr[-3000:]

    stepwise = root / "stepwise" / "warehouse.duckdb"
    assert "worklog/2025-04.csv" in _deliver(generated, raw, wanted="2025-04")
    _build(raw, stepwise)
    assert "worklog/2025-06.csv" in _deliver(generated, raw)
    _build(raw, stepwise)
    appended = run_kpi(
        "generate", "--out", str(generated), *GENERATED, "--append-day", APPENDED_DAY
    )
    assert appended.returncode == 0, appended.stderr[-3000:]
    assert f"worklog/{APPENDED_DAY}.csv" in _deliver(generated, raw)
    _build(raw, stepwise)
    _write_corrections(stepwise, raw, ACTIVITY_CORRECTIONS)
    _build(raw, stepwise)
    # the corrections' months rebuilt for the people they name, not for everyone
    assert {"2025-04-01", "2025-05-01"} <= set(_plan(stepwise)["staff_scoped"])
    _write_corrections(stepwise, raw, REFERENCE_CORRECTIONS)
    _build(raw, stepwise)
    assert "2025-05-01" in _plan(stepwise)["months"]

    scratch = root / "scratch" / "warehouse.duckdb"
    _build(raw, scratch)
    return stepwise, scratch


def test_every_mart_equals_a_build_from_scratch(warehouses: tuple[Path, Path]) -> None:
    stepwise, scratch = warehouses
    assert relations(stepwise, "marts") == relations(scratch, "marts")
    assert relation_differences(stepwise, scratch, "marts") == {}


def test_the_analysts_snapshot_equals_one_published_from_scratch(
    warehouses: tuple[Path, Path],
) -> None:
    stepwise, scratch = (snapshot_paths(w).database for w in warehouses)
    assert relations(stepwise, "main") == relations(scratch, "main")
    assert relation_differences(stepwise, scratch, "main") == {}


def test_the_corrections_changed_the_marts(warehouses: tuple[Path, Path]) -> None:
    """The comparisons above mean something only if the corrections reached the marts, and
    the planner planned."""
    stepwise, _ = warehouses
    with duckdb.connect(str(stepwise), read_only=True) as con:
        (copies,) = con.execute(
            "select count(*) from marts.worklog_evidence "
            "where entry_id like '%-copy' and list_contains(flags, 'duplicate_suspect')"
        ).fetchone()
        (evidenced_late,) = con.execute(
            "select count(*) from marts.worklog_evidence as evidence "
            "inner join raw.documents on documents.doc_id = 'LATE-' || evidence.entry_id "
            "where evidence.evidence_status = 'evidenced'"
        ).fetchone()
        (moved,) = con.execute(
            "select count(*) from marts.worklog_evidence where revision >= 3"
        ).fetchone()
        # the planner had the whole quarter to plan
        (impacts,) = con.execute("select count(*) from marts.redistribution_impact").fetchone()
    assert copies >= 5
    assert evidenced_late >= 1
    assert moved >= 12
    assert impacts > 0
