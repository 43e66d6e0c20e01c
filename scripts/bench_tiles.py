"""Benchmark verifying a receipt through log tiles on a 1,000,000-entry log (issue 15).

Builds, on its own Anvil devchain, a log (temporary SQLite) of ``--entries`` commitments: half
written in bulk and anchored, then one real tip sent to the real service (uvicorn on loopback,
its sequencer anchoring it: receipt "old"), the other half in bulk, then a second tip (receipt
"new"). Both receipts are then verified the uniform way (PROTOCOL.md 18) against the latest
checkpoint:

- in the CLI's code, in process (``ledger.verify.verify_receipt_uniformly`` over HTTP tiles
  and JSON-RPC, what ``tipledger verify`` runs), median of ``--cli-runs``;
- in headless Chromium, on the verify page (click to verdict, a fresh browser context each run
  so no tile comes from its cache), median of ``--browser-runs``;

and, once more each through counting proxies, the bytes fetched (tile bodies, and JSON-RPC
request plus answer bodies). Target: under 300 ms each.

    .venv/bin/python scripts/bench_tiles.py [--entries 1000000] [--cli-runs 20] [--browser-runs 10]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from make_big_log import make_big_log  # tiles-backend's builder, next to this script

from ledger.chain.anvil import Devchain
from ledger.chain.client import connect
from ledger.chain.deploy import open_deployment
from ledger.core.receipt import Receipt
from ledger.log.anchoring import Anchorer
from ledger.log.tile_fetch import HttpTiles
from ledger.store import LogStore, open_database
from ledger.store.submissions import SOURCE_API, NewSubmission, SubmissionStore
from ledger.verify import verify_receipt_uniformly

TARGET_MS = 300.0
CHUNK = 65_536  # entries per bulk append (the sequencer's batch cap)
CHROMIUM = os.environ.get("TIPLEDGER_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def step(what: str, started: float) -> None:
    print(f"  {what:<56}{time.perf_counter() - started:>7.1f} s", flush=True)


# --- the log -----------------------------------------------------------------------------------


def bulk_append(anchorer: Anchorer, store: LogStore, count: int) -> None:
    """``count`` random commitments appended and anchored, as the sequencer would (in bulk)."""
    submissions = SubmissionStore(store)
    done = 0
    while done < count:
        batch = [os.urandom(32) for _ in range(min(CHUNK, count - done))]
        now = int(time.time())
        submissions.accept([NewSubmission(t, now, source=SOURCE_API) for t in batch])
        submissions.sequence(len(batch))
        done += len(batch)
    anchorer.anchor()


SERVE = """
import sys, uvicorn
from pathlib import Path
from eth_account import Account
from api.main import create_app
from ledger.chain.client import connect
from ledger.chain.deploy import Deployment
from ledger.config import Settings
from ledger.service import LedgerService
database, deployment_file, rpc, key, port, interval = sys.argv[1:7]
settings = Settings(home=Path(deployment_file).parent, database_url=database, rpc_url=rpc,
                    batch_interval=float(interval), server_sealing=True)
service = LedgerService(settings=settings, deployment=Deployment.load(Path(deployment_file)),
                        w3=connect(rpc), anchorer=Account.from_key(key))
uvicorn.run(create_app(service), host="127.0.0.1", port=int(port), log_level="warning",
            access_log=False)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(
    database: str, deployment_file: Path, rpc_url: str, key: str, interval: float = 0.2
) -> Iterator[str]:
    """The real app (pages, API, tiles, its sequencer batching every ``interval`` seconds) in
    its own process on loopback: not in this one, whose timings it would share a lock with."""
    port = free_port()
    args = [sys.executable, "-c", SERVE, database, str(deployment_file), rpc_url, key]
    args += [str(port), str(interval)]
    server = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(url + "/web-config.json", timeout=2).raise_for_status()
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or server.poll() is not None:
                    err = server.stderr.read().decode() if server.stderr else ""
                    sys.exit(f"the service did not start:\n{err[-3000:]}")
                time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def send_tip(url: str, document: bytes) -> dict[str, Any]:
    """POST a tip in clear (the service seals it) and wait for its first receipt."""
    with httpx.Client(base_url=url, timeout=60) as client:
        answer = client.post("/v1/tips", json={"document": base64.b64encode(document).decode()})
        answer.raise_for_status()
        accepted = answer.json()
        deadline = time.monotonic() + 120
        while True:
            got = client.get(f"/v1/tips/{accepted['commitment']}/receipt")
            if got.status_code == 200:
                return {**accepted["receipt"], "inclusion": got.json()["inclusion"]}
            if time.monotonic() > deadline:
                sys.exit("the tip was not anchored in time")
            time.sleep(0.1)


