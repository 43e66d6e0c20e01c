"""Issue 14, point 1: past the limits (per tip and over all tips) a wrong secret is refused
cheaply, with the seconds to wait; the right secret is never refused."""

from __future__ import annotations

import os

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from sqlalchemy import Engine

from ledger.errors import AuthenticationError, RateLimitedError
from ledger.followup.secrets import FailureLimiter, new_secret
from ledger.followup.threads import FollowUps
from ledger.log.reader import LogReader
from ledger.store import LogStore
from ledger.store.followups import FollowUpStore
from ledger.store.submissions import NewSubmission, SubmissionStore


class _NoReviews:
    def review_of(self, _commitment: bytes) -> None:
        return None


def _threads(engine: Engine, limiter: FailureLimiter) -> FollowUps:
    return FollowUps(
        FollowUpStore(engine),
        X25519PrivateKey.generate().public_key(),
        reader=LogReader(engine),
        reviews=_NoReviews(),  # type: ignore[arg-type]
        limiter=limiter,
    )


def _enrolled(engine: Engine, threads: FollowUps) -> tuple[bytes, str]:
    commitment = os.urandom(32)
    enrolment = threads.enrol()
    SubmissionStore(LogStore(engine)).accept(
        [NewSubmission(commitment, 1764200000)], [enrolment.rows(commitment)]
    )
    return commitment, enrolment.secret.text


def test_the_right_secret_passes_past_the_per_tip_limit(engine: Engine) -> None:
    threads = _threads(engine, FailureLimiter(limit=3, window=60))
    commitment, secret = _enrolled(engine, threads)
    for _ in range(3):
        with pytest.raises(AuthenticationError):
            threads.authenticate(commitment, new_secret().text)
    with pytest.raises(RateLimitedError) as caught:
        threads.authenticate(commitment, new_secret().text)
    assert 1 <= caught.value.retry_after <= 60
    assert threads.authenticate(commitment, secret).commitment == commitment


def test_the_right_secret_passes_past_the_global_limit(engine: Engine) -> None:
    threads = _threads(engine, FailureLimiter(limit=100, window=60, global_limit=4))
    commitment, secret = _enrolled(engine, threads)
    for _ in range(4):  # four other tips, one wrong secret each
        with pytest.raises(AuthenticationError):
            threads.authenticate(os.urandom(32), new_secret().text)
    with pytest.raises(RateLimitedError) as caught:
        threads.authenticate(commitment, new_secret().text)
    assert caught.value.retry_after >= 1
    with pytest.raises(RateLimitedError):
        threads.authenticate(os.urandom(32), new_secret().text)  # unknown tip: the same
    assert threads.authenticate(commitment, secret).commitment == commitment
