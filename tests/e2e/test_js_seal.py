"""The browser's sealing (api/web/static/js/seal.js) opened by ledger.core, in Debian's Chromium.

The reporter's device seals the tip, grants its case key to the agency's members, seals its
attachments and its follow-up answers (PROTOCOL.md section 17); the desk opens them in Python.
What JS seals must open in Python, and what is altered, moved or sealed for someone else must
be refused there. The attachment chunk layer is deterministic under a fixed file key, so there
JS and Python must give the very same bytes. Files are made in the page (``new Blob``): nothing
but the served modules is fetched.
"""

from __future__ import annotations

import base64
import hashlib
import random
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from ledger.core import hpke
from ledger.core.attachment import (
    CHUNK_SIZE,
    HEADER_SIZE,
    _seal_chunks,
    check_attachment,
    check_stream_header,
    open_attachment,
    sealed_size,
)
from ledger.core.casekey import GRANT_SIZE, grant_member_key_id, open_grant
from ledger.core.commitment import commitment, content_digest
from ledger.core.envelope import open_tip
from ledger.core.errors import EnvelopeError
from ledger.core.followup import (
    FROM_REPORTER,
    FROM_REVIEWER,
    MAX_TEXT,
    check_text,
    open_message,
)
from ledger.core.tip import Attachment

from .conftest import PHONE, ServedApp

pytestmark = pytest.mark.e2e

SEED = 20261203
PRELUDE = """
const S = await import('/web/js/seal.js');
const P = await import('/web/js/protocol.js');
const hex = (h) => P.fromHex(h);
const b64 = (bytes) => P.toBase64(bytes);
const blobBytes = async (blob) => new Uint8Array(await blob.arrayBuffer());
"""


@pytest.fixture(scope="module")
def page(browser: Any, pages_only: ServedApp) -> Iterator[Any]:
    context = browser.new_context(viewport=PHONE)
    tab = context.new_page()
    foreign: list[str] = []
    tab.on(
        "request",
        lambda r: foreign.append(r.url) if not r.url.startswith(pages_only.url) else None,
    )
    tab.goto(pages_only.url + "/status")
    tab.wait_for_selector("body[data-ready=true]")
    yield tab
    context.close()
    assert foreign == [], f"the page fetched from elsewhere: {foreign}"


def js(page: Any, body: str, arg: Any = None) -> Any:
    """Run ``body`` (an async function body using S and P) in the page with ``arg``."""
    return page.evaluate(f"async (arg) => {{ {PRELUDE}\n{body} }}", arg)


def h(data: bytes) -> str:
    return "0x" + data.hex()


def b(text: str) -> bytes:
    return base64.b64decode(text)


def new_key() -> tuple[X25519PrivateKey, str]:
    private = X25519PrivateKey.generate()
    return private, h(hpke.public_bytes(private.public_key()))


