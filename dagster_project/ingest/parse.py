"""Header mapping, typed casting and row validation, all in bulk SQL.

The all-text rows of a file (see ``readers.py``) become a TEMP table with, per row:
``_row`` (spreadsheet row number; for a CSV, from the table's insertion order), ``t_<col>``
(typed value), ``_extra`` (JSON of extra columns), ``_raw`` (JSON of the raw cells, for
rows with problems only) and ``_err``:
an empty string for a valid row, otherwise the row's problems, each as
``code<RS>column<RS>explanation``, separated by ``<US>``. The first problem's code is the
row's quarantine reason code.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from .contract import Column, Source, norm_label
from .errors import FileRejected
from .readers import StagedFile

RS = "chr(30)"  # between the fields of one problem
US = "chr(31)"  # between problems
# whitespace Excel and E-Office leave around values, including the no-break space
TRIM_CHARS = "' \t\r\n\u00a0'"
# each test costs about as much as reading the column; these three cover what editors leave
_WS = ("' '", "'\t'", "'\u00a0'")


def _trimmed(c: str) -> str:
    # trim() copies every string; testing the ends first keeps clean values zero-copy,
    # which makes a clean file several times faster to type
    ends = " OR ".join(f"prefix({c}, {x}) OR suffix({c}, {x})" for x in _WS)
    return f"nullif(CASE WHEN {ends} THEN trim({c}, {TRIM_CHARS}) ELSE {c} END, '')"


def q(ident: str) -> str:
    return '"' + ident.replace('"', '""') + '"'


def lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def key_match(
    spec: Source, left: str, right: str, right_prefix: str = "", key: tuple[str, ...] = ()
) -> str:
    """SQL matching rows of alias ``left`` and ``right`` on the source's key (or ``key``).
    Columns that are never null compare with `=`, the others with IS NOT DISTINCT FROM: an
    equality lets DuckDB push the new rows' key range into the scan of the stored table, whose
    zone maps then skip the row groups of other deliveries (a day's load at a province year
    read every stored key three times, 4.5 s)."""
    return " AND ".join(
        f"{left}.{q(k)} "
        + ("=" if spec.column(k).never_null else "IS NOT DISTINCT FROM")
        + f" {right}.{q(right_prefix + k)}"
        for k in key or spec.key
    )


@dataclass
class HeaderMap:
    canonical: dict[str, int]  # canonical column -> file column index
    extras: list[tuple[str, int]]  # (name kept in _extra, file column index)
    notes: list[str]


def map_headers(source: Source, headers: list[str], rel: str) -> HeaderMap:
    known = source.header_map()
    canonical: dict[str, int] = {}
    extras: list[tuple[str, int]] = []
    seen_extra: set[str] = set()
    for i, h in enumerate(headers):
        n = norm_label(h)
        name = known.get(n)
        if name is not None:
            if name in canonical:
                j = canonical[name]
                raise FileRejected(
                    "duplicate_column",
                    f"{rel}: columns {j + 1} '{headers[j].strip()}' and {i + 1} '{h.strip()}' "
                    f"both mean {name}; keep only one",
                )
            canonical[name] = i
            continue
        base = " ".join(h.split()) or f"column_{i + 1}"
        key, k = base, 2
        while key in seen_extra or key in source.column_names:
            key, k = f"{base}_{k}", k + 1
        seen_extra.add(key)
        extras.append((key, i))
    missing = [c.name for c in source.columns if c.required and c.name not in canonical]
    if missing:
        labels = ", ".join(f"{m} ('{source.column(m).label}')" for m in missing)
        hint = ""
        if len(headers) <= 2 and any(d in "".join(headers) for d in (";", "\t", "|")):
            hint = "; the header looks split by another delimiter than ',' (wrong delimiter?)"
        raise FileRejected(
            "missing_column",
            f"{rel}: missing required column{'s' if len(missing) > 1 else ''} {labels}{hint}",
        )
    notes = []
    if extras:
        notes.append(
            f"{rel}: extra column{'s' if len(extras) > 1 else ''} kept in _extra: "
            + ", ".join(f"'{k}'" for k, _ in extras)
        )
    return HeaderMap(canonical, extras, notes)


_NATIVE_SQL = {"date": "DATE", "datetime": "TIMESTAMP", "decimal": "DOUBLE", "int": "DOUBLE"}
_QUOTE = "''''"  # SQL literal of one single quote


def _shown(v: str) -> str:
    # keep messages one readable line even for very long or multi-line values
    return f"'''' || replace(left({v}, 60), chr(10), ' ') || '''' || "


def _typed_expr(col: Column, v: str, nfc: bool = True) -> str:
    k = col.kind
    if k == "text":
        if not col.nfc or not nfc:
            return v
        # nfc_normalize is slow; ASCII (byte length = character length) is already NFC
        return f"CASE WHEN strlen({v}) = length({v}) THEN {v} ELSE nfc_normalize({v}) END"
    if k == "date":
        return (
            f"CASE WHEN {v} LIKE '____-__-__' THEN try_cast({v} AS DATE) "
            rf"WHEN regexp_full_match({v}, '\d{{1,2}}/\d{{1,2}}/\d{{4}}') "
            f"THEN CAST(try_strptime({v}, '%d/%m/%Y') AS DATE) END"
        )
    if k == "datetime":
        # LIKE first: the ISO form is the common case and LIKE is much cheaper than a regex
        iso = " OR ".join(
            f"{v} LIKE '____-__-__{sep}__:__{sec}'" for sep in (" ", "T") for sec in ("", ":__")
        )
        return (
            f"CASE WHEN {iso} THEN try_cast({v} AS TIMESTAMP) "
            rf"WHEN regexp_full_match({v}, '\d{{4}}-\d{{1,2}}-\d{{1,2}}[ T]\d{{1,2}}:\d{{2}}"
            rf"(:\d{{2}}(\.\d+)?)?') THEN try_cast({v} AS TIMESTAMP) "
            rf"WHEN regexp_full_match({v}, '\d{{1,2}}/\d{{1,2}}/\d{{4}} \d{{1,2}}:\d{{2}}"
            rf"(:\d{{2}})?') THEN try_strptime({v}, ['%d/%m/%Y %H:%M:%S', '%d/%m/%Y %H:%M']) END"
        )
    if k == "decimal":
        # "1,5" is a Vietnamese decimal comma only when there is no '.' as well
        return (
            f"try_cast(CASE WHEN contains({v}, ',') AND NOT contains({v}, '.') "
            f"THEN replace({v}, ',', '.') ELSE {v} END AS DOUBLE)"
        )
    if k == "int":
        # canonical digits round-trip through the cast (cheap); anything else must match
        # the regex, which keeps try_cast from accepting '1e3', '0x10' or rounding '1.5'
        return (
            f"CASE WHEN CAST(try_cast({v} AS INTEGER) AS VARCHAR) = {v} "
            f"THEN try_cast({v} AS INTEGER) "
            rf"WHEN regexp_full_match({v}, '[+-]?\d+(\.0+)?') "
            f"THEN try_cast(split_part({v}, '.', 1) AS INTEGER) END"
        )
    if k == "bool":
        slow = (
            f"CASE lower(nfc_normalize(trim({v}, {TRIM_CHARS}))) WHEN 'true' THEN true "
            "WHEN '1' THEN true WHEN 'x' THEN true WHEN 'có' THEN true WHEN 'false' THEN false "
            "WHEN '0' THEN false WHEN 'không' THEN false END"
        )
        return f"CASE {v} WHEN 'true' THEN true WHEN 'false' THEN false ELSE {slow} END"
    if k == "enum":
        whens = []
        for canon, labels in col.enum.items():
            for label in {norm_label(canon), *(norm_label(x) for x in labels)}:
                whens.append(f"WHEN {lit(label)} THEN {lit(canon)}")
        slow = (
            f"CASE lower(nfc_normalize(trim(regexp_replace({v}, '\\s+', ' ', 'g')))) "
            + " ".join(whens)
            + " END"
        )
        # a simple CASE on the canonical values: an IN list is planned as a join
        fast = " ".join(f"WHEN {lit(c)} THEN {lit(c)}" for c in col.enum)
        return f"CASE {v} {fast} ELSE {slow} END"
    if k == "list":
        items = f"nfc_normalize({v})" if nfc else v
        return (
            f"nullif(array_to_string(list_filter(list_transform(string_split("
            f"{items}, ';'), lambda y: trim(y, {TRIM_CHARS})), "
            f"lambda y: y <> ''), ';'), '')"
        )
    if k == "period":
        return (
            rf"CASE WHEN regexp_full_match({v}, '\d{{4}}-(0[1-9]|1[0-2])') THEN {v} "
            rf"WHEN regexp_full_match({v}, '(0?[1-9]|1[0-2])/\d{{4}}') "
            f"THEN split_part({v}, '/', 2) || '-' || lpad(split_part({v}, '/', 1), 2, '0') END"
        )
    raise ValueError(k)


_EXPECTED = {
    "date": "is not a date (YYYY-MM-DD or DD/MM/YYYY)",
    "datetime": "is not a date-time (YYYY-MM-DD HH:MM[:SS] or DD/MM/YYYY HH:MM[:SS])",
    "decimal": "is not a number (1.5 or 1,5)",
    "int": "is not a whole number",
    "bool": "is not a yes/no value (true/false, 1/0, x, có/không)",
    "list": "has no items",
    "period": "is not a period (YYYY-MM)",
    "text": "is empty",
}
_BAD_CODE = {
    "date": "bad_date",
    "datetime": "bad_datetime",
    "decimal": "bad_decimal",
    "int": "bad_integer",
    "bool": "bad_bool",
    "enum": "unknown_enum",
    "period": "bad_period",
}


def _problem(code: str, column: str, explanation_sql: str) -> str:
    return f"{lit(code)} || {RS} || {lit(column)} || {RS} || {explanation_sql}"


def _check_expr(col: Column, c: str, t: str, native: bool = False) -> str | None:
    """Problems of one column. ``c`` is the raw cell, ``t`` the typed value; the trimmed
    text ``e`` is only computed inside the branches, i.e. for rows with a problem.
    ``native``: DuckDB's CSV reader already cast the cell (it rejects what it cannot cast)."""
    e = f"CAST({c} AS VARCHAR)" if native else f"nullif(trim({c}, {TRIM_CHARS}), '')"
    if native and col.kind == "int":
        e = f"coalesce(CAST({t} AS VARCHAR), {e})"  # '1500', not the reader's '1500.0'"
    inner = []
    if col.required:
        # for text and lists (no parse failure possible) a null value is a missing one,
        # including a list of only empty items
        missing = f"WHEN {e} IS NULL " if col.kind in _BAD_CODE else "WHEN true "
        inner.append(
            missing + "THEN " + _problem("missing_required", col.name, "'required value is empty'")
        )
    if col.kind in _BAD_CODE:
        if col.kind == "enum":
            allowed = ", ".join(col.enum)
            expl = _shown(e) + lit(f" is not one of {allowed} (or their Vietnamese labels)")
        else:
            expl = _shown(e) + lit(" " + _EXPECTED[col.kind])
        bad = _problem(_BAD_CODE[col.kind], col.name, expl)
        inner.append(f"WHEN {e} IS NOT NULL THEN {bad}")
    whens = []
    if inner:
        whens.append(f"WHEN {t} IS NULL THEN CASE {' '.join(inner)} END")
    if native and col.kind in ("date", "datetime"):
        # the reader takes '25-03-05' for the year 25; the contract wants four digits
        low = "DATE '1000-01-01'" if col.kind == "date" else "TIMESTAMP '1000-01-01'"
        expl = _shown(e) + lit(" " + _EXPECTED[col.kind])
        whens.append(f"WHEN {t} < {low} THEN " + _problem(_BAD_CODE[col.kind], col.name, expl))
    if col.kind == "decimal":
        expl = _shown(e) + lit(" " + _EXPECTED["decimal"])
        whens.append(f"WHEN NOT isfinite({t}) THEN " + _problem("bad_decimal", col.name, expl))
    conds = []
    if col.min_value is not None:
        conds.append(f"{t} {'<=' if col.min_exclusive else '<'} {col.min_value!r}")
    if col.max_value is not None:
        conds.append(f"{t} > {col.max_value!r}")
    if conds:
        expl = _shown(e) + lit(f" is out of range (must be {col.bounds_text()})")
        whens.append(f"WHEN {' OR '.join(conds)} THEN " + _problem("out_of_range", col.name, expl))
    if not whens:
        return None
    return "CASE " + " ".join(whens) + " END"


