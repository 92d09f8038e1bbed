"""What a load changes: the queue `audit.pending_months` of months, and of staff members in them.

The month-partitioned dbt models (entries and staff-days) rebuild only what this queue holds. A
file's rows are compared with what is stored before they replace it, so a re-sent export that
changes nothing queues nothing, and a correction to a March entry delivered in May queues March.
The queue is written in the same transaction as the rows: a load that commits always leaves its
changes behind for the next build, which empties the queue only after it succeeded.

Most changes concern named people: a worklog entry its author, a leave record its holder, a
calendar event its participants, an outgoing document the authors of the entries that cite its
number, an HR assignment its holder. Those queue (month, staff_id), and a build rebuilds that
month for those people only: a day of documents that evidences a few entries of last month
does not rebuild last month for everyone. A new norm or quota queues whole months
(staff_id NULL). Rows with `patterns_only` concern declaration_patterns alone: a person's
submission batch spans their other months.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache

import duckdb
import yaml

from dagster_project import settings

from .contract import Source
from .parse import key_match, lit, q

PENDING_MONTHS_DDL = """
CREATE TABLE IF NOT EXISTS audit.pending_months (
    month_start DATE NOT NULL,
    open_ended BOOLEAN NOT NULL,
    source VARCHAR NOT NULL,
    delivery_id INTEGER NOT NULL,
    recorded_at TIMESTAMP NOT NULL,
    staff_id VARCHAR,
    patterns_only BOOLEAN NOT NULL DEFAULT false,
    scorecard_only BOOLEAN NOT NULL DEFAULT false
);
-- warehouses created before staff-scoped rebuilds, and before kpi_scorecard rebuilt periods
ALTER TABLE audit.pending_months ADD COLUMN IF NOT EXISTS staff_id VARCHAR;
ALTER TABLE audit.pending_months ADD COLUMN IF NOT EXISTS patterns_only BOOLEAN DEFAULT false;
ALTER TABLE audit.pending_months ADD COLUMN IF NOT EXISTS scorecard_only BOOLEAN DEFAULT false;
"""

# The reporting range of the last finished dbt step (record_built_range, _range_changes).
BUILT_RANGE_DDL = """
CREATE TABLE IF NOT EXISTS audit.built_range (
    range_start DATE NOT NULL,
    range_end DATE NOT NULL
)
"""

# Above this many staff members in a month, the month is rebuilt for everyone: one pass over
# the month costs less than filtering it through a long list (and keeps the SQL short).
STAFF_SCOPE_LIMIT = 2000
# The lists travel to dbt in one environment variable, which Linux caps at 128 KiB: past this
# many staff_ids over all months, the months with the longest lists go to everyone.
PLAN_STAFF_LIMIT = 6000


@cache
def _dbt_var(name: str) -> int:
    project = yaml.safe_load((settings.DBT_PROJECT_DIR / "dbt_project.yml").read_text())
    return int(project["vars"][name])


def _doc_key(expr: str) -> str:
    """A document number as the dbt macro normalize_doc_number compares it (no white space,
    upper case); ';' survives, so a list column keeps its separators."""
    return rf"upper(regexp_replace({expr}, '\s+', '', 'g'))"


# The register's documents with their numbers normalised, as dbt keeps them from build to build
# (the model int_documents_keyed).
KEYED_DOCUMENTS = "intermediate.int_documents_keyed"

# Every stored outgoing document's (doc_id, agency_code, doc_key), normalising each number.
STORED_OUTGOING_NUMBERS = f"""
    SELECT doc_id, agency_code, {_doc_key("doc_number")} AS doc_key
    FROM raw.documents
    WHERE direction = 'outgoing'
"""


# Every stored worklog row's citations (staff_id, work_date, doc_key), normalising each
# reference.
STORED_CITATIONS = f"""
    SELECT staff_id, work_date,
        unnest(string_split({_doc_key("document_ref")}, ';')) AS doc_key
    FROM raw.worklog
    WHERE document_ref IS NOT NULL
