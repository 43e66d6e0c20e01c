"""A tip sealed on the reporter's device, "tipledger-sealed-tip/1" (PROTOCOL.md section 17.1).

Frozen: browsers and the CLI send tips in this form, and the service stores what it carries as
it is. A change to a field, an encoding or a check is a new format, never an edit.

The device does what the service did before: it builds the document, the salt and the
commitment, makes a fresh case key, seals document, salt and author to it (the envelope of
``ledger.core.envelope``, version 1, unchanged) and grants the case key to each member key the
chain lists for the chosen agency (``ledger.core.casekey``). Only this leaves the device::

    {"format": "tipledger-sealed-tip/1",
     "commitment": "0x…" (32), "agency": "intake", "case_key": "0x…" (32, raw X25519),
     "envelope": base64, "grants": [base64 (89), …], "attachments": N,
     "follow_up": {…} | absent, "identity": {identity record, version 2} | absent}

Attachments travel beside it as sealed streams (``ledger.core.attachment``), in the order of the
document's ``attachments``; ``attachments`` says how many, so a part lost on the way is refused.

What the service can check without any key (``check_sealed_tip``): the envelope's header names
the case key; there is exactly one grant per member key the chain lists for the agency, none for
any other key, none twice. What only a member can check is checked at the desk on opening: the
envelope opens to a tip whose commitment is this commitment, and each attachment opens to the
bytes whose digest the document lists.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from ledger.core import hpke
from ledger.core.casekey import GRANT_SIZE, grant_case_key, grant_member_key_id
from ledger.core.encoding import from_hex, to_hex
from ledger.core.envelope import MIN_ENVELOPE_SIZE, envelope_key_id, seal_tip
from ledger.core.errors import EnvelopeError, ProtocolError

__all__ = [
    "MAX_ATTACHMENTS",
    "SEALED_FORMAT",
    "SealedTip",
    "check_sealed_tip",
    "seal_for_members",
]

SEALED_FORMAT = "tipledger-sealed-tip/1"
MAX_ATTACHMENTS = 100  # streams beside one tip; the body limit bounds their bytes
MAX_GRANTS = 1024  # members of one agency a tip can be granted to
_FIELDS = frozenset(
    {
        "format",
        "commitment",
        "agency",
        "case_key",
        "envelope",
        "grants",
        "attachments",
        "follow_up",
        "identity",
    }
)


@dataclass(frozen=True)
class SealedTip:
    """A tip as the device sends it: nothing in it can be read without a member's key."""

    commitment: bytes
    agency: str
    case_key: bytes  # the raw X25519 public key the envelope and the attachments are sealed to
    envelope: bytes
    grants: tuple[bytes, ...]
    attachments: int = 0
    follow_up: Mapping[str, Any] | None = None
    identity: Mapping[str, Any] | None = None

    @property
    def case_key_id(self) -> bytes:
        return hpke.key_id_bytes(self.case_key)

    def to_json(self) -> dict[str, Any]:
        """The JSON object of PROTOCOL.md 17.1 (what ``from_json`` reads back)."""
        out: dict[str, Any] = {
            "format": SEALED_FORMAT,
            "commitment": to_hex(self.commitment),
            "agency": self.agency,
            "case_key": to_hex(self.case_key),
            "envelope": _b64(self.envelope),
            "grants": [_b64(g) for g in self.grants],
            "attachments": self.attachments,
        }
        if self.follow_up is not None:
            out["follow_up"] = dict(self.follow_up)
        if self.identity is not None:
            out["identity"] = dict(self.identity)
        return out

    @classmethod
    def from_json(cls, data: object) -> SealedTip:
        """Parse the JSON object; ``ProtocolError`` naming the first field that is wrong."""
        if not isinstance(data, Mapping):
            raise ProtocolError(f"a sealed tip is a JSON object, got {type(data).__name__}")
        unknown = sorted(set(data) - _FIELDS)
        if unknown:
            fields = ", ".join(sorted(_FIELDS))
            raise ProtocolError(f"unknown field {unknown[0]!r} in a sealed tip (fields: {fields})")
        if data.get("format") != SEALED_FORMAT:
            raise ProtocolError(
                f"field 'format': expected {SEALED_FORMAT!r}, got {_short(data.get('format'))}"
            )
        for name in ("commitment", "case_key", "envelope", "grants"):
            if name not in data:
                raise ProtocolError(f"field {name!r} is required in a sealed tip")
        grants = data["grants"]
        if not isinstance(grants, list):
            raise ProtocolError(f"field 'grants': expected a list, got {type(grants).__name__}")
        if len(grants) > MAX_GRANTS:
            raise ProtocolError(f"field 'grants': at most {MAX_GRANTS} grants")
        attachments = data.get("attachments", 0)
        if (
            not isinstance(attachments, int)
            or isinstance(attachments, bool)
            or not 0 <= attachments <= MAX_ATTACHMENTS
        ):
            raise ProtocolError(
                f"field 'attachments': expected a count from 0 to {MAX_ATTACHMENTS}, "
                f"got {_short(attachments)}"
            )
        agency = data.get("agency", "intake")
        if not isinstance(agency, str):
            raise ProtocolError(f"field 'agency': expected an agency id, got {_short(agency)}")
        return cls(
            commitment=_hex_field("commitment", data["commitment"], 32),
            agency=agency,
            case_key=_hex_field("case_key", data["case_key"], hpke.PUBLIC_KEY_SIZE),
            envelope=_b64_field("envelope", data["envelope"]),
            grants=tuple(_b64_field(f"grants[{i}]", g) for i, g in enumerate(grants)),
            attachments=attachments,
            follow_up=_object_field("follow_up", data.get("follow_up")),
            identity=_object_field("identity", data.get("identity")),
        )


