"""Errors of the ingestion layer."""

from __future__ import annotations


class IngestionError(Exception):
    """A build cannot go on (e.g. a required source folder is missing)."""


class FileRejected(Exception):
    """A whole file cannot be read; recorded as ledger status ``rejected``.

    ``reason`` is the quarantine reason code, the message names the file and,
    where it helps, the line or column a person has to fix.
    """

    def __init__(self, reason: str, message: str, fmt: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.fmt = fmt