# --- counting proxies --------------------------------------------------------------------------


@dataclass
class Counter:
    requests: int = 0
    sent: int = 0  # request bodies
    received: int = 0  # answer bodies

    def reset(self) -> None:
        self.requests = self.sent = self.received = 0


@contextmanager
def counting_proxy(upstream: str) -> Iterator[tuple[str, Counter]]:
    """A forwarding HTTP proxy to ``upstream`` that counts body bytes (both ways)."""
    counter = Counter()
    base = upstream.rstrip("/")

    class Forward(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _forward(self, method: str) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else None
            headers = {"content-type": self.headers.get("content-type", "application/json")}
            request = urllib.request.Request(base + self.path, body, headers, method=method)
            try:
                with urllib.request.urlopen(request) as answer:
                    status, data = answer.status, answer.read()
                    kind = answer.headers.get("content-type", "application/octet-stream")
            except urllib.error.HTTPError as exc:
                status, data, kind = exc.code, exc.read(), "application/json"
            if method != "OPTIONS":
                counter.requests += 1
                counter.sent += len(body or b"")
                counter.received += len(data)
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Access-Control-Allow-Origin", "*")
            self.send_header("Access-Control-Allow-Headers", "content-type")
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._forward("GET")

        def do_POST(self) -> None:
            self._forward("POST")

        def do_OPTIONS(self) -> None:  # a browser's CORS preflight for JSON-RPC
            self.send_response(204)
            self.send_header("Access-Control-Allow-Origin", "*")
            self.send_header("Access-Control-Allow-Headers", "content-type")
            self.send_header("Access-Control-Allow-Methods", "GET, POST")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Forward)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", counter
    finally:
        server.shutdown()
        server.server_close()


# --- the two verifiers -------------------------------------------------------------------------


def cli_verify(receipt: Receipt, document: bytes, rpc_url: str, log_url: str) -> float:
    w3 = connect(rpc_url)
    started = time.perf_counter()
    with HttpTiles(log_url) as tiles:
        verdict = verify_receipt_uniformly(receipt, document, w3, tiles)
    elapsed = (time.perf_counter() - started) * 1000
    if not verdict.ok:
        sys.exit(f"the CLI's verdict is not valid:\n{verdict.summary()}")
    return elapsed


VERIFY_JS = """async () => {
  const verdict = document.getElementById('verdict');
  const started = performance.now();
  const done = new Promise((resolve) => {
    const watch = new MutationObserver(() => {
      if (!verdict.hidden) { watch.disconnect(); resolve(); }
    });
    watch.observe(verdict, { attributes: true });
  });
  document.getElementById('verify-button').click();
  await done;
  return [performance.now() - started, verdict.dataset.status];
}"""


def browser_verify(
    browser: Any, url: str, receipt: str, document: bytes, rpc_url: str, log_url: str
) -> float:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(url + "/verify?lang=en")
        page.wait_for_selector("body[data-ready=true]")
        page.fill("#verify-receipt", receipt)
        page.set_input_files(
            "#verify-document-file",
            {"name": "tip", "mimeType": "application/octet-stream", "buffer": document},
        )
        page.fill("#verify-rpc", rpc_url)
        page.fill("#verify-log", log_url)
        elapsed, status = page.evaluate(VERIFY_JS)
        if status != "valid":
            sys.exit(f"the page's verdict is {status}: {page.inner_text('#verdict')}")
        return float(elapsed)
    finally:
        context.close()


