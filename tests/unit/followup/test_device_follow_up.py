"""Follow-up version 2 through the service's threads and the device's helpers, on SQLite and
PostgreSQL: a device-made enrolment stored, the token checked (one answer, limited), the thread
handed back sealed and opened on the device, answers sealed on the device and checked."""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from sqlalchemy import Engine, select

from ledger.chain.contract import Review
from ledger.core.followup import device_secret_from_text
from ledger.errors import AuthenticationError, EnvelopeError, ProtocolError, RateLimitedError
from ledger.followup.device import any_secret, bearer, device_follow_up, open_thread, seal_answer
from ledger.followup.secrets import (
    FROM_REPORTER,
    FROM_REVIEWER,
    FailureLimiter,
    key_id,
    new_message_id,
    new_secret,
    open_message,
    public_bytes,
    reporter_key,
    seal_message,
    token_text,
)
from ledger.followup.threads import FollowUps, Reporter
from ledger.log.reader import LogReader
from ledger.store import LogStore
from ledger.store.followups import VERIFIER_PREFIX, FollowUpStore
from ledger.store.schema import follow_ups
from ledger.store.submissions import NewSubmission, SubmissionStore

ZERO = "0x" + "00" * 20
UNAUTHENTICATED = "no follow-up for this tip with that secret"


@dataclass
class _Chain:
    def review_of(self, _commitment: bytes) -> Review:
        return Review(0, 0, ZERO)  # type: ignore[arg-type]


@dataclass
class Tip:
    threads: FollowUps
    desk: X25519PrivateKey
    commitment: bytes
    secret_text: str


def _threads(engine: Engine, desk: X25519PrivateKey, limit: int = 3) -> FollowUps:
    return FollowUps(
        FollowUpStore(engine),
        desk.public_key(),
        reader=LogReader(engine),
        reviews=_Chain(),
        limiter=FailureLimiter(limit=limit),
    )


def _device_tip(engine: Engine, limit: int = 3) -> Tip:
    desk = X25519PrivateKey.generate()
    threads = _threads(engine, desk, limit)
    commitment = os.urandom(32)
    secret, enrolment = device_follow_up(commitment)
    enrolled = threads.enrol_from_device(enrolment)
    SubmissionStore(LogStore(engine)).accept(
        [NewSubmission(commitment, 1764200000)], [enrolled.rows(commitment)]
    )
    return Tip(threads, desk, commitment, secret.text)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_the_device_enrolment_stores_a_marked_verifier_and_no_secret(engine: Engine) -> None:
    tip = _device_tip(engine)
    secret = device_secret_from_text(tip.secret_text)
    assert secret is not None
    with engine.connect() as conn:
        (row,) = conn.execute(
            select(follow_ups).where(follow_ups.c.commitment == tip.commitment)
        ).all()
    assert row.secret_hash.startswith(VERIFIER_PREFIX)
    assert len(row.secret_hash) == len(VERIFIER_PREFIX) + 64
    assert bytes(row.reporter_key) == public_bytes(
        reporter_key(secret, tip.commitment).public_key()
    )
    token = bearer(secret, tip.commitment)
    assert secret.raw.hex() not in row.secret_hash
    assert token[5:] not in row.secret_hash
    stored = tip.threads.store.get(tip.commitment)
    assert stored is not None
    assert stored.version == 2


