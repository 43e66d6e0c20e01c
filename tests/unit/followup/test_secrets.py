"""Follow-up formats and checks: the secret, the reporter's key, sealed messages, Argon2id, the
rate limit, and the threads on SQLite and PostgreSQL (with the real store and a real desk key)."""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from sqlalchemy import Engine

from ledger.chain.contract import Review
from ledger.errors import (
    AuthenticationError,
    EnvelopeError,
    NotFoundError,
    ProtocolError,
    RateLimitedError,
)
from ledger.followup.secrets import (
    FROM_REPORTER,
    FROM_REVIEWER,
    SECRET_PREFIX,
    FailureLimiter,
    SecretHasher,
    check_message,
    key_id,
    new_message_id,
    new_secret,
    open_message,
    parse_secret,
    public_bytes,
    reporter_key,
    seal_message,
)
from ledger.followup.threads import FollowUps
from ledger.log.reader import LogReader
from ledger.store import LogStore
from ledger.store.followups import FollowUpStore
from ledger.store.submissions import NewSubmission, SubmissionStore

ZERO = "0x" + "00" * 20


def test_the_secret_is_tlf1_and_43_base64url_characters() -> None:
    secret = new_secret()
    text = secret.text
    assert text.startswith(SECRET_PREFIX)
    assert len(text) == len(SECRET_PREFIX) + 43
    assert parse_secret(text) == secret
    assert parse_secret(f"  {text}\n") == secret
    assert secret.raw.hex() not in repr(secret)
    assert new_secret() != secret


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        "tlf1_",
        "tlf2_" + "A" * 43,
        "tlf1_" + "A" * 42,
        "tlf1_" + "A" * 44,
        "tlf1_" + "+" * 43,
    ],
)
def test_anything_else_is_the_one_generic_refusal(text: str | None) -> None:
    with pytest.raises(AuthenticationError, match="no follow-up for this tip with that secret"):
        parse_secret(text)


def test_the_reporter_key_is_derived_from_the_secret_and_the_tip() -> None:
    secret, commitment = new_secret(), os.urandom(32)
    key = public_bytes(reporter_key(secret, commitment).public_key())
    assert key == public_bytes(reporter_key(secret, commitment).public_key())
    assert key != public_bytes(reporter_key(secret, os.urandom(32)).public_key())
    assert key != public_bytes(reporter_key(new_secret(), commitment).public_key())


def test_a_sealed_message_opens_only_where_it_belongs() -> None:
    key = X25519PrivateKey.generate()
    commitment, message_id = os.urandom(32), new_message_id()
    where = {"commitment": commitment, "message_id": message_id, "sender": FROM_REVIEWER}
    sealed = seal_message(key.public_key(), text="Which office? ผู้แจ้ง", **where)  # type: ignore[arg-type]
    assert b"Which office" not in sealed
    assert open_message(key, sealed, **where) == "Which office? ผู้แจ้ง"  # type: ignore[arg-type]
    for change in (
        {"commitment": os.urandom(32)},
        {"message_id": new_message_id()},
        {"sender": FROM_REPORTER},
    ):
        with pytest.raises(EnvelopeError, match="does not open"):
            open_message(key, sealed, **{**where, **change})  # type: ignore[arg-type]
    flipped = bytearray(sealed)
    flipped[-1] ^= 1
    with pytest.raises(EnvelopeError, match="does not open"):
        open_message(key, bytes(flipped), **where)  # type: ignore[arg-type]
    with pytest.raises(EnvelopeError, match="sealed to key"):
        open_message(X25519PrivateKey.generate(), sealed, **where)  # type: ignore[arg-type]
    with pytest.raises(EnvelopeError, match="at least"):
        open_message(key, sealed[:20], **where)  # type: ignore[arg-type]


def test_a_message_for_another_key_is_refused_before_it_is_stored() -> None:
    key = X25519PrivateKey.generate().public_key()
    sealed = seal_message(
        key, commitment=os.urandom(32), message_id=new_message_id(), sender=1, text="hi"
    )
    check_message(sealed, public_bytes(key), "to_desk")
    other = public_bytes(X25519PrivateKey.generate().public_key())
    with pytest.raises(ProtocolError, match="to_desk: sealed to key"):
        check_message(sealed, other, "to_desk")
    with pytest.raises(ProtocolError, match="to_desk"):
        check_message(b"\x01" * 10, public_bytes(key), "to_desk")
    with pytest.raises(ProtocolError, match="empty"):
        seal_message(
            key, commitment=os.urandom(32), message_id=new_message_id(), sender=1, text=" "
        )


def test_the_hash_is_argon2id_and_verifies_only_its_secret() -> None:
    hasher = SecretHasher()
    secret = new_secret()
    encoded = hasher.hash(secret)
    assert encoded.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert secret.text not in encoded
    assert hasher.verify(encoded, secret)
    assert not hasher.verify(encoded, new_secret())
    assert not hasher.verify(None, secret)
    assert not hasher.verify("not a hash", secret)
    assert hasher.hash(secret) != encoded  # salted


def test_the_limiter_counts_wrong_secrets_per_tip_within_a_window() -> None:
    now = [1000.0]
    limiter = FailureLimiter(limit=3, window=60, max_keys=4, clock=lambda: now[0])
    tip, other = b"a" * 32, b"b" * 32
    for _ in range(3):
        limiter.check(tip)
        limiter.failed(tip)
    with pytest.raises(RateLimitedError, match="try again in 60 s"):
        limiter.check(tip)
    limiter.check(other)
    now[0] += 61
    limiter.check(tip)
    for i in range(10):  # a flood of distinct tips stays bounded
        limiter.failed(bytes([i]) * 32)
    assert len(limiter._failures) <= 4


