"""API fixtures: one real uvicorn server per module and database kind, on the session's Anvil.

The server runs in a thread of the test process (real sockets, real HTTP), with the service's
sequencer anchoring on the real chain every 0.2 s.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from eth_account.signers.local import LocalAccount
from web3 import Web3

from api.main import create_app, uvicorn_config
from ledger.chain.anvil import Devchain
from ledger.chain.contract import TipLedgerContract
from ledger.chain.deploy import Deployment, deploy
from ledger.cli.api_client import DeskClient
from ledger.config import Settings
from ledger.core.encoding import from_hex
from ledger.core.hpke import public_bytes
from ledger.desk.keys import generate_desk_keypair
from ledger.desk.member import case_key
from ledger.log.intake import INTAKE_ID
from ledger.service import LedgerService

MAX_BODY = 64 * 1024  # small, so the 413 tests need little data


@dataclass
class Server:
    url: str
    service: LedgerService
    deployment: Deployment
    desk_private: X25519PrivateKey
    database_url: str
    sqlite_file: Path | None
    w3: Web3
    rpc_url: str
    logs: list[str]
    accounts: tuple[LocalAccount, ...] = ()  # the devchain's: 0 admin, 1 anchorer, 2.. free

    @property
    def admin(self) -> LocalAccount:
        return self.accounts[0]

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30)

    def desk_tip(self, commitment: str) -> dict[str, Any]:
        """GET /v1/review/tips/{commitment}, signed in as the intake member (accounts[2])."""
        with DeskClient(self.url, self.accounts[2]) as desk:
            tip: dict[str, Any] = desk.call("GET", f"/v1/review/tips/{commitment}")
        return tip

    def case_key(self, commitment: str) -> X25519PrivateKey:
        """The case key of a tip held by intake, from the intake member's grant."""
        return case_key(self.desk_tip(commitment), from_hex(commitment, 32), self.desk_private)


class _Capture(logging.Handler):
    def __init__(self, sink: list[str]) -> None:
        super().__init__(logging.DEBUG)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        self.sink.append(f"{record.name} {record.levelname} {record.getMessage()}")


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def module_database_url(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    make_database_url: Callable[[str, Path], AbstractContextManager[str]],
) -> Iterator[str]:
    """The root conftest's fresh database, once per module and database kind."""
    with make_database_url(request.param, tmp_path_factory.mktemp("db")) as url:
        yield url


def free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(512)
    return sock


@contextlib.contextmanager
def serving(config: uvicorn.Config, sock: socket.socket) -> Iterator[uvicorn.Server]:
    """``config`` served by uvicorn in a thread on ``sock``, until the block ends."""
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not uv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        assert thread.is_alive(), "uvicorn stopped at start"
        time.sleep(0.05)
    try:
        yield uv
    finally:
        uv.should_exit = True
        thread.join(30)
        sock.close()


@pytest.fixture(scope="module")
def server_sealing() -> bool:
    """Whether the module's service also seals tips sent in clear (``Settings.server_sealing``).

    On here: these modules test the API's other behaviour with tips in clear, which the setting
    keeps working for a deployment that turns it on. The default (off: tips arrive sealed on the
    device) is served to test_sealed_tips.py and the browser tests, which override this.
    """
    return True


@pytest.fixture(scope="module")
def server(
    devchain: Devchain,
    w3: Web3,
    module_database_url: str,
    tmp_path_factory: pytest.TempPathFactory,
    server_sealing: bool,
) -> Iterator[Server]:
    admin: LocalAccount = devchain.accounts[0]
    anchorer: LocalAccount = devchain.accounts[1]
    deployment = deploy(w3, admin, anchorer=anchorer.address, max_merge_delay=3600)
    home = tmp_path_factory.mktemp("home")
    sock = free_socket()
    port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    settings = Settings(
        public_url=url,
        home=home,
        database_url=module_database_url,
        rpc_url=devchain.rpc_url,
        batch_interval=0.2,
        max_body_bytes=MAX_BODY,
        # every person in these tests signs in from 127.0.0.1, dozens of times a module; the
        # per-source limit's own test puts the default back (test_hardening_flood.py)
        challenges_per_source=10_000,
        server_sealing=server_sealing,
    )
    desk = generate_desk_keypair()
    # The intake desk, with accounts[2] (the reviewer of these tests) its one member, whose
    # X25519 key is ``desk``: every tip is granted to it (tests open grants with ``desk_private``).
    contract = TipLedgerContract(w3, deployment.address)
    contract.add_agency(admin, INTAKE_ID, "ศูนย์รับเรื่องร้องเรียนกลาง", "National intake desk")
    contract.add_member(
        admin, INTAKE_ID, devchain.accounts[2].address, public_bytes(desk.public_key())
    )
    service = LedgerService(
        settings=settings,
        deployment=deployment,
        w3=w3,
        anchorer=anchorer,
    )
    app = create_app(service)
    logs: list[str] = []
    handler = _Capture(logs)
    loggers = [logging.getLogger(n) for n in ("uvicorn", "uvicorn.error", "uvicorn.access")]
    loggers += [logging.getLogger("tipledger"), logging.getLogger("api")]
    for lg in loggers:
        lg.addHandler(handler)
    config = uvicorn_config(app, settings, log_level="debug", log_config=None)
    sqlite_file = (
        Path(module_database_url.removeprefix("sqlite:///"))
        if module_database_url.startswith("sqlite")
        else None
    )
    try:
        with serving(config, sock):
            yield Server(
                url=url,
                service=service,
                deployment=deployment,
                desk_private=desk,
                database_url=module_database_url,
                sqlite_file=sqlite_file,
                w3=w3,
                rpc_url=devchain.rpc_url,
                logs=logs,
                accounts=tuple(devchain.accounts),
            )
    finally:
        for lg in loggers:
            lg.removeHandler(handler)


@pytest.fixture
def client(server: Server) -> Iterator[httpx.Client]:
    with server.client() as c:
        yield c
