"""The one error hierarchy of TipLedger.

Every error the ledger raises is a ``LedgerError``. The pure core defines the base and the
protocol errors; the edges (chain, store, CLI, API) subclass it in ``ledger.errors``. Third-party
exceptions are wrapped where they enter, with ``raise ... from``, so callers catch one family.
"""

from __future__ import annotations


class LedgerError(Exception):
    """Base of every error TipLedger raises on purpose."""


class ProtocolError(LedgerError):
    """Input that does not follow PROTOCOL.md (wrong length, wrong encoding, bad range)."""


class ProofError(ProtocolError):
    """A proof cannot be generated for the sizes and indices asked (out of range)."""


class ReceiptError(ProtocolError):
    """A receipt that cannot be parsed: missing fields, wrong types, bad hex."""


class SignatureError(ProtocolError):
    """A signature that is malformed or cannot be recovered."""
