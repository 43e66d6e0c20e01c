"""Where ``tipledger verify`` reads the log's tiles from (PROTOCOL.md section 18).

In order: ``--log-url``; ``TIPLEDGER_LOG_URL``; this machine's own log database, when it is the
log of the receipt's contract (then nothing about the receipt leaves the machine); the service
of this data directory (``TIPLEDGER_PUBLIC_URL`` or the URL ``serve`` wrote), at the
``log_url`` its ``/web-config.json`` publishes.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urljoin

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from ledger.cli import api_client
from ledger.config import Settings
from ledger.core.receipt import Receipt
from ledger.core.tiles import BundleRef, TileRef
from ledger.errors import ConfigError, LedgerError, NoTileSourceError
from ledger.log.reader import LogReader
from ledger.log.tile_fetch import HttpTiles, StoreTiles, TileFetcher
from ledger.store import open_database


class LazyTiles:
    """Finds the source on the first fetch: a receipt the chain already refutes, or a pending
    one, needs no tiles, and must not fail for want of a log URL."""

    def __init__(self, s: Settings, given: str | None, receipt: Receipt) -> None:
        self._args = (s, given, receipt)
        self._source: TileFetcher | None = None

    @property
    def description(self) -> str:
        return "tiles" if self._source is None else self._source.description

    def fetch(self, ref: TileRef | BundleRef) -> bytes:
        if self._source is None:
            self._source = tile_source(*self._args)
        return self._source.fetch(ref)


def tile_source(s: Settings, given: str | None, receipt: Receipt) -> TileFetcher:
    if given:
        return HttpTiles(_http(given, "--log-url"))
    if s.log_url:
        return HttpTiles(_http(s.log_url, "TIPLEDGER_LOG_URL"))
    local = _local_log(s, receipt)
    if local is not None:
        return local
    service = s.public_url or _served(s)
    if service:
        service = service.rstrip("/")
        try:
            published = str(api_client.web_config(service).get("log_url") or "/log")
        except LedgerError:
            published = "/log"
        return HttpTiles(urljoin(service + "/", published))
    raise NoTileSourceError(
        "no log to read tiles from: pass --log-url URL (a TipLedger service's /log, or a "
        "mirror's), or set TIPLEDGER_LOG_URL"
    )


def _http(url: str, what: str) -> str:
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"{what} must be an http(s) URL, got {url!r}")
    return url


def _served(s: Settings) -> str | None:
    try:
        return s.served_url_file.read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def _local_log(s: Settings, receipt: Receipt) -> StoreTiles | None:
    """This data directory's log database, read-only, if it is the receipt's log."""
    try:
        parsed = make_url(s.database)
    except ArgumentError:
        return None
    if parsed.get_backend_name() == "sqlite" and not Path(parsed.database or "").is_file():
        return None
    try:
        reader = LogReader(open_database(s.database, migrate=False, read_only=True))
        bound = reader.log.deployment()
    except LedgerError:
        return None
    if bound is None or bound != (receipt.chain_id, receipt.contract.lower()):
        return None
    return StoreTiles(reader, "this machine's log database")
