"""Issue 14, point 5: floods and log noise, against the real server over real sockets.

- A request whose client goes away mid-body is one log line, without a traceback.
- ``POST /v1/auth/challenge`` is bounded per source (429 with Retry-After; another source, and
  the same one after the wait, still sign in) and in total (outstanding nonces never pass the
  cap, on SQLite and PostgreSQL, under concurrent issuers).

Sources are told apart by real loopback addresses (Linux routes all of 127/8 to lo): the client
binds 127.0.0.2, 127.0.0.3, ... and the server sees each as a different peer.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from ledger.auth.limits import SourceLimiter
from ledger.cli.api_client import sign_in
from ledger.config import Settings
from ledger.errors import RateLimitedError
from ledger.store.database import open_database
from ledger.store.sessions import SessionStore

from .conftest import Server

PER_SOURCE = Settings.model_fields["challenges_per_source"].default  # 30


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def lines(self) -> list[str]:
        return [line for r in list(self.records) for line in self.format(r).splitlines()]


@pytest.fixture
def records() -> Iterator[_Records]:
    handler = _Records()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)


def _abort_mid_body(url: str, path: str, declared: int, sent: int) -> None:
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {declared}\r\n\r\n"
        )
        sock.sendall(head.encode("ascii") + b"{" + b" " * (sent - 1))
        time.sleep(0.2)  # let the server start reading the body before the client vanishes


def test_aborted_request_body_is_one_log_line(server: Server, records: _Records) -> None:
    declared = 60_000  # under the test server's 64 KiB limit, so the body is really read
    for _ in range(3):
        _abort_mid_body(server.url, "/v1/verify", declared, 1000)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and len(records.lines()) < 3:
        time.sleep(0.1)
    time.sleep(1.0)  # anything logged late would show up now
    lines = records.lines()
    assert len(lines) == 3, "\n".join(lines)
    assert not [r for r in records.records if r.exc_info], "a traceback was logged"
    assert all("went away" in line and "/v1/verify" in line for line in lines), lines
    assert all("127.0.0.1" not in line for line in lines)  # never who sent it
    with server.client() as client:  # and the server is fine
        assert client.get("/healthz").status_code == 200


def _client(server: Server, source: str) -> httpx.Client:
    transport = httpx.HTTPTransport(local_address=source)
    return httpx.Client(base_url=server.url, timeout=30, transport=transport)


@pytest.fixture
def default_limit(server: Server) -> Iterator[None]:
    """The server's per-source limit at its default (the fixture raises it for the other
    tests, whose people all sign in from 127.0.0.1)."""
    sessions = server.service.sessions
    saved = sessions.limiter
    sessions.limiter = SourceLimiter(PER_SOURCE)
    try:
        yield
    finally:
        sessions.limiter = saved


@pytest.mark.usefixtures("default_limit")
def test_challenge_flood_from_one_source_is_refused(server: Server) -> None:
    flood = PER_SOURCE + 3  # each refusal takes a second (the route answers 429 late)
    with _client(server, "127.0.0.2") as client:
        started = time.monotonic()
        answers = [client.post("/v1/auth/challenge") for _ in range(flood)]
        elapsed = time.monotonic() - started
        accepted = [a for a in answers if a.status_code == 200]
        refused = [a for a in answers if a.status_code != 200]
        # A bucket of PER_SOURCE, plus what refilled (PER_SOURCE a minute) while flooding.
        assert PER_SOURCE <= len(accepted) <= PER_SOURCE + 1 + elapsed * PER_SOURCE / 60
        assert refused, "the flood was never refused"
        assert {a.status_code for a in refused} == {429}
        first = refused[0]
        wait = int(first.headers["retry-after"])
        assert 1 <= wait <= 60
        detail = first.json()["detail"]
        assert "\n" not in detail
        assert "127.0.0" not in detail  # never the client's address

        # Another source signs in meanwhile, by the real flow (the CLI's code).
        with _client(server, "127.0.0.3") as other:
            assert sign_in(other, server.admin).startswith("tls_")

        # The flooded source itself, once it has waited as told.
        time.sleep(wait + 0.5)
        assert sign_in(client, server.admin).startswith("tls_")


def test_open_challenges_are_capped_at_the_api(server: Server) -> None:
    store = server.service.sessions.store
    saved = store.max_open
    store.max_open = store.open_nonces() + 1  # one slot left
    try:
        with _client(server, "127.0.0.4") as one, _client(server, "127.0.0.5") as two:
            assert one.post("/v1/auth/challenge").status_code == 200
            full = two.post("/v1/auth/challenge")
            assert full.status_code == 429, full.text
            assert int(full.headers["retry-after"]) >= 1
            assert "sign-ins under way" in full.json()["detail"]
            assert store.open_nonces() <= store.max_open
    finally:
        store.max_open = saved
    time.sleep(2.5)  # the service asks the store again after its short recheck interval
    with _client(server, "127.0.0.5") as two:
        assert two.post("/v1/auth/challenge").status_code == 200


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_outstanding_nonces_never_exceed_the_cap(
    kind: str,
    tmp_path: Path,
    make_database_url: Callable[[str, Path], AbstractContextManager[str]],
) -> None:
    cap, threads, each = 20, 8, 10
    with make_database_url(kind, tmp_path) as url:
        engine = open_database(url)
        try:
            store = SessionStore(engine, max_open=cap)
            issued: list[str] = []
            refused: list[int] = []
            lock = threading.Lock()

            def issue(worker: int) -> None:
                for i in range(each):
                    try:
                        nonce, _ = store.issue_nonce(f"n{worker}x{i}")
                        with lock:
                            issued.append(nonce)
                    except RateLimitedError as exc:
                        with lock:
                            refused.append(exc.retry_after)

            workers = [threading.Thread(target=issue, args=(w,)) for w in range(threads)]
            for t in workers:
                t.start()
            for t in workers:
                t.join(60)
            assert len(issued) == cap
            assert len(refused) == threads * each - cap
            assert all(1 <= wait <= 600 for wait in refused)
            assert store.open_nonces() == cap
            # A used nonce frees its slot at once.
            assert store.consume_nonce(issued[0])
            store.issue_nonce("after-use")
            with pytest.raises(RateLimitedError):
                store.issue_nonce("one-too-many")
            assert store.open_nonces() == cap
        finally:
            engine.dispose()
