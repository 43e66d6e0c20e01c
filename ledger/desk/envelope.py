"""The review desk's envelope: the format is ``ledger.core.envelope`` (frozen, version 1).

Re-exported here for the desk's users. The public key travels as one line,
``tipledger-desk-x25519:<base64url raw key, no padding>`` (``ledger.desk.keys``), in
``TIPLEDGER_DESK_PUBLIC_KEY`` or in ``<home>/desk-public.txt``.
"""

from __future__ import annotations

from ledger.core.envelope import (
    ENVELOPE_VERSION,
    INFO_TAG,
    KEY_ID_SIZE,
    SUITE,
    OpenedTip,
    envelope_key_id,
    key_id,
    open_tip,
    seal_tip,
)

__all__ = [
    "ENVELOPE_VERSION",
    "INFO_TAG",
    "KEY_ID_SIZE",
    "SUITE",
    "OpenedTip",
    "envelope_key_id",
    "key_id",
    "open_tip",
    "seal_tip",
]
