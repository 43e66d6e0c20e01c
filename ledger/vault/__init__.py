"""The identity vault: threshold-encrypted identity records and the custodians' keys.

``records`` is the cryptographic core (DESIGN.md 'Identity vault'): an identity encrypted under
a fresh key K, K split k-of-n with Shamir and each share HPKE-sealed to one custodian; re-sealing
a share to an investigator for one disclosure request; combining; rotation. ``custodian_keys``
is a custodian's key material on their own machine. These two do no I/O beyond the key file;
this package exports only them.

Around them: ``digests`` (what custodians sign and check), ``store``, ``disclosure_store`` and
``rotation_store`` (the tables), ``service``, ``disclosures`` and ``rotations`` (the server's
workflow, ``VaultService``), ``onchain`` (what the vault asks the chain), and ``client`` (what
runs on custodians' and investigators' machines).
"""

from __future__ import annotations

from ledger.vault.custodian_keys import (
    CustodianKey,
    CustodianPublicInfo,
    generate_custodian_key,
    load_custodian_key,
    save_custodian_key,
)
from ledger.vault.errors import (
    CustodianKeyError,
    RecordError,
    ShareError,
    VaultError,
    WrongPassphraseError,
)
from ledger.vault.records import (
    CustodianPublicKey,
    IdentityRecord,
    RecordKind,
    SealedShare,
    Share,
    combine,
    key_id,
    open_resealed,
    open_share,
    reseal_share,
    reshare,
    seal_identity,
)

__all__ = [
    "CustodianKey",
    "CustodianKeyError",
    "CustodianPublicInfo",
    "CustodianPublicKey",
    "IdentityRecord",
    "RecordError",
    "RecordKind",
    "SealedShare",
    "Share",
    "ShareError",
    "VaultError",
    "WrongPassphraseError",
    "combine",
    "generate_custodian_key",
    "key_id",
    "load_custodian_key",
    "open_resealed",
    "open_share",
    "reseal_share",
    "reshare",
    "save_custodian_key",
    "seal_identity",
]