"""

# The live entries' citations with their numbers normalised, as dbt keeps them by month (the
# model int_document_citations_keyed).
KEYED_CITATIONS = "intermediate.int_document_citations_keyed"


def _table_exists(con: duckdb.DuckDBPyConnection, qualified: str) -> bool:
    schema, table = qualified.split(".")
    row = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
        [schema, table],
    ).fetchone()
    return bool(row and row[0])


def stored_outgoing_numbers(con: duckdb.DuckDBPyConnection) -> str:
    """SQL giving every stored outgoing document's (doc_id, agency_code, doc_key): the keys
    dbt normalised in its last build (KEYED_DOCUMENTS), except those of documents delivered
    again since, plus the documents delivered since, normalised here. At a province year
    normalising every stored number took 0.8 s of CPU per delivery of documents. Without the
    table (a warehouse dbt has not built it in), every number is normalised here."""
    if not _table_exists(con, KEYED_DOCUMENTS):
        return STORED_OUTGOING_NUMBERS
    row = con.execute(f"SELECT max(delivery_id) FROM {KEYED_DOCUMENTS}").fetchone()
    # documents delivered after the build that keyed them: their rows in the table are stale
    built_through = int(row[0]) if row and row[0] is not None else -1
    return f"""
        SELECT doc_id, agency_code, doc_number_key AS doc_key
        FROM {KEYED_DOCUMENTS}
        WHERE direction = 'outgoing'
            AND doc_id NOT IN (
                SELECT doc_id FROM raw.documents WHERE _delivery_id > {built_through}
            )
        UNION ALL
        SELECT doc_id, agency_code, {_doc_key("doc_number")}
        FROM raw.documents
        WHERE direction = 'outgoing' AND _delivery_id > {built_through}
    """


def stored_citations(con: duckdb.DuckDBPyConnection) -> str:
    """SQL giving (staff_id, work_date, doc_key) for the document numbers stored entries cite:
    those of the live entries as of the last successful build (KEYED_CITATIONS: every month
    a delivery changed is rebuilt by the next build, so the table covers every delivery that
    build tested), plus every worklog row delivered since, normalised here. Only live entries
    of document tasks get an evidence status, so the others' citations cannot change one. At a
    province year normalising every stored reference took 1 s of CPU per delivery of
    documents. Without the table or a successful build, every stored row's references."""
    if not _table_exists(con, KEYED_CITATIONS) or not _table_exists(con, "audit.tested_deliveries"):
        return STORED_CITATIONS
    row = con.execute("SELECT max(through_delivery_id) FROM audit.tested_deliveries").fetchone()
    if not row or row[0] is None:
        return STORED_CITATIONS
    return f"""
        SELECT staff_id, work_date, doc_number_key AS doc_key FROM {KEYED_CITATIONS}
        UNION ALL
        {STORED_CITATIONS} AND _delivery_id > {int(row[0])}
    """


