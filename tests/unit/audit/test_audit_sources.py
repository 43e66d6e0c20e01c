"""Entry sources: a real SQLite store, and a real HTTP server on loopback speaking the API's
``/v1/log/entries`` route with a page limit."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from audit_synthetic import entries

from ledger.audit import (
    HttpEntrySource,
    MemoryEntrySource,
    SourceError,
    SourceUnavailableError,
    StoreEntrySource,
)
from ledger.store import LogStore, open_database


class LogServer(ThreadingHTTPServer):
    """Serves ``entries`` as the API does: at most ``limit`` per response."""

    daemon_threads = True

    def __init__(self, log: list[bytes], limit: int) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.log = log
        self.limit = limit
        self.requests: list[tuple[int, int]] = []
        self.fail_with: int | None = None
        self.body: bytes | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class Handler(BaseHTTPRequestHandler):
    server: LogServer

    def do_GET(self) -> None:
        url = urlparse(self.path)
        q = parse_qs(url.query)
        start, end = int(q["start"][0]), int(q["end"][0])
        self.server.requests.append((start, end))
        if url.path != "/v1/log/entries" or self.server.fail_with:
            self.send_response(self.server.fail_with or 404)
            self.end_headers()
            self.wfile.write(b'{"detail": "no"}')
            return
        page = self.server.log[start : min(end, start + self.server.limit)]
        body = self.server.body or json.dumps({"entries": ["0x" + e.hex() for e in page]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[LogServer]:
    srv = LogServer(entries(1000), limit=64)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def collect(source: object, start: int, end: int) -> list[bytes]:
    return [e for page in source.pages(start, end) for e in page]  # type: ignore[attr-defined]


def test_http_source_pages_past_the_server_limit(server: LogServer) -> None:
    source = HttpEntrySource(server.url, request_size=1000, workers=3)
    assert collect(source, 0, 1000) == server.log
    starts = sorted(s for s, _ in server.requests)
    assert starts == list(range(0, 1000, 64))  # each continues from start + number received
    assert source.description == f"API {server.url}"


def test_http_source_stops_where_the_server_has_no_more(server: LogServer) -> None:
    server.log = server.log[:150]
    assert collect(HttpEntrySource(server.url, workers=2), 0, 1000) == server.log
    assert collect(HttpEntrySource(server.url), 100, 120) == server.log[100:120]


def test_http_source_errors_are_audit_errors(server: LogServer) -> None:
    server.fail_with = 500
    with pytest.raises(SourceError, match="answered 500"):
        collect(HttpEntrySource(server.url), 0, 10)
    server.fail_with = None
    server.body = b'{"entries": ["0x1234"]}'
    with pytest.raises(SourceError, match="malformed entry"):
        collect(HttpEntrySource(server.url), 0, 10)
    server.body = b"<html>"
    with pytest.raises(SourceError, match="did not answer"):
        collect(HttpEntrySource(server.url), 0, 10)


def test_http_source_unreachable_is_source_unavailable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(SourceUnavailableError, match="cannot reach the TipLedger API"):
        collect(HttpEntrySource(f"http://127.0.0.1:{port}"), 0, 10)


def test_store_source_reads_read_only_beside_a_writer(database_url: str) -> None:
    url = database_url
    store = LogStore(open_database(url))
    log = entries(1000)
    store.append(log)
    source = StoreEntrySource.from_url(url, page_size=300)
    source.probe()
    assert source.description.startswith("database ")
    with store.transaction():  # the sequencer holding the write lock does not stop the audit
        assert collect(source, 0, 1000) == log
    assert collect(source, 990, 2000) == log[990:]
    assert [len(p) for p in source.pages(0, 1000)] == [300, 300, 300, 100]


def test_store_source_refuses_a_missing_database(tmp_path: Path) -> None:
    with pytest.raises(SourceUnavailableError, match="no SQLite database"):
        StoreEntrySource.from_url(f"sqlite:///{tmp_path / 'nothing.sqlite3'}")


def test_memory_source_pages() -> None:
    source = MemoryEntrySource(entries(10), page_size=4)
    assert [len(p) for p in source.pages(1, 100)] == [4, 4, 1]
