"""Identities sealed in the browser (api/web/static/js/identity-seal.js) against the Python vault,
in Debian's Chromium.

- A record sealed by ``sealIdentity`` opens with the custodians' keys in Python, re-seals to an
  investigator and combines from every k-subset to exactly the identity bytes Python writes.
- The identity JSON is byte for byte ``ledger.core.identity.identity_bytes``.
- ``shamir-secret-sharing`` (the page's) and ``pyshamir`` (Python's) are one scheme: JS splits
  combine in Python and Python splits combine in JS, for every k-subset of small n.
- ``custodianSet`` refuses a set the service offers but the chain does not back (a custodian
  without CUSTODIAN_ROLE, a key its address did not sign), against the real Anvil; the CLI's
  ``checked_custodian_set`` refuses the same sets.
"""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Iterator
from typing import Any

import pyshamir
import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from ledger.chain.anvil import dev_accounts
from ledger.chain.contract import TipLedgerContract
from ledger.core.encoding import checksum_address, to_hex
from ledger.vault.client import checked_custodian_set
from ledger.vault.custodian_keys import CustodianKey
from ledger.vault.digests import sign_registration
from ledger.vault.errors import VaultError
from ledger.vault.onchain import VaultChain
from ledger.vault.records import (
    CustodianPublicKey,
    IdentityRecord,
    combine,
    identity_bytes,
    open_resealed,
    open_share,
    reseal_share,
)

from .conftest import PHONE, ServedApp, Services, http_get, open_page, phone_tab

pytestmark = pytest.mark.e2e

SEED = 20261203
DIGEST = bytes(range(32))
PRELUDE = """
const S = await import('/web/js/identity-seal.js');
const Sh = await import('/web/vendor/shamir-secret-sharing/esm/index.js');
const P = await import('/web/js/protocol.js');
"""


@pytest.fixture(scope="module")
def page(browser: Any, pages_only: ServedApp) -> Iterator[Any]:
    with phone_tab(browser, pages_only.url + "/status") as tab:
        yield tab


def js(page: Any, body: str, arg: Any = None) -> Any:
    return page.evaluate(f"async (arg) => {{ {PRELUDE}\n{body} }}", arg)


def custodians(n: int) -> tuple[list[X25519PrivateKey], list[dict[str, str]]]:
    keys = [X25519PrivateKey.generate() for _ in range(n)]
    public = [CustodianPublicKey.from_public_key(k.public_key()) for k in keys]
    return keys, [{"key_id": c.key_id, "x25519_public": to_hex(c.raw)} for c in public]


SEAL = "return await S.sealIdentity(arg);"


# --- records sealed in the browser open in Python ----------------------------------------------


@pytest.mark.parametrize(("threshold", "n"), [(2, 2), (2, 3), (3, 5)])
def test_a_browser_record_opens_reseals_and_combines_in_python(
    page: Any, threshold: int, n: int
) -> None:
    keys, public = custodians(n)
    identity = {"role": "witness", "name": "สมหญิง ใจกล้า", "contact": "Signal +66 81 234 5678"}
    data = js(
        page,
        SEAL,
        {"identity": identity, "kind": "witness", "custodians": public, "threshold": threshold},
    )
    assert list(data) == [
        "format",
        "record_id",
        "kind",
        "epoch",
        "threshold",
        "nonce",
        "ciphertext",
        "sealed_shares",
    ]
    record = IdentityRecord.from_dict(data)
    assert record.to_dict() == data
    assert (record.version, record.kind.value, record.epoch, record.threshold) == (
        2,
        "witness",
        0,
        threshold,
    )
    assert list(record.custodian_key_ids) == [c["key_id"] for c in public]
    shares = [
        open_share(s, record.record_id, k) for s, k in zip(record.sealed_shares, keys, strict=True)
    ]
    expected = identity_bytes(identity)
    for subset in itertools.combinations(shares, threshold):
        assert combine(subset, record) == expected
    investigator = X25519PrivateKey.generate()
    resealed = [
        open_resealed(
            reseal_share(
                s,
                record_id=record.record_id,
                investigator_public_key=investigator.public_key(),
                request_digest=DIGEST,
            ),
            record_id=record.record_id,
            request_digest=DIGEST,
            investigator_private_key=investigator,
        )
        for s in shares
    ]
    assert combine(resealed[-threshold:], record) == expected


