"""The one error hierarchy of TipLedger.

Every error the ledger raises is a ``LedgerError``. The pure core defines the base, the
protocol errors and those its frozen formats raise (envelope, identity record, configuration of
a key); the edges (chain, store, CLI, API) subclass it in ``ledger.errors`` and
``ledger.vault.errors``. Third-party
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


class ConfigError(LedgerError):
    """Missing or invalid configuration: data directory, keys, deployment file."""


class UnusableKeyError(ProtocolError):
    """An X25519 public key nothing can be sealed to (a low-order point: no shared secret)."""


class EnvelopeError(LedgerError):
    """A sealed tip that cannot be opened: wrong desk key, tampered, or not for this commitment."""


class VaultError(LedgerError):
    """Base of every identity-vault error (the rest of the branch is in ``ledger.vault.errors``)."""


class RecordError(VaultError):
    """A malformed identity record or sealed share, or invalid sealing parameters."""


class ShareError(VaultError):
    """A share that does not open, belongs elsewhere, or shares that do not decrypt the record.

    Raised for a sealed share opened with the wrong key, altered, or moved to another record,
    index or epoch; for duplicate or too few shares; and when the combined key fails the
    record's AES-GCM tag (a wrong or tampered share, or an altered ciphertext).
    """


class AgencyError(ProtocolError):
    """An agency id that is not a slug of PROTOCOL.md section 16.1, or not its bytes32 form."""
