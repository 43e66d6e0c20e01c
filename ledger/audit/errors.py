"""The audit's errors, one branch of TipLedger's ``LedgerError`` hierarchy.

These are operational failures (exit 2 in the CLI): the audit could not be carried out. What the
audit *finds* is never raised; it is a ``Violation`` in the result (exit 1).

LedgerError
  AuditError                  the audit could not run to the end
    SourceUnavailableError    the entries' source (API, database) cannot be reached
    SourceError               the source answered something that is not a page of entries
"""

from __future__ import annotations

from ledger.core.errors import LedgerError

__all__ = ["AuditError", "SourceError", "SourceUnavailableError"]


class AuditError(LedgerError):
    """The audit could not be carried out."""


class SourceUnavailableError(AuditError):
    """The source of the published entries cannot be reached."""


class SourceError(AuditError):
    """The source of the published entries answered with something malformed."""
