"""The browser's protocol code against ledger.core, byte for byte, in Debian's Chromium.

The reporter pages compute commitments, hash Merkle nodes, verify inclusion proofs, build the
tip document, recover promise signers and parse receipts in JavaScript (api/web/static/js). Each
must agree with the Python that issues and verifies receipts: PROTOCOL.md section 8 vectors,
seeded random vectors, and tampered inputs that both must refuse.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from api.parsing import Part, tip_from_parts
from ledger.core import merkle
from ledger.core.commitment import commitment, content_digest
from ledger.core.eip712 import SECP256K1_N, promise_digest, sign_promise
from ledger.core.encoding import checksum_address, to_hex
from ledger.core.errors import ProtocolError, ReceiptError
from ledger.core.receipt import Inclusion, PromiseInfo, Receipt
from ledger.core.verify import verify_offline

from .conftest import ServedApp, phone_tab

pytestmark = pytest.mark.e2e

SEED = 20261127
RFC_ENTRIES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    b"\x50\x51\x52\x53\x54\x55\x56\x57",
    b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
]
RFC_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
ANCHORER_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"

PRELUDE = """
const P = await import('/web/js/protocol.js');
const E = await import('/web/js/eth.js');
const R = await import('/web/js/receipt.js');
const V = await import('/web/js/verify.js');
const hex = (h) => P.fromHex(h);
"""


@pytest.fixture(scope="module")
def page(browser: Any, pages_only: ServedApp) -> Iterator[Any]:
    with phone_tab(browser, pages_only.url + "/status") as tab:
        yield tab


def js(page: Any, body: str, arg: Any = None) -> Any:
    """Run ``body`` (an async function body using P, E, R, V) in the page with ``arg``."""
    return page.evaluate(f"async (arg) => {{ {PRELUDE}\n{body} }}", arg)


def h(data: bytes) -> str:
    return "0x" + data.hex()


# --- PROTOCOL.md section 8 ---------------------------------------------------------------------


def test_rfc_vectors(page: Any) -> None:
    roots = js(
        page,
        """
        const entries = arg.map(hex);
        const out = [];
        for (let n = 1; n <= entries.length; n++) {
          out.push(P.toHex(await P.merkleRoot(entries.slice(0, n))));
        }
        out.push(P.toHex(await P.merkleRoot([])));
        return out;
        """,
        [h(e) for e in RFC_ENTRIES],
    )
    assert roots[:-1] == ["0x" + r for r in RFC_ROOTS]
    assert roots[-1] == h(merkle.EMPTY_ROOT)


def test_rfc_vector_proofs(page: Any) -> None:
    """Every inclusion and consistency proof of the eight-entry vector tree verifies in JS."""
    cases = []
    for n in range(1, 9):
        root = merkle.root(RFC_ENTRIES[:n])
        for i in range(n):
            proof = merkle.inclusion_proof(RFC_ENTRIES[:n], i)
            cases.append(
                ("inc", h(merkle.leaf_hash(RFC_ENTRIES[i])), i, n, [h(p) for p in proof], h(root))
            )
        for m in range(1, n + 1):
            proof = merkle.consistency_proof(RFC_ENTRIES[:n], m)
            cases.append(
                ("con", h(merkle.root(RFC_ENTRIES[:m])), m, n, [h(p) for p in proof], h(root))
            )
    results = js(
        page,
        """
        const out = [];
        for (const [kind, a, x, n, proof, root] of arg) {
          out.push(kind === 'inc'
            ? await P.verifyInclusion(hex(a), x, n, proof.map(hex), hex(root))
            : await P.verifyConsistency(x, n, hex(a), hex(root), proof.map(hex)));
        }
        return out;
        """,
        cases,
    )
    assert results == [True] * len(cases)


# --- commitment, hashing -----------------------------------------------------------------------


def test_commitment_and_hashes_match_python(page: Any) -> None:
    rng = random.Random(SEED)
    cases = []
    for _ in range(300):
        salt, digest = rng.randbytes(32), rng.randbytes(32)
        author = bytes(20) if rng.random() < 0.3 else rng.randbytes(20)
        left, right = rng.randbytes(32), rng.randbytes(32)
        entry = rng.randbytes(rng.randrange(0, 80))
        cases.append([h(salt), h(digest), h(author), h(entry), h(left), h(right)])
    got = js(
        page,
        """
        const out = [];
        for (const [salt, digest, author, entry, l, r] of arg) {
          out.push([
            P.toHex(await P.commitment(hex(salt), hex(digest), hex(author))),
            P.toHex(await P.contentDigest(hex(entry))),
            P.toHex(await P.leafHash(hex(entry))),
            P.toHex(await P.nodeHash(hex(l), hex(r))),
          ]);
        }
        return out;
        """,
        cases,
    )
    for case, row in zip(cases, got, strict=True):
        s, d, a, e, left, right = (bytes.fromhex(x[2:]) for x in case)
        assert row[0] == h(commitment(s, d, a))
        assert row[1] == h(content_digest(e))
        assert row[2] == h(merkle.leaf_hash(e))
        assert row[3] == h(merkle.node_hash(left, right))


def test_commitment_refuses_wrong_lengths(page: Any) -> None:
    errors = js(
        page,
        """
        const bad = [[31, 32, 20], [32, 33, 20], [32, 32, 19], [32, 32, 32]];
        const out = [];
        for (const [s, d, a] of bad) {
          try {
            await P.commitment(new Uint8Array(s), new Uint8Array(d), new Uint8Array(a));
            out.push(null);
          } catch (e) {
            out.push(e.name);
          }
        }
        return out;
        """,
    )
    assert errors == ["ProtocolError"] * 4
    with pytest.raises(ProtocolError):
        commitment(bytes(31), bytes(32), bytes(20))


# --- inclusion and consistency -----------------------------------------------------------------


def _mutations(
    rng: random.Random, index: int, size: int, proof: list[bytes], root: bytes
) -> list[Any]:
    """Valid and tampered (index, size, proof, root) variants of one inclusion proof."""
    out: list[Any] = [(index, size, proof, root)]
    if proof:
        k = rng.randrange(len(proof))
        flipped = bytearray(proof[k])
        flipped[rng.randrange(32)] ^= 1 << rng.randrange(8)
        out.append((index, size, [*proof[:k], bytes(flipped), *proof[k + 1 :]], root))
        out.append((index, size, proof[:-1], root))
        out.append((index, size, list(reversed(proof)), root))
    out.append((index, size, [*proof, rng.randbytes(32)], root))
    out.append(((index + 1) % (size + 1), size, proof, root))
    out.append((index, size + 1, proof, root))
    out.append((index, max(size - 1, 0), proof, root))
    out.append((index, size, proof, rng.randbytes(32)))
    out.append((size, size, proof, root))
    out.append((index, size, [*proof[:1], b"\x00" * 31] if proof else [b"\x01"], root))
    return out


def test_inclusion_matches_python_on_random_trees(page: Any) -> None:
    rng = random.Random(SEED + 1)
    cases = []
    for size in [*range(1, 40), 63, 64, 65, 127, 128, 129, 1000]:
        entries = [rng.randbytes(32) for _ in range(size)]
        root = merkle.root(entries)
        for index in sorted({0, size - 1, rng.randrange(size), rng.randrange(size)}):
            proof = merkle.inclusion_proof(entries, index)
            leaf = merkle.leaf_hash(entries[index])
            for i, n, p, r in _mutations(rng, index, size, proof, root):
                expected = merkle.root_from_inclusion(leaf, i, n, p)
                cases.append(
                    {
                        "leaf": h(leaf),
                        "index": i,
                        "size": n,
                        "proof": [h(x) for x in p],
                        "root": h(r),
                        "implied": None if expected is None else h(expected),
                        "ok": merkle.verify_inclusion(leaf, i, n, p, r),
                    }
                )
    got = js(
        page,
        """
        const out = [];
        for (const c of arg) {
          const proof = c.proof.map(hex);
          const implied = await P.rootFromInclusion(hex(c.leaf), c.index, c.size, proof);
          out.push([implied === null ? null : P.toHex(implied),
                    await P.verifyInclusion(hex(c.leaf), c.index, c.size, proof, hex(c.root))]);
        }
        return out;
        """,
        cases,
    )
    assert len(got) == len(cases) > 500
    for case, (implied, ok) in zip(cases, got, strict=True):
        assert implied == case["implied"], case
        assert ok == case["ok"], case
    assert sum(c["ok"] for c in cases) >= 4 * 40  # the untampered ones


def test_inclusion_at_uint64_scale(page: Any) -> None:
    """Indices beyond 2^53 are exact (BigInt), where JS numbers would round."""
    index, size = (1 << 62) + 12345, (1 << 63) + 1
    rng = random.Random(SEED + 2)
    leaf = rng.randbytes(32)
    length = merkle.split_point(size).bit_length()  # any proof: compare the implied roots
    proof = [rng.randbytes(32) for _ in range(length)]
    expected = merkle.root_from_inclusion(leaf, index, size, proof)
    implied = js(
        page,
        """
        const proof = arg.proof.map(hex);
        const [index, size] = [BigInt(arg.index), BigInt(arg.size)];
        const r = await P.rootFromInclusion(hex(arg.leaf), index, size, proof);
        return r === null ? null : P.toHex(r);
        """,
        {"leaf": h(leaf), "index": str(index), "size": str(size), "proof": [h(p) for p in proof]},
    )
    assert implied == (None if expected is None else h(expected))


def test_consistency_matches_python(page: Any) -> None:
    rng = random.Random(SEED + 3)
    cases = []
    for second in [*range(1, 34), 64, 100]:
        entries = [rng.randbytes(32) for _ in range(second)]
        second_root = merkle.root(entries)
        for first in sorted({1, second, rng.randrange(1, second + 1)}):
            first_root = merkle.root(entries[:first])
            proof = merkle.consistency_proof(entries, first)
            variants = [(first, second, first_root, second_root, proof)]
            if proof:
                variants.append((first, second, first_root, second_root, proof[:-1]))
                variants.append(
                    (first, second, first_root, second_root, [rng.randbytes(32), *proof[1:]])
                )
            variants.append((first, second, rng.randbytes(32), second_root, proof))
            variants.append((first, second + 1, first_root, second_root, proof))
            variants.append((max(first - 1, 0), second, first_root, second_root, proof))
            for m, n, fr, sr, p in variants:
                cases.append(
                    {
                        "m": m,
                        "n": n,
                        "fr": h(fr),
                        "sr": h(sr),
                        "proof": [h(x) for x in p],
                        "ok": merkle.verify_consistency(m, n, fr, sr, p),
                    }
                )
    got = js(
        page,
        """
        const out = [];
        for (const c of arg) {
          out.push(await P.verifyConsistency(c.m, c.n, hex(c.fr), hex(c.sr), c.proof.map(hex)));
        }
        return out;
        """,
        cases,
    )
    assert got == [c["ok"] for c in cases]
    assert any(c["ok"] for c in cases)
    assert not all(c["ok"] for c in cases)


def test_path_length_matches_python(page: Any) -> None:
    from ledger.core.verify import _path_length

    pairs = [(i, n) for n in range(1, 70) for i in range(0, n, 7)] + [(5, 1 << 40)]
    got = js(page, "return arg.map(([i, n]) => P.pathLength(i, n));", pairs)
    assert got == [_path_length(i, n) for i, n in pairs]


# --- the tip document --------------------------------------------------------------------------

TEXTS = [
    "",
    "Procurement fraud at office X, invoice 4711",
    "เบาะแสการทุจริต: ผู้แจ้งเบาะแสและพยาน\nบรรทัดที่สอง\r\nCRLF",
    'quotes " and \\ backslashes / slashes',
    "controls \x00\x01\x07\x08\t\n\x0b\x0c\r\x1b\x1f\x7f end",
    "emoji 😀 and astral 𝄞, line separators \u2028\u2029, BOM \ufeff",
    "</script><script>alert(1)</script>",
]


def _random_text(rng: random.Random) -> str:
    alphabet = (
        [chr(c) for c in range(0x20)]
        + list("abcXYZ 0123456789\"\\/'<>&")
        + [chr(c) for c in range(0x0E01, 0x0E5B)]
        + ["é", "ß", "中", "😀", "\u2028", "\ufeff", "\x7f"]
    )
    return "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 60)))


def test_tip_document_matches_the_service_builder(page: Any) -> None:
    """The browser's document is the one api.parsing.tip_from_parts builds from multipart."""
    rng = random.Random(SEED + 4)
    cases = []
    for text in TEXTS + [_random_text(rng) for _ in range(60)]:
        files = []
        for _ in range(rng.choice([0, 0, 1, 3])):
            data = rng.randbytes(rng.randrange(0, 200))
            name = rng.choice(["a.pdf", "ใบแจ้งหนี้ 4711.jpg", "x y (1).txt", "😀.png", "n" * 255])
            ctype = rng.choice(["application/pdf", "image/jpeg", "application/octet-stream"])
            files.append((name, ctype, data))
        parts = [Part("document", "tip.txt", "text/plain", text.encode("utf-8"))]
        parts += [Part("files", name, ctype, data) for name, ctype, data in files]
        document, _salt, _author = tip_from_parts(parts) if (text or files) else (b"", None, None)
        attachments = [
            {"name": n, "sha256": h(content_digest(d)), "size": len(d), "type": t}
            for n, t, d in files
        ]
        cases.append({"text": text, "attachments": attachments, "want": h(document)})
    cases = [c for c in cases if c["want"] != "0x"]
    got = js(
        page,
        "return arg.map((c) => P.toHex(P.buildTipDocument(c.text, c.attachments)));",
        cases,
    )
    for case, doc in zip(cases, got, strict=True):
        assert doc == case["want"], case["text"]