def test_a_token_opens_the_thread_sealed_and_the_device_reads_it(engine: Engine) -> None:
    tip = _device_tip(engine)
    secret = any_secret(tip.secret_text)
    assert secret is not None
    reporter = tip.threads.authenticate(tip.commitment, bearer(secret, tip.commitment))
    assert reporter.version == 2
    assert reporter.private_key is None  # the service never has the reporter's key
    mine = public_bytes(reporter_key(secret, tip.commitment).public_key())
    desk_raw = public_bytes(tip.desk.public_key())
    # a question sealed at the desk, as a member seals it
    message_id = new_message_id()
    mine_key = reporter_key(secret, tip.commitment).public_key()
    tip.threads.desk_ask(
        tip.commitment,
        reviewer=ZERO,
        message_id=message_id,
        to_reporter=seal_message(
            mine_key,
            commitment=tip.commitment,
            message_id=message_id,
            sender=FROM_REVIEWER,
            text="Q?",
        ),
        to_desk=seal_message(
            tip.desk.public_key(),
            commitment=tip.commitment,
            message_id=message_id,
            sender=FROM_REVIEWER,
            text="Q?",
        ),
    )
    view = tip.threads.reporter_view(reporter)
    assert view["version"] == 2
    assert view["reporter_key_id"] == key_id(mine).hex()
    assert view["seal_to"] == {"key": "0x" + desk_raw.hex(), "key_id": key_id(desk_raw).hex()}
    (message,) = view["messages"]
    assert "text" not in message
    assert set(message) == {"id", "from", "sent_at", "sealed"}
    assert open_thread(view, secret, tip.commitment)["messages"][0]["text"] == "Q?"

    # the answer sealed on the device, to the reporter key and to seal_to
    body = seal_answer(secret, tip.commitment, view["seal_to"], "The treasury.")
    sent = tip.threads.reporter_reply_sealed(
        reporter,
        message_id=bytes.fromhex(body["id"][2:]),
        to_reporter=base64.b64decode(body["to_reporter"]),
        to_desk=base64.b64decode(body["to_desk"]),
    )
    assert sent["id"] == body["id"]
    opened = open_thread(tip.threads.reporter_view(reporter), secret, tip.commitment)
    assert [(m["from"], m["text"]) for m in opened["messages"]] == [
        ("reviewer", "Q?"),
        ("reporter", "The treasury."),
    ]
    # the desk opens its copy with its key
    desk_copy = tip.threads.desk_thread(tip.commitment)["messages"][1]
    assert (
        open_message(
            tip.desk,
            desk_copy["sealed"],
            commitment=tip.commitment,
            message_id=bytes.fromhex(body["id"][2:]),
            sender=FROM_REPORTER,
        )
        == "The treasury."
    )


def test_a_wrong_token_or_credential_of_the_other_version_is_the_one_answer(
    engine: Engine,
) -> None:
    tip = _device_tip(engine, limit=100)
    secret = any_secret(tip.secret_text)
    assert secret is not None
    v1_commitment = os.urandom(32)
    v1 = tip.threads.enrol()
    SubmissionStore(LogStore(engine)).accept(
        [NewSubmission(v1_commitment, 1764200000)], [v1.rows(v1_commitment)]
    )
    other_secret, _ = device_follow_up(tip.commitment)
    attempts = [
        (tip.commitment, bearer(other_secret, tip.commitment)),  # a wrong token
        (tip.commitment, tip.secret_text),  # the tlf2 secret itself: never accepted
        (tip.commitment, new_secret().text),  # a tlf1 secret for a device's tip
        (tip.commitment, token_text(bytes(32))),
        (v1_commitment, bearer(secret, tip.commitment)),  # a token for a tlf1 tip
        (os.urandom(32), bearer(secret, tip.commitment)),  # an unknown tip
        (tip.commitment, "tlt2_" + "A" * 10),  # malformed
    ]
    answers = set()
    for commitment, credential in attempts:
        with pytest.raises(AuthenticationError) as caught:
            tip.threads.authenticate(commitment, credential)
        answers.add(str(caught.value))
    assert answers == {UNAUTHENTICATED}
    # the version 1 tip still opens with its own secret, the device's with its token
    assert tip.threads.authenticate(v1_commitment, v1.secret.text).version == 1
    assert tip.threads.authenticate(tip.commitment, bearer(secret, tip.commitment)).version == 2


def test_past_the_limit_a_wrong_token_gets_429_and_the_right_one_passes(engine: Engine) -> None:
    tip = _device_tip(engine, limit=2)
    secret = any_secret(tip.secret_text)
    assert secret is not None
    wrong = token_text(os.urandom(32))
    for _ in range(2):
        with pytest.raises(AuthenticationError):
            tip.threads.authenticate(tip.commitment, wrong)
    with pytest.raises(RateLimitedError, match="try again in"):
        tip.threads.authenticate(tip.commitment, wrong)
    right = bearer(secret, tip.commitment)
    assert tip.threads.authenticate(tip.commitment, right).commitment == tip.commitment