def affected_scopes(
    source: str,
    affected: str,
    outgoing_numbers: str = STORED_OUTGOING_NUMBERS,
    citations: str = STORED_CITATIONS,
) -> str | None:
    """SQL over `affected` (rows of `source` under the contract's column names, old and new
    versions) giving what they can change: (first_date, last_date, staff_id, patterns_only)
    with last_date NULL for "from first_date onwards" and staff_id NULL for everyone. None:
    the source changes no month-partitioned model (agencies feed only whole-table marts;
    evaluations only kpi_scorecard's periods, scorecard_scopes). outgoing_numbers: SQL of the
    stored outgoing documents' (doc_id, agency_code, doc_key) (stored_outgoing_numbers);
    citations: SQL of the stored entries' citations (staff_id, work_date, doc_key)
    (stored_citations)."""
    if source == "worklog":
        # Submission batches (declaration_patterns) take a person's entries submitted on the
        # same day, whatever their work month. A batch's size decides only whether its late
        # entries (submitted more than bulk_submission_days after work_date) are bulk-late, so
        # only the months of those are queued: most batches hold the last few days' work, and
        # queueing every month a batch touched rebuilt last month's patterns for everyone who
        # declared on the first day of a month.
        bulk_days = _dbt_var("bulk_submission_days")
        return f"""
            SELECT work_date AS first_date, work_date AS last_date, staff_id,
                false AS patterns_only
            FROM {affected}
            UNION ALL
            SELECT DISTINCT stored.work_date, stored.work_date, stored.staff_id, true
            FROM raw.worklog AS stored
            SEMI JOIN (
                SELECT DISTINCT staff_id, CAST(submitted_at AS DATE) AS submission_date
                FROM {affected}
                WHERE submitted_at IS NOT NULL
            ) AS batches
                ON stored.staff_id = batches.staff_id
                AND CAST(stored.submitted_at AS DATE) = batches.submission_date
            WHERE date_diff('day', stored.work_date, CAST(stored.submitted_at AS DATE))
                > {bulk_days}
                -- implied by the join; a range on the bare column lets the scan skip the row
                -- groups of other submission days (0.8 s a day's load at a province year)
                AND stored.submitted_at >= (
                    SELECT min(CAST(submitted_at AS DATE)) FROM {affected}
                )
                AND stored.submitted_at < (
                    SELECT max(CAST(submitted_at AS DATE)) + 1 FROM {affected}
                )
        """
    if source == "documents":
        # A document decides the evidence of the entries citing its number in its agency: an
        # entry is evidenced when an outgoing document with that number was drafted or signed
        # by its author within the evidence window, a mismatch when the number exists in the
        # agency at all. A changed document (old or new version) therefore concerns a citing
        # entry when it could match the author, or when no other outgoing document of the
        # agency carries the number (whether the number exists may change). Numbers restart
        # every year: without the second condition a January document would rebuild every
        # month citing last year's document of the same number. The entry's agency comes from
        # its author's assignment: any assignment of the person to that agency is taken,
        # which can only rebuild more.
        before, after = _dbt_var("evidence_days_before"), _dbt_var("evidence_days_after")
        return f"""
            WITH changed_documents AS (
                SELECT DISTINCT doc_id, agency_code, {_doc_key("doc_number")} AS doc_key,
                    issued_date, drafter_staff_id, signer_staff_id
                FROM {affected}
                WHERE doc_number IS NOT NULL
            ),
            -- Only the changed documents' numbers are looked up: a distinct of every stored
            -- number cost 2 s of a 3.4 s load at a province year.
            numbers_held_elsewhere AS (
                SELECT DISTINCT stored.agency_code, stored.doc_key
                FROM ({outgoing_numbers}) AS stored
                SEMI JOIN changed_documents
                    ON stored.agency_code = changed_documents.agency_code
                    AND stored.doc_key = changed_documents.doc_key
                WHERE stored.doc_id NOT IN (SELECT doc_id FROM changed_documents)
            ),
            -- Whether a number is held elsewhere, as a column: under a NOT EXISTS in the
            -- condition below, DuckDB matched every citation of a changed number with the
            -- agency's staff before filtering (a day's documents at a province year: 0.5 s of
            -- the 0.8 s lookup, 1.9 million pairs for 19 thousand kept).
            changed_numbers AS (
                SELECT
                    changed_documents.*,
                    numbers_held_elsewhere.doc_key IS NULL AS number_held_nowhere_else
                FROM changed_documents
                LEFT JOIN numbers_held_elsewhere
                    ON changed_documents.agency_code = numbers_held_elsewhere.agency_code
                    AND changed_documents.doc_key = numbers_held_elsewhere.doc_key
            ),
            citations AS ({citations}),
            agency_staff AS (
                SELECT DISTINCT staff_id, agency_code FROM raw.staff
            )
            SELECT DISTINCT citations.work_date, citations.work_date, citations.staff_id, false
            FROM citations
            INNER JOIN changed_numbers ON citations.doc_key = changed_numbers.doc_key
            SEMI JOIN agency_staff
                ON agency_staff.staff_id = citations.staff_id
                AND agency_staff.agency_code = changed_numbers.agency_code
            WHERE (
                    citations.staff_id IN (
                        changed_numbers.drafter_staff_id, changed_numbers.signer_staff_id
                    )
                    AND changed_numbers.issued_date
                        BETWEEN citations.work_date - INTERVAL {before} DAY
                        AND citations.work_date + INTERVAL {after} DAY
                )
                OR changed_numbers.number_held_nowhere_else
        """
    if source == "events":
        return f"""
            SELECT CAST(start_at AS DATE), CAST(end_at AS DATE),
                trim(unnest(string_split(participant_staff_ids, ';'))), false
            FROM {affected}
        """
    if source == "leave":
        return f"SELECT leave_start, leave_end, staff_id, false FROM {affected}"
    if source == "staff":
        # An assignment decides whether the person is known at all, so every month of theirs
        return f"SELECT DATE '1900-01-01', CAST(NULL AS DATE), staff_id, false FROM {affected}"
    if source in ("positions", "tasks"):
        # a new norm or quota version holds until the next one: every later month, everyone
        return (
            f"SELECT valid_from, CAST(NULL AS DATE), CAST(NULL AS VARCHAR), false FROM {affected}"
        )
    return None