def test_lone_surrogates_become_replacement_characters(page: Any) -> None:
    got = js(
        page,
        r"""
        const doc = P.buildTipDocument('a\uD800b\uDC00c', []);
        return new TextDecoder().decode(doc);
        """,
    )
    assert json.loads(got)["text"] == "a\ufffdb\ufffdc"


def test_attachment_names_are_made_multipart_safe(page: Any) -> None:
    names = ['a"b.txt', "C:\\dir\\x.pdf", "dir/x.pdf", "tab\there", "  padded  ", "", "ก" * 300]
    got = js(page, "return arg.map((n) => P.safeAttachmentName(n));", names)
    assert got[:6] == ["a_b.txt", "C:_dir_x.pdf", "dir_x.pdf", "tab_here", "padded", "attachment"]
    assert got[6] == "ก" * 255


# --- addresses and EIP-712 ---------------------------------------------------------------------


def test_checksum_addresses_match_python(page: Any) -> None:
    rng = random.Random(SEED + 5)
    raws = [rng.randbytes(20) for _ in range(100)] + [bytes(20), b"\xff" * 20]
    got = js(page, "return arg.map((a) => E.checksumAddress(hex(a)));", [h(r) for r in raws])
    assert got == [checksum_address(r) for r in raws]
    good = checksum_address(raws[0])
    bad = good[:2] + good[2:].swapcase() if good[2:] != good[2:].swapcase() else good
    verdicts = js(
        page,
        """
        return arg.map((a) => {
          try { return P.toHex(E.addressBytes(a)); } catch (e) { return e.name; }
        });
        """,
        [good, good.lower(), "0x" + good[2:].upper(), bad, "0x1234", 42],
    )
    assert verdicts[:3] == [good.lower()] * 3
    assert verdicts[3:] == ["ProtocolError"] * 3


