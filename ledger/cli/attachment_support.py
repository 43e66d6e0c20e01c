"""Opening a case's attachments on the member's machine (``review show --attachments DIR``).

Each attachment was sealed on the reporter's device to the case key (PROTOCOL.md 17.2). It is
fetched sealed, opened here with the case key, and kept only if its SHA-256 and size are the
ones the tip document lists: the document is what the log committed to, so a file that passes is
exactly the file the reporter attached.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from ledger.cli.api_client import DeskClient
from ledger.core.attachment import check_attachment, open_attachment
from ledger.core.encoding import to_hex
from ledger.core.tip import parse_tip_document
from ledger.errors import EnvelopeError

__all__ = ["OpenedAttachment", "save_attachments"]

_UNSAFE = re.compile(r"[^\w.\- ]+", re.UNICODE)


@dataclass(frozen=True)
class OpenedAttachment:
    index: int
    name: str
    path: Path | None  # None when it did not open or did not match
    error: str | None = None


def save_attachments(
    desk: DeskClient,
    commitment: bytes,
    params: dict[str, str],
    case_key: X25519PrivateKey,
    document: bytes,
    directory: Path,
    sealed_sizes: list[int],
) -> list[OpenedAttachment]:
    """Fetch, open and check each sealed attachment; write those that match into ``directory``.

    A document that lists attachments the service does not hold (or the reverse) is reported per
    attachment: the service may have lost one, but it cannot pass off another.
    """
    parsed = parse_tip_document(document)
    entries = list(parsed.attachments) if parsed is not None else []
    directory.mkdir(parents=True, exist_ok=True)
    results: list[OpenedAttachment] = []
    for index, entry in enumerate(entries):
        if index >= len(sealed_sizes):
            results.append(
                OpenedAttachment(index, entry.name, None, "the service holds no sealed copy")
            )
            continue
        stream = desk.fetch(
            f"/v1/review/tips/{to_hex(commitment)}/attachments/{index}", params=params
        )
        try:
            data = open_attachment(case_key, commitment, index, stream)
            check_attachment(data, entry)
        except EnvelopeError as exc:
            results.append(OpenedAttachment(index, entry.name, None, str(exc)))
            continue
        path = directory / _file_name(index, entry.name)
        path.write_bytes(data)
        results.append(OpenedAttachment(index, entry.name, path))
    for index in range(len(entries), len(sealed_sizes)):
        results.append(
            OpenedAttachment(index, f"#{index}", None, "not listed in the tip document: ignored")
        )
    return results


def _file_name(index: int, name: str) -> str:
    """``<index>-<name>`` with anything but letters, digits, dot, dash and space replaced: a
    reporter's file name never picks a path on the member's machine."""
    safe = _UNSAFE.sub("_", Path(name).name).strip(" .") or "attachment"
    return f"{index + 1}-{safe[:120]}"
