"""The reporter's device in a follow-up: the secret made here, the token shown instead of it,
the desk's questions opened here and the answers sealed here (``ledger.core.followup``).

The CLI (``tipledger submit --api``, ``tipledger follow-up``) and the tests use this, as the
status page uses ``api/web/static/js/followup-keys.js``. Nothing here talks to the service. With
a version 1 secret (made by the service) the same calls work: the secret is then its own
credential, and its reporter key is derived the same way.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from ledger.core.encoding import from_hex
from ledger.core.errors import EnvelopeError, ProtocolError
from ledger.core.followup import (
    FROM_REPORTER,
    SENDER_NAMES,
    FollowUpSecret,
    check_text,
    device_enrolment,
    device_secret_from_text,
    follow_up_token,
    new_device_secret,
    new_message_id,
    open_message,
    reporter_key,
    seal_message,
    secret_from_text,
    token_text,
)
from ledger.core.hpke import key_id_bytes, public_bytes

__all__ = [
    "any_secret",
    "bearer",
    "device_follow_up",
    "open_thread",
    "seal_answer",
]

_SENDERS = {name: number for number, name in SENDER_NAMES.items()}


def device_follow_up(commitment: bytes) -> tuple[FollowUpSecret, dict[str, Any]]:
    """A fresh version 2 secret for the tip ``commitment`` (keep it: it is the reporter's only
    way back) and the enrolment to send as the sealed tip's ``follow_up`` field."""
    secret = new_device_secret()
    return secret, device_enrolment(secret, commitment).to_json()


def any_secret(text: str | None) -> FollowUpSecret | None:
    """A version 2 or version 1 secret written in ``text``, or None."""
    return device_secret_from_text(text) or secret_from_text(text)


def bearer(secret: FollowUpSecret, commitment: bytes) -> str:
    """What goes after ``Authorization: Bearer``: the token for version 2, the secret for 1."""
    if secret.version == 2:
        return token_text(follow_up_token(secret, commitment))
    return secret.text


def open_thread(
    view: Mapping[str, Any], secret: FollowUpSecret, commitment: bytes
) -> dict[str, Any]:
    """The service's follow-up view with every message as text: version 2 messages are opened
    here with the reporter key (``EnvelopeError`` for one that does not open: altered, or
    moved from another thread); version 1 views already hold text and are kept as they are. (A
    code's view, version 3, opens the same way once its case key is checked:
    ``ledger.followup.code.open_code_thread``.)"""
    if view.get("version") not in (2, 3):
        return dict(view)
    key = reporter_key(secret, commitment)
    mine = key_id_bytes(key.public_key()).hex()
    if view.get("reporter_key_id") != mine:
        raise EnvelopeError(
            f"the service's thread is for reporter key {view.get('reporter_key_id')}, yours is "
            f"{mine}: it is not this tip's, or not this secret's"
        )
    messages = []
    for m in view.get("messages", []):
        message_id = from_hex(str(m.get("id")), 16)
        sender = _SENDERS.get(str(m.get("from")))
        if sender is None:
            raise EnvelopeError(f"message {m.get('id')} is from an unknown sender")
        text = open_message(
            key,
            _b64(m.get("sealed")),
            commitment=commitment,
            message_id=message_id,
            sender=sender,
        )
        messages.append(
            {"id": m["id"], "from": m["from"], "sent_at": m.get("sent_at"), "text": text}
        )
    return {**{k: v for k, v in view.items() if k != "messages"}, "messages": messages}


def seal_answer(
    secret: FollowUpSecret, commitment: bytes, seal_to: Mapping[str, Any] | None, text: str
) -> dict[str, str]:
    """The body of an answer sealed here: ``{id, to_reporter, to_desk}`` (base64), the text
    sealed to the reporter key and to the key the service names in the view's ``seal_to``
    (the tip's case key, or the legacy desk key). A ``seal_to`` whose key id is not its key's
    is refused."""
    if not isinstance(seal_to, Mapping):
        raise ProtocolError("the service names no key to seal the answer to")
    desk = from_hex(str(seal_to.get("key")), 32)
    if key_id_bytes(desk).hex() != seal_to.get("key_id"):
        raise ProtocolError("the service's seal_to key id is not its key's: refusing to seal")
    body = check_text(text)
    message_id = new_message_id()
    mine = public_bytes(reporter_key(secret, commitment).public_key())

    def sealed(raw: bytes) -> str:
        copy = seal_message(
            X25519PublicKey.from_public_bytes(raw),
            commitment=commitment,
            message_id=message_id,
            sender=FROM_REPORTER,
            text=body,
        )
        return base64.b64encode(copy).decode("ascii")

    return {"id": "0x" + message_id.hex(), "to_reporter": sealed(mine), "to_desk": sealed(desk)}


def _b64(value: object) -> bytes:
    if not isinstance(value, str):
        raise EnvelopeError("a sealed message is base64 text")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise EnvelopeError("a sealed message is not base64") from None
