"""Where the audit reads the published log entries from.

An ``EntrySource`` yields the log's commitments from ``start`` up to (not including) ``end`` in
consecutive pages: each page continues where the previous one ended, and a source that has fewer
entries than asked simply stops early (the audit then reports the entries it was not served).

- ``HttpEntrySource``: the service's public API, ``GET /v1/log/entries?start=A&end=B``, as any
  outside auditor sees it. Responses may hold fewer entries than asked (the server's page limit);
  the next request continues from A plus the number received. Pages are prefetched by a few
  threads over one connection pool, so the tree is being rebuilt while the next pages arrive.
- ``StoreEntrySource``: a ``LogStore`` read directly (the operator's own database, read-only).
- ``TileEntrySource``: the log's entry bundles, ``<log_url>/tile/entries/<N>[.p/<W>]``
  (PROTOCOL.md 18): static files any mirror or CDN can serve, so an auditor needs no API.
- ``MemoryEntrySource``: a list in memory (tests, tools).

Nothing here trusts what it reads: the audit compares it with the chain.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Protocol

import httpx
import orjson
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from ledger.audit.errors import SourceError, SourceUnavailableError
from ledger.core.tiles import TILE_WIDTH, BundleRef, TileError, decode_entry_bundle
from ledger.errors import StoreError
from ledger.store import LogStore, open_database

__all__ = [
    "EntrySource",
    "HttpEntrySource",
    "MemoryEntrySource",
    "StoreEntrySource",
    "TileEntrySource",
]

ENTRY_HEX_LEN = 66  # "0x" + 64 hex digits


class EntrySource(Protocol):
    """The published log, page by page (see the module doc)."""

    @property
    def description(self) -> str: ...

    def probe(self) -> None:
        """Raise ``SourceUnavailableError`` now if the source cannot be read (so the audit
        fails before it reads the chain, not after)."""

    def pages(self, start: int, end: int) -> Iterator[list[bytes]]: ...


class MemoryEntrySource:
    """Entries held in a list; pages of ``page_size``."""

    def __init__(self, entries: Sequence[bytes], page_size: int = 65_536) -> None:
        self.entries = list(entries)
        self.page_size = max(1, page_size)

    @property
    def description(self) -> str:
        return f"{len(self.entries):,} entries in memory"

    def probe(self) -> None:
        pass

    def pages(self, start: int, end: int) -> Iterator[list[bytes]]:
        pos, end = start, min(end, len(self.entries))
        while pos < end:
            page = self.entries[pos : min(end, pos + self.page_size)]
            yield page
            pos += len(page)


class StoreEntrySource:
    """A ``LogStore``'s entries, read in pages of ``page_size``."""

    def __init__(self, store: LogStore, page_size: int = 100_000, label: str = "") -> None:
        self.store = store
        self.page_size = max(1, page_size)
        self._label = label or "a log store"

    @classmethod
    def from_url(cls, url: str, page_size: int = 100_000) -> StoreEntrySource:
        """A read-only store on ``url`` (``sqlite:///…`` or ``postgresql+psycopg://…``): the
        audit never writes, and on SQLite never takes the write lock the sequencer needs."""
        try:
            parsed = make_url(url)
        except ArgumentError as exc:
            raise SourceUnavailableError(f"not a database URL: {url!r} ({exc})") from exc
        label = parsed.render_as_string(hide_password=True)
        if parsed.get_backend_name() == "sqlite":
            path = parsed.database
            if not path or path == ":memory:" or not Path(path).is_file():
                raise SourceUnavailableError(f"no SQLite database at {path or url!r}")
        try:
            engine = open_database(url, migrate=False, read_only=True)
        except StoreError as exc:
            raise SourceUnavailableError(f"cannot open the database {label}: {exc}") from exc
        return cls(LogStore(engine), page_size, f"database {label}")

    @property
    def description(self) -> str:
        return self._label

    def probe(self) -> None:
        try:
            self.store.entries(0, 0)
        except StoreError as exc:
            raise SourceUnavailableError(f"cannot read the log from {self._label}: {exc}") from exc

    def pages(self, start: int, end: int) -> Iterator[list[bytes]]:
        pos = start
        while pos < end:
            page = self.store.entries(pos, min(end, pos + self.page_size))
            if not page:
                return
            yield page
            pos += len(page)


