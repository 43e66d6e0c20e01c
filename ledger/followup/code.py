"""The reporter's device with a code (PROTOCOL.md 17.8): a tip sealed under a fresh code, and
everything the code alone gives back later (``ledger.core.reporter_code``).

From the code the device stretches (one Argon2id, a few hundred milliseconds) the tip's salt,
the version 2 follow-up secret and the pin key. So the same code, and the reporter's own copy
of the tip document, give back: the commitment (compared with the one the service's locator
look-up names), the bearer token, the thread opened here, answers sealed only to the case key
the tag pins, and a whole receipt. Nothing here talks to the service or the chain: the CLI
(``tipledger submit --api``, ``tipledger follow-up … --code``) and the tests bring the answers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from ledger.core.commitment import ZERO_AUTHOR, commitment, content_digest
from ledger.core.encoding import address_bytes, checksum_address, from_hex, to_hex
from ledger.core.errors import EnvelopeError, ProtocolError, ReceiptError
from ledger.core.receipt import Receipt
from ledger.core.reporter_code import (
    CODE_ENROLMENT_VERSION,
    CodeKeys,
    ReporterCode,
    check_case_key,
    code_enrolment,
    code_keys,
    new_code,
    parse_code,
)
from ledger.device import AttachmentFile, DeviceTip, seal_on_device
from ledger.followup.device import bearer, open_thread, seal_answer

__all__ = [
    "NOT_THIS_DOCUMENT",
    "CodeTip",
    "checked_seal_to",
    "code_bearer",
    "open_code_thread",
    "recovered_receipt",
    "seal_code_answer",
    "seal_with_code",
    "unlock",
]

NOT_THIS_DOCUMENT = "this document is not the one sent with this code"


@dataclass(frozen=True)
class CodeTip:
    """A tip sealed under a code: ``tip`` carries the version 3 enrolment; the reporter keeps
    ``code`` (and, if they like, the receipt)."""

    code: ReporterCode
    keys: CodeKeys
    tip: DeviceTip


def seal_with_code(
    members: Sequence[X25519PublicKey],
    *,
    agency: str,
    document: bytes | None = None,
    text: str | None = None,
    attachments: Sequence[AttachmentFile] = (),
    author: bytes | str = ZERO_AUTHOR,
    code: ReporterCode | None = None,
) -> CodeTip:
    """``ledger.device.seal_on_device`` with the salt from a code (fresh unless given), and the
    enrolment made over the commitment and the case key the tip is sealed to."""
    chosen = new_code() if code is None else code
    keys = code_keys(chosen)
    tip = seal_on_device(
        members,
        agency=agency,
        document=document,
        text=text,
        attachments=attachments,
        author=author,
        salt=keys.salt,
    )
    enrolment = code_enrolment(keys, tip.commitment, tip.sealed.case_key)
    sealed = replace(tip.sealed, follow_up=enrolment.to_json())
    return CodeTip(chosen, keys, replace(tip, sealed=sealed))


def unlock(text: object) -> CodeKeys:
    """The keys of the code written in ``text`` (``ProtocolError`` with the core's one line for
    a code that is malformed or does not check out, before any Argon2id)."""
    return code_keys(parse_code(text))


def code_bearer(keys: CodeKeys, commitment: bytes) -> str:
    """``Authorization: Bearer`` for the code's tip: the version 2 token (``tlt2_…``)."""
    return bearer(keys.follow_up, commitment)


def checked_seal_to(view: Mapping[str, Any], keys: CodeKeys, commitment: bytes) -> dict[str, str]:
    """The view's ``seal_to``, once the code's tag shows it is the case key this tip was sealed
    to. ``EnvelopeError`` for a view that is not version 3, has no tag, or names another key (a
    service that lies about the key to seal answers to is refused here)."""
    if view.get("version") != CODE_ENROLMENT_VERSION:
        raise EnvelopeError(
            f"the service's thread is version {view.get('version')}, not a code's "
            f"({CODE_ENROLMENT_VERSION}): refusing it"
        )
    seal_to = view.get("seal_to")
    tag = view.get("case_key_tag")
    if not isinstance(seal_to, Mapping) or not isinstance(tag, str):
        raise EnvelopeError("the service names no case key with its tag: refusing to seal")
    try:
        key = from_hex(str(seal_to.get("key")), 32)
        tag_bytes = from_hex(tag, 16)
    except ProtocolError as exc:
        raise EnvelopeError(f"the service's seal_to or case_key_tag is malformed: {exc}") from None
    if not check_case_key(keys, commitment, key, tag_bytes):
        raise EnvelopeError(
            f"the service names key {to_hex(key)} to seal your answer to, but your code says "
            "your tip was sealed to another: refusing to seal"
        )
    return {"key": to_hex(key), "key_id": str(seal_to.get("key_id"))}


def open_code_thread(view: Mapping[str, Any], keys: CodeKeys, commitment: bytes) -> dict[str, Any]:
    """The view with every message opened here, after its case key is checked by the tag."""
    checked_seal_to(view, keys, commitment)
    return open_thread(view, keys.follow_up, commitment)


def seal_code_answer(
    view: Mapping[str, Any], keys: CodeKeys, commitment: bytes, text: str
) -> dict[str, str]:
    """``{id, to_reporter, to_desk}``: ``text`` sealed to the reporter key and to the case key
    the tag pins (never to a key the service names otherwise)."""
    return seal_answer(keys.follow_up, commitment, checked_seal_to(view, keys, commitment), text)


def recovered_receipt(
    keys: CodeKeys,
    document: bytes,
    status: Mapping[str, Any],
    author: bytes | str = ZERO_AUTHOR,
) -> Receipt:
    """The whole receipt (PROTOCOL.md 6) of the code's tip, from the reporter's copy of its
    document and the service's ``GET /v1/tips/{commitment}/receipt`` answer (``status``).

    The commitment is computed here, from the code's salt, the document and ``author``, and must
    be the one the service names: ``ProtocolError`` (``NOT_THIS_DOCUMENT``) otherwise. The
    promise and the inclusion are the service's: check the receipt (``ledger.verify``) before
    keeping it."""
    author_raw = address_bytes(author)
    digest = content_digest(document)
    mine = commitment(keys.salt, digest, author_raw)
    named = status.get("commitment")
    if not isinstance(named, str) or named.lower() != to_hex(mine):
        hint = (
            " (or the tip was signed with a one-time author key: give its address)"
            if author_raw == ZERO_AUTHOR
            else " with this author"
        )
        raise ProtocolError(NOT_THIS_DOCUMENT + hint)
    fields = ("format", "chain_id", "contract", "commitment", "promise", "inclusion")
    data = {name: status.get(name) for name in fields}
    data.update(
        commitment=to_hex(mine),
        salt=to_hex(keys.salt),
        content_digest=to_hex(digest),
        author=checksum_address(author_raw),
    )
    try:
        return Receipt.from_dict(data)
    except ReceiptError as exc:
        raise ReceiptError(f"the service's receipt for this tip is malformed: {exc}") from None
