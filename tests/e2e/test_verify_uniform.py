"""The verify page asks the same of everyone (issue 15, PROTOCOL.md section 18), in Chromium.

A real service (uvicorn, SQLite, its sequencer anchoring on a real Anvil every 0.2 s) holds a
log of 300 tips. The page verifies receipts of different leaves, anchored in different
checkpoints of the one block window; every request it makes is recorded: each HTTP request
(Playwright's ``request`` event) and the JSON-RPC bodies sent to the chain. Two receipts in one
256-entry group ask exactly the same; in different groups, the same apart from the level-0 tile
holding the leaf. Tampering still fails: the checkpoint's root or time, a checkpoint the chain
never anchored, tiles that do not hash to the chain's latest root (flipped or short); a log
that cannot be reached leaves the verdict incomplete; the promise signer's role is judged at
the receipt's block (revoked later: held; granted later: not).
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account.signers.local import LocalAccount

from api.main import create_app
from ledger.chain.anvil import Devchain
from ledger.chain.client import connect
from ledger.chain.contract import TipLedgerContract
from ledger.chain.deploy import deploy
from ledger.config import Settings
from ledger.core.eip712 import sign_promise
from ledger.core.hpke import public_bytes
from ledger.desk.keys import generate_desk_keypair
from ledger.log.intake import INTAKE_ID
from ledger.service import LedgerService

from .conftest import PHONE, ServedApp, open_page

pytestmark = [pytest.mark.e2e, pytest.mark.chain]

TIPS = 300
ANCHOR_TIMEOUT = 60.0


@dataclass
class UniformLog:
    url: str
    rpc_url: str
    receipts: dict[int, dict[str, Any]]  # by leaf index: two in one tile, then one in another
    anchored: Callable[[int], bool]  # was a checkpoint of this size anchored?
    contract: TipLedgerContract
    admin: LocalAccount
    spare: LocalAccount  # an account holding no role


def _wait_anchored(client: httpx.Client, commitment: str) -> dict[str, Any]:
    deadline = time.monotonic() + ANCHOR_TIMEOUT
    while True:
        response = client.get(f"/v1/tips/{commitment}/receipt")
        assert response.status_code in (200, 202), response.text
        if response.status_code == 200:
            data: dict[str, Any] = response.json()
            return data
        assert time.monotonic() < deadline, "not anchored in time"
        time.sleep(0.1)


@pytest.fixture(scope="module")
def uniform_log(
    tmp_path_factory: pytest.TempPathFactory, chromium_path: Path
) -> Iterator[UniformLog]:
    with Devchain(accounts=4) as chain:
        w3 = connect(chain.rpc_url)
        admin, anchorer = chain.accounts[0], chain.accounts[1]
        deployment = deploy(w3, admin, anchorer=anchorer.address, max_merge_delay=3600)
        contract = TipLedgerContract(w3, deployment.address)
        desk = generate_desk_keypair()
        contract.add_agency(admin, INTAKE_ID, "ศูนย์รับเรื่องร้องเรียนกลาง", "National intake desk")
        contract.add_member(
            admin, INTAKE_ID, chain.accounts[2].address, public_bytes(desk.public_key())
        )
        home = tmp_path_factory.mktemp("uniform-home")
        settings = Settings(
            home=home,
            database_url=f"sqlite:///{home / 'ledger.db'}",
            rpc_url=chain.rpc_url,
            batch_interval=0.2,
            server_sealing=True,  # tips in clear from this test, sealed by the service
        )
        service = LedgerService(settings=settings, deployment=deployment, w3=w3, anchorer=anchorer)
        with ServedApp(create_app(service)) as served:
            by_leaf: dict[int, dict[str, Any]] = {}
            with httpx.Client(base_url=served.url, timeout=30) as client:
                batch: list[dict[str, Any]] = []
                for k in range(TIPS):
                    document = f"เบาะแสทดสอบหมายเลข {k}".encode()
                    response = client.post(
                        "/v1/tips", json={"document": base64.b64encode(document).decode()}
                    )
                    assert response.status_code == 202, response.text
                    batch.append(response.json())
                    if k in (5, 150, TIPS - 1):
                        # Fetched as soon as anchored, as a reporter would: each receipt keeps
                        # the checkpoint it was first anchored in (the sequencer orders a
                        # batch its own way: the leaf is read from the receipt).
                        for tip in batch:
                            fetched = _wait_anchored(client, tip["commitment"])
                            receipt = {**tip["receipt"], "inclusion": fetched["inclusion"]}
                            by_leaf[receipt["inclusion"]["leaf_index"]] = receipt
                        batch = []
            size = {leaf: r["inclusion"]["tree_size"] for leaf, r in by_leaf.items()}
            # two leaves of the first 256-entry group, anchored in different checkpoints, and
            # one of the second group
            first = 2
            same_tile = next(k for k in range(256) if size[k] != size[first])
            other_tile = 290
            receipts = {k: by_leaf[k] for k in (first, same_tile, other_tile)}
            yield UniformLog(
                url=served.url,
                rpc_url=chain.rpc_url,
                receipts=receipts,
                anchored=lambda size: contract.checkpoint(size).timestamp != 0,
                contract=contract,
                admin=admin,
                spare=chain.accounts[3],
            )


@dataclass
class Asked:
    """What one verification asked: HTTP requests (method and URL) and JSON-RPC calls."""

    http: list[str]
    rpc: list[dict[str, Any]]
    status: str
    checks: dict[str, str]


def verify_in_page(
    browser: Any, log: UniformLog, receipt: dict[str, Any], *, log_url: str | None = None
) -> Asked:
    context = browser.new_context(viewport=PHONE, locale="th-TH")
    page = context.new_page()
    open_page(page, log.url + "/verify")
    page.fill("#verify-receipt", json.dumps(receipt, indent=2))
    page.check("#doc-mode-none")
    if log_url is not None:
        page.fill("#verify-log", log_url)
    http: list[str] = []
    rpc: list[dict[str, Any]] = []

    def record(request: Any) -> None:
        if request.url == log.rpc_url or request.url.rstrip("/") == log.rpc_url.rstrip("/"):
            body = json.loads(request.post_data)
            rpc.append({"method": body["method"], "params": body["params"]})  # not the id
        else:
            http.append(f"{request.method} {request.url}")

    page.on("request", record)
    page.click("#verify-button")
    page.wait_for_selector("#verdict:not([hidden])", timeout=20_000)
    status = page.get_attribute("#verdict", "data-status") or ""
    checks = dict(
        page.eval_on_selector_all(
            "#verdict-checks li", "els => els.map(e => [e.dataset.check, e.dataset.ok])"
        )
    )
    context.close()
    return Asked(http=http, rpc=rpc, status=status, checks=checks)


def level0(url: str, leaf: int) -> str:
    """The URL of the level-0 tile holding ``leaf`` (indices here are under 1000)."""
    base = url.split("/log/")[0]
    return f"{base}/log/tile/0/{leaf // 256:03d}"


def test_two_receipts_ask_the_same_apart_from_their_tile(
    browser: Any, uniform_log: UniformLog
) -> None:
    log = uniform_log
    sizes = {leaf: r["inclusion"]["tree_size"] for leaf, r in log.receipts.items()}
    assert len(set(sizes.values())) > 1, sizes  # different checkpoints: different receipt sizes
    asked = {leaf: verify_in_page(browser, log, r) for leaf, r in log.receipts.items()}
    for leaf, a in asked.items():
        assert a.status == "valid", (leaf, a.checks)
        assert a.checks["latest_inclusion"] == "true"

    leaves = list(log.receipts)
    first, same_tile, other_tile = (asked[leaf] for leaf in leaves)
    # Same 256-entry group: every request the same, in the same order, to the chain and to HTTP.
    assert first.rpc == same_tile.rpc
    assert first.http == same_tile.http
    # Another group: the chain is asked the same; HTTP differs only in the leaf's level-0 tile.
    assert first.rpc == other_tile.rpc
    methods = [call["method"] for call in first.rpc]
    assert methods.count("eth_getLogs") == 1
    get_logs = next(call for call in first.rpc if call["method"] == "eth_getLogs")["params"][0]
    assert get_logs["fromBlock"] == "0x0"  # the aligned window holding every anchor here
    tiles_a = {u for u in first.http if "/log/tile/" in u}
    tiles_b = {u for u in other_tile.http if "/log/tile/" in u}
    own = {f"GET {level0(log.url, leaves[0])}", f"GET {level0(log.url, leaves[2])}"}
    assert tiles_a ^ tiles_b <= own, tiles_a ^ tiles_b
    assert [u for u in first.http if "/log/tile/" not in u] == [
        u for u in other_tile.http if "/log/tile/" not in u
    ]
    # Nothing names the receipt: not its commitment, its size, its block, nor its leaf.
    for leaf, a in asked.items():
        receipt = log.receipts[leaf]
        text = json.dumps(a.rpc) + " ".join(a.http)
        assert receipt["commitment"][2:].lower() not in text.lower()


def test_a_tampered_checkpoint_fails(browser: Any, uniform_log: UniformLog) -> None:
    receipt = json.loads(json.dumps(next(iter(uniform_log.receipts.values()))))
    receipt["inclusion"]["block_timestamp"] += 1
    asked = verify_in_page(browser, uniform_log, receipt)
    assert asked.status == "invalid"
    assert [name for name, ok in asked.checks.items() if ok == "false"] == ["checkpoint_timestamp"]
    # An altered root: the receipt's own proof fails, and the window's event says otherwise.
    receipt = json.loads(json.dumps(next(iter(uniform_log.receipts.values()))))
    receipt["inclusion"]["root_hash"] = "0x" + "ab" * 32
    asked = verify_in_page(browser, uniform_log, receipt)
    failed = [name for name, ok in asked.checks.items() if ok == "false"]
    assert failed == ["inclusion", "checkpoint_root"]


def test_a_checkpoint_the_window_does_not_hold_fails(browser: Any, uniform_log: UniformLog) -> None:
    # A root and size the chain never anchored, with a proof that matches them (a forged
    # checkpoint): the receipt's own proof passes, the chain's events refuse it.
    leaf = next(k for k in uniform_log.receipts if not uniform_log.anchored(k + 1))
    receipt = json.loads(json.dumps(uniform_log.receipts[leaf]))
    inclusion = receipt["inclusion"]
    inclusion["tree_size"] = inclusion["leaf_index"] + 1
    inclusion["proof"] = _left_path(uniform_log, inclusion["leaf_index"])
    inclusion["root_hash"] = _root_of_prefix(uniform_log, inclusion["leaf_index"] + 1)
    asked = verify_in_page(browser, uniform_log, receipt)
    assert asked.status == "invalid"
    failed = [name for name, ok in asked.checks.items() if ok == "false"]
    assert failed == ["checkpoint_root", "checkpoint_timestamp"], asked.checks


class _Flipping(BaseHTTPRequestHandler):
    """A "mirror" that serves the service's tiles with one bit of each body flipped (or, with
    ``cut``, its last hash left off)."""

    upstream = ""
    cut = False

    def do_GET(self) -> None:
        with urllib.request.urlopen(self.upstream + self.path) as answer:
            body = bytearray(answer.read())
        if self.cut:
            del body[-32:]
        else:
            body[-1] ^= 1
        self.send_response(200)
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(bytes(body))

    def log_message(self, *_args: object) -> None:
        pass


@pytest.mark.parametrize("cut", [False, True], ids=["flipped", "short"])
def test_tiles_that_do_not_hash_to_the_latest_root_fail(
    browser: Any, uniform_log: UniformLog, cut: bool
) -> None:
    handler = type("Mirror", (_Flipping,), {"upstream": uniform_log.url, "cut": cut})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        mirror = f"http://127.0.0.1:{server.server_address[1]}/log"
        receipt = next(iter(uniform_log.receipts.values()))
        asked = verify_in_page(browser, uniform_log, receipt, log_url=mirror)
    finally:
        server.shutdown()
        server.server_close()
    assert asked.status == "invalid"
    assert [name for name, ok in asked.checks.items() if ok == "false"] == ["latest_inclusion"]


# -- a forged checkpoint: the prefix tree of the log's first entries, from its entry bundle ----


def _entries(log: UniformLog, count: int) -> list[bytes]:
    with urllib.request.urlopen(f"{log.url}/log/tile/entries/000") as answer:
        body = answer.read()
    out = [body[k + 2 : k + 34] for k in range(0, len(body), 34)]
    return out[:count]


def _leaf(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _mth(leaves: list[bytes]) -> bytes:
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return _node(_mth(leaves[:k]), _mth(leaves[k:]))


def _root_of_prefix(log: UniformLog, size: int) -> str:
    return "0x" + _mth([_leaf(e) for e in _entries(log, size)]).hex()


def _left_path(log: UniformLog, index: int) -> list[str]:
    """PATH(index, D[index+1]): the last leaf of the prefix tree, so only left siblings."""
    leaves = [_leaf(e) for e in _entries(log, index + 1)]
    path: list[bytes] = []

    def walk(m: int, part: list[bytes]) -> None:
        if len(part) <= 1:
            return
        k = 1
        while k * 2 < len(part):
            k *= 2
        if m < k:
            walk(m, part[:k])
            path.append(_mth(part[k:]))
        else:
            walk(m - k, part[k:])
            path.append(_mth(part[:k]))

    walk(index, leaves)
    return ["0x" + p.hex() for p in path]


def test_a_log_that_cannot_be_reached_leaves_the_verdict_incomplete(
    browser: Any, uniform_log: UniformLog
) -> None:
    receipt = next(iter(uniform_log.receipts.values()))
    asked = verify_in_page(browser, uniform_log, receipt, log_url="http://127.0.0.1:9/log")
    assert asked.status == "incomplete"  # never valid, and not invalid: nothing was refuted
    assert "latest_inclusion" not in asked.checks


def test_the_signer_role_is_judged_at_the_receipt_block(
    browser: Any, uniform_log: UniformLog
) -> None:
    """The page asks hasRole at the window's end only; the window's role events say what held at
    the receipt's block: a key revoked later still counts, a key granted later does not."""
    log = uniform_log
    receipt = next(iter(log.receipts.values()))
    anchorer = receipt["promise"]["signer"]
    log.contract.revoke_role(log.admin, "ANCHORER_ROLE", anchorer)
    try:
        revoked_later = verify_in_page(browser, log, receipt)
    finally:
        log.contract.grant_role(log.admin, "ANCHORER_ROLE", anchorer)
    assert revoked_later.status == "valid", revoked_later.checks
    assert revoked_later.checks["promise_signer_role"] == "true"

    # The same receipt promised by a key that was granted the role only now.
    other = json.loads(json.dumps(receipt))
    at = other["promise"]["received_at"]
    signature = sign_promise(
        log.spare, other["chain_id"], other["contract"], bytes.fromhex(other["commitment"][2:]), at
    )
    other["promise"] = {
        "received_at": at,
        "signer": log.spare.address,
        "signature": "0x" + signature.hex(),
    }
    log.contract.grant_role(log.admin, "ANCHORER_ROLE", log.spare.address)
    try:
        granted_later = verify_in_page(browser, log, other)
    finally:
        log.contract.revoke_role(log.admin, "ANCHORER_ROLE", log.spare.address)
    failed = [name for name, ok in granted_later.checks.items() if ok == "false"]
    assert failed == ["promise_signer_role"], granted_later.checks
