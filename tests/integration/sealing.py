"""Tips sealed as a reporter's device seals them (``ledger.device``), for tests that post to a
running service on its default (no sealing on the server): the members' keys read from chain."""

from __future__ import annotations

import json
from typing import Any

import httpx
from web3 import Web3

from ledger.chain.contract import TipLedgerContract
from ledger.device import AttachmentFile, DeviceTip, member_keys, seal_on_device


def seal(
    w3: Web3,
    contract: str,
    document: bytes | None = None,
    *,
    agency: str = "intake",
    text: str | None = None,
    attachments: tuple[AttachmentFile, ...] = (),
) -> DeviceTip:
    keys = member_keys(TipLedgerContract(w3, contract), agency)
    return seal_on_device(
        keys, agency=agency, document=document, text=text, attachments=attachments
    )


def post(client: httpx.Client, tip: DeviceTip, **extra: Any) -> httpx.Response:
    """POST the sealed tip (multipart when it has attachments); ``extra`` fields join its JSON."""
    body = {**tip.sealed.to_json(), **extra}
    if not tip.streams:
        return client.post("/v1/tips", json=body)
    files = [("tip", ("tip.json", json.dumps(body).encode(), "application/json"))]
    files += [
        ("attachment", (f"{i}", s, "application/octet-stream")) for i, s in enumerate(tip.streams)
    ]
    return client.post("/v1/tips", files=files)