def test_one_time_author_keys(page: Any) -> None:
    from eth_account import Account

    keys = js(
        page,
        """
        return Array.from({length: 5}, () => {
          const k = E.newAuthorKey();
          return [k.privateKey, k.address, P.toHex(k.addressBytes)];
        });
        """,
    )
    assert len({k[0] for k in keys}) == 5
    for private_key, address, raw in keys:
        assert Account.from_key(private_key).address == address
        assert raw == address.lower()


def test_promise_digest_and_recovery_match_python(page: Any) -> None:
    from eth_account import Account

    rng = random.Random(SEED + 6)
    signer = Account.from_key(ANCHORER_KEY).address
    cases = []
    for _ in range(20):
        chain_id = rng.choice([1, 31337, 2**40 + 7, 2**255])
        c = rng.randbytes(32)
        at = rng.randrange(0, 2**64)
        sig = sign_promise(ANCHORER_KEY, chain_id, CONTRACT, c, at)
        cases.append(
            [str(chain_id), h(c), str(at), h(sig), h(promise_digest(chain_id, CONTRACT, c, at))]
        )
    got = js(
        page,
        """
        return arg.map(([chain, c, at, sig]) => {
          const d = E.promiseDigest(BigInt(chain), arg_contract, hex(c), BigInt(at));
          return [P.toHex(d), E.recoverDigestSigner(d, hex(sig))];
        });
        """.replace("arg_contract", json.dumps(CONTRACT)),
        cases,
    )
    for case, (digest, recovered) in zip(cases, got, strict=True):
        assert digest == case[4]
        assert recovered == signer


