"""A per-source rate limit for sign-in challenges, kept in memory under a keyed hash.

The service promises not to record client addresses, so the limiter never keeps one: each
address becomes ``HMAC-SHA256(key, address)`` with a key made at random when the process starts
and never written anywhere, so neither a memory dump taken later nor anything logged can be
turned back into addresses by trying them all. IPv6 addresses count per /64 (one subscriber's
usual allocation), or one host could take a fresh address for every request.

Each source has a token bucket: ``per_minute`` challenges at once, then one more every
``60 / per_minute`` seconds. A refusal says how long until the next token.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import math
import secrets
import threading
import time
from collections.abc import Callable

from ledger.errors import RateLimitedError

__all__ = ["SourceLimiter", "source_key"]


def _bucket_address(address: str) -> bytes:
    """The part of ``address`` one client controls: the whole IPv4 address, an IPv6 /64."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:  # not an IP (a Unix socket's peer, a test client): as it is
        return address.encode("utf-8", "replace")
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped.packed
        return ip.packed[:8]
    return ip.packed


def source_key(key: bytes, address: str) -> bytes:
    """The bucket name for ``address``: a keyed hash, never the address itself."""
    return hmac.new(key, _bucket_address(address), hashlib.sha256).digest()[:16]


class SourceLimiter:
    """Token buckets per source (keyed hash of the client address), in this process only."""

    def __init__(
        self,
        per_minute: int,
        *,
        max_sources: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if per_minute < 1:
            raise ValueError(f"per_minute must be at least 1, got {per_minute}")
        self.capacity = float(per_minute)
        self.refill = per_minute / 60.0  # tokens per second
        self._max_sources = max_sources
        self._clock = clock
        self._key = secrets.token_bytes(32)  # per process, in memory only
        self._buckets: dict[bytes, tuple[float, float]] = {}  # key -> (tokens, at)
        self._lock = threading.Lock()

    def take(self, address: str | None, what: str = "requests") -> None:
        """Spend one token of ``address``'s bucket, or ``RateLimitedError`` with the wait."""
        name = source_key(self._key, address or "")
        now = self._clock()
        with self._lock:
            tokens, at = self._buckets.pop(name, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - at) * self.refill)
            if tokens < 1.0:
                self._buckets[name] = (tokens, now)
                wait = math.ceil((1.0 - tokens) / self.refill)
                raise RateLimitedError(
                    f"too many {what} from this source: try again in {wait} s", wait
                )
            self._buckets[name] = (tokens - 1.0, now)  # re-inserted: the dict stays in LRU order
            if len(self._buckets) > self._max_sources:
                self._forget(now)

    def _forget(self, now: float) -> None:
        """Drop buckets that have refilled (the same as absent), then the least recent ones."""
        self._buckets = {
            k: (tokens, at)
            for k, (tokens, at) in self._buckets.items()
            if now - at < (self.capacity - tokens) / self.refill
        }
        excess = len(self._buckets) - self._max_sources // 2
        if excess > 0:  # a flood of distinct sources: the total cap still bounds it
            for name in list(self._buckets)[:excess]:
                del self._buckets[name]

    def __len__(self) -> int:
        return len(self._buckets)
