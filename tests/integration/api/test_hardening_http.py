"""Issue 14 point 2: the HTTP edge bounds request heads, the time to send head and body, and
connections (``api.server``), on a real uvicorn server over raw sockets.

The server runs with small limits (through ``Settings``, as ``tipledger serve`` takes them from
the environment) so that the timeouts take seconds, not minutes.
"""

from __future__ import annotations

import base64
import json
import re
import select
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, suppress
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from web3 import Web3

from api.main import create_app, uvicorn_config
from ledger.chain.anvil import Devchain
from ledger.chain.contract import TipLedgerContract
from ledger.chain.deploy import deploy
from ledger.config import Settings
from ledger.core.hpke import public_bytes
from ledger.log.intake import INTAKE_ID
from ledger.service import LedgerService

from .conftest import serving

MAX_HEADER_BYTES = 4096
MAX_HEADERS = 20
HEADER_TIMEOUT = 2.0
BODY_TIMEOUT = 2.0
MAX_CONNECTIONS = 6


@dataclass
class Edge:
    host: str
    port: int
    uv: uvicorn.Server

    def connect(self) -> socket.socket:
        sock = socket.create_connection((self.host, self.port), timeout=30)
        return sock

    def open_connections(self) -> int:
        return len(self.uv.server_state.connections)

    def wait_idle(self, deadline: float = 15.0) -> None:
        """Until the previous test's connections are gone (refused ones drain for a moment)."""
        end = time.monotonic() + deadline
        while self.open_connections():
            assert time.monotonic() < end, f"{self.open_connections()} connections still open"
            time.sleep(0.05)


@pytest.fixture(scope="module")
def edge(
    devchain: Devchain,
    w3: Web3,
    tmp_path_factory: pytest.TempPathFactory,
    make_database_url: Callable[[str, Path], AbstractContextManager[str]],
) -> Iterator[Edge]:
    admin, anchorer = devchain.accounts[0], devchain.accounts[1]
    deployment = deploy(w3, admin, anchorer=anchorer.address, max_merge_delay=3600)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(512)
    port = sock.getsockname()[1]
    with make_database_url("sqlite", tmp_path_factory.mktemp("db")) as database_url:
        settings = Settings(
            public_url=f"http://127.0.0.1:{port}",
            home=tmp_path_factory.mktemp("home"),
            database_url=database_url,
            rpc_url=devchain.rpc_url,
            batch_interval=0.2,
            max_body_bytes=64 * 1024,
            max_header_bytes=MAX_HEADER_BYTES,
            max_headers=MAX_HEADERS,
            header_timeout=HEADER_TIMEOUT,
            body_timeout=BODY_TIMEOUT,
            body_min_rate=1024,
            max_connections=MAX_CONNECTIONS,
            server_sealing=True,  # the edge's limits are tested with small tips in clear
        )
        # Tips need an agency with a member to seal to: the intake desk, one member.
        contract = TipLedgerContract(w3, deployment.address)
        contract.add_agency(admin, INTAKE_ID, "ศูนย์รับเรื่องร้องเรียนกลาง", "National intake desk")
        member = X25519PrivateKey.generate().public_key()
        contract.add_member(admin, INTAKE_ID, devchain.accounts[2].address, public_bytes(member))
        service = LedgerService(
            settings=settings,
            deployment=deployment,
            w3=w3,
            anchorer=anchorer,
        )
        # A long keep-alive, so the connection-cap test can hold connections open at rest.
        config = uvicorn_config(
            create_app(service), settings, log_level="warning", timeout_keep_alive=120
        )
        with serving(config, sock) as uv:
            yield Edge("127.0.0.1", port, uv)


def read_response(sock: socket.socket, timeout: float = 10.0) -> bytes:
    """One answer: to its Content-Length if kept alive, else all until the server closes; b""
    if the server only closed or reset the connection."""
    sock.settimeout(timeout)
    raw = b""
    try:
        while chunk := sock.recv(65536):
            raw += chunk
            head, sep, body = raw.partition(b"\r\n\r\n")
            if sep and b"connection: close" not in head.lower():
                length = re.search(rb"(?im)^content-length: *(\d+)", head)
                if length and len(body) >= int(length.group(1)):
                    break
    except ConnectionResetError:
        pass
    except TimeoutError:
        if not raw:
            raise
    return raw


def status_of(raw: bytes) -> int:
    assert raw.startswith(b"HTTP/1.1 "), raw[:200]
    return int(raw[9:12])


def detail_of(raw: bytes) -> str:
    detail = json.loads(raw.split(b"\r\n\r\n", 1)[1])["detail"]
    assert isinstance(detail, str)
    return detail


def send_all(sock: socket.socket, data: bytes) -> None:
    """Send, ignoring the server closing its end early (it answers, then stops reading)."""
    with suppress(BrokenPipeError, ConnectionResetError):
        sock.sendall(data)


def get(edge: Edge, path: str = "/healthz") -> int:
    with edge.connect() as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode())
        return status_of(read_response(sock))


def trickle(
    sock: socket.socket, data: bytes, interval: float, give_up: float
) -> tuple[bytes, float]:
    """Send ``data`` one byte per ``interval`` until the server answers or closes; returns what
    it sent and the seconds the connection lasted (``give_up`` at most)."""
    start = time.monotonic()
    for i in range(len(data)):
        if time.monotonic() - start > give_up:
            return b"", give_up
        readable, _, _ = select.select([sock], [], [], interval)
        if readable:
            return read_response(sock), time.monotonic() - start
        try:
            sock.send(data[i : i + 1])
        except (BrokenPipeError, ConnectionResetError):
            return read_response(sock), time.monotonic() - start
    return b"", time.monotonic() - start


