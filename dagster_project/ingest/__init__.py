"""Ingestion of the raw landing zone into ``raw.<source>`` tables of the warehouse.

API (see ``load.py``): ``SOURCES``, ``ensure_raw_tables(con)``,
``ingest_source(con, raw_dir, source) -> SourceResult``, ``ledger_mismatches(con)``,
``IngestionError``; ``CONTRACT`` is the raw contract as Python data (``contract.py``).
``ingest_source`` works on the caller's connection, which must be in autocommit mode (each
file is written in its own transaction, so a failing file never leaves half its rows).

Delivery order. Each file of ``raw/<source>/`` (sub-folders included) is one *delivery*,
recorded in ``audit.ingestion_ledger`` with a ``delivery_id`` that grows with every
delivery ever ingested into this warehouse. Within a build, files are taken in lexical
order of their path relative to the raw dir; builds follow one another; so ``delivery_id``
*is* the delivery order, also across builds. A file whose SHA-256 was already ingested for
this source is not read again: an unchanged file is skipped without a new ledger row, a
copy under another name gets one ``skipped_duplicate`` row. A corrected file (same path,
new bytes) is a new, later delivery. Bytes that were loaded once stay a no-op even if
they come back later (contract: "already loaded is a no-op, whatever its name"); so do bytes
rejected before in the same format, while bytes rejected for their name (unsupported, or CSV
named .xlsx) are read again under an accepted one. A file that changes while it is read is
left for the next build. Entries of the raw folder that are not source folders are named by
``stray_entries`` (nothing in them is loaded).

Upsert. Rows are upserted by the source key (``contract.py``; a null ``stage_code`` in the
tasks key is a value like any other): the rows of a later delivery replace the stored rows
with the same key. Inside one file the later row wins and the earlier one is counted as
loaded, then superseded, exactly as if each row were its own delivery; nothing goes to
quarantine for it, and the ledger message lists it as ``duplicate_key_in_file`` with the
row numbers. Worklog keeps every revision (key ``entry_id, revision``); dbt picks the
highest. Per file, ``rows_read = rows_loaded + rows_quarantined``.

Row numbers (``_source_row``, ``audit.quarantine.row_number``) are what a spreadsheet shows:
header = row 1, first data row = 2, a value with a line break does not shift them. For an
XLSX with empty rows above the header, the real Excel row.

How a CSV is read (fast path, ``load._build_typed_csv``): DuckDB's ``read_csv`` parses the
file once, casting date, date-time and decimal columns itself (as fast as a plain
``read_csv``) and setting aside, with their row numbers (``store_rejects``), the records it
cannot cast or split. Those records alone are re-read as text by the flexible SQL path
(``DD/MM/YYYY``, ``"1,5"``, or a reason code). Everything else (trimming, NFC when the file
holds combining marks, enums, integers, lists, ranges, required values) is bulk SQL.

Timestamps from the files are local time (Asia/Ho_Chi_Minh) without zone, as delivered;
``_loaded_at``, ``loaded_at`` and ``quarantined_at`` are UTC.

Row-level reason codes in ``audit.quarantine`` (row_number set):

- ``missing_required`` a required value is empty (a list with only empty items too)
- ``bad_date`` / ``bad_datetime`` / ``bad_decimal`` / ``bad_integer`` / ``bad_bool`` /
  ``bad_period`` the text is not a value of the column's type (``31/02/2025``, two-digit
  years, a time without a date, ``45.5`` as an integer, ...)
- ``unknown_enum`` neither a canonical value nor a Vietnamese label
- ``out_of_range`` a numeric bound of the contract: quantity > 0, declared_minutes 1..1440,
  revision >= 1, approved_headcount >= 0, standard_minutes > 0, quality_score 0..100,
  general_score 0..30
- ``end_before_start`` valid_to < valid_from, assignment_end < assignment_start,
  end_at < start_at, leave_end < leave_start
- ``half_day_multi_day`` leave.half_day on a leave longer than one day
- ``overlapping_assignment`` staff: an assignment overlapping one of the same person that
  was delivered before it (an earlier row of the same file, or an earlier delivery)
- ``wrong_field_count`` a CSV row with more or fewer fields than the header

File-level reason codes (row_number null; ledger status ``rejected``, or ``unsupported``):
``unsupported_file``, ``empty_file``, ``missing_header``, ``bad_encoding`` (UTF-16,
Windows-1258, invalid UTF-8), ``nul_bytes``, ``malformed_csv`` (unterminated quote,
truncated file), ``corrupt_xlsx``, ``unreadable_file``, ``missing_column`` (also what a
wrong delimiter looks like; the message says so), ``duplicate_column``.

References to unknown staff, tasks or agencies are not errors here: they load, and dbt
flags them. See ``tests/bad_inputs/README.md`` for the catalogue of bad inputs.
"""

from .contract import CONTRACT, SOURCES
from .errors import IngestionError
from .load import (
    SourceResult,
    ensure_raw_tables,
    ingest_source,
    ledger_mismatches,
    stray_entries,
)

__all__ = [
    "CONTRACT",
    "SOURCES",
    "IngestionError",
    "SourceResult",
    "ensure_raw_tables",
    "ingest_source",
    "ledger_mismatches",
    "stray_entries",
]
