"""A member's machine: opening a case from what the service serves, and granting it on.

Everything that needs a private key happens here, never at the service: the member's X25519
key opens their grant of the case key (PROTOCOL.md 16.3), the case key opens the envelope and
the thread, and a referral or a re-grant seals the case key to other members' keys, which the
caller reads from the chain itself.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import Any

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from ledger.chain.contract import Member
from ledger.core.casekey import grant_case_key, open_grant
from ledger.core.encoding import from_hex, to_hex
from ledger.core.hpke import key_id, key_id_bytes, public_bytes
from ledger.core.routing import RoutingProof
from ledger.errors import EnvelopeError, ProtocolError

__all__ = ["case_key", "grants_for", "routing_proof"]


def case_key(tip: dict[str, Any], commitment: bytes, member: X25519PrivateKey) -> X25519PrivateKey:
    """The key that opens this case's envelope and thread, from the member's grant.

    A tip from before agencies has no case key: its envelope was sealed straight to the old
    desk key, which is the member's own (README, "Moving to agencies").
    """
    served = tip.get("case_key")
    if served is None:
        return member
    public = from_hex(str(served), 32)
    grant_text = tip.get("grant")
    if grant_text is None:
        raise EnvelopeError(
            f"no grant of case {to_hex(commitment)} for your key {key_id(member.public_key())}: "
            "a fellow member must grant it (`tipledger review grant`)"
        )
    try:
        grant = base64.b64decode(str(grant_text), validate=True)
    except (binascii.Error, ValueError):
        raise ProtocolError("the service's grant is not base64") from None
    opened = open_grant(member, grant, commitment, key_id_bytes(public))
    if public_bytes(opened.public_key()) != public:  # the key ids matched: never
        raise EnvelopeError("the granted case key is not the one the envelope names")
    return opened


def routing_proof(tip: dict[str, Any]) -> RoutingProof | None:
    """The routing proof the service served (None while the tip is not anchored)."""
    routing = tip.get("routing")
    if routing is None:
        return None
    try:
        return RoutingProof(
            tree_size=int(routing["tree_size"]),
            index=int(routing["index"]),
            salt=from_hex(str(routing["salt"]), 32),
            path=tuple(from_hex(str(p), 32) for p in routing["path"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ProtocolError(f"the service's routing proof is malformed: {exc}") from None


def grants_for(members: Sequence[Member], case: X25519PrivateKey, commitment: bytes) -> list[bytes]:
    """The case key granted to each of ``members`` (their keys as the chain lists them)."""
    return [
        grant_case_key(X25519PublicKey.from_public_bytes(m.encryption_key), case, commitment)
        for m in members
    ]
