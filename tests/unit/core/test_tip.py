"""The "tipledger-tip/1" document (ledger.core.tip): pinned bytes, and parse(build(x)) == x."""

from __future__ import annotations

import pytest
from core_vectors import TIP_ATTACHMENTS, TIP_DOCUMENT, TIP_TEXT
from hypothesis import given
from hypothesis import strategies as st

from api.parsing import Part, tip_from_parts
from ledger.core.errors import ProtocolError
from ledger.core.tip import (
    MAX_NAME,
    TIP_FORMAT,
    Attachment,
    TipDocument,
    build_tip_document,
    parse_tip_document,
)

ATTACHMENTS = tuple(Attachment.of(name, data, ctype) for name, ctype, data in TIP_ATTACHMENTS)


def test_the_tip_document_known_answer() -> None:
    assert TIP_FORMAT == "tipledger-tip/1"
    assert build_tip_document(TIP_TEXT, ATTACHMENTS) == TIP_DOCUMENT
    assert ATTACHMENTS[1].type == "application/octet-stream"


def test_the_multipart_builder_gives_the_same_bytes() -> None:
    parts = [Part("document", "tip.txt", "text/plain", TIP_TEXT.encode())]
    parts += [Part("files", name, ctype, data) for name, ctype, data in TIP_ATTACHMENTS]
    assert tip_from_parts(parts) == (TIP_DOCUMENT, None, None)


def test_the_pinned_document_parses() -> None:
    assert parse_tip_document(TIP_DOCUMENT) == TipDocument(TIP_TEXT, ATTACHMENTS)


@pytest.mark.parametrize(
    "document",
    [
        b"plain text tip",
        b"\xff\xfe not UTF-8",
        b"[]",
        b'{"format":"tipledger-tip/1","text":"x"}',
        b'{"attachments":[],"format":"tipledger-tip/2","text":"x"}',
        b'{"attachments":[{"name":"a"}],"format":"tipledger-tip/1","text":"x"}',
        b'{"attachments":[],"format":"tipledger-tip/1","text":""}',
        b'{"attachments":[],"format":"tipledger-tip/1","text":1}',
    ],
)
def test_anything_else_is_a_plain_document(document: bytes) -> None:
    assert parse_tip_document(document) is None


def test_the_limits() -> None:
    Attachment.of("n" * MAX_NAME, b"")
    with pytest.raises(ProtocolError, match="longer than 255 characters"):
        Attachment.of("n" * (MAX_NAME + 1), b"")
    with pytest.raises(ProtocolError, match="the tip is empty"):
        build_tip_document("", [])
    with pytest.raises(ProtocolError, match="UTF-8"):
        build_tip_document("lone \ud800 surrogate")


_TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=80)
_ATTACHMENT = st.builds(
    Attachment,
    name=_TEXT.filter(bool).map(lambda n: n[:MAX_NAME]),
    sha256=st.binary(min_size=32, max_size=32),
    size=st.integers(min_value=0, max_value=2**53),
    type=_TEXT,
)


@given(text=_TEXT, attachments=st.lists(_ATTACHMENT, max_size=4).map(tuple))
def test_parse_inverts_build(text: str, attachments: tuple[Attachment, ...]) -> None:
    if not text and not attachments:
        return
    document = TipDocument(text, attachments)
    data = document.to_bytes()
    assert parse_tip_document(data) == document
    assert build_tip_document(text, attachments) == data