def median_of(runs: int, once: Callable[[], float]) -> tuple[float, float, float]:
    times = [once() for _ in range(runs)]
    return statistics.median(times), min(times), max(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--entries", type=int, default=1_000_000)
    ap.add_argument("--cli-runs", type=int, default=20)
    ap.add_argument("--browser-runs", type=int, default=10)
    args = ap.parse_args()
    half = args.entries // 2

    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp, Devchain(accounts=4) as chain:
        home = Path(tmp)
        print(f"building a {args.entries:,}-entry log")
        started = time.perf_counter()
        # tiles-backend's builder: the first half in bulk, its last entry a real receipt
        big = make_big_log(home, chain.rpc_url, entries=half, tail=1)
        old_receipt, old_document = big.receipts[0]
        step(f"{half:,} entries (scripts/make_big_log.py), anchored", started)
        w3 = connect(chain.rpc_url)
        anchorer_key = chain.accounts[1]
        contract = open_deployment(w3, big.deployment)
        store = LogStore(open_database(big.database_url))
        started = time.perf_counter()
        bulk_append(Anchorer(store, contract, anchorer_key), store, args.entries - half - 1)
        step(f"{args.entries - half - 1:,} more entries in bulk, anchored", started)
        service_args = (
            big.database_url,
            home / "deployment.json",
            chain.rpc_url,
            anchorer_key.key.hex(),
        )
        new_document = b"bench tip: a new receipt"
        started = time.perf_counter()
        with serving(*service_args) as url:
            new_receipt = send_tip(url, new_document)
        step("one tip sent to the service, anchored, receipt fetched", started)
        receipts = [old_receipt.to_dict(), new_receipt]
        documents = [old_document, new_document]

        with (
            serving(*service_args, interval=3600) as url,  # nothing to sequence while measured
            counting_proxy(chain.rpc_url) as (rpc_proxy, rpc_count),
            counting_proxy(url + "/log") as (log_proxy, log_count),
            sync_playwright() as pw,
        ):
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            log_url = url + "/log"
            latest = contract.latest()
            print(f"latest checkpoint: {latest.tree_size:,} entries")
            rows = []
            for name, receipt, document in zip(("old", "new"), receipts, documents, strict=True):
                inc = receipt["inclusion"]
                parsed = Receipt.from_dict(receipt)
                text = json.dumps(receipt)
                cli = median_of(
                    args.cli_runs, partial(cli_verify, parsed, document, chain.rpc_url, log_url)
                )
                in_page = partial(browser_verify, browser, url, text, document)
                page = median_of(args.browser_runs, partial(in_page, chain.rpc_url, log_url))
                sizes = []
                for verify in (
                    partial(cli_verify, parsed, document, rpc_proxy, log_proxy),
                    partial(in_page, rpc_proxy, log_proxy),
                ):
                    rpc_count.reset()
                    log_count.reset()
                    verify()
                    rpc_bytes = rpc_count.sent + rpc_count.received
                    sizes.append(
                        (log_count.requests, log_count.received, rpc_count.requests, rpc_bytes)
                    )
                label = f"{name}: entry {inc['leaf_index'] + 1:,} of {inc['tree_size']:,}"
                rows.append((label, "CLI", cli, sizes[0]))
                rows.append((label, "Chromium", page, sizes[1]))
            browser.close()

    print()
    print(f"verifying one receipt through tiles against {latest.tree_size:,} entries (loopback)")
    head = f"{'receipt':<36}{'verifier':<10}{'median ms':>10}{'min–max ms':>14}"
    head += f"{'tiles':>7}{'tile bytes':>12}{'RPC calls':>11}{'RPC bytes':>11}"
    print(head)
    print("-" * len(head))
    worst = 0.0
    for label, who, (median, low, high), (tiles, tile_bytes, calls, rpc_bytes) in rows:
        worst = max(worst, median)
        print(
            f"{label:<36}{who:<10}{median:>10.1f}{f'{low:.0f}–{high:.0f}':>14}"
            f"{tiles:>7}{tile_bytes:>12,}{calls:>11}{rpc_bytes:>11,}"
        )
    print(f"target under {TARGET_MS:.0f} ms each: {'met' if worst < TARGET_MS else 'NOT met'}")
    print(
        f"(CLI median of {args.cli_runs}, Chromium median of {args.browser_runs} in fresh "
        "contexts: no tile from the browser's cache; bytes are bodies both ways)"
    )


if __name__ == "__main__":
    main()