def scorecard_scopes(source: str, affected: str) -> str | None:
    """SQL over `affected` (old and new versions) giving the months (first_date) whose
    kpi_scorecard periods the rows change beyond the months affected_scopes gives: a leader's
    evaluation of a month, and an incoming document due in a month (the progress score of its
    handler). kpi_scorecard rebuilds the month and its quarter, for everyone of every agency
    (the quota on "excellent" ranks an agency's people within a period). None: nothing."""
    if source == "evaluations":
        return f"SELECT CAST(concat(period, '-01') AS DATE) FROM {affected}"
    if source == "documents":
        return f"SELECT due_date FROM {affected} WHERE direction = 'incoming'"
    return None


# The columns affected_scopes and scorecard_scopes read, per source.
SCOPE_COLUMNS = {
    "worklog": ("work_date", "staff_id", "submitted_at"),
    "documents": (
        "doc_id",
        "agency_code",
        "doc_number",
        "issued_date",
        "drafter_staff_id",
        "signer_staff_id",
        "direction",
        "due_date",
    ),
    "evaluations": ("period",),
    "events": ("start_at", "end_at", "participant_staff_ids"),
    "leave": ("leave_start", "leave_end", "staff_id"),
    "staff": ("staff_id",),
    "positions": ("valid_from",),
    "tasks": ("valid_from",),
}