def test_signature_recovery_is_as_strict_as_openzeppelin(page: Any) -> None:
    digest = promise_digest(31337, CONTRACT, bytes(32), 1)
    sig = sign_promise(ANCHORER_KEY, 31337, CONTRACT, bytes(32), 1)
    r, s, v = sig[:32], int.from_bytes(sig[32:64], "big"), sig[64]
    high_s = r + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - v])
    variants = {
        "good": sig,
        "v29": sig[:64] + b"\x1d",
        "v0": sig[:64] + b"\x00",
        "high_s": high_s,
        "r0": bytes(32) + sig[32:],
        "s0": sig[:32] + bytes(32) + sig[64:],
        "short": sig[:64],
    }
    got = js(
        page,
        """
        const out = {};
        for (const [name, sig] of Object.entries(arg.variants)) {
          try { out[name] = E.recoverDigestSigner(hex(arg.digest), hex(sig)); }
          catch (e) { out[name] = e.name; }
        }
        return out;
        """,
        {"digest": h(digest), "variants": {k: h(x) for k, x in variants.items()}},
    )
    assert got.pop("good").startswith("0x")
    assert got == dict.fromkeys(got, "ProtocolError")


# --- receipts ----------------------------------------------------------------------------------


def _receipt(
    rng: random.Random, *, size: int = 13, document: bytes = b"a tip"
) -> tuple[Receipt, bytes]:
    salt = rng.randbytes(32)
    author = rng.randbytes(20)
    digest = content_digest(document)
    c = commitment(salt, digest, author)
    entries = [rng.randbytes(32) for _ in range(size)]
    index = rng.randrange(size)
    entries[index] = c
    at = 1764200000
    promise = PromiseInfo.create(
        received_at=at,
        signer=checksum_address(bytes.fromhex("70997970C51812dc3A010C7d01b50e0d17dc79C8")),
        signature=sign_promise(ANCHORER_KEY, 31337, CONTRACT, c, at),
    )
    inclusion = Inclusion.create(
        leaf_index=index,
        tree_size=size,
        root_hash=merkle.root(entries),
        proof=merkle.inclusion_proof(entries, index),
        anchor_tx=rng.randbytes(32),
        block_number=12,
        block_timestamp=at + 1,
    )
    receipt = Receipt.create(
        chain_id=31337,
        contract=CONTRACT,
        commitment=c,
        salt=salt,
        content_digest=digest,
        author=author,
        promise=promise,
        inclusion=inclusion,
    )
    return receipt, document


