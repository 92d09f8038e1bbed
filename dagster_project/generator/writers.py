"""Writing sources in the contract's file forms: CSV (with or without BOM) or XLSX, canonical
or Vietnamese headers (NFC or NFD), ISO or DD/MM/YYYY dates, '.' or quoted ',' decimals."""

from __future__ import annotations

import io
import unicodedata
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from .schema import ENUM_LABELS, columns, kinds, labels

XLSX_MAX_ROWS = 1_000_000
# Constant workbook metadata: the same arguments must give byte-identical files.
XLSX_CREATED = datetime(2025, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class FileForm:
    fmt: str = "csv"  # csv | xlsx
    bom: bool = False
    vn_headers: bool = False
    nfd_headers: bool = False
    dmy_dates: bool = False
    decimal_comma: bool = False
    enum_labels: bool = False
    bool_style: str = "truefalse"  # truefalse | x | co | 10


CANONICAL = FileForm()

_MIXED: dict[str, list[FileForm]] = {
    "agencies": [FileForm(bom=True)],
    "positions": [FileForm(vn_headers=True, nfd_headers=True)],
    "tasks": [FileForm(fmt="xlsx", vn_headers=True)],
    "staff": [FileForm(bom=True, vn_headers=True, dmy_dates=True, bool_style="x")],
    "worklog": [
        FileForm(),
        FileForm(bom=True, vn_headers=True, dmy_dates=True, decimal_comma=True, enum_labels=True),
    ],
    "documents": [FileForm(fmt="xlsx", vn_headers=True, enum_labels=True)],
    "events": [FileForm(enum_labels=True), FileForm(bom=True, dmy_dates=True)],
    "leave": [FileForm(dmy_dates=True, bool_style="co"), FileForm(bool_style="10")],
    "evaluations": [FileForm(fmt="xlsx"), FileForm(fmt="xlsx", vn_headers=True)],
}


def form_for(source: str, formats: str, clean: bool, index: int) -> FileForm:
    """The form of the ``index``-th file of a source (forms alternate by month)."""
    if clean:
        return CANONICAL
    forms = _MIXED[source]
    f = forms[index % len(forms)]
    if formats == "csv":
        # the same messiness, written as CSV
        return replace(f, fmt="csv")
    if formats == "xlsx":
        return FileForm(
            fmt="xlsx", vn_headers=f.vn_headers, enum_labels=f.enum_labels, bool_style=f.bool_style
        )
    return f


def _fmt_dates(values: np.ndarray, dmy: bool, with_time: bool) -> pa.Array:
    unit = "m" if with_time else "D"
    arr = pa.array(
        np.asarray(values)
        .astype(f"datetime64[{unit}]")
        .astype("datetime64[s]" if with_time else "datetime64[D]")
    )
    if with_time:
        fmt = "%d/%m/%Y %H:%M" if dmy else "%Y-%m-%d %H:%M"
    else:
        fmt = "%d/%m/%Y" if dmy else "%Y-%m-%d"
    return pc.strftime(arr, format=fmt)


def _fmt_decimal(values: np.ndarray, comma: bool) -> pa.Array:
    v = np.asarray(values, dtype=float)
    arr = pa.array(np.round(v, 4), mask=np.isnan(v))
    whole = pc.equal(arr, pc.floor(arr))
    s = pc.if_else(
        whole, pc.cast(pc.cast(arr, pa.int64(), safe=False), pa.string()), pc.cast(arr, pa.string())
    )
    if comma:
        s = pc.replace_substring(s, ".", ",")
    return s


_BOOL = {"truefalse": ("true", "false"), "x": ("x", None), "co": ("có", "không"), "10": ("1", "0")}


def to_strings(df: pd.DataFrame, source: str, form: FileForm) -> dict[str, pa.Array]:
    """Every column of ``df`` as a string array in ``form`` (nulls stay null)."""
    out: dict[str, pa.Array] = {}
    kind = kinds(source)
    for col in columns(source):
        k = kind[col]
        v = df[col].to_numpy() if col in df else np.full(len(df), None, dtype=object)
        if k in ("date", "datetime") and v.dtype.kind == "M":
            a = _fmt_dates(v, form.dmy_dates, k == "datetime")
        elif k == "decimal":
            a = _fmt_decimal(v, form.decimal_comma)
        elif k == "int" and v.dtype.kind in "iuf":
            a = pc.cast(pa.array(v.astype(np.int64)), pa.string())
        elif k == "bool":
            t, f = _BOOL[form.bool_style]
            a = pa.array(np.where(v.astype(bool), t, f), type=pa.string())
        else:
            vals = pd.Series(v, dtype=object)
            vals = vals.where(vals.notna() & (vals != ""), None)
            if k == "enum" and form.enum_labels and (source, col) in ENUM_LABELS:
                m = ENUM_LABELS[(source, col)]
                vals = vals.map(lambda x, m=m: m.get(x, x) if x is not None else None)
            a = pa.array(vals.to_numpy(object), type=pa.string(), from_pandas=True)
        out[col] = a
    return out


def header(source: str, form: FileForm) -> list[str]:
    if not form.vn_headers:
        return columns(source)
    lab = labels(source)
    hs = [lab[c] for c in columns(source)]
    return [unicodedata.normalize("NFD", h) for h in hs] if form.nfd_headers else hs


def _csv_field(text: str) -> str:
    if any(c in text for c in ',"\n\r'):
        return '"' + text.replace('"', '""') + '"'
    return text


def write_table(path: Path, source: str, cols: dict[str, pa.Array], form: FileForm) -> list[Path]:
    """Write one file (XLSX larger than a sheet is split into numbered parts)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if form.fmt == "xlsx":
        n = len(next(iter(cols.values()))) if cols else 0
        paths = []
        parts = max(1, -(-n // XLSX_MAX_ROWS))
        for i in range(parts):
            p = (
                path.with_suffix(".xlsx")
                if parts == 1
                else path.with_name(f"{path.stem}-part{i + 1}.xlsx")
            )
            sl = {k: v.slice(i * XLSX_MAX_ROWS, XLSX_MAX_ROWS) for k, v in cols.items()}
            _write_xlsx(p, source, sl, form)
            paths.append(p)
        return paths
    p = path.with_suffix(".csv")
    table = pa.table(cols)
    buf = io.BytesIO()
    pacsv.write_csv(table, buf, pacsv.WriteOptions(include_header=False, quoting_style="needed"))
    head = ",".join(_csv_field(h) for h in header(source, form)) + "\n"
    with open(p, "wb") as fh:
        if form.bom:
            fh.write(b"\xef\xbb\xbf")
        fh.write(head.encode("utf-8"))
        fh.write(buf.getvalue())
    return [p]


def _write_xlsx(path: Path, source: str, cols: dict[str, pa.Array], form: FileForm) -> None:
    import xlsxwriter

    kind = kinds(source)
    wb = xlsxwriter.Workbook(
        str(path),
        {
            "constant_memory": True,
            "strings_to_numbers": False,
            "strings_to_formulas": False,
            "strings_to_urls": False,
        },
    )
    wb.set_properties({"created": XLSX_CREATED, "author": "E-Office", "title": source})
    ws = wb.add_worksheet(source)
    date_fmt = wb.add_format({"num_format": "dd/mm/yyyy"})
    dt_fmt = wb.add_format({"num_format": "dd/mm/yyyy hh:mm"})
    ws.write_row(0, 0, header(source, form))
    names = columns(source)
    pycols = [cols[c].to_pylist() for c in names]
    conv = [kind[c] for c in names]
    n = len(pycols[0]) if pycols else 0
    for r in range(n):
        for ci in range(len(names)):
            v = pycols[ci][r]
            if v is None:
                continue
            k = conv[ci]
            if k in ("date", "datetime"):
                # Valid ISO values become Excel date cells; broken ones stay text.
                try:
                    d = datetime(
                        int(v[:4]),
                        int(v[5:7]),
                        int(v[8:10]),
                        int(v[11:13] or 0),
                        int(v[14:16] or 0),
                    )
                    ws.write_datetime(r + 1, ci, d, date_fmt if k == "date" else dt_fmt)
                    continue
                except ValueError:
                    pass
            elif k in ("decimal", "int"):
                try:
                    num = float(v)
                    ws.write_number(r + 1, ci, int(num) if num.is_integer() else num)
                    continue
                except ValueError:
                    pass
            ws.write_string(r + 1, ci, v)
    wb.close()


_BREAKAGE = {
    "worklog": ("bad_date", "negative_quantity", "unknown_status", "missing_key"),
    "leave": ("end_before_start", "unknown_type", "bad_date"),
    "events": ("end_before_start", "unknown_type"),
    "documents": ("bad_date", "unknown_direction"),
}
_ID_COL = {"worklog": "entry_id", "events": "event_id", "documents": "doc_id"}


def with_broken_rows(
    cols: dict[str, pa.Array],
    source: str,
    rate: float,
    rng: np.random.Generator,
    form: FileForm,
    year: int,
) -> tuple[dict[str, pa.Array], int]:
    """Insert copies of random rows, each broken in one way that ingestion quarantines."""
    n = len(next(iter(cols.values()))) if cols else 0
    if source not in _BREAKAGE or rate <= 0 or n == 0:
        return cols, 0
    k = int(rng.binomial(n, rate))
    if k == 0:
        return cols, 0
    idx = np.sort(rng.integers(0, n, k))
    table = pa.table(cols)
    rows = table.take(pa.array(idx)).to_pylist()
    bad_date = f"31/02/{year}" if form.dmy_dates else f"{year}-02-30"
    kinds_ = _BREAKAGE[source]
    for j, row in enumerate(rows):
        what = kinds_[j % len(kinds_)]
        if source in _ID_COL and row.get(_ID_COL[source]):
            row[_ID_COL[source]] = f"{row[_ID_COL[source]]}-L{j + 1}"
        if what == "bad_date":
            col = {"worklog": "work_date", "leave": "leave_start", "documents": "issued_date"}[
                source
            ]
            row[col] = bad_date
            if source == "leave":
                row["leave_end"] = bad_date
        elif what == "negative_quantity":
            row["quantity"] = "-" + (row["quantity"] or "1")
        elif what == "unknown_status":
            row["status"] = "hoàn thành"
        elif what == "missing_key":
            row["entry_id"] = None
        elif what == "end_before_start":
            if source == "leave":
                row["leave_end"], row["leave_start"] = row["leave_start"], row["leave_end"]
                if row["leave_end"] == row["leave_start"]:
                    row["leave_start"] = "2099-12-31" if not form.dmy_dates else "31/12/2099"
            else:
                row["end_at"], row["start_at"] = row["start_at"], row["end_at"]
                if row["end_at"] == row["start_at"] or row["start_at"] is None:
                    row["end_at"] = (
                        f"{year}-01-01 00:00" if not form.dmy_dates else f"01/01/{year} 00:00"
                    )
        elif what == "unknown_type":
            col = "leave_type" if source == "leave" else "event_type"
            row[col] = "vacation" if source == "leave" else "party"
        elif what == "unknown_direction":
            row["direction"] = "nội bộ"
    broken = pa.Table.from_pylist(rows, schema=table.schema)
    pos = np.r_[np.arange(n, dtype=float), idx + 0.5]
    merged = pa.concat_tables([table, broken]).take(pa.array(np.argsort(pos, kind="stable")))
    return {c: merged.column(c).combine_chunks() for c in merged.column_names}, k
