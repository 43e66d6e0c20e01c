"""The per-source challenge limiter: token buckets under a keyed hash, never the address."""

from __future__ import annotations

import pytest

from ledger.auth.limits import SourceLimiter, source_key
from ledger.errors import RateLimitedError


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_then_one_per_interval_with_the_wait() -> None:
    clock = Clock()
    limiter = SourceLimiter(6, clock=clock)  # 6 at once, then one every 10 s
    for _ in range(6):
        limiter.take("192.0.2.1")
    with pytest.raises(RateLimitedError) as refused:
        limiter.take("192.0.2.1")
    assert refused.value.retry_after == 10
    assert "192.0.2.1" not in str(refused.value)
    limiter.take("192.0.2.2")  # another source is not held up
    clock.now += 4
    with pytest.raises(RateLimitedError) as again:
        limiter.take("192.0.2.1")
    assert again.value.retry_after == 6
    clock.now += 6
    limiter.take("192.0.2.1")


def test_ipv6_counts_per_64_and_mapped_ipv4_as_ipv4() -> None:
    clock = Clock()
    limiter = SourceLimiter(2, clock=clock)
    limiter.take("2001:db8:1:2::1")
    limiter.take("2001:db8:1:2:ffff::9")  # same /64
    with pytest.raises(RateLimitedError):
        limiter.take("2001:db8:1:2:abcd::1")
    limiter.take("2001:db8:1:3::1")  # the next /64
    limiter.take("::ffff:192.0.2.7")
    limiter.take("192.0.2.7")
    with pytest.raises(RateLimitedError):
        limiter.take("192.0.2.7")


def test_buckets_hold_keyed_hashes_only() -> None:
    limiter = SourceLimiter(5)
    limiter.take("198.51.100.23")
    names = list(limiter._buckets)
    assert len(names) == 1
    assert b"198.51.100.23" not in names[0]
    assert bytes([198, 51, 100, 23]) not in names[0]
    # A different process key gives an unrelated name: the hash cannot be tried without it.
    assert source_key(b"k" * 32, "198.51.100.23") != source_key(b"j" * 32, "198.51.100.23")


def test_many_sources_stay_bounded() -> None:
    clock = Clock()
    limiter = SourceLimiter(5, max_sources=100, clock=clock)
    for i in range(1000):
        limiter.take(f"10.0.{i // 256}.{i % 256}")
    assert len(limiter) <= 100
