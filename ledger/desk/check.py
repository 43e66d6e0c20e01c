"""At the review desk: open a tip the service served and check it against the chain itself.

The service is trusted for nothing here. The envelope is opened with the desk's private key
(``ledger.desk.envelope.open_tip``: it fails if the envelope was altered or belongs to another
commitment, and recomputes the commitment from the salt, the document and the author); then the
tip is checked as a receipt would be (``ledger.verify.verify_receipt``: content digest,
commitment, the inclusion proof, and the checkpoint read from the contract on the reviewer's own
chain endpoint). A tip that fails any of it is shown as INVALID beside the reason.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from web3 import Web3

from ledger.core.commitment import content_digest
from ledger.core.encoding import to_hex
from ledger.core.receipt import Inclusion, PromiseInfo, Receipt
from ledger.core.verify import Verdict
from ledger.desk.envelope import OpenedTip, open_tip
from ledger.errors import EnvelopeError, ReceiptError
from ledger.verify import verify_receipt

__all__ = ["CheckedTip", "check_tip"]


@dataclass(frozen=True)
class CheckedTip:
    commitment: bytes
    opened: OpenedTip | None  # None: the envelope did not open (tampered, or another key)
    verdict: Verdict | None
    problem: str | None  # why it is INVALID before any chain check, if so

    @property
    def ok(self) -> bool:
        return self.problem is None and self.verdict is not None and self.verdict.ok

    @property
    def pending(self) -> bool:
        return self.problem is None and self.verdict is not None and self.verdict.pending

    def summary(self) -> str:
        if self.problem is not None:
            return f"INVALID: {self.problem}"
        assert self.verdict is not None
        if self.pending:
            return (
                "PENDING: the tip opens and matches its commitment; it is not anchored yet, so "
                "nothing on chain backs it so far"
            )
        return self.verdict.summary()


def check_tip(
    tip: dict[str, Any],
    commitment: bytes,
    desk_key: X25519PrivateKey,
    w3: Web3,
    *,
    chain_id: int,
    contract: str,
) -> CheckedTip:
    """Open and check one tip as ``GET /v1/review/tips/{commitment}`` served it.

    ``chain_id`` and ``contract`` are the reviewer's own (from their deployment file or
    options), never the service's word.
    """
    if tip.get("commitment") != to_hex(commitment):
        return CheckedTip(
            commitment, None, None, f"the service answered for {tip.get('commitment')!r}"
        )
    try:
        envelope = base64.b64decode(str(tip.get("envelope", "")), validate=True)
    except (binascii.Error, ValueError):
        return CheckedTip(commitment, None, None, "the service's envelope is not base64")
    try:
        opened = open_tip(desk_key, envelope, commitment)
    except EnvelopeError as exc:
        return CheckedTip(commitment, None, None, str(exc))
    try:
        promise = tip.get("promise")
        inclusion = tip.get("inclusion")
        receipt = Receipt.create(
            chain_id=chain_id,
            contract=contract,
            commitment=commitment,
            salt=opened.salt,
            content_digest=content_digest(opened.document),
            author=opened.author,
            promise=None if promise is None else PromiseInfo.model_validate(promise),
            inclusion=None if inclusion is None else Inclusion.model_validate(inclusion),
        )
    except (ReceiptError, ValueError) as exc:
        return CheckedTip(commitment, opened, None, f"the service's proof is malformed: {exc}")
    return CheckedTip(commitment, opened, verify_receipt(receipt, opened.document, w3), None)
