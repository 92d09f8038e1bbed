"""Leadership Excel extracts: one workbook per agency, one province summary, one manifest.

    from dagster_project.extracts import write_extracts
    manifest = write_extracts(Path("data/warehouse.duckdb"), "2025-03", Path("exports"))

Files, for period P ("2025-03" or "2025-Q1"):
- `P_<AGENCY>.xlsx` per agency with data in the period: only that agency's staff;
- `P_toan-tinh.xlsx`, the province summary: counts only, no names or staff ids;
- `P_manifest.json`: every file with its sha256 and data rows per sheet.
The same warehouse content gives byte-identical files; a rerun replaces them atomically.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from dagster_project.extracts import labels
from dagster_project.extracts.manifest import (
    ExtractFile,
    ExtractManifest,
    manifest_bytes,
    read_manifest,
    sha256_of,
    write_atomic,
)
from dagster_project.extracts.period import ExtractError, Period, parse_period, resolve_period
from dagster_project.extracts.queries import load_period
from dagster_project.extracts.workbook import agency_workbook, province_workbook

__all__ = [
    "ExtractError",
    "ExtractFile",
    "ExtractManifest",
    "Period",
    "agency_file_name",
    "manifest_file_name",
    "parse_period",
    "province_file_name",
    "write_extracts",
]

_UNSAFE_FILE_CHARS = re.compile(r"[^A-Za-z0-9._-]+")


def agency_file_name(period: str, agency_code: str) -> str:
    return f"{period}_{_UNSAFE_FILE_CHARS.sub('-', agency_code).strip('-.') or 'X'}.xlsx"


def province_file_name(period: str) -> str:
    return f"{period}_{labels.PROVINCE_FILE_TAG}.xlsx"


def manifest_file_name(period: str) -> str:
    return f"{period}_manifest.json"


def write_extracts(warehouse: Path, period: str, out_dir: Path) -> ExtractManifest:
    """Write the period's workbooks and manifest into out_dir; return the manifest.

    Raises ExtractError when the period is malformed, the warehouse is missing or unreadable,
    or it has no data for the period. Nothing is written in those cases.
    """
    resolved = resolve_period(period)
    data = load_period(Path(warehouse), resolved)
    out_dir = Path(out_dir)

    names: dict[str, str] = {}
    for code in data.agency_codes:
        name = agency_file_name(resolved.text, code)
        if name in names.values() or name == province_file_name(resolved.text):
            raise ExtractError(
                f"Agency code {code!r} gives the file name {name}, already used by another "
                "file of this period: rename the agency code in HR."
            )
        names[code] = name

    # Build every workbook in memory before writing any, so a failure leaves the previous
    # run's files whole.
    built: list[tuple[str, str, str | None, bytes, dict[str, int]]] = []
    payload, rows = province_workbook(data)
    built.append((province_file_name(resolved.text), "province", None, payload, rows))
    for code in data.agency_codes:
        payload, rows = agency_workbook(data, code)
        built.append((names[code], "agency", code, payload, rows))

    manifest_path = out_dir / manifest_file_name(resolved.text)
    previous = read_manifest(manifest_path)
    files: list[ExtractFile] = []
    for name, kind, code, payload, rows in built:
        target = out_dir / name
        write_atomic(target, payload)
        files.append(
            ExtractFile(
                name=name,
                kind=kind,
                agency_code=code,
                sha256=sha256_of(target),
                size_bytes=len(payload),
                sheet_rows=rows,
            )
        )
    manifest = ExtractManifest(
        period=resolved.text,
        period_type=resolved.kind,
        period_start=resolved.start.isoformat(),
        period_end=resolved.end.isoformat(),
        files=files,
        path=manifest_path,
    )
    write_atomic(manifest_path, manifest_bytes(manifest))
    _remove_stale(out_dir, previous, {f.name for f in files})
    return manifest


def _remove_stale(out_dir: Path, previous: dict[str, Any] | None, current: set[str]) -> None:
    """Drop workbooks an earlier run of this period wrote that this run no longer produces
    (an agency without data any more), so the folder matches the manifest. Only files the
    previous manifest lists are touched."""
    if not previous or not isinstance(previous.get("files"), list):
        return
    for item in previous["files"]:
        name = item.get("name") if isinstance(item, dict) else None
        if not isinstance(name, str) or name in current or Path(name).name != name:
            continue
        if name.endswith(".xlsx"):
            (out_dir / name).unlink(missing_ok=True)