def test_a_device_s_answer_is_checked_and_text_is_refused(engine: Engine) -> None:
    tip = _device_tip(engine)
    secret = any_secret(tip.secret_text)
    assert secret is not None
    reporter = tip.threads.authenticate(tip.commitment, bearer(secret, tip.commitment))
    view = tip.threads.reporter_view(reporter)
    body = seal_answer(secret, tip.commitment, view["seal_to"], "A.")
    to_reporter = base64.b64decode(body["to_reporter"])
    to_desk = base64.b64decode(body["to_desk"])
    stranger = public_bytes(X25519PrivateKey.generate().public_key())
    wrong_seal = {"key": "0x" + stranger.hex(), "key_id": key_id(stranger).hex()}
    to_stranger = base64.b64decode(seal_answer(secret, tip.commitment, wrong_seal, "A.")["to_desk"])
    cases = [
        (to_reporter, to_stranger, "field 'to_desk': sealed to key"),  # not the tip's key
        (to_desk, to_desk, "field 'to_reporter': sealed to key"),  # not the reporter's
        (to_reporter[:20], to_desk, "field 'to_reporter'"),  # too short
        (b"\x02" + to_reporter[1:], to_desk, "field 'to_reporter'"),  # unknown version
    ]
    for mine, desk, message in cases:
        with pytest.raises(ProtocolError, match=message):
            tip.threads.reporter_reply_sealed(
                reporter, message_id=new_message_id(), to_reporter=mine, to_desk=desk
            )
    with pytest.raises(ProtocolError, match="'id'"):
        tip.threads.reporter_reply_sealed(
            reporter, message_id=b"short", to_reporter=to_reporter, to_desk=to_desk
        )
    with pytest.raises(ProtocolError, match="sealed there"):
        tip.threads.reporter_reply(reporter, "A.")
    assert tip.threads.store.messages(tip.commitment) == []


def test_a_version_1_reporter_can_seal_on_the_device_too(engine: Engine) -> None:
    desk = X25519PrivateKey.generate()
    threads = _threads(engine, desk)
    commitment = os.urandom(32)
    enrolment = threads.enrol()
    SubmissionStore(LogStore(engine)).accept(
        [NewSubmission(commitment, 1764200000)], [enrolment.rows(commitment)]
    )
    reporter = threads.authenticate(commitment, bearer(enrolment.secret, commitment))
    view = threads.reporter_view(reporter)
    body = seal_answer(enrolment.secret, commitment, view["seal_to"], "Sealed here.")
    threads.reporter_reply_sealed(
        reporter,
        message_id=bytes.fromhex(body["id"][2:]),
        to_reporter=base64.b64decode(body["to_reporter"]),
        to_desk=base64.b64decode(body["to_desk"]),
    )
    opened = open_thread(threads.reporter_view(reporter), enrolment.secret, commitment)
    assert [m["text"] for m in opened["messages"]] == ["Sealed here."]


def test_the_device_refuses_a_thread_for_another_key_and_a_bad_seal_to() -> None:
    commitment = os.urandom(32)
    secret, _ = device_follow_up(commitment)
    view = {"version": 2, "reporter_key_id": "00" * 8, "messages": []}
    with pytest.raises(EnvelopeError, match="not this tip's"):
        open_thread(view, secret, commitment)
    key = public_bytes(X25519PrivateKey.generate().public_key())
    with pytest.raises(ProtocolError, match="key id is not its key's"):
        seal_answer(secret, commitment, {"key": "0x" + key.hex(), "key_id": "00" * 8}, "A.")
    with pytest.raises(ProtocolError, match="names no key"):
        seal_answer(secret, commitment, None, "A.")


def test_a_reporter_s_repr_names_no_key() -> None:
    key = X25519PrivateKey.generate()
    reporter = Reporter(bytes(32), key)
    assert reporter.public_key == public_bytes(key.public_key())
    assert key.private_bytes_raw().hex() not in repr(reporter)
    assert repr(Reporter(bytes(32), None, bytes(32))).endswith("v2)")
