"""`tipledger verify` asks the same questions for every receipt (PROTOCOL.md section 18).

Two receipts of one log, their leaves in one 256-entry tile and anchored in one block window,
are verified by the CLI through a recording proxy in front of Anvil's JSON-RPC and the tile
server: the recorded requests (method and params; tile paths) are identical. For a leaf in
another tile they differ only in that tile's index. And the uniform verification still fails
for a tampered document, salt, proof or checkpoint, and for tiles that do not hash to the root.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from api import errors
from api.routes import tiles as tile_routes
from ledger.core.commitment import ZERO_AUTHOR, commitment, content_digest, new_salt
from ledger.core.eip712 import Signer
from ledger.core.receipt import Receipt
from ledger.core.tiles import BundleRef, TileRef
from ledger.core.uniform import BLOCK_WINDOW, block_window
from ledger.errors import NoTileSourceError
from ledger.log.anchoring import Anchorer
from ledger.log.reader import LogReader
from ledger.log.receipts import inclusion_for, make_promise
from ledger.log.tile_fetch import HttpTiles
from ledger.store import LogStore, open_database
from ledger.store.submissions import NewSubmission, SubmissionStore
from ledger.verify import verify_receipt, verify_receipt_uniformly

from .api.conftest import free_socket, serving
from .chain_support import DeployedLedger, add_intake


@dataclass
class Log:
    store: LogStore
    receipts: dict[str, Receipt]  # by name: "a", "b" (same tile as a), "c" (another tile)
    documents: dict[str, bytes]
    tiles_url: str


class Recorder:
    """A proxy: ``/rpc`` to Anvil, ``/log/...`` to the tile server; records what is asked."""

    def __init__(self, rpc_url: str, tiles_url: str) -> None:
        self.requests: list[tuple[str, Any]] = []
        self.corrupt_tiles = False
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: object) -> None:
                pass

            def _send(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                calls = json.loads(body)
                for call in calls if isinstance(calls, list) else [calls]:
                    recorder.requests.append(("rpc", (call["method"], call.get("params"))))
                answer = httpx.post(
                    rpc_url, content=body, headers={"Content-Type": "application/json"}
                )
                self._send(answer.status_code, answer.content, "application/json")

            def do_GET(self) -> None:
                recorder.requests.append(("http", self.path))
                answer = httpx.get(tiles_url + self.path)
                content = answer.content
                if recorder.corrupt_tiles and answer.status_code == 200 and content:
                    content = bytes([content[0] ^ 1]) + content[1:]
                self._send(answer.status_code, content, "application/octet-stream")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def take(self) -> list[tuple[str, Any]]:
        done, self.requests = self.requests, []
        return done


def tile_app(reader: LogReader) -> FastAPI:
    """Just the service's tile routes, on the log's read side."""
    app = FastAPI()
    app.state.service = SimpleNamespace(reader=reader)
    errors.install(app)
    app.include_router(tile_routes.router)
    return app


def add_entries(store: LogStore, deployed: DeployedLedger, documents: list[bytes]) -> list[Any]:
    """Accept, sequence and anchor one batch; (salt, digest, commitment) of each document."""
    made = []
    subs = SubmissionStore(store)
    now = int(time.time())
    for doc in documents:
        salt = new_salt()
        entry = commitment(salt, content_digest(doc), ZERO_AUTHOR)
        made.append((salt, content_digest(doc), entry))
    subs.accept([NewSubmission(e, now) for _, _, e in made])
    subs.sequence(len(made))
    outcome = Anchorer(store, deployed.contract, deployed.anchorer).anchor()
    assert outcome is not None
    return [(*m, outcome.checkpoint, doc) for m, doc in zip(made, documents, strict=True)]


def receipt_for(deployed: DeployedLedger, store: LogStore, made: Any) -> Receipt:
    salt, digest, entry, checkpoint, _ = made
    address = deployed.deployment.address
    chain_id = deployed.deployment.chain_id
    return Receipt.create(
        chain_id=chain_id,
        contract=address,
        commitment=entry,
        salt=salt,
        content_digest=digest,
        author=ZERO_AUTHOR,
        promise=make_promise(
            Signer(deployed.anchorer.key), chain_id, address, entry, int(time.time())
        ),
        inclusion=inclusion_for(store, entry, checkpoint),
    )


@pytest.fixture
def log(deployed: DeployedLedger, tmp_path: Path) -> Iterator[Log]:
    add_intake(deployed.contract, deployed.admin, deployed.reviewers[0])
    url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    store = LogStore(open_database(url))
    docs = [f"tip {k}".encode() for k in range(620)]
    first = add_entries(store, deployed, docs[:10])  # a: a leaf of tile 0, checkpoint 10
    second = add_entries(store, deployed, docs[10:20])  # b: another of tile 0, checkpoint 20
    rest = add_entries(store, deployed, docs[20:])  # c: a leaf of tile 1, checkpoint 620
    in_tile_1 = next(m for m in rest if 256 <= (store.index_of(m[2]) or 0) < 512)
    picks = {"a": first[3], "b": second[5], "c": in_tile_1}
    receipts = {name: receipt_for(deployed, store, m) for name, m in picks.items()}
    documents = {name: m[4] for name, m in picks.items()}
    reader = LogReader(open_database(url, migrate=False, read_only=True))
    sock = free_socket()
    config = uvicorn.Config(tile_app(reader), log_level="warning", log_config=None)
    with serving(config, sock):
        yield Log(store, receipts, documents, f"http://127.0.0.1:{sock.getsockname()[1]}")


def run_verify(home: Path, recorder: Recorder, receipt: Receipt, document: bytes) -> int:
    path = home / "receipt.json"
    path.write_text(receipt.to_json(), encoding="utf-8")
    env = {**os.environ, "TIPLEDGER_HOME": str(home)}
    env.pop("TIPLEDGER_LOG_URL", None)
    done = subprocess.run(
        [
            sys.executable, "-m", "ledger.cli", "verify", str(path), "--text", document.decode(),
            "--rpc", recorder.url + "/rpc", "--log-url", recorder.url + "/log",
        ],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stderr
    return done.returncode


def test_two_receipts_of_one_tile_and_window_ask_the_same(
    deployed: DeployedLedger, log: Log, tmp_path: Path
) -> None:
    recorder = Recorder(deployed.devchain.rpc_url, log.tiles_url)
    asked = {}
    for name in ("a", "b", "c"):
        assert run_verify(tmp_path, recorder, log.receipts[name], log.documents[name]) == 0
        asked[name] = recorder.take()
    a, b, c = asked["a"], asked["b"], asked["c"]
    assert a == b
    tiles_a = [p for kind, p in a if kind == "http"]
    assert tiles_a == ["/log/tile/0/000", "/log/tile/0/002.p/108", "/log/tile/1/000.p/2"]
    # Another tile: only the index of the leaf's level-0 tile differs.
    assert len(c) == len(a)
    differ = [(x, y) for x, y in zip(a, c, strict=True) if x != y]
    assert differ == [(("http", "/log/tile/0/000"), ("http", "/log/tile/0/001"))]
    # Nothing asked names a receipt's tree size, leaf or block, only the window's bounds.
    block = log.receipts["a"].inclusion.block_number  # type: ignore[union-attr]
    head = deployed.w3.eth.block_number
    start, end = block_window(block, head)
    assert start == block - block % BLOCK_WINDOW
    logs = [p for kind, (m, p) in ((k, v) for k, v in a if k == "rpc") if m == "eth_getLogs"]
    assert len(logs) == 1
    assert int(logs[0][0]["fromBlock"], 16) == start
    assert int(logs[0][0]["toBlock"], 16) == end
    rpc_text = json.dumps([v for k, v in a if k == "rpc"])
    for name in ("a", "b"):
        size = log.receipts[name].inclusion.tree_size  # type: ignore[union-attr]
        assert f"{size:064x}" not in rpc_text
        assert log.receipts[name].commitment.removeprefix("0x") not in rpc_text


def verify(deployed: DeployedLedger, log: Log, receipt: Receipt, document: bytes) -> Any:
    with HttpTiles(log.tiles_url + "/log") as tiles:
        return verify_receipt_uniformly(receipt, document, deployed.w3, tiles)


def failed(verdict: Any) -> set[str]:
    return {c.name for c in verdict.failures}


def test_tampering_still_fails(deployed: DeployedLedger, log: Log) -> None:
    receipt, doc = log.receipts["a"], log.documents["a"]
    ok = verify(deployed, log, receipt, doc)
    assert ok.ok, ok.summary()
    assert ok.check("latest_inclusion").ok
    assert "content_digest" in failed(verify(deployed, log, receipt, doc + b"!"))
    data = json.loads(receipt.to_json())
    salt = data["salt"]
    data["salt"] = salt[:-1] + ("0" if salt[-1] != "0" else "1")
    assert "commitment" in failed(verify(deployed, log, Receipt.from_dict(data), doc))
    data = json.loads(receipt.to_json())
    proof = data["inclusion"]["proof"]
    proof[0] = "0x" + "00" * 32
    assert "inclusion" in failed(verify(deployed, log, Receipt.from_dict(data), doc))
    # The checkpoint: a root the chain's event does not have, a time it does not have.
    inclusion = receipt.inclusion
    assert inclusion is not None
    data = json.loads(receipt.to_json())
    data["inclusion"]["block_timestamp"] += 1
    assert "checkpoint_timestamp" in failed(verify(deployed, log, Receipt.from_dict(data), doc))
    data = json.loads(receipt.to_json())
    data["inclusion"]["root_hash"] = "0x" + "11" * 32
    assert {"inclusion", "checkpoint_root"} <= failed(
        verify(deployed, log, Receipt.from_dict(data), doc)
    )


class NoLog:
    """A verifier that knows no log (no --log-url, no TIPLEDGER_LOG_URL, no data directory)."""

    description = "no log"

    def fetch(self, ref: TileRef | BundleRef) -> bytes:
        raise NoTileSourceError("no log to read tiles from")


def test_a_receipt_as_issued_before_verifies_the_same_way(
    deployed: DeployedLedger, log: Log
) -> None:
    """The receipt format is unchanged, so a receipt written before section 18 is one of these:
    the verifier of before (``verify_receipt``, which asks ``checkpoint(tree_size)``) and the
    uniform one agree on it, and with no log at hand the uniform one still proves it from the
    chain alone (its own proof against the window's checkpoint), saying the tiles were not read."""
    for name in ("a", "c"):
        receipt = Receipt.from_json(log.receipts[name].to_json())  # as a file read back
        doc = log.documents[name]
        before = verify_receipt(receipt, doc, deployed.w3)
        now = verify(deployed, log, receipt, doc)
        assert before.ok, before.summary()
        assert now.ok, now.summary()
        assert now.proven_time == before.proven_time
        alone = verify_receipt_uniformly(receipt, doc, deployed.w3, NoLog())
        assert alone.ok, alone.summary()
        assert alone.proven_time == before.proven_time
        assert any("tiles were not read" in w for w in alone.warnings)
        assert "latest_inclusion" not in {c.name for c in alone.checks}
        assert "content_digest" in failed(
            verify_receipt_uniformly(receipt, doc + b"!", deployed.w3, NoLog())
        )


def test_tiles_that_do_not_hash_to_the_root_fail(deployed: DeployedLedger, log: Log) -> None:
    recorder = Recorder(deployed.devchain.rpc_url, log.tiles_url)
    recorder.corrupt_tiles = True
    receipt, doc = log.receipts["c"], log.documents["c"]
    with HttpTiles(recorder.url + "/log") as tiles:
        verdict = verify_receipt_uniformly(receipt, doc, deployed.w3, tiles)
    assert failed(verdict) == {"latest_inclusion"}, verdict.summary()


def test_no_anchor_in_the_window_fails(deployed: DeployedLedger, log: Log) -> None:
    """A checkpoint the chain never anchored (sizes 10, 20 and 620 were): no such event."""
    receipt, doc = log.receipts["a"], log.documents["a"]
    data = json.loads(receipt.to_json())
    data["inclusion"]["tree_size"] = 15
    verdict = verify(deployed, log, Receipt.from_dict(data), doc)
    assert {"checkpoint_root", "checkpoint_timestamp"} <= failed(verdict), verdict.summary()
    assert "never anchored" in verdict.check("checkpoint_root").detail


def test_bundles_and_tiles_are_served_to_a_mirror(log: Log) -> None:
    with HttpTiles(log.tiles_url + "/log") as tiles:
        assert len(tiles.fetch(TileRef(0, 0))) == 8192
        assert len(tiles.fetch(BundleRef(2, 108))) == 108 * 34


def test_an_unanchored_receipt_asks_no_window(deployed: DeployedLedger, log: Log) -> None:
    data = json.loads(log.receipts["a"].to_json())
    del data["inclusion"]
    verdict = verify(deployed, log, Receipt.from_dict(data), log.documents["a"])
    assert verdict.pending