def test_receipt_json_round_trips_to_the_python_bytes(page: Any) -> None:
    rng = random.Random(SEED + 7)
    receipts = [_receipt(rng, size=n)[0] for n in (1, 2, 13, 64)]
    receipts.append(receipts[0].model_copy(update={"inclusion": None}))
    receipts.append(receipts[1].model_copy(update={"promise": None, "inclusion": None}))
    texts = [r.to_json() for r in receipts]
    # Upper-case hex and lower-case addresses parse to the same canonical form.
    noisy = json.loads(texts[2])
    noisy["salt"] = noisy["salt"].upper().replace("0X", "0x")
    noisy["contract"] = noisy["contract"].lower()
    noisy["unknown_field"] = {"kept": True}
    got = js(
        page,
        "return arg.map((t) => R.receiptToJSON(R.parseReceipt(t), {extras: false}));",
        [*texts, json.dumps(noisy)],
    )
    assert got[:-1] == texts
    assert got[-1] == texts[2]
    assert Receipt.from_json(json.dumps(noisy)).to_json() == texts[2]


BAD_RECEIPTS: dict[str, Callable[[dict[str, Any]], str]] = {
    "duplicate key": lambda d: json.dumps(d)[:-1] + ', "salt": "0x' + "00" * 32 + '"}',
    "float integer": lambda d: json.dumps({**d, "chain_id": 31337.0}),
    "exponent integer": lambda d: json.dumps(d).replace(
        '"chain_id": 31337', '"chain_id": 3.1337e4'
    ),
    "string integer": lambda d: json.dumps({**d, "chain_id": "31337"}),
    "zero chain": lambda d: json.dumps({**d, "chain_id": 0}),
    "short salt": lambda d: json.dumps({**d, "salt": d["salt"][:-1]}),
    "no 0x": lambda d: json.dumps({**d, "commitment": d["commitment"][2:]}),
    "bad checksum": lambda d: json.dumps(
        {**d, "contract": d["contract"][:-1] + ("A" if d["contract"][-1] != "A" else "B")}
    ),
    "missing format": lambda d: json.dumps({k: v for k, v in d.items() if k != "format"}),
    "other format": lambda d: json.dumps({**d, "format": "tipledger-receipt/2"}),
    "missing author": lambda d: json.dumps({k: v for k, v in d.items() if k != "author"}),
    "negative index": lambda d: json.dumps(
        {**d, "inclusion": {**d["inclusion"], "leaf_index": -1}}
    ),
    "2^64 size": lambda d: json.dumps({**d, "inclusion": {**d["inclusion"], "tree_size": 2**64}}),
    "zero size": lambda d: json.dumps({**d, "inclusion": {**d["inclusion"], "tree_size": 0}}),
    "long proof": lambda d: json.dumps(
        {**d, "inclusion": {**d["inclusion"], "proof": ["0x" + "00" * 32] * 65}}
    ),
    "proof not list": lambda d: json.dumps({**d, "inclusion": {**d["inclusion"], "proof": "0x00"}}),
    "inclusion list": lambda d: json.dumps({**d, "inclusion": []}),
    "short signature": lambda d: json.dumps(
        {**d, "promise": {**d["promise"], "signature": "0x00"}}
    ),
    "not an object": lambda d: json.dumps([d]),
    "deep nesting": lambda d: json.dumps({**d, "x": json.loads("[" * 40 + "]" * 40)}),
    "not json": lambda d: json.dumps(d)[:-2],
}