def _models_built(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether dbt has built anything yet: before that, the next build computes every month
    and forgets the queue, so working out what a load changes would be wasted."""
    built = con.execute(
        "SELECT count(*) FROM information_schema.tables "
        "WHERE table_schema IN ('intermediate', 'marts')"
    ).fetchone()
    return bool(built and built[0])


# The rows whose stored versions move with a changed row: for the worklog every revision of
# the entry (the current version may leave a month), elsewhere the row with the same key.
_GROUP_KEY = {"worklog": ("entry_id",)}

CHANGED = "_ingest_changed"
AFFECTED = "_ingest_affected"


def record_pending_months(
    con: duckdb.DuckDBPyConnection,
    spec: Source,
    staged_rows: str,
    stored: bool,
    delivery_id: int,
    now: dt.datetime,
) -> None:
    """Queue the months and staff members that the valid rows of `staged_rows` (columns
    `t_<name>`, error column `_err`) change, before they replace the stored rows with the same
    key."""
    month_scopes = affected_scopes(spec.name, AFFECTED) is not None
    card_scopes = scorecard_scopes(spec.name, AFFECTED)
    if not (month_scopes or card_scopes) or not _models_built(con):
        return
    cols = ", ".join(q(c.name) for c in spec.columns)
    new_rows = (
        "SELECT "
        + ", ".join(f"{q('t_' + c.name)} AS {q(c.name)}" for c in spec.columns)
        + f" FROM {staged_rows} WHERE _err = ''"
    )
    table = f"raw.{q(spec.name)}"
    if stored:
        key_equal = key_match(spec, "r", "n")
        # Whether any key is stored already reads the key columns alone; a day of new
        # exports has none, and then every row is a change without comparing whole rows
        # against a history of tens of millions.
        keys = ", ".join(f"r.{q(k)}" for k in spec.key)
        restated = con.execute(
            f"SELECT count(*) FROM (SELECT {keys} FROM {table} r "
            f"SEMI JOIN ({new_rows}) n ON {key_equal} LIMIT 1)"
        ).fetchone()
        if restated and restated[0]:
            changed = (
                f"SELECT {cols} FROM ({new_rows}) "
                f"EXCEPT SELECT {cols} FROM {table} r SEMI JOIN ({new_rows}) n ON {key_equal}"
            )
        else:
            changed = new_rows
        con.execute(f"CREATE OR REPLACE TEMP TABLE {CHANGED} AS {changed}")
        group = _GROUP_KEY.get(spec.name, spec.key)
        group_match = key_match(spec, "r", "c", key=group)
        affected = (
            f"SELECT {cols} FROM {CHANGED} UNION ALL "
            f"SELECT {cols} FROM {table} r SEMI JOIN {CHANGED} c ON {group_match}"
        )
    else:
        affected = new_rows
    needed = ", ".join(q(c) for c in SCOPE_COLUMNS[spec.name])
    month_sql = (
        affected_scopes(spec.name, AFFECTED, stored_outgoing_numbers(con), stored_citations(con))
        if spec.name == "documents"
        else affected_scopes(spec.name, AFFECTED)
    )
    parts = []
    if month_sql is not None:
        parts.append(
            "SELECT first_date, last_date, staff_id, patterns_only, false AS scorecard_only "
            f"FROM ({month_sql}) AS month_scopes (first_date, last_date, staff_id, patterns_only)"
        )
    if card_scopes is not None:
        parts.append(
            "SELECT first_date, first_date, CAST(NULL AS VARCHAR), false, true "
            f"FROM ({card_scopes}) AS card_scopes (first_date)"
        )
    scopes = " UNION ALL ".join(parts)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {AFFECTED} AS SELECT {needed} FROM ({affected})")
    con.execute(
        f"""
        INSERT INTO audit.pending_months
            (month_start, open_ended, source, delivery_id, recorded_at, staff_id, patterns_only,
            scorecard_only)
        WITH spans AS (
            SELECT DISTINCT
                CAST(date_trunc('month', first_date) AS DATE) AS first_month,
                CAST(date_trunc('month', last_date) AS DATE) AS last_month,
                staff_id,
                patterns_only,
                scorecard_only
            FROM ({scopes}) AS scopes
                (first_date, last_date, staff_id, patterns_only, scorecard_only)
            WHERE first_date IS NOT NULL
        ),
        months AS (
            SELECT DISTINCT
                CAST(unnest(generate_series(
                    first_month,
                    greatest(first_month, coalesce(last_month, first_month)),
                    INTERVAL 1 MONTH
                )) AS DATE) AS month_start,
                last_month IS NULL AS open_ended,
                staff_id,
                patterns_only,
                scorecard_only
            FROM spans
        )
        SELECT month_start, open_ended, {lit(spec.name)}, {delivery_id}, ?, staff_id,
            patterns_only, scorecard_only
        FROM months
        """,
        [now],
    )
    con.execute(f"DROP TABLE IF EXISTS {CHANGED}")
    con.execute(f"DROP TABLE IF EXISTS {AFFECTED}")


# month -> the staff_ids to rebuild in it, or None for everyone
MonthScope = dict[dt.date, list[str] | None]


@dataclass(frozen=True)
class RebuildScope:
    """What a build rebuilds: for the entry and staff-day models, and for declaration_patterns
    (whose submission batches span a person's months), each month for everyone or for some
    staff members."""

    entries: MonthScope
    patterns: MonthScope
    latest_delivery: int  # the latest queued delivery it covers
    # the months whose periods kpi_scorecard rebuilds, for everyone, besides the entries'
    scorecard: frozenset[dt.date] = frozenset()

    @property
    def scorecard_months(self) -> list[dt.date]:
        """The months whose month and quarter kpi_scorecard rebuilds: every month the entries
        rebuild, and those an evaluation or a document due in them changed."""
        return sorted(set(self.entries) | self.scorecard)

    @property
    def months(self) -> list[dt.date]:
        """Every month some model rebuilds."""
        return sorted(set(self.entries) | set(self.patterns) | self.scorecard)


def months_to_rebuild(
    con: duckdb.DuckDBPyConnection, extra: tuple[dt.date, dt.date] | None = None
) -> RebuildScope:
    """The queued months and staff members (open-ended ones up to the latest work_date's
    month), plus the months of `extra` (first, last month) and the months entering or leaving
    the reporting range, for everyone."""
    row = con.execute(
        "SELECT CAST(date_trunc('month', min(work_date)) AS DATE), "
        "CAST(date_trunc('month', max(work_date)) AS DATE) FROM raw.worklog"
    ).fetchone()
    first_month, last_month = row if row else (None, None)
    queued = con.execute(
        """
        WITH expanded AS (
            SELECT
                CASE WHEN open_ended AND $first IS NOT NULL
                    THEN CAST(unnest(generate_series(
                        greatest(month_start, $first), $last, INTERVAL 1 MONTH
                    )) AS DATE)
                    ELSE month_start
                END AS month_start,
                staff_id,
                patterns_only,
                scorecard_only
            FROM audit.pending_months
            WHERE NOT open_ended OR $first IS NOT NULL
        )
        SELECT
            month_start,
            bool_or(staff_id IS NULL AND NOT patterns_only AND NOT scorecard_only)
                AS entries_for_everyone,
            bool_or(staff_id IS NULL AND NOT scorecard_only) AS patterns_for_everyone,
            list(DISTINCT staff_id ORDER BY staff_id)
                FILTER (WHERE staff_id IS NOT NULL AND NOT patterns_only) AS entry_staff,
            list(DISTINCT staff_id ORDER BY staff_id)
                FILTER (WHERE staff_id IS NOT NULL) AS pattern_staff,
            bool_or(scorecard_only) AS scorecard
        FROM expanded
        WHERE month_start IS NOT NULL
        GROUP BY month_start
        """,
        {"first": first_month, "last": last_month},
    ).fetchall()
    entries: MonthScope = {}
    patterns: MonthScope = {}
    scorecard: set[dt.date] = set()
    for month, entries_all, patterns_all, entry_staff, pattern_staff, card in queued:
        if entries_all or entry_staff:
            entries[month] = _staff_or_everyone(entries_all, entry_staff)
        if patterns_all or pattern_staff:
            patterns[month] = _staff_or_everyone(patterns_all, pattern_staff)
        if card:
            scorecard.add(month)
    for_everyone = set(_range_changes(con, first_month, last_month))
    if extra is not None:
        for_everyone.update(_month_range(*extra))
    for month in for_everyone:
        entries[month] = patterns[month] = None
    _fit_plan(entries, patterns)
    latest = con.execute("SELECT coalesce(max(delivery_id), 0) FROM audit.pending_months")
    return RebuildScope(
        entries=dict(sorted(entries.items())),
        patterns=dict(sorted(patterns.items())),
        latest_delivery=int((latest.fetchone() or (0,))[0]),
        scorecard=frozenset(scorecard),
    )


def _fit_plan(entries: MonthScope, patterns: MonthScope) -> None:
    """Widen the months with the longest staff lists to everyone until the plan lists at most
    PLAN_STAFF_LIMIT staff_ids; a month widened for the entries is widened for the patterns
    too, whose scope holds the entries'."""

    def listed() -> int:
        return sum(len(ids or []) for scope in (entries, patterns) for ids in scope.values())

    while listed() > PLAN_STAFF_LIMIT:
        month = max(patterns, key=lambda m: len(patterns[m] or []))
        patterns[month] = None
        if month in entries:
            entries[month] = None


def _staff_or_everyone(for_everyone: bool, staff_ids: list[str] | None) -> list[str] | None:
    if for_everyone or staff_ids is None or len(staff_ids) > STAFF_SCOPE_LIMIT:
        return None
    return list(staff_ids)


def _range_changes(
    con: duckdb.DuckDBPyConnection, first_month: dt.date | None, last_month: dt.date | None
) -> list[dt.date]:
    """Months entering or leaving the reporting range (whole months from the first to the last
    work_date) since the range the last finished dbt step built: their staff-days appear or go
    for everyone, not only for who changed.

    The range built is the one `record_built_range` kept, not `int_reporting_range_derived`
    itself: a build stopped (killed, or a failed model or test) after dbt rebuilt that table and
    before it rebuilt the staff-days left the table holding the new range, and the next build
    then rebuilt the new month for the people whose rows changed only, never for the others
    (their working days without entries were missing from fct_staff_day)."""
    previous = None
    if _table_exists(con, "audit.built_range"):
        previous = con.execute(
            "SELECT CAST(date_trunc('month', range_start) AS DATE), "
            "CAST(date_trunc('month', range_end) AS DATE) FROM audit.built_range"
        ).fetchone()
    if previous is None:
        # nothing recorded yet: a warehouse built by an earlier version, or an empty range
        if not _table_exists(con, "intermediate.int_reporting_range_derived"):
            return []
        previous = con.execute(
            "SELECT CAST(date_trunc('month', range_start) AS DATE), "
            "CAST(date_trunc('month', range_end) AS DATE) "
            "FROM intermediate.int_reporting_range_derived"
        ).fetchone()
    before = set(_month_range(*previous)) if previous and None not in previous else set()
    now = set(_month_range(first_month, last_month)) if first_month and last_month else set()
    return sorted(before ^ now)


def clear_pending(con: duckdb.DuckDBPyConnection, up_to_delivery: int | None = None) -> None:
    """Forget the queued months a successful build covered."""
    if up_to_delivery is None:
        con.execute("DELETE FROM audit.pending_months")
    else:
        con.execute("DELETE FROM audit.pending_months WHERE delivery_id <= ?", [up_to_delivery])


def record_built_range(con: duckdb.DuckDBPyConnection) -> None:
    """Keep the reporting range a finished dbt step built (see _range_changes); in the
    transaction that clears the queue it covered."""
    con.execute(BUILT_RANGE_DDL)
    con.execute("DELETE FROM audit.built_range")
    if _table_exists(con, "intermediate.int_reporting_range_derived"):
        con.execute(
            "INSERT INTO audit.built_range SELECT range_start, range_end "
            "FROM intermediate.int_reporting_range_derived WHERE range_start IS NOT NULL"
        )


def _month_range(first: dt.date, last: dt.date) -> list[dt.date]:
    months = []
    month = first.replace(day=1)
    while month <= last:
        months.append(month)
        month = (month + dt.timedelta(days=32)).replace(day=1)
    return months
