"""The one receipt builder: the promise at acceptance, the inclusion once anchored, and every view
of a receipt the service hands out (PROTOCOL.md, "Receipt").

Every receipt or part of one that leaves the service is made here: the receipt answered to
``POST /v1/tips`` (``inclusion: null``), the status a holder fetches later (the receipt's own keys
without salt, digest and author, which the service cannot read), and the tip the review desk
fetches. The receipt model and its rules are ``ledger.core.receipt``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from ledger.core.commitment import ZERO_AUTHOR
from ledger.core.eip712 import Signer, sign_promise
from ledger.core.encoding import checksum_address, to_hex
from ledger.core.receipt import FORMAT, Inclusion, PromiseInfo, Receipt
from ledger.errors import ProofError, ProtocolError
from ledger.store import LogStore, StoredCheckpoint

if TYPE_CHECKING:  # type-only: intake imports nothing from here
    from ledger.log.intake import Accepted

__all__ = [
    "ReceiptBuilder",
    "TipStatus",
    "inclusion",
    "inclusion_for",
    "make_promise",
    "promise_of",
]

_ZERO_AUTHOR_TEXT = checksum_address(ZERO_AUTHOR)


@dataclass(frozen=True)
class TipStatus:
    """Where a commitment stands: ``anchored`` (with its inclusion), ``pending`` or ``unknown``."""

    status: Literal["anchored", "pending", "unknown"]
    commitment: bytes
    leaf_index: int | None = None
    promise: PromiseInfo | None = None
    inclusion: Inclusion | None = None


def make_promise(
    signer: Signer, chain_id: int, contract: str, commitment: bytes, received_at: int
) -> PromiseInfo:
    """The service's signed word that ``commitment`` will be in the log (PROTOCOL.md 5)."""
    signature = sign_promise(signer, chain_id, contract, commitment, received_at)
    return PromiseInfo.create(received_at=received_at, signer=signer.address, signature=signature)


def promise_of(
    received_at: int, signer: bytes | None, signature: bytes | None
) -> PromiseInfo | None:
    """The stored promise of a submission, or None for a row that has none."""
    if signer is None or signature is None:
        return None
    return PromiseInfo.create(received_at=received_at, signer=signer, signature=signature)


def inclusion(checkpoint: StoredCheckpoint, leaf_index: int, proof: list[bytes]) -> Inclusion:
    """The receipt's ``inclusion``: ``proof`` of entry ``leaf_index`` against ``checkpoint``."""
    return Inclusion.create(
        leaf_index=leaf_index,
        tree_size=checkpoint.tree_size,
        root_hash=checkpoint.root_hash,
        proof=proof,
        anchor_tx=checkpoint.anchor_tx,
        block_number=checkpoint.block_number,
        block_timestamp=checkpoint.block_timestamp,
    )


def inclusion_for(store: LogStore, commitment: bytes, checkpoint: StoredCheckpoint) -> Inclusion:
    """An RFC 9162 inclusion proof of ``commitment`` against an anchored ``checkpoint``."""
    index = store.index_of(commitment)
    if index is None:
        raise ProofError("this commitment is not in the log")
    if index >= checkpoint.tree_size:
        raise ProofError(
            f"entry {index} is not covered by the checkpoint of size {checkpoint.tree_size} yet"
        )
    return inclusion(checkpoint, index, store.tree().inclusion_proof(index, checkpoint.tree_size))