def test_each_browser_record_is_fresh(page: Any) -> None:
    _, public = custodians(3)
    arg = {"identity": {"name": "x"}, "kind": "reporter", "custodians": public, "threshold": 2}
    a, b = js(page, SEAL, arg), js(page, SEAL, arg)
    assert a["record_id"] != b["record_id"]
    assert a["nonce"] != b["nonce"]
    assert a["ciphertext"] != b["ciphertext"]


@pytest.mark.parametrize(
    ("arg", "message"),
    [
        ({"identity": {"a": 1}, "kind": "suspect", "threshold": 2}, "unknown record kind"),
        ({"identity": [1], "kind": "reporter", "threshold": 2}, "is a JSON object"),
        ({"identity": {"a": 1.5}, "kind": "reporter", "threshold": 2}, "whole and safe"),
        ({"identity": {"a": "x" * 70000}, "kind": "reporter", "threshold": 2}, "at most 65536"),
        ({"identity": {"a": 1}, "kind": "reporter", "threshold": 1}, "from 2 to 3"),
        ({"identity": {"a": 1}, "kind": "reporter", "threshold": 4}, "from 2 to 3"),
        ({"identity": {"a": 1}, "kind": "reporter", "threshold": 2, "bad_id": 1}, "does not match"),
        ({"identity": {"a": 1}, "kind": "reporter", "threshold": 2, "twice": 1}, "appears twice"),
        ({"identity": {"a": 1}, "kind": "reporter", "threshold": 2, "only": 1}, "2 to 255"),
    ],
)
def test_sealing_refusals(page: Any, arg: dict[str, Any], message: str) -> None:
    _, public = custodians(3)
    if arg.pop("bad_id", None):
        public[1]["key_id"] = public[0]["key_id"][::-1]
    if arg.pop("twice", None):
        public[2] = public[0]
    if arg.pop("only", None):
        public = public[:1]
    error = js(
        page,
        """try { await S.sealIdentity(arg); return null; }
           catch (e) { return `${e.name}: ${e.message}`; }""",
        {**arg, "custodians": public},
    )
    assert error is not None
    assert error.startswith("IdentitySealError: ")
    assert message in error


# --- the identity JSON -------------------------------------------------------------------------


def _random_text(rng: random.Random) -> str:
    pools = [(0x20, 0x7E), (0x00, 0x1F), (0x80, 0x7FF), (0xE00, 0xE7F), (0xE000, 0xFFFF)]
    pools.append((0x10000, 0x10FFFF))
    out = []
    for _ in range(rng.randrange(0, 12)):
        lo, hi = rng.choice(pools)
        out.append(chr(rng.randint(lo, hi)))
    return "".join(out)


def _identities() -> list[Any]:
    rng = random.Random(SEED)
    fixed: list[Any] = [
        {"name": "A. Reporter", "email": "a@example.org"},
        {"z": 1, "a": -(2**53 - 1), "m": 2**53 - 1, "t": True, "f": False, "n": None},
        {"\U0001f600": "astral", "\uffff": "bmp high", "\ue000": "private", "a": ""},
        {"q": '"\\/\b\f\n\r\t\x00\x1f\x7f\u2028\u2029'},
        {"nested": {"b": [1, {"y": 2, "x": [None, "ก"]}], "a": {}}, "list": []},
        {"": "empty key", " ": "space"},
    ]
    for _ in range(25):
        fixed.append({_random_text(rng): _random_text(rng) for _ in range(rng.randrange(1, 6))})
    return fixed


def test_the_identity_json_is_pythons(page: Any) -> None:
    identities = _identities()
    written = js(page, "return arg.map((v) => P.toHex(S.identityBytes(v)));", identities)
    for value, hex_ in zip(identities, written, strict=True):
        assert bytes.fromhex(hex_[2:]) == identity_bytes(value), value