@dataclass
class _Chain:
    status: int = 0

    def review_of(self, _commitment: bytes) -> Review:
        return Review(self.status, 1764200000 if self.status else 0, ZERO)  # type: ignore[arg-type]


def _threads(engine: Engine, desk: X25519PrivateKey, chain: _Chain) -> FollowUps:
    return FollowUps(
        FollowUpStore(engine),
        desk.public_key(),
        reader=LogReader(engine),
        reviews=chain,
        limiter=FailureLimiter(limit=3),
    )


def test_a_thread_from_enrolment_to_answers(engine: Engine) -> None:
    desk, chain = X25519PrivateKey.generate(), _Chain()
    threads = _threads(engine, desk, chain)
    commitment = os.urandom(32)
    enrolment = threads.enrol()
    SubmissionStore(LogStore(engine)).accept(
        [NewSubmission(commitment, 1764200000)], [enrolment.rows(commitment)]
    )
    reporter = threads.authenticate(commitment, enrolment.secret.text)
    desk_raw = public_bytes(desk.public_key())
    assert threads.reporter_view(reporter) == {
        "commitment": "0x" + commitment.hex(),
        "anchored": False,
        "review": None,
        # the key a device seals a version 1 reporter's answer to, where the service does not
        "seal_to": {"key": "0x" + desk_raw.hex(), "key_id": key_id(desk_raw).hex()},
        "messages": [],
    }
    # a question sealed at the desk, an answer sealed by the service
    thread = threads.desk_thread(commitment)
    assert reporter.private_key is not None  # a version 1 secret: the service derived the key
    reporter_public = X25519PrivateKey.from_private_bytes(
        reporter.private_key.private_bytes_raw()
    ).public_key()
    assert thread["reporter_key"] == "0x" + public_bytes(reporter_public).hex()
    message_id = new_message_id()
    where = {"commitment": commitment, "message_id": message_id, "sender": FROM_REVIEWER}
    threads.desk_ask(
        commitment,
        reviewer=ZERO,
        message_id=message_id,
        to_reporter=seal_message(reporter_public, text="Q?", **where),  # type: ignore[arg-type]
        to_desk=seal_message(desk.public_key(), text="Q?", **where),  # type: ignore[arg-type]
    )
    with pytest.raises(ProtocolError, match="already used"):
        threads.desk_ask(
            commitment,
            reviewer=ZERO,
            message_id=message_id,
            to_reporter=seal_message(reporter_public, text="Q?", **where),  # type: ignore[arg-type]
            to_desk=seal_message(desk.public_key(), text="Q?", **where),  # type: ignore[arg-type]
        )
    with pytest.raises(ProtocolError, match="to_reporter"):  # sealed to the desk twice
        threads.desk_ask(
            commitment,
            reviewer=ZERO,
            message_id=new_message_id(),
            to_reporter=seal_message(desk.public_key(), text="Q?", **where),  # type: ignore[arg-type]
            to_desk=seal_message(desk.public_key(), text="Q?", **where),  # type: ignore[arg-type]
        )
    threads.reporter_reply(reporter, "A.")
    chain.status = 3
    view = threads.reporter_view(reporter)
    assert [(m["from"], m["text"]) for m in view["messages"]] == [
        ("reviewer", "Q?"),
        ("reporter", "A."),
    ]
    assert view["review"] == {
        "status": 3,
        "status_name": "unsubstantiated",
        "recorded_at": 1764200000,
    }
    desk_copies = threads.desk_thread(commitment)["messages"]
    opened = [
        open_message(
            desk,
            m["sealed"],
            commitment=commitment,
            message_id=bytes.fromhex(m["id"][2:]),
            sender=FROM_REVIEWER if m["from"] == "reviewer" else FROM_REPORTER,
        )
        for m in desk_copies
    ]
    assert opened == ["Q?", "A."]


def test_authentication_is_one_answer_and_limited(engine: Engine) -> None:
    threads = _threads(engine, X25519PrivateKey.generate(), _Chain())
    commitment, unknown = os.urandom(32), os.urandom(32)
    enrolment = threads.enrol()
    SubmissionStore(LogStore(engine)).accept(
        [NewSubmission(commitment, 1764200000)], [enrolment.rows(commitment)]
    )
    messages = set()
    for tip, secret in (
        (commitment, new_secret().text),
        (unknown, enrolment.secret.text),
        (commitment, None),
    ):
        with pytest.raises(AuthenticationError) as caught:
            threads.authenticate(tip, secret)
        messages.add(str(caught.value))
    assert len(messages) == 1
    with pytest.raises(NotFoundError, match="no follow-up"):
        threads.desk_thread(unknown)
    for _ in range(2):
        with pytest.raises(AuthenticationError):
            threads.authenticate(commitment, new_secret().text)
    with pytest.raises(RateLimitedError):
        threads.authenticate(commitment, new_secret().text)  # a wrong one, past the limit


def test_a_same_second_repeat_with_companions_stores_them_once(engine: Engine) -> None:
    """The promise signature is deterministic: a repeat in the same second is byte-identical,
    so only the insert itself can tell the first from the repeat."""
    threads = _threads(engine, X25519PrivateKey.generate(), _Chain())
    store = SubmissionStore(LogStore(engine))
    commitment = os.urandom(32)
    row = NewSubmission(commitment, 1764200000, promise_signature=b"\x07" * 65)
    first, second = threads.enrol(), threads.enrol()
    stored, news = store.accept_new([row, row], [first.rows(commitment), second.rows(commitment)])
    assert news == [True, False]
    assert stored[0] == stored[1]
    stored, news = store.accept_new([row], [second.rows(commitment)])
    assert news == [False]
    threads.authenticate(commitment, first.secret.text)
    with pytest.raises(AuthenticationError):
        threads.authenticate(commitment, second.secret.text)