def test_malformed_receipts_are_refused_by_both(page: Any) -> None:
    rng = random.Random(SEED + 8)
    base = json.loads(_receipt(rng)[0].to_json())
    texts = {name: make(base) for name, make in BAD_RECEIPTS.items()}
    for text in texts.values():
        with pytest.raises(ReceiptError):
            Receipt.from_json(text)
    got = js(
        page,
        """
        const out = {};
        for (const [name, text] of Object.entries(arg)) {
          try { R.parseReceipt(text); out[name] = 'accepted'; } catch (e) { out[name] = e.name; }
        }
        return out;
        """,
        texts,
    )
    assert got == dict.fromkeys(texts, "ReceiptError")


def test_offline_verdicts_match_python(page: Any) -> None:
    """verify_offline's check names and outcomes, on good and tampered receipts and documents."""
    rng = random.Random(SEED + 9)
    cases: list[dict[str, Any]] = []
    for size in (1, 5, 13, 100):
        receipt, document = _receipt(rng, size=size)
        d = json.loads(receipt.to_json())
        variants: list[tuple[dict[str, Any], bytes | None]] = [
            (d, document),
            (d, None),
            (d, document + b" (altered)"),
            ({**d, "salt": h(rng.randbytes(32))}, document),
            ({**d, "author": checksum_address(rng.randbytes(20))}, None),
            ({**d, "inclusion": {**d["inclusion"], "root_hash": h(rng.randbytes(32))}}, document),
            ({**d, "inclusion": {**d["inclusion"], "proof": d["inclusion"]["proof"][:-1]}}, None),
            (
                {**d, "inclusion": {**d["inclusion"], "leaf_index": d["inclusion"]["tree_size"]}},
                None,
            ),
            ({**d, "promise": {**d["promise"], "received_at": 1}}, None),
            ({**d, "inclusion": None}, document),
        ]
        for data, doc in variants:
            r = Receipt.from_dict(data)
            verdict = verify_offline(r, doc)
            cases.append(
                {
                    "receipt": r.to_json(),
                    "document": None if doc is None else h(doc),
                    "want": [[c.name, c.ok] for c in verdict.checks],
                }
            )
    got = js(
        page,
        """
        const out = [];
        for (const c of arg) {
          const doc = c.document === null ? null : hex(c.document);
          const checks = await V.verifyOffline(R.parseReceipt(c.receipt), doc);
          out.push(checks.map((x) => [x.name, x.ok]));
        }
        return out;
        """,
        cases,
    )
    assert got == [c["want"] for c in cases]
    assert any(not all(ok for _n, ok in c["want"]) for c in cases)