def test_what_python_cannot_write_the_browser_refuses(page: Any) -> None:
    errors = js(
        page,
        """
        const out = [];
        for (const v of [{a: '\\ud800'}, {['\\udfff']: 1}, {a: 0.5}, {a: 2 ** 53}, {a: NaN},
                         {a: () => 1}, {a: new Date(0)}]) {
          try { S.identityBytes(v); out.push(null); } catch (e) { out.push(e.message); }
        }
        return out;
        """,
    )
    assert all(isinstance(e, str) for e in errors), errors
    assert "lone surrogate" in errors[0]
    assert "lone surrogate" in errors[1]


# --- shamir-secret-sharing and pyshamir: one scheme ----------------------------------------------

SIZES = [(k, n) for n in range(2, 6) for k in range(2, n + 1)]


def test_js_combines_the_protocol_vector(page: Any) -> None:
    shares = [
        "0x111013121514171619181b1a1d1c1f1e01",
        "0x22232021262724252a2b28292e2f2c2d02",
        "0x33323130373635343b3a39383f3e3d3c03",
    ]
    pairs = [list(p) for p in itertools.combinations(shares, 2)]
    found = js(
        page,
        """
        const out = [];
        for (const pair of arg) out.push(P.toHex(await Sh.combine(pair.map((h) => P.fromHex(h)))));
        return out;
        """,
        pairs,
    )
    assert found == [to_hex(bytes(range(16)))] * 3


def test_js_split_combines_in_python_every_subset(page: Any) -> None:
    rng = random.Random(SEED + 1)
    secrets = [rng.randbytes(16) for _ in SIZES]
    splits = js(
        page,
        """
        const out = [];
        for (const [secret, k, n] of arg) {
          const shares = await Sh.split(P.fromHex(secret), n, k);
          out.push(shares.map((s) => P.toHex(s)));
        }
        return out;
        """,
        [[to_hex(s), k, n] for s, (k, n) in zip(secrets, SIZES, strict=True)],
    )
    for secret, (k, n), hexes in zip(secrets, SIZES, splits, strict=True):
        shares = [bytearray.fromhex(h[2:]) for h in hexes]
        assert len(shares) == n
        assert all(len(s) == 17 for s in shares)
        for size in range(k, n + 1):
            for subset in itertools.combinations(shares, size):
                assert bytes(pyshamir.combine(list(subset))) == secret
        for subset in itertools.combinations(shares, k - 1):
            if len(subset) >= 2:  # k - 1 shares give another value, not the secret
                assert bytes(pyshamir.combine(list(subset))) != secret


def test_python_split_combines_in_js_every_subset(page: Any) -> None:
    rng = random.Random(SEED + 2)
    cases = []
    for k, n in SIZES:
        secret = rng.randbytes(16)
        shares = [bytes(s) for s in pyshamir.split(secret, n, k)]
        subsets = [
            list(c) for size in range(k, n + 1) for c in itertools.combinations(shares, size)
        ]
        short = [list(c) for c in itertools.combinations(shares, k - 1) if len(c) >= 2]
        cases.append((secret, subsets, short))
    results = js(
        page,
        """
        const out = [];
        for (const [subsets, short] of arg) {
          const joined = async (s) => P.toHex(await Sh.combine(s.map((h) => P.fromHex(h))));
          const whole = [];
          for (const s of subsets) whole.push(await joined(s));
          const partial = [];
          for (const s of short) partial.push(await joined(s));
          out.push([whole, partial]);
        }
        return out;
        """,
        [
            [[[to_hex(x) for x in s] for s in subsets], [[to_hex(x) for x in s] for s in short]]
            for _, subsets, short in cases
        ],
    )
    for (secret, subsets, _short), (whole, partial) in zip(cases, results, strict=True):
        assert len(whole) == len(subsets)
        assert set(whole) == {to_hex(secret)}
        assert to_hex(secret) not in partial


# --- the custodian keys, checked against the real chain ------------------------------------------


def _set_view(services: Services, keys: list[CustodianKey], threshold: int) -> dict[str, Any]:
    """What GET /v1/vault/custodian-set/reporter would answer for ``keys``."""
    config = json.loads(http_get(services.url + "/web-config.json")[2])
    return {
        "kind": "reporter",
        "set_id": 99,
        "version": 99,
        "threshold": threshold,
        "chain_id": config["chain_id"],
        "contract": config["contract"],
        "record_format": "tipledger-identity-record/2",
        "custodians": [
            {
                "index": i,
                "key_id": k.key_id,
                "x25519_public": to_hex(k.share_key.raw),
                "address": k.address,
                "name": f"custodian {i}",
                "registration_signature": to_hex(
                    sign_registration(
                        k.eth_account, config["chain_id"], config["contract"], k.public()
                    )
                ),
            }
            for i, k in enumerate(keys, start=1)
        ],
    }