class HttpEntrySource:
    """The API's ``/v1/log/entries``, paged and prefetched (see the module doc)."""

    def __init__(
        self,
        api_url: str,
        *,
        request_size: int = 100_000,
        workers: int = 4,
        timeout: float = 60.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.request_size = max(1, request_size)
        self.workers = max(1, workers)
        self.timeout = timeout
        self._transport = transport

    @property
    def description(self) -> str:
        return f"API {self.api_url}"

    def _client(self) -> httpx.Client:
        transport = self._transport or httpx.HTTPTransport(retries=2)
        limits = httpx.Limits(max_connections=self.workers + 1)
        return httpx.Client(
            base_url=self.api_url, timeout=self.timeout, transport=transport, limits=limits
        )

    def probe(self) -> None:
        with self._client() as client:
            self.fetch(client, 0, 0)

    def fetch(self, client: httpx.Client, start: int, end: int) -> list[bytes]:
        """One ``GET /v1/log/entries``: the entries from ``start``, at most ``end - start``."""
        where = f"{self.api_url}/v1/log/entries?start={start}&end={end}"
        response = get_page(client, self.api_url, "/v1/log/entries", start, end)
        try:
            hexes = orjson.loads(response.content)["entries"]
        except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
            raise SourceError(f"GET {where} did not answer {{'entries': [...]}}") from exc
        if not isinstance(hexes, list) or len(hexes) > end - start:
            raise SourceError(f"GET {where} answered more entries than asked, or not a list")
        try:
            if not all(isinstance(h, str) and len(h) == ENTRY_HEX_LEN for h in hexes):
                raise ValueError("not 0x + 64 hex digits")
            return [bytes.fromhex(h[2:]) for h in hexes]
        except ValueError as exc:
            raise SourceError(f"GET {where} answered a malformed entry ({exc})") from exc

    def pages(self, start: int, end: int) -> Iterator[list[bytes]]:
        if end <= start:
            return
        with self._client() as client:
            first = self.fetch(client, start, min(end, start + self.request_size))
            if not first:
                return
            yield first
            pos = start + len(first)
            # The first answer tells the server's page limit; ask for pages of that size ahead.
            step = len(first)
            if pos >= end:
                return
            with ThreadPoolExecutor(self.workers, thread_name_prefix="audit-fetch") as pool:
                pending: deque[tuple[int, int, Future[list[bytes]]]] = deque()
                ahead = pos
                while True:
                    while len(pending) < self.workers and ahead < end:
                        stop = min(end, ahead + step)
                        pending.append((ahead, stop, pool.submit(self.fetch, client, ahead, stop)))
                        ahead = stop
                    if not pending:
                        return
                    a, b, future = pending.popleft()
                    page = future.result()
                    if page:
                        yield page
                        pos = a + len(page)
                    if len(page) < b - a:
                        # A short page: the limit changed or the server has no more. Drop what
                        # was asked ahead and continue from what was received.
                        for _, _, f in pending:
                            f.cancel()
                        pending.clear()
                        if not page:
                            return
                        step, ahead = len(page), pos


class TileEntrySource:
    """Entry bundles from a log URL, a few fetched ahead by threads over one connection pool.

    The audit asks for entries up to the anchored size, so every bundle it needs exists: the
    last one partial (``.p/W``) unless that size is a multiple of 256. A bundle the server does
    not have (404) ends the pages early; the audit reports the entries it was not served.
    """

    def __init__(
        self,
        log_url: str,
        *,
        bundles_per_page: int = 64,
        workers: int = 4,
        timeout: float = 60.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.log_url = log_url.rstrip("/")
        self.bundles_per_page = max(1, bundles_per_page)
        self.workers = max(1, workers)
        self.timeout = timeout
        self._transport = transport

    @property
    def description(self) -> str:
        return f"tiles {self.log_url}"

    def _client(self) -> httpx.Client:
        transport = self._transport or httpx.HTTPTransport(retries=2)
        limits = httpx.Limits(max_connections=self.workers + 1)
        return httpx.Client(timeout=self.timeout, transport=transport, limits=limits)

    def probe(self) -> None:
        with self._client() as client:
            try:
                client.head(f"{self.log_url}/tile/entries/000.p/1")
            except httpx.TransportError as exc:
                raise SourceUnavailableError(
                    f"cannot reach the log at {self.log_url} ({exc or type(exc).__name__})"
                ) from exc

    def fetch(self, client: httpx.Client, ref: BundleRef) -> list[bytes] | None:
        """One bundle's entries; None if the server does not have it (yet)."""
        url = f"{self.log_url}/{ref.path}"
        try:
            response = client.get(url)
        except httpx.TransportError as exc:
            raise SourceUnavailableError(
                f"cannot reach the log at {self.log_url} ({exc or type(exc).__name__})"
            ) from exc
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            detail = response.text[:200].replace("\n", " ")
            raise SourceError(f"GET {url} answered {response.status_code}: {detail}")
        try:
            return decode_entry_bundle(response.content, ref.width)
        except TileError as exc:
            raise SourceError(f"GET {url}: {exc}") from exc

    def pages(self, start: int, end: int) -> Iterator[list[bytes]]:
        if end <= start:
            return
        first, last = start // TILE_WIDTH, (end - 1) // TILE_WIDTH
        refs = [BundleRef(n, min(TILE_WIDTH, end - n * TILE_WIDTH)) for n in range(first, last + 1)]
        with (
            self._client() as client,
            ThreadPoolExecutor(self.workers, thread_name_prefix="audit-tiles") as pool,
        ):
            futures = deque(pool.submit(self.fetch, client, r) for r in refs[: self.workers * 4])
            queued = len(futures)
            page: list[bytes] = []
            skip = start - first * TILE_WIDTH  # entries before start in the first bundle
            while futures:
                entries = futures.popleft().result()
                if queued < len(refs):
                    futures.append(pool.submit(self.fetch, client, refs[queued]))
                    queued += 1
                if entries is None:
                    for f in futures:
                        f.cancel()
                    break
                page.extend(entries[skip:])
                skip = 0
                if len(page) >= self.bundles_per_page * TILE_WIDTH:
                    yield page
                    page = []
            if page:
                yield page


def get_page(client: httpx.Client, api_url: str, path: str, start: int, end: int) -> httpx.Response:
    """One ``GET path?start=&end=`` of the API, answered 200; ``SourceUnavailableError`` if
    the API cannot be reached, ``SourceError`` naming the request for any other answer."""
    try:
        response = client.get(path, params={"start": start, "end": end})
    except httpx.TransportError as exc:
        raise SourceUnavailableError(
            f"cannot reach the TipLedger API at {api_url} ({exc or type(exc).__name__})"
        ) from exc
    if response.status_code != 200:
        detail = response.text[:200].replace("\n", " ")
        where = f"{api_url}{path}?start={start}&end={end}"
        raise SourceError(f"GET {where} answered {response.status_code}: {detail}")
    return response
