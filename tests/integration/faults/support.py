"""Real processes for the fault tests: an Anvil on a fixed port with its state on disk, the
``tipledger serve`` service as a subprocess, and a load of HTTP submissions against it.

Nothing is mocked: the service is the command a person runs, killed with SIGKILL; the chain is
Anvil, stopped and restarted (with its state, or without it: a reset chain); the checks read the
database the service wrote and the chain it anchored to.
"""

from __future__ import annotations

import base64
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from web3 import Web3

from ledger.chain.anvil import Devchain, rpc_request
from ledger.chain.client import connect
from ledger.chain.contract import TipLedgerContract
from ledger.chain.deploy import Deployment
from ledger.config import Settings
from ledger.core.receipt import Receipt
from ledger.core.tree import MerkleTree
from ledger.ops.devnet import ensure_intake_desk, provision
from ledger.store import LogStore
from ledger.store.chain_txs import StoredTx, TxStore
from ledger.store.database import open_database
from ledger.verify import verify_receipt

ROOT = Path(__file__).resolve().parents[3]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(what: str, predicate: Any, timeout: float, every: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(every)


class Chain:
    """Anvil on a fixed port with its state in a file: stop/start resumes the same chain,
    ``reset`` starts it on the same port with no state (a reset devchain)."""

    def __init__(self, home: Path) -> None:
        self.port = free_port()
        self.state = home / "anvil-state.json"
        self.log_file = home / "anvil.log"
        self.devchain = self._devchain(with_state=True)

    def _devchain(self, *, with_state: bool) -> Devchain:
        return Devchain(
            port=self.port,
            state=self.state if with_state else None,
            log_file=self.log_file,
            extra_args=["--state-interval", "1"] if with_state else [],
        )

    @property
    def rpc_url(self) -> str:
        return self.devchain.rpc_url

    def start(self) -> None:
        self.devchain.start()

    def stop(self) -> None:
        self.devchain.stop()  # SIGTERM: Anvil dumps its state

    def reset(self) -> None:
        self.stop()
        self.state.unlink(missing_ok=True)
        self.devchain = self._devchain(with_state=False)
        self.start()

    def rpc(self, method: str, *params: Any) -> Any:
        return rpc_request(self.rpc_url, method, list(params))


class Service:
    """``python -m ledger.cli serve --port P`` with TIPLEDGER_HOME and the database URL."""

    def __init__(self, home: Path, database_url: str, **settings: Any) -> None:
        self.home = home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_file = home / "service.log"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("TIPLEDGER_")}
        self.env.update(
            TIPLEDGER_HOME=str(home),
            TIPLEDGER_DATABASE_URL=database_url,
            NO_COLOR="1",
            PYTHONUNBUFFERED="1",
            # These tests post tips in clear (what they test is durability, not sealing): the
            # service seals them, as a deployment with server sealing on does.
            TIPLEDGER_SERVER_SEALING="true",
        )
        self.env.update({f"TIPLEDGER_{k.upper()}": str(v) for k, v in settings.items()})
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self, timeout: float = 40.0) -> None:
        self.starts += 1
        with open(self.log_file, "ab") as log:
            log.write(f"\n===== start {self.starts} =====\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "ledger.cli", "serve", "--port", str(self.port)],
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_until("the service to answer /healthz", self.answering, timeout)

    def answering(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"the service exited ({self.proc.returncode}):\n{self.log()}")
        try:
            # 503 is an answer too: the service is up, only tips cannot be anchored yet.
            return httpx.get(self.url + "/healthz", timeout=2).status_code in (200, 503)
        except httpx.TransportError:
            return False

    def kill9(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def health(self) -> dict[str, Any]:
        answer: dict[str, Any] = httpx.get(self.url + "/healthz", timeout=5).json()
        return answer

    def log(self) -> str:
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""


@dataclass
class Acked:
    document: bytes
    answer: dict[str, Any]  # the 202 body: commitment, promise, receipt (inclusion null)
    at: float


@dataclass
class Load:
    """Threads posting tips (JSON, base64 documents) as fast as the service answers."""

    url: str
    threads: int = 4
    pause: float = 0.005
    acked: dict[str, Acked] = field(default_factory=dict)
    refused: list[str] = field(default_factory=list)  # HTTP answers other than 202
    unreachable: int = 0  # connection errors (the service was down)
    _stop: threading.Event = field(default_factory=threading.Event)
    _workers: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> Load:
        for i in range(self.threads):
            t = threading.Thread(target=self._run, args=(i,), daemon=True)
            t.start()
            self._workers.append(t)
        return self

    def stop(self) -> None:
        self._stop.set()
        for t in self._workers:
            t.join(30)

    def count(self) -> int:
        with self._lock:
            return len(self.acked)

    def acked_since(self, when: float) -> int:
        with self._lock:
            return sum(1 for a in self.acked.values() if a.at >= when)

    def _run(self, worker: int) -> None:
        n = 0
        with httpx.Client(timeout=10) as client:
            while not self._stop.is_set():
                n += 1
                document = f"tip {worker}-{n} {os.urandom(8).hex()}".encode()
                body = {"document": base64.b64encode(document).decode()}
                try:
                    r = client.post(self.url + "/v1/tips", json=body)
                except httpx.TransportError:
                    with self._lock:
                        self.unreachable += 1
                    time.sleep(0.05)
                    continue
                with self._lock:
                    if r.status_code == 202:
                        answer = r.json()
                        self.acked[answer["commitment"]] = Acked(document, answer, time.time())
                    else:
                        self.refused.append(f"{r.status_code} {r.text[:200]}")
                time.sleep(self.pause)


@dataclass
class System:
    home: Path
    database_url: str
    chain: Chain
    deployment: Deployment
    service: Service

    @property
    def w3(self) -> Web3:
        return connect(self.chain.rpc_url)

    def contract(self) -> TipLedgerContract:
        return TipLedgerContract(self.w3, self.deployment.address)

    def txs(self) -> list[StoredTx]:
        engine = open_database(self.database_url, migrate=False)
        try:
            return TxStore(engine).all()
        finally:
            engine.dispose()


def build_system(home: Path, database_url: str, **settings: Any) -> System:
    """Anvil with TipLedger deployed and the intake agency with one member (``tipledger
    devchain``'s provisioning), and the service, not yet started."""
    chain = Chain(home)
    chain.start()
    s = Settings(home=home, database_url=database_url)
    w3 = connect(chain.rpc_url)
    deployment, _ = provision(s, w3, chain.rpc_url)
    ensure_intake_desk(s, w3, deployment)
    return System(home, database_url, chain, deployment, Service(home, database_url, **settings))


def receipt_status(client: httpx.Client, url: str, commitment: str) -> tuple[int, dict[str, Any]]:
    r = client.get(f"{url}/v1/tips/{commitment}/receipt")
    return r.status_code, (r.json() if r.content else {})


def wait_all_anchored(system: System, acked: dict[str, Acked], timeout: float) -> None:
    """Every acknowledged submission answers 200 with an inclusion; a sample of the receipts,
    completed with it, verifies against the chain with the document."""
    left = set(acked)
    views: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=10) as client:
        while left:
            for c in list(left):
                code, view = receipt_status(client, system.service.url, c)
                if code == 200 and view.get("inclusion"):
                    views[c] = view
                    left.discard(c)
                elif code not in (200, 202):
                    raise AssertionError(f"receipt of acknowledged {c}: HTTP {code} {view}")
            if left and time.monotonic() > deadline:
                raise AssertionError(
                    f"{len(left)} of {len(acked)} acknowledged submissions not anchored after "
                    f"{timeout:g} s, e.g. {sorted(left)[:3]}\n{system.service.log()[-3000:]}"
                )
            if left:
                time.sleep(0.3)
    w3 = system.w3
    for c in sorted(acked)[:: max(1, len(acked) // 15)]:
        receipt = dict(acked[c].answer["receipt"])
        receipt["inclusion"] = views[c]["inclusion"]
        verdict = verify_receipt(Receipt.from_dict(receipt), acked[c].document, w3)
        assert verdict.ok, verdict.summary()


def check_log_against_chain(system: System) -> int:
    """The stored log is self-consistent, and every root ever anchored on chain is the root of
    the stored entries at that size (no anchor ever disagreed with the store). Returns the
    latest anchored size."""
    engine = open_database(system.database_url, migrate=False)
    try:
        log = LogStore(engine)
        log.verify()
        tree = MerkleTree()
        tree.extend(log.entries(0, log.size()))
    finally:
        engine.dispose()
    contract = system.contract()
    events = contract.anchored_events(system.deployment.deploy_block)
    assert events, "nothing was anchored"
    for e in events:
        assert e.tree_size <= tree.size
        assert tree.root(e.tree_size) == e.root_hash, f"anchor of size {e.tree_size} disagrees"
    sizes = [e.tree_size for e in events]
    assert sizes == sorted(set(sizes))
    latest = contract.latest()
    assert latest.tree_size == sizes[-1]
    return latest.tree_size