def seal_for_members(
    member_keys: Sequence[X25519PublicKey],
    *,
    agency: str,
    commitment: bytes,
    document: bytes,
    salt: bytes,
    author: bytes | str,
    case_key: X25519PrivateKey | None = None,
) -> tuple[SealedTip, X25519PrivateKey]:
    """The device's side: the tip sealed to a fresh case key granted to each member key.

    Returns the sealed tip and the case key (the caller seals attachments to its public half,
    then drops it). ``ProtocolError`` if salt, document and author do not commit to
    ``commitment``; ``ConfigError`` for a member key nothing can be sealed to.
    """
    if not member_keys:
        raise ProtocolError(f"agency {agency!r} lists no member key to seal to")
    case = case_key if case_key is not None else X25519PrivateKey.generate()
    envelope = seal_tip(
        case.public_key(), commitment=commitment, document=document, salt=salt, author=author
    )
    grants = tuple(grant_case_key(key, case, commitment) for key in member_keys)
    sealed = SealedTip(
        commitment=bytes(commitment),
        agency=agency,
        case_key=hpke.public_bytes(case.public_key()),
        envelope=envelope,
        grants=grants,
    )
    return sealed, case


def check_sealed_tip(tip: SealedTip, member_key_ids: Collection[bytes]) -> None:
    """What the service checks before storing a sealed tip; ``EnvelopeError`` naming the flaw.

    ``member_key_ids``: the 8-byte key ids of the member keys the chain lists for the tip's
    agency now. Every one must have exactly one grant, and no grant may name another key: a
    grant to a key the chain does not list would hand the tip to someone the agency never
    registered, and a missing one would keep it from a member.
    """
    if len(tip.envelope) < MIN_ENVELOPE_SIZE:
        raise EnvelopeError(
            f"the envelope is {len(tip.envelope)} bytes; a sealed tip is at least "
            f"{MIN_ENVELOPE_SIZE}"
        )
    sealed_to = envelope_key_id(tip.envelope)  # checks the version too
    if bytes.fromhex(sealed_to) != tip.case_key_id:
        raise EnvelopeError(
            f"the envelope is sealed to key {sealed_to}, not to the case key "
            f"{tip.case_key_id.hex()} this tip names"
        )
    listed = {bytes(k) for k in member_key_ids}
    seen: set[bytes] = set()
    for i, grant in enumerate(tip.grants):
        if len(grant) != GRANT_SIZE:
            raise EnvelopeError(f"grants[{i}] is {len(grant)} bytes; a grant is {GRANT_SIZE}")
        member = bytes.fromhex(grant_member_key_id(grant))
        if member not in listed:
            raise EnvelopeError(
                f"grants[{i}] is for member key {member.hex()}, which the chain does not list "
                f"for agency {tip.agency!r}"
            )
        if member in seen:
            raise EnvelopeError(f"grants[{i}]: member key {member.hex()} is granted twice")
        seen.add(member)
    missing = sorted(listed - seen)
    if missing:
        raise EnvelopeError(
            f"no grant for member key {missing[0].hex()} of agency {tip.agency!r} "
            f"({len(missing)} of {len(listed)} missing): seal to every member the chain lists"
        )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _b64_field(name: str, value: object) -> bytes:
    if not isinstance(value, str):
        raise ProtocolError(f"field {name!r}: expected base64 text, got {type(value).__name__}")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ProtocolError(f"field {name!r}: not valid base64") from None


def _hex_field(name: str, value: object, size: int) -> bytes:
    if not isinstance(value, str):
        raise ProtocolError(f"field {name!r}: expected 0x + hex, got {type(value).__name__}")
    try:
        return from_hex(value, size)
    except ProtocolError as exc:
        raise ProtocolError(f"field {name!r}: {exc}") from None


def _object_field(name: str, value: object) -> Mapping[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ProtocolError(f"field {name!r}: expected a JSON object, got {type(value).__name__}")
    return value


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
