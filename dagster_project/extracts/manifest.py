"""The manifest of one period's extracts: every file with its checksum and row counts."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

MANIFEST_VERSION = 1


@dataclass(frozen=True)
class ExtractFile:
    name: str  # file name inside the output folder
    kind: str  # "province" | "agency"
    agency_code: str | None
    sha256: str
    size_bytes: int
    # Data rows per sheet (header rows and the cover's fixed lines excluded).
    sheet_rows: dict[str, int]


@dataclass(frozen=True)
class ExtractManifest:
    period: str
    period_type: str
    period_start: str
    period_end: str
    files: list[ExtractFile] = field(default_factory=list)
    path: Path | None = None  # where the manifest was written; not part of its content

    def to_dict(self) -> dict[str, Any]:
        return {
            "manifest_version": MANIFEST_VERSION,
            "period": self.period,
            "period_type": self.period_type,
            "period_start": self.period_start,
            "period_end": self.period_end,
            "files": [asdict(f) for f in self.files],
        }

    def file(self, name: str) -> ExtractFile:
        for item in self.files:
            if item.name == name:
                return item
        raise KeyError(name)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_manifest(path: Path) -> dict[str, Any] | None:
    """A previous manifest, or None when there is none or it cannot be read."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_atomic(path: Path, payload: bytes) -> None:
    """Readers never see a half-written file: write beside the target, then rename over it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(payload)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temp_name, 0o644)
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def manifest_bytes(manifest: ExtractManifest) -> bytes:
    text = json.dumps(manifest.to_dict(), ensure_ascii=False, indent=2, sort_keys=False)
    return (text + "\n").encode("utf-8")