def _column_value(col: Column, c: str, nfc: bool = True) -> str:
    """Typed value of raw cell ``c``: parsed as it is first (clean files), then trimmed."""
    if col.kind == "text":
        return _typed_expr(col, _trimmed(c), nfc)
    if col.kind in ("list", "enum"):
        return _typed_expr(col, c, nfc)  # both trim inside
    e = f"nullif(trim({c}, {TRIM_CHARS}), '')"
    first = _typed_expr(col, c)
    # CASE, not coalesce: only CASE branches run on the remaining rows alone, so the trim
    # costs nothing on a clean file (the repeated expression is computed once by DuckDB)
    fallback = _typed_expr(col, e)
    if col.default is not None:
        # an empty cell takes the default; a bad value stays bad
        fallback = (
            f"CASE WHEN {e} IS NULL THEN {_typed_expr(col, lit(col.default))} ELSE {fallback} END"
        )
    return f"CASE WHEN {first} IS NOT NULL THEN {first} ELSE {fallback} END"


def typed_table_sql(
    source: Source,
    staged: StagedFile,
    hmap: HeaderMap,
    out_table: str,
    native: frozenset[str] = frozenset(),
) -> str:
    """SQL creating ``out_table``: per row ``_row`` (when the reader knows it), the typed
    ``t_<col>`` values, ``_extra``, ``_err`` and, for rows with problems only, ``_raw``.
    Columns named in ``native`` arrive already typed (DATE, TIMESTAMP, DOUBLE; integers as
    DOUBLE, kept when whole)."""
    s_cols = ["*"]
    t_cols = []
    checks = []
    for col in source.columns:
        idx = hmap.canonical.get(col.name)
        c = f"c{idx}" if idx is not None else "NULL::VARCHAR"
        t = q("t_" + col.name)
        is_native = col.name in native and idx is not None
        value = c if is_native else _column_value(col, c, staged.needs_nfc)
        if col.default is not None and is_native:
            value = f"coalesce({c}, {lit(col.default)}::{_NATIVE_SQL[col.kind]})"
        if is_native and col.kind == "int":
            value = (
                f"CASE WHEN isfinite({value}) AND {value} = floor({value}) "
                f"AND {value} BETWEEN -2147483648 AND 2147483647 "
                f"THEN CAST({value} AS INTEGER) END"
            )
        t_cols.append(f"{value} AS {t}")
        chk = _check_expr(col, c, t, is_native)
        if chk:
            checks.append(chk)
    for start, end in source.intervals:
        ts, te = q("t_" + start), q("t_" + end)
        before = lit(f"' is before {start} '")
        expl = f"{_QUOTE} || CAST({te} AS VARCHAR) || {before} || CAST({ts} AS VARCHAR) || {_QUOTE}"
        checks.append(
            f"CASE WHEN {te} < {ts} THEN " + _problem("end_before_start", end, expl) + " END"
        )
    if source.name == "leave":
        expl = lit("half_day is only allowed when leave_start = leave_end")
        checks.append(
            "CASE WHEN t_half_day AND t_leave_end <> t_leave_start THEN "
            + _problem("half_day_multi_day", "half_day", expl)
            + " END"
        )
    err = f"concat_ws({US}, {', '.join(checks)})" if checks else "''"

    out = [] if staged.row_expr is None else [f"{staged.row_expr} AS _row"]
    out += [q("t_" + c.name) for c in source.columns]
    if hmap.extras:
        args = ", ".join(f"{lit(k)}, c{i}" for k, i in hmap.extras)
        out.append(f"CAST(json_object({args}) AS VARCHAR) AS _extra")
    else:
        out.append("NULL::VARCHAR AS _extra")
    out.append("_err")
    # 64-bit key hash: a cheap exact test that a file has no duplicate key (equal hashes
    # are then checked on the real key)
    key_hash = ", ".join(q("t_" + k) for k in source.key)
    out.append(f"hash({key_hash}) AS _kh")
    raw_args = [
        (c.name, i) for c in source.columns if (i := hmap.canonical.get(c.name)) is not None
    ]
    raw_args += hmap.extras
    raw_json = ", ".join(f"{lit(k)}, c{i}" for k, i in raw_args)
    # raw cells are kept for quarantined rows only: JSON for every row of a clean file
    # would cost as much as parsing it
    raw_sql = f"CAST(json_object({raw_json}) AS VARCHAR)"
    if source.name == "staff":
        # overlaps are found after this table is built, so staff keeps every row's cells
        out.append(f"{raw_sql} AS _raw")
    else:
        out.append(f"CASE WHEN _err <> '' THEN {raw_sql} END AS _raw")
    return (
        f"CREATE OR REPLACE TEMP TABLE {out_table} AS "
        f"WITH s AS (SELECT {', '.join(s_cols)} FROM {staged.source_sql}), "
        f"t AS (SELECT s.*, {', '.join(t_cols)} FROM s), "
        f"e AS (SELECT t.*, {err} AS _err FROM t) "
        f"SELECT {', '.join(out)} FROM e"
    )


def unnamed_empty_columns(
    con: duckdb.DuckDBPyConnection, staged: StagedFile, hmap: HeaderMap
) -> list[int]:
    """File columns with no header and no value at all (trailing commas, blank Excel columns)."""
    unnamed = [i for k, i in hmap.extras if not staged.headers[i].strip()]
    if not unnamed:
        return []
    counts = con.execute(
        "SELECT "
        + ", ".join(f"count(nullif(trim(c{i}), ''))" for i in unnamed)
        + f" FROM {staged.source_sql}"
    ).fetchone()
    assert counts is not None
    return [i for i, n in zip(unnamed, counts, strict=True) if n == 0]


def problems_message_sql(rel: str) -> str:
    """SQL expression: one readable line from ``_err`` and ``_row``."""
    return (
        f"{lit(rel)} || ' row ' || _row || ': ' || array_to_string(list_transform("
        f"string_split(_err, {US}), lambda e: 'column ' || split_part(e, {RS}, 2) || ' ' || "
        f"split_part(e, {RS}, 1) || ': ' || split_part(e, {RS}, 3)), '; ')"
    )