def flip(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
    return bytes(out)


# --- keys ---------------------------------------------------------------------------------


def test_key_ids_and_case_keys_match_python(page: Any) -> None:
    rng = random.Random(SEED)
    raws = [rng.randbytes(32) for _ in range(20)]
    got = js(
        page,
        """
        const ids = arg.map((k) => P.toHex(S.keyId(hex(k))));
        const keys = [];
        for (let i = 0; i < 5; i++) {
          const k = await S.newCaseKey();
          keys.push([P.toHex(k.privateRaw), P.toHex(k.publicRaw), P.toHex(k.keyId)]);
        }
        return { ids, keys };
        """,
        [h(r) for r in raws],
    )
    assert got["ids"] == [h(hpke.key_id_bytes(r)) for r in raws]
    privates = set()
    for private_hex, public_hex, key_id_hex in got["keys"]:
        private = X25519PrivateKey.from_private_bytes(bytes.fromhex(private_hex[2:]))
        assert h(hpke.public_bytes(private.public_key())) == public_hex
        assert key_id_hex == h(hpke.key_id_bytes(private.public_key()))
        privates.add(private_hex)
    assert len(privates) == 5  # fresh every time


# --- the tip and its grants ---------------------------------------------------------------

SEAL_TIP = """
const [casePublic, document, salt, author] = arg.tip.map(hex);
const c = await P.commitment(salt, await P.contentDigest(document), author);
const envelope = await S.sealTip(casePublic, { commitment: c, document, salt, author });
return { commitment: P.toHex(c), envelope: b64(envelope) };
"""


def test_a_tip_sealed_in_js_opens_in_python(page: Any) -> None:
    case, case_public = new_key()
    document = "เบาะแส: invoice 4711 paid twice 🧾".encode()
    salt, author = bytes(range(32)), bytes.fromhex("5aaeb6053f3e94c9b9a09f33669435e7ef1beaed")
    got = js(page, SEAL_TIP, {"tip": [case_public, h(document), h(salt), h(author)]})
    c = bytes.fromhex(got["commitment"][2:])
    assert c == commitment(salt, content_digest(document), author)
    envelope = b(got["envelope"])
    assert envelope[0] == 1
    assert envelope[1:9] == hpke.key_id_bytes(case.public_key())
    opened = open_tip(case, envelope, c)
    assert (opened.document, opened.salt, opened.author) == (document, salt, author)
    with pytest.raises(EnvelopeError, match="does not open"):
        open_tip(case, envelope[:-1] + bytes([envelope[-1] ^ 1]), c)
    with pytest.raises(EnvelopeError, match="does not open"):
        open_tip(case, envelope, hashlib.sha256(b"another tip").digest())
    with pytest.raises(EnvelopeError, match="sealed to the review desk key"):
        open_tip(X25519PrivateKey.generate(), envelope, c)


def test_seeded_tips_with_grants_open_at_the_desk(page: Any) -> None:
    """Random tips, each with a fresh case key granted to 1-4 members, all made in the page."""
    rng = random.Random(SEED + 1)
    members = [new_key() for _ in range(4)]
    cases: list[tuple[bytes, bytes, bytes, list[int]]] = []
    for _ in range(25):
        document = rng.randbytes(rng.choice([0, 1, 100, rng.randrange(2, 5000)]))
        salt = rng.randbytes(32)
        author = bytes(20) if rng.random() < 0.4 else rng.randbytes(20)
        chosen = rng.sample(range(4), rng.randint(1, 4))
        cases.append((document, salt, author, chosen))
    got = js(
        page,
        """
        const out = [];
        for (const [documentHex, saltHex, authorHex, chosen] of arg.cases) {
          const [document, salt, author] = [documentHex, saltHex, authorHex].map(hex);
          const c = await P.commitment(salt, await P.contentDigest(document), author);
          const caseKey = await S.newCaseKey();
          const tip = { commitment: c, document, salt, author };
          const envelope = await S.sealTip(caseKey.publicRaw, tip);
          const grants = [];
          for (const m of chosen) {
            grants.push(b64(await S.grantCaseKey(hex(arg.members[m]), caseKey.privateRaw,
                                                 caseKey.publicRaw, c)));
          }
          const caseId = P.toHex(caseKey.keyId);
          out.push({ c: P.toHex(c), caseId, envelope: b64(envelope), grants });
        }
        return out;
        """,
        {
            "cases": [[h(d), h(s), h(a), chosen] for d, s, a, chosen in cases],
            "members": [public for _, public in members],
        },
    )
    for (document, salt, author, chosen), sealed in zip(cases, got, strict=True):
        c, case_id = bytes.fromhex(sealed["c"][2:]), bytes.fromhex(sealed["caseId"][2:])
        for m, grant_b64 in zip(chosen, sealed["grants"], strict=True):
            grant = b(grant_b64)
            member = members[m][0]
            assert len(grant) == GRANT_SIZE
            assert grant_member_key_id(grant) == hpke.key_id(member.public_key())
            case = open_grant(member, grant, c, case_id)
            opened = open_tip(case, b(sealed["envelope"]), c)
            assert (opened.document, opened.salt, opened.author) == (document, salt, author)
        # A member the page was not given cannot open any grant of this tip.
        for m in set(range(4)) - set(chosen):
            for grant_b64 in sealed["grants"]:
                with pytest.raises(EnvelopeError, match="granted to member key"):
                    open_grant(members[m][0], b(grant_b64), c, case_id)


def test_altered_or_moved_grants_are_refused(page: Any) -> None:
    member, member_public = new_key()
    got = js(
        page,
        """
        const caseKey = await S.newCaseKey();
        const c = hex(arg.c);
        const { privateRaw, publicRaw } = caseKey;
        const grant = await S.grantCaseKey(hex(arg.member), privateRaw, publicRaw, c);
        return { grant: b64(grant), caseId: P.toHex(caseKey.keyId) };
        """,
        {"member": member_public, "c": h(hashlib.sha256(b"tip").digest())},
    )
    grant, case_id = b(got["grant"]), bytes.fromhex(got["caseId"][2:])
    c = hashlib.sha256(b"tip").digest()
    open_grant(member, grant, c, case_id)  # the untouched grant opens
    rng = random.Random(SEED + 2)
    for _ in range(30):
        tampered = bytearray(grant)
        tampered[rng.randrange(9, len(grant))] ^= 1 << rng.randrange(8)
        with pytest.raises(EnvelopeError, match="does not open"):
            open_grant(member, bytes(tampered), c, case_id)
    with pytest.raises(EnvelopeError, match="does not open"):
        open_grant(member, grant, hashlib.sha256(b"another tip").digest(), case_id)
    with pytest.raises(EnvelopeError, match="does not open"):
        open_grant(member, grant, c, bytes(8))


def test_js_refuses_bad_inputs_with_readable_messages(page: Any) -> None:
    _, public = new_key()
    got = js(
        page,
        """
        const pub = hex(arg.public);
        const zero = new Uint8Array(32);
        const c = new Uint8Array(32);
        const tries = {
          shortKey: () => S.sealTip(pub.subarray(1), { commitment: c, document: new Uint8Array(1),
                                                      salt: zero, author: new Uint8Array(20) }),
          wrongCommitment: () => S.sealTip(pub, { commitment: c, document: new Uint8Array(1),
                                                  salt: zero, author: new Uint8Array(20) }),
          stringDocument: () => S.sealTip(pub, { commitment: c, document: 'text', salt: zero,
                                                 author: new Uint8Array(20) }),
          shortAuthor: () => S.sealTip(pub, { commitment: c, document: new Uint8Array(1),
                                              salt: zero, author: new Uint8Array(19) }),
          lowOrderMember: () => S.grantCaseKey(zero, zero, pub, c),
          shortGrantCommitment: () => S.grantCaseKey(pub, zero, pub, c.subarray(2)),
          badSender: () => S.sealMessage(pub, { commitment: c, messageId: new Uint8Array(16),
                                                sender: 3, text: 'hi' }),
          emptyMessage: () => S.sealMessage(pub, { commitment: c, messageId: new Uint8Array(16),
                                                   sender: 2, text: ' \\n ' }),
          longMessage: () => S.sealMessage(pub, { commitment: c, messageId: new Uint8Array(16),
                                                  sender: 2, text: 'x'.repeat(10001) }),
          shortMessageId: () => S.sealMessage(pub, { commitment: c, messageId: new Uint8Array(8),
                                                     sender: 2, text: 'hi' }),
          badIndex: () => S.AttachmentSealer.create(pub, c, 65536),
          notABlob: () => S.hashFile(new Uint8Array(3)),
          shortChunk: async () => {
            const sealer = await S.AttachmentSealer.create(pub, c, 0);
            return sealer.sealChunk(new Uint8Array(10), false);
          },
          afterLast: async () => {
            const sealer = await S.AttachmentSealer.create(pub, c, 0);
            await sealer.sealChunk(new Uint8Array(10), true);
            return sealer.sealChunk(new Uint8Array(10), true);
          },
          emptyLastAfterOthers: async () => {
            const sealer = await S.AttachmentSealer.create(pub, c, 0);
            await sealer.sealChunk(new Uint8Array(65536), false);
            return sealer.sealChunk(new Uint8Array(0), true);
          },
        };
        const out = {};
        for (const [name, run] of Object.entries(tries)) {
          try {
            await run();
            out[name] = 'no error';
          } catch (err) {
            out[name] = `${err.name}: ${err.message}`;
          }
        }
        return out;
        """,
        {"public": public},
    )
    expected = {
        "shortKey": "case public key: expected 32 bytes, got 31",
        "wrongCommitment": "refusing to seal: salt, document and author commit to 0x",
        "stringDocument": "document: expected bytes (Uint8Array), got string",
        "shortAuthor": "author: expected 20 bytes, got 19",
        "lowOrderMember": "cannot seal to key 66687aadf862bd77",  # key id of 32 zero bytes
        "shortGrantCommitment": "commitment: expected 32 bytes, got 30",
        "badSender": "a message's sender is 1 (reviewer) or 2 (reporter), got 3",
        "emptyMessage": "the message is empty",
        "longMessage": "at most 10000 characters, this one has 10001",
        "shortMessageId": "message id: expected 16 bytes, got 8",
        "badIndex": "an attachment's index is 0 to 65535, got 65536",
        "notABlob": "an attachment is a File or Blob",
        "shortChunk": "a chunk before the last is 65536 bytes, got 10",
        "afterLast": "already sealed",
        "emptyLastAfterOthers": "only an empty attachment ends in an empty chunk",
    }
    assert hpke.key_id(bytes(32)) == "66687aadf862bd77"
    for name, message in expected.items():
        assert got[name].startswith("SealError: "), (name, got[name])
        assert message in got[name], (name, got[name])


# --- follow-up messages -------------------------------------------------------------------


def test_messages_sealed_in_js_open_in_python(page: Any) -> None:
    reporter, reporter_public = new_key()
    desk, desk_public = new_key()
    c = hashlib.sha256(b"the tip").digest()
    texts = ["Office X, 3rd floor.", "ใช่ครับ มีใบเสร็จ 🧾", "😀" * MAX_TEXT, "a\nb\tc"]
    got = js(
        page,
        """
        const out = [];
        for (const text of arg.texts) {
          const messageId = S.newMessageId();
          const copies = [];
          const to = [[arg.reporter, S.FROM_REPORTER], [arg.desk, S.FROM_REVIEWER]];
          for (const [key, sender] of to) {
            copies.push(b64(await S.sealMessage(hex(key), { commitment: hex(arg.c), messageId,
                                                            sender, text })));
          }
          out.push({ id: P.toHex(messageId), copies });
        }
        return out;
        """,
        {"texts": texts, "reporter": reporter_public, "desk": desk_public, "c": h(c)},
    )
    ids = set()
    for text, sealed in zip(texts, got, strict=True):
        check_text(text)  # Python would accept it too (code points, not UTF-16 units)
        message_id = bytes.fromhex(sealed["id"][2:])
        ids.add(message_id)
        to_reporter, to_desk = (b(x) for x in sealed["copies"])
        kw = {"commitment": c, "message_id": message_id}
        assert open_message(reporter, to_reporter, sender=FROM_REPORTER, **kw) == text
        assert open_message(desk, to_desk, sender=FROM_REVIEWER, **kw) == text
        with pytest.raises(EnvelopeError, match="does not open"):
            open_message(reporter, to_reporter, sender=FROM_REVIEWER, **kw)  # relabelled
        with pytest.raises(EnvelopeError, match="does not open"):
            open_message(
                reporter, to_reporter, sender=FROM_REPORTER, commitment=c, message_id=bytes(16)
            )
        with pytest.raises(EnvelopeError, match="does not open"):
            open_message(
                reporter, flip(to_reporter, random.Random(len(text))), sender=FROM_REPORTER, **kw
            )
        with pytest.raises(EnvelopeError, match="is sealed to key"):
            open_message(desk, to_reporter, sender=FROM_REPORTER, **kw)
    assert len(ids) == len(texts)


# --- attachments --------------------------------------------------------------------------


def test_hash_file_matches_hashlib(page: Any) -> None:
    sizes = [0, 1, 63, CHUNK_SIZE, CHUNK_SIZE + 1, 16 * CHUNK_SIZE, 16 * CHUNK_SIZE + 7]
    got = js(
        page,
        """
        const out = [];
        for (const size of arg) {
          const data = new Uint8Array(size);
          for (let i = 0; i < size; i++) data[i] = (i * 131 + (i >> 11)) & 0xff;
          const progress = [];
          const onProgress = (done, total) => progress.push([done, total]);
          const digest = await S.hashFile(new Blob([data]), onProgress);
          out.push({ sha256: P.toHex(digest), last: progress.at(-1) });
        }
        return out;
        """,
        sizes,
    )
    for size, result in zip(sizes, got, strict=True):
        data = bytes((i * 131 + (i >> 11)) & 0xFF for i in range(size))
        assert result == {"sha256": h(hashlib.sha256(data).digest()), "last": [size, size]}


def test_the_chunk_layer_gives_the_same_bytes_as_python(page: Any) -> None:
    """Deterministic under a fixed file key: JS and Python must agree byte for byte."""
    rng = random.Random(SEED + 3)
    cases = []
    for size in [
        0,
        1,
        15,
        16,
        17,
        CHUNK_SIZE - 1,
        CHUNK_SIZE,
        CHUNK_SIZE + 1,
        2 * CHUNK_SIZE + 1000,
    ]:
        cases.append((rng.randbytes(32), rng.randbytes(size)))
    got = js(
        page,
        """
        const out = [];
        for (const [key, data] of arg) {
          out.push(b64(await S.sealChunks(hex(key), P.fromBase64(data))));
        }
        return out;
        """,
        [(h(key), base64.b64encode(data).decode()) for key, data in cases],
    )
    for (key, data), sealed in zip(cases, got, strict=True):
        assert b(sealed) == _seal_chunks(key, data)
    # The pinned vector of tests/unit/core/test_attachment.py, rebuilt in the page.
    vector = js(
        page,
        """
        const size = 2 * S.CHUNK_SIZE + 1000;
        const parts = [];
        const { sha256 } = await import('/web/vendor/noble-hashes/sha2.js');
        for (let i = 0; i * 32 < size; i++) {
          const counter = [i >>> 24, (i >>> 16) & 255, (i >>> 8) & 255, i & 255];
          parts.push(sha256(new Uint8Array(counter)));
        }
        const data = P.concatBytes(...parts).subarray(0, size);
        const fileKey = await P.sha256(P.utf8('tipledger test vector: attachment file key'));
        return P.toHex(await P.sha256(await S.sealChunks(fileKey, data)));
        """,
    )
    assert vector == "0x1c4ffb997b49f25305099cc37a7e9d4fce1f7be28a689eb42d5b1c0f8eded92d"


SEAL_ATTACHMENTS = """
const out = [];
for (const [size, index] of arg.files) {
  // Random bytes in slices of 65,536 (getRandomValues' limit per call).
  const data = new Uint8Array(size);
  for (let at = 0; at < size; at += 65536) crypto.getRandomValues(data.subarray(at, at + 65536));
  const file = new File([data], `f${index}.bin`, { type: 'application/octet-stream' });
  const plain = await blobBytes(file);
  const digest = await S.hashFile(file);
  const progress = [];
  const sealed = await S.sealAttachment(file, hex(arg.casePublic), hex(arg.c), index, {
    sha256: digest, onProgress: (done, total) => progress.push([done, total]),
  });
  out.push({
    plain: b64(plain), stream: b64(await blobBytes(sealed.blob)), sha256: P.toHex(sealed.sha256),
    size: sealed.size, blobSize: sealed.blob.size, last: progress.at(-1),
  });
}
return out;
"""


def test_attachments_sealed_in_js_open_in_python(page: Any) -> None:
    case, case_public = new_key()
    c = hashlib.sha256(b"tip with attachments").digest()
    files = [(0, 0), (1, 1), (CHUNK_SIZE, 2), (CHUNK_SIZE + 1, 3), (200_000, 4), (5, 300)]
    got = js(page, SEAL_ATTACHMENTS, {"files": files, "casePublic": case_public, "c": h(c)})
    case_id = hpke.key_id_bytes(case.public_key())
    rng = random.Random(SEED + 4)
    for (size, index), sealed in zip(files, got, strict=True):
        plain, stream = b(sealed["plain"]), b(sealed["stream"])
        assert len(plain) == size == sealed["size"]
        assert sealed["sha256"] == h(hashlib.sha256(plain).digest())
        assert len(stream) == sealed["blobSize"] == sealed_size(size)
        assert sealed["last"] == [size, size]
        assert check_stream_header(stream[:HEADER_SIZE], case_id, size=len(stream)) == size
        opened = open_attachment(case, c, index, stream)
        assert opened == plain
        check_attachment(opened, Attachment(f"f{index}.bin", hashlib.sha256(plain).digest(), size))
        # Bound to its place and its tip; every chunk authenticated.
        with pytest.raises(EnvelopeError, match="another place in the list"):
            open_attachment(case, c, index + 1, stream)
        with pytest.raises(EnvelopeError, match="another tip"):
            open_attachment(case, hashlib.sha256(b"other").digest(), index, stream)
        with pytest.raises(EnvelopeError):
            open_attachment(case, c, index, flip(stream, rng))
        if size > CHUNK_SIZE:
            with pytest.raises(EnvelopeError, match="truncated"):
                open_attachment(case, c, index, stream[: HEADER_SIZE + CHUNK_SIZE + 16])
        with pytest.raises(EnvelopeError, match="sealed to case key"):
            open_attachment(X25519PrivateKey.generate(), c, index, stream)


def test_a_file_that_changed_since_it_was_hashed_is_refused(page: Any) -> None:
    _, case_public = new_key()
    got = js(
        page,
        """
        const file = new File([new Uint8Array(70000).fill(1)], 'scan.pdf');
        const wrong = new Uint8Array(32);
        try {
          await S.sealAttachment(file, hex(arg), new Uint8Array(32), 0, { sha256: wrong });
          return 'no error';
        } catch (err) {
          return `${err.name}: ${err.message}`;
        }
        """,
        case_public,
    )
    assert got == 'SealError: the file "scan.pdf" changed after it was chosen: choose it again'


def test_files_are_read_in_slices_never_whole(page: Any) -> None:
    """hashFile and sealAttachment read at most 1 MiB at a time, never the file in one piece."""
    _, case_public = new_key()
    got = js(
        page,
        """
        const reads = [];
        class Watched extends File {
          slice(start, end) {
            reads.push(Math.min(end, this.size) - start);
            return super.slice(start, end);
          }
          arrayBuffer() { reads.push('whole'); return super.arrayBuffer(); }
          stream() { reads.push('whole'); return super.stream(); }
          text() { reads.push('whole'); return super.text(); }
        }
        const size = 5 * 1024 * 1024 + 3;
        const file = new Watched([new Uint8Array(size).fill(9)], 'big.bin');
        const sha256 = await S.hashFile(file);
        const sealed = await S.sealAttachment(file, hex(arg), new Uint8Array(32), 0, { sha256 });
        return { reads, sealedSize: sealed.blob.size };
        """,
        case_public,
    )
    assert "whole" not in got["reads"]
    assert max(got["reads"]) == 1024 * 1024
    assert sum(got["reads"]) == 2 * (5 * 1024 * 1024 + 3)  # two passes, each byte once
    assert got["sealedSize"] == sealed_size(5 * 1024 * 1024 + 3)
