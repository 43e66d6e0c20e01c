"""The identity vault's errors, one branch of TipLedger's ``LedgerError`` hierarchy.

LedgerError
  VaultError                anything the vault refuses
    RecordError             a malformed identity record, or invalid sealing parameters
    ShareError              a share that does not open, does not belong, or does not combine
    CustodianKeyError       a custodian key file that cannot be read or written
      WrongPassphraseError  the key file does not open under this passphrase
"""

from __future__ import annotations

from ledger.core.errors import LedgerError

__all__ = [
    "CustodianKeyError",
    "RecordError",
    "ShareError",
    "VaultError",
    "WrongPassphraseError",
]


class VaultError(LedgerError):
    """Base of every identity-vault error."""


class RecordError(VaultError):
    """A malformed identity record or sealed share, or invalid sealing parameters."""


class ShareError(VaultError):
    """A share that does not open, belongs elsewhere, or shares that do not decrypt the record.

    Raised for a sealed share opened with the wrong key, altered, or moved to another record,
    index or epoch; for duplicate or too few shares; and when the combined key fails the
    record's AES-GCM tag (a wrong or tampered share, or an altered ciphertext).
    """


class CustodianKeyError(VaultError):
    """A custodian key file that cannot be read, parsed or written."""


class WrongPassphraseError(CustodianKeyError):
    """The custodian key file does not decrypt under the given passphrase."""