CHECK_SET = """
const view = arg.view;
const fetch = async () => new Response(JSON.stringify(view), {status: 200});
try {
  const set = await S.custodianSet('reporter', {fetch, rpcUrl: arg.rpc});
  const record = await S.sealIdentity({identity: {name: 'x'}, kind: 'reporter',
                                      custodians: set.custodians, threshold: set.threshold});
  return {set, record};
} catch (e) {
  return {error: `${e.name}: ${e.message}`};
}
"""


@pytest.mark.chain
def test_the_page_seals_only_to_custodians_the_chain_lists(
    browser: Any, services: Services, contract: TipLedgerContract
) -> None:
    admin = dev_accounts(1)[0]
    keys = [CustodianKey.generate() for _ in range(4)]
    for key in keys[:3]:
        contract.grant_role(admin, "CUSTODIAN_ROLE", key.address)
    chain = VaultChain(lambda: contract)
    chain_id = int(json.loads(http_get(services.url + "/web-config.json")[2])["chain_id"])
    context = browser.new_context(viewport=PHONE)
    try:
        tab = context.new_page()
        open_page(tab, services.url + "/status")

        def check(view: dict[str, Any]) -> dict[str, Any]:
            found: dict[str, Any] = js(tab, CHECK_SET, {"view": view, "rpc": services.rpc_url})
            return found

        # All three on chain: checked, sealed to, and it opens in Python.
        good = _set_view(services, keys[:3], 2)
        answer = check(good)
        assert "error" not in answer, answer
        assert [c["key_id"] for c in answer["set"]["custodians"]] == [k.key_id for k in keys[:3]]
        record = IdentityRecord.from_dict(answer["record"])
        shares = [
            k.open_share(s, record.record_id)
            for k, s in zip(keys[:3], record.sealed_shares, strict=True)
        ]
        assert json.loads(combine(shares[:2], record)) == {"name": "x"}
        assert checked_custodian_set(good, chain, chain_id, "reporter").threshold == 2

        # The fourth holds no CUSTODIAN_ROLE: refused by the page and by the CLI.
        unlisted = _set_view(services, [*keys[:2], keys[3]], 2)
        answer = check(unlisted)
        assert "record" not in answer
        assert answer["error"].startswith("IdentitySealError: ")
        assert f"({keys[3].address}) does not hold CUSTODIAN_ROLE on chain" in answer["error"]
        with pytest.raises(VaultError, match="does not hold CUSTODIAN_ROLE"):
            checked_custodian_set(unlisted, chain, chain_id, "reporter")

        # The service swaps in a key of its own for a listed custodian: its address never
        # signed that key, so the registration does not check.
        swapped = _set_view(services, keys[:3], 2)
        other = CustodianKey.generate()
        swapped["custodians"][1].update(
            key_id=other.key_id, x25519_public=to_hex(other.share_key.raw)
        )
        answer = check(swapped)
        assert "registration" in answer["error"]
        assert keys[1].address in answer["error"]
        with pytest.raises(VaultError, match="does not prove possession"):
            checked_custodian_set(swapped, chain, chain_id, "reporter")

        # A set for another contract is not this deployment's.
        elsewhere = dict(good, contract=checksum_address("0x" + "5a" * 20))
        assert elsewhere["contract"] != good["contract"]
        assert "another chain or contract" in check(elsewhere)["error"]

        # The real route: a set (if another test made one) checks, or there is none to seal to.
        real = js(
            tab,
            """
            try { const s = await S.custodianSet('witness', {rpcUrl: arg});
                  return {threshold: s.threshold}; }
            catch (e) { return {error: e.message}; }
            """,
            services.rpc_url,
        )
        status = http_get(services.url + "/v1/vault/custodian-set/witness")[0]
        if status == 409:
            assert "has no witness custodian set" in real["error"]
        else:
            assert status == 200
            assert real.get("threshold", 0) >= 2, real
    finally:
        context.close()
