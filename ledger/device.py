"""What a reporter's device does before anything leaves it (PROTOCOL.md 17): the tip sealed for
the members the chain lists for an agency, its attachments sealed to the same case key.

The CLI (``tipledger submit --api``), the benchmarks and the tests seal here, as the submit page
does in the browser (``api/web/static/js/seal.js``). The members' keys are read from the chain
(``ledger.chain.agencies``), never taken from the service: a compromised service could offer a
key of its own, while the chain's list changes only by the agency admin's transactions. Nothing
here talks to the service.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from ledger.chain.agencies import AgencyDirectory
from ledger.chain.contract import TipLedgerContract
from ledger.core.agency import agency_id, agency_slug
from ledger.core.attachment import seal_attachment
from ledger.core.commitment import ZERO_AUTHOR, commitment, content_digest, new_salt
from ledger.core.encoding import address_bytes
from ledger.core.sealed import SealedTip, seal_for_members
from ledger.core.tip import Attachment, build_tip_document

__all__ = ["AttachmentFile", "DeviceTip", "member_keys", "seal_on_device"]


@dataclass(frozen=True)
class AttachmentFile:
    """A file the reporter attaches: its name, bytes and media type."""

    name: str
    data: bytes
    type: str | None = None


@dataclass(frozen=True)
class DeviceTip:
    """A tip sealed on this device: what is sent (``sealed``, ``streams``) and what only the
    reporter keeps (``document``, ``salt``, ``content_digest``, ``author``) for the receipt."""

    sealed: SealedTip
    streams: tuple[bytes, ...]
    document: bytes
    salt: bytes
    content_digest: bytes
    author: bytes

    @property
    def commitment(self) -> bytes:
        return self.sealed.commitment


def member_keys(contract: TipLedgerContract, agency: str) -> tuple[X25519PublicKey, ...]:
    """The X25519 keys of ``agency``'s current members, as the chain lists them.

    Every agency's members are read, in the chain's order, so the node learns nothing of which
    one the tip goes to. ``AgencyRefusedError`` for an agency that is unknown, inactive or has
    no members.
    """
    directory = AgencyDirectory(contract, ttl=60.0)
    for info in directory.agencies():
        directory.members(info.agency)
    return directory.recipients(agency_id(agency)).keys


def seal_on_device(
    keys: Sequence[X25519PublicKey],
    *,
    agency: str,
    document: bytes | None = None,
    text: str | None = None,
    attachments: Sequence[AttachmentFile] = (),
    author: bytes | str = ZERO_AUTHOR,
    salt: bytes | None = None,
) -> DeviceTip:
    """Seal a tip for ``keys`` (the members of ``agency``).

    Either ``document`` (any bytes, as ``submit FILE`` sends them) or ``text`` with
    ``attachments`` (the "tipledger-tip/1" document of the submit page, listing each
    attachment's digest; each attachment is sealed as a stream beside the tip).
    """
    if attachments and document is not None:
        raise ValueError("attachments go with text (a tipledger-tip/1 document), not a document")
    if document is None:
        entries = [Attachment.of(a.name, a.data, a.type) for a in attachments]
        document = build_tip_document(text or "", entries)
    salt_ = new_salt() if salt is None else salt
    author_ = address_bytes(author)
    digest = content_digest(document)
    entry = commitment(salt_, digest, author_)
    sealed, case = seal_for_members(
        keys,
        agency=agency_slug(agency_id(agency)),
        commitment=entry,
        document=document,
        salt=salt_,
        author=author_,
    )
    streams = tuple(
        seal_attachment(case.public_key(), entry, i, a.data) for i, a in enumerate(attachments)
    )
    sealed = SealedTip(
        commitment=sealed.commitment,
        agency=sealed.agency,
        case_key=sealed.case_key,
        envelope=sealed.envelope,
        grants=sealed.grants,
        attachments=len(streams),
    )
    return DeviceTip(sealed, streams, document, salt_, digest, author_)