def test_withinclusion_merges_only_the_same_commitment(page: Any) -> None:
    rng = random.Random(SEED + 10)
    receipt, _doc = _receipt(rng)
    pending = receipt.model_copy(update={"inclusion": None})
    answer = {
        "status": "anchored",
        "commitment": receipt.commitment,
        "leaf_index": receipt.inclusion.leaf_index if receipt.inclusion else None,
        "inclusion": receipt.to_dict()["inclusion"],
    }
    got = js(
        page,
        """
        const r = R.parseReceipt(arg.pending);
        const merged = R.receiptToJSON(R.withInclusion(r, arg.answer), {extras: false});
        let other;
        try {
          R.withInclusion(r, {...arg.answer, commitment: '0x' + '11'.repeat(32)});
          other = 'merged';
        } catch (e) {
          other = e.name;
        }
        return [merged, other];
        """,
        {"pending": pending.to_json(), "answer": answer},
    )
    assert got == [receipt.to_json(), "ProtocolError"]


def test_qr_code_holds_the_receipt(page: Any) -> None:
    rng = random.Random(SEED + 11)
    receipt, _doc = _receipt(rng, size=1000)
    got = js(
        page,
        """
        const { encodeQR } = await import('/web/vendor/qr/index.js');
        const r = R.parseReceipt(arg);
        const compact = R.compactReceiptJSON(r);
        const secret = 'tlf1_' + 'Zz9-_'.repeat(8) + 'abc';
        const withSecret = R.compactReceiptJSON(r, { followUp: secret });
        const qr = (text) => encodeQR(text, 'data-url', { ecc: 'medium', scale: 4 }).slice(0, 22);
        return [compact, qr(compact), withSecret, qr(withSecret), secret];
        """,
        receipt.to_json(),
    )
    compact, url, with_secret, url_with_secret, secret = got
    assert url == url_with_secret == "data:image/gif;base64,"
    assert Receipt.from_json(compact) == receipt.model_copy(update={"inclusion": None})
    assert to_hex(receipt.salt_bytes) in compact
    assert "follow_up" not in compact
    # The follow-up secret fits in the QR code beside the receipt; verifiers ignore it.
    assert json.loads(with_secret)["follow_up"] == {"secret": secret}
    assert Receipt.from_json(with_secret) == Receipt.from_json(compact)
