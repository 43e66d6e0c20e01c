"""Fetching log tiles (PROTOCOL.md section 18): from a log URL over HTTP, or a local store.

A verifier or auditor asks only for tile paths; the answers are checked by the caller (a tile
body of the wrong length is refused here, hashes that do not reach the root there).
"""

from __future__ import annotations

from typing import Protocol

import httpx

from ledger.core.tiles import BundleRef, TileRef
from ledger.errors import LedgerError, TilesUnavailableError
from ledger.log.reader import LogReader
from ledger.log.tiles import LogTiles


class TileFetcher(Protocol):
    """Tile bodies by reference; TilesUnavailableError when one cannot be had."""

    @property
    def description(self) -> str: ...

    def fetch(self, ref: TileRef | BundleRef) -> bytes: ...


class HttpTiles:
    """Tiles from ``log_url`` (``<log_url>/tile/...``), one connection kept open."""

    def __init__(
        self,
        log_url: str,
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.log_url = log_url.rstrip("/")
        self._client = httpx.Client(
            timeout=timeout, transport=transport or httpx.HTTPTransport(retries=2)
        )

    @property
    def description(self) -> str:
        return f"tiles at {self.log_url}"

    def fetch(self, ref: TileRef | BundleRef) -> bytes:
        url = f"{self.log_url}/{ref.path}"
        try:
            response = self._client.get(url)
        except httpx.HTTPError as exc:
            raise TilesUnavailableError(
                f"cannot fetch {url} ({exc or type(exc).__name__}): is the log URL right? "
                "(--log-url)"
            ) from exc
        if response.status_code != 200:
            detail = response.text[:200].replace("\n", " ")
            raise TilesUnavailableError(f"GET {url} answered {response.status_code}: {detail}")
        return response.content

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> HttpTiles:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


class StoreTiles:
    """Tiles read from a local log database (the operator's own: nothing leaves the machine)."""

    def __init__(self, reader: LogReader, label: str = "the local log database") -> None:
        self._tiles = LogTiles(reader)
        self._label = label

    @property
    def description(self) -> str:
        return f"tiles from {self._label}"

    def fetch(self, ref: TileRef | BundleRef) -> bytes:
        try:
            if isinstance(ref, TileRef):
                return self._tiles.tile(ref)
            return self._tiles.bundle(ref)
        except LedgerError as exc:
            raise TilesUnavailableError(f"{ref.path} from {self._label}: {exc}") from exc