def test_an_8_mb_header_gets_431(edge: Edge) -> None:
    with edge.connect() as sock:
        send_all(
            sock, b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * 8_000_000 + b"\r\n\r\n"
        )
        raw = read_response(sock)
    assert status_of(raw) == 431
    assert detail_of(raw) == f"request headers larger than {MAX_HEADER_BYTES} bytes"


def test_100000_headers_get_431(edge: Edge) -> None:
    headers = b"".join(b"X-%d: b\r\n" % i for i in range(100_000))
    with edge.connect() as sock:
        send_all(sock, b"GET /healthz HTTP/1.1\r\nHost: t\r\n" + headers + b"\r\n")
        assert status_of(read_response(sock)) == 431


def test_more_headers_than_allowed_get_431_even_when_small(edge: Edge) -> None:
    headers = b"".join(b"X-%d: b\r\n" % i for i in range(MAX_HEADERS + 1))
    with edge.connect() as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\n" + headers + b"\r\n")
        raw = read_response(sock)
    assert status_of(raw) == 431
    assert detail_of(raw) == f"more than {MAX_HEADERS} request headers"
    # as many as allowed still pass
    headers = b"".join(b"X-%d: b\r\n" % i for i in range(MAX_HEADERS - 1))
    with edge.connect() as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nConnection: close\r\n" + headers + b"\r\n")
        assert status_of(read_response(sock)) == 200


def test_an_unfinished_header_is_refused_once_past_the_limit(edge: Edge) -> None:
    """The server stops reading at MAX_HEADER_BYTES: it answers at once (long before the header
    timeout), though the header never ends; a 191 MiB one cannot fill its memory."""
    with edge.connect() as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nX-Unfinished: " + b"a" * MAX_HEADER_BYTES)
        start = time.monotonic()
        raw = read_response(sock, timeout=HEADER_TIMEOUT * 0.9)
    assert status_of(raw) == 431
    assert time.monotonic() - start < HEADER_TIMEOUT


def test_a_header_trickled_gets_408_after_the_header_timeout(edge: Edge) -> None:
    with edge.connect() as sock:
        raw, lasted = trickle(sock, b"GET /healthz HTTP/1.1\r\nX-Slow: " + b"a" * 200, 0.5, 30)
    assert raw, f"the connection was still open after {lasted:.0f} s"
    assert status_of(raw) == 408
    assert detail_of(raw) == f"request headers not received within {HEADER_TIMEOUT:g} s"
    assert HEADER_TIMEOUT - 0.5 <= lasted < HEADER_TIMEOUT + 8


def test_a_body_trickled_gets_408(edge: Edge) -> None:
    head = (
        b"POST /v1/tips HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        b"Content-Length: 1000\r\n\r\n"
    )
    with edge.connect() as sock:
        sock.sendall(head)
        raw, lasted = trickle(sock, b'{"document": "' + b"a" * 900, 0.5, 30)
    assert raw, f"the connection was still open after {lasted:.0f} s"
    assert status_of(raw) == 408
    assert "request body slower than 1024 bytes/s" in detail_of(raw)
    assert BODY_TIMEOUT - 0.5 <= lasted < BODY_TIMEOUT + 8


def test_a_large_body_at_a_modest_rate_is_not_cut_off(edge: Edge) -> None:
    """The body deadline is a rate, not a total: 48 KiB at 8 KiB/s takes three times
    BODY_TIMEOUT and is still read to the end and answered by the app."""
    document = base64.b64encode(b"x" * 36_000)
    body = b'{"document": "' + document + b'"}'
    with edge.connect() as sock:
        sock.sendall(
            b"POST /v1/tips HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body)
        )
        start = time.monotonic()
        for i in range(0, len(body), 8192):
            time.sleep(1.0)
            sock.sendall(body[i : i + 8192])
        assert time.monotonic() - start > 2 * BODY_TIMEOUT
        assert status_of(read_response(sock)) == 202


def test_a_connection_that_sends_nothing_is_closed(edge: Edge) -> None:
    with edge.connect() as sock:
        start = time.monotonic()
        assert read_response(sock, timeout=HEADER_TIMEOUT + 8) == b""
    assert time.monotonic() - start < HEADER_TIMEOUT + 8


def test_connections_beyond_the_cap_are_refused_at_once(edge: Edge) -> None:
    edge.wait_idle()
    held = [edge.connect() for _ in range(MAX_CONNECTIONS)]
    try:
        for sock in held:  # each answered and kept alive: open, at rest
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
            assert status_of(read_response(sock)) == 200
        assert edge.open_connections() == MAX_CONNECTIONS
        for _ in range(3):
            with edge.connect() as extra:
                raw = read_response(extra, timeout=HEADER_TIMEOUT * 0.9)
            # 503 at once, before the extra connection sent anything (or the close alone)
            assert raw == b"" or status_of(raw) == 503
        assert edge.open_connections() == MAX_CONNECTIONS  # the refused ones did not stay
        held.pop().close()
        end = time.monotonic() + 10
        while edge.open_connections() >= MAX_CONNECTIONS:
            assert time.monotonic() < end
            time.sleep(0.05)
        assert get(edge) == 200  # room again
    finally:
        for sock in held:
            sock.close()


def test_normal_requests_are_still_answered(edge: Edge) -> None:
    edge.wait_idle()
    assert get(edge) == 200
    # a kept-alive connection serves several requests, with a body, each within the limits
    with edge.connect() as sock:
        for _ in range(3):
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
            assert status_of(read_response(sock)) == 200
        body = b'{"document": "aGVsbG8="}'
        sock.sendall(
            b"POST /v1/tips HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body) + body
        )
        assert status_of(read_response(sock)) == 202
