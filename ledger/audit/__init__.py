"""The oversight audit: everything an oversight body checks, from the chain and the published log.

``run_audit(contract, source)`` reads the contract's history once (``chain_history``), streams
the published entries once (``sources``), runs the integrity checks (``checks``) and measures
the review deadlines (``timeline``); ``report`` writes the result as JSON and as a
self-contained HTML page. ``tipledger audit`` is the command (``ledger.cli.audit_commands``).
"""

from ledger.audit.auditor import AuditOptions, AuditResult, audit_log, run_audit
from ledger.audit.checks import Violation
from ledger.audit.errors import AuditError, SourceError, SourceUnavailableError
from ledger.audit.history import ChainHistory
from ledger.audit.sources import (
    EntrySource,
    HttpEntrySource,
    MemoryEntrySource,
    StoreEntrySource,
    TileEntrySource,
)

__all__ = [
    "AuditError",
    "AuditOptions",
    "AuditResult",
    "ChainHistory",
    "EntrySource",
    "HttpEntrySource",
    "MemoryEntrySource",
    "SourceError",
    "SourceUnavailableError",
    "StoreEntrySource",
    "TileEntrySource",
    "Violation",
    "audit_log",
    "run_audit",
]
