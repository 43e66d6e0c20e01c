"""The identity vault's errors, one branch of TipLedger's ``LedgerError`` hierarchy.

LedgerError
  VaultError                anything the vault refuses
    RecordError             a malformed identity record, or invalid sealing parameters
    ShareError              a share that does not open, does not belong, or does not combine
    CustodianKeyError       a custodian key file that cannot be read or written
      WrongPassphraseError  the key file does not open under this passphrase
    RegistrationError       a custodian registration that does not prove possession (422)
    ApprovalError           a disclosure approval whose signature is not the caller's (422)
    UnknownVaultItemError   no such custodian, set, record, request or rotation (404)
    NotEntitledError        the caller holds the role, but has no part in this item (403)
    VaultConflictError      not now: a duplicate, or the wrong stage of a workflow (409)
      NoCustodianSetError   the record kind has no custodian set configured (409)
      DisclosureNotRecordedError  no recordDisclosure on chain yet: shares are withheld (409)

``VaultError``, ``RecordError`` and ``ShareError`` are defined in ``ledger.core.errors`` (the
identity record format raises them) and re-exported here.
"""

from __future__ import annotations

from ledger.core.errors import RecordError, ShareError, VaultError

__all__ = [
    "ApprovalError",
    "CustodianKeyError",
    "DisclosureNotRecordedError",
    "NoCustodianSetError",
    "NotEntitledError",
    "RecordError",
    "RegistrationError",
    "ShareError",
    "UnknownVaultItemError",
    "VaultConflictError",
    "VaultError",
    "WrongPassphraseError",
]


class CustodianKeyError(VaultError):
    """A custodian key file that cannot be read, parsed or written."""


class WrongPassphraseError(CustodianKeyError):
    """The custodian key file does not decrypt under the given passphrase."""


class RegistrationError(VaultError):
    """A custodian registration whose signature does not prove possession of its keys."""


class ApprovalError(VaultError):
    """A disclosure approval whose EIP-712 signature is malformed or not the caller's."""


class UnknownVaultItemError(VaultError):
    """No such custodian, custodian set, record, disclosure request or rotation."""


class NotEntitledError(VaultError):
    """The caller holds the role, but has no part in this record, request or rotation."""


class VaultConflictError(VaultError):
    """The vault's state does not allow this now: a duplicate, or the wrong workflow stage."""


class NoCustodianSetError(VaultConflictError):
    """The record kind has no custodian set yet, so no identity can be sealed for it."""


class DisclosureNotRecordedError(VaultConflictError):
    """``recordDisclosure`` has not succeeded on chain for this request: shares stay withheld."""