class ReceiptBuilder:
    """Receipts and their views for one deployment (chain id and contract)."""

    def __init__(self, chain_id: int, contract: str) -> None:
        self.chain_id = chain_id
        self.contract = checksum_address(contract)

    def receipt(self, accepted: Accepted) -> Receipt:
        """The receipt of a tip this service sealed, as a validated model (``inclusion`` None)."""
        return Receipt.create(
            chain_id=self.chain_id,
            contract=self.contract,
            commitment=accepted.commitment,
            salt=_known(accepted.salt),
            content_digest=_known(accepted.content_digest),
            author=_known(accepted.author),
            promise=promise_of(
                accepted.received_at, accepted.promise_signer, accepted.promise_signature
            ),
        )

    def issued(self, accepted: Accepted) -> dict[str, Any]:
        """The receipt (``inclusion: null``) for an accepted tip, JSON-ready.

        Built directly, in the receipt's key order: equal to ``self.receipt(...).to_dict()``
        (the tests hold the two equal) at a fraction of the cost of validating a model, since
        this runs once per submission on the event loop.
        """
        out: dict[str, Any] = {
            "format": FORMAT,
            "chain_id": self.chain_id,
            "contract": self.contract,
            "commitment": to_hex(accepted.commitment),
        }
        if accepted.salt is not None:
            # Only the service-sealed path knows them; a device that sealed its tip adds its own
            # salt, content digest and author to this receipt (PROTOCOL.md 17.1).
            out["salt"] = to_hex(accepted.salt)
            out["content_digest"] = to_hex(_known(accepted.content_digest))
            out["author"] = _author_text(_known(accepted.author))
        out["promise"] = _promise_dict(
            accepted.received_at, accepted.promise_signer, accepted.promise_signature
        )
        out["inclusion"] = None
        return out

    def accepted_answer(
        self,
        accepted: Accepted,
        *,
        follow_up_secret: str | None = None,
        identity: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The 202 answer to a submission: commitment, promise, receipt, follow-up, identity.

        A follow-up secret, when one was stored, is kept in the receipt too (the reporter's one
        file holds everything they need).
        """
        receipt = self.issued(accepted)
        follow_up = None
        if follow_up_secret is not None:
            follow_up = {"secret": follow_up_secret}
            receipt["follow_up"] = follow_up
        return {
            "commitment": receipt["commitment"],
            "promise": receipt["promise"],
            "receipt": receipt,
            "follow_up": follow_up,
            "identity": identity,
        }

    def status_view(self, status: TipStatus) -> dict[str, Any]:
        """What the service holds of a tip's receipt, in the receipt's own keys.

        The salt, content digest and author exist only sealed to the review desk (and in the
        submitter's receipt), so they are absent: the holder merges this into their receipt
        (``inclusion`` is what changes).
        """
        return {
            "status": status.status,
            "format": FORMAT,
            "chain_id": self.chain_id,
            "contract": self.contract,
            "commitment": to_hex(status.commitment),
            **self.standing(status),
        }

    @staticmethod
    def standing(status: TipStatus) -> dict[str, Any]:
        """``leaf_index``, ``promise`` and ``inclusion`` of a tip, JSON-ready (the desk's view
        carries these beside the envelope)."""
        return {
            "leaf_index": status.leaf_index,
            "promise": None if status.promise is None else status.promise.model_dump(mode="json"),
            "inclusion": (
                None if status.inclusion is None else status.inclusion.model_dump(mode="json")
            ),
        }


def _promise_dict(
    received_at: int, signer: bytes | None, signature: bytes | None
) -> dict[str, Any] | None:
    """The promise as PROTOCOL.md writes it (``None`` if the row has none)."""
    if signer is None or signature is None:
        return None
    return {
        "received_at": received_at,
        "signer": _address_text(signer),
        "signature": to_hex(signature),
    }


def _known(value: bytes | None) -> bytes:
    if value is None:
        raise ProtocolError("a tip sealed on the device: only the device knows its receipt's parts")
    return value


def _author_text(author: bytes) -> str:
    return _ZERO_AUTHOR_TEXT if author == ZERO_AUTHOR else checksum_address(author)


@functools.lru_cache(maxsize=16)
def _address_text(address: bytes) -> str:
    """EIP-55 text of a signer address (a keccak each: cached, there are only a few signers)."""
    return checksum_address(address)
