"""The reporter's anonymous follow-up over real HTTP, on SQLite and PostgreSQL.

The secret comes back once (in the answer and the receipt) and is stored only as an Argon2id
hash; a wrong or missing secret and an unknown tip all get the same 401; every message is stored
sealed (to the reporter's key and to the case key), with no plaintext anywhere in the database.
"""

from __future__ import annotations

import base64
import os
import time
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from sqlalchemy import create_engine, func, select

from ledger.core.commitment import new_salt
from ledger.core.encoding import from_hex, to_hex
from ledger.core.hpke import key_id_bytes, public_bytes
from ledger.core.receipt import Receipt
from ledger.errors import EnvelopeError
from ledger.followup.secrets import (
    FROM_REPORTER,
    FROM_REVIEWER,
    new_message_id,
    new_secret,
    open_message,
    parse_secret,
    reporter_key,
    seal_message,
)
from ledger.store.schema import follow_up_messages, follow_ups

from .conftest import Server

pytestmark = pytest.mark.chain


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def submit(client: httpx.Client, document: bytes, **extra: Any) -> dict[str, Any]:
    response = client.post("/v1/tips", json={"document": b64(document), **extra})
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    return body


def form(**fields: str) -> list[tuple[str, tuple[None, str]]]:
    """Multipart form fields (a trailing underscore repeats a name)."""
    return [(name.rstrip("_"), (None, value)) for name, value in fields.items()]


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def follow_up(client: httpx.Client, commitment: str, secret: str | None) -> httpx.Response:
    headers = {} if secret is None else bearer(secret)
    return client.get(f"/v1/tips/{commitment}/follow-up", headers=headers)


def rows(server: Server, table: Any, commitment: bytes) -> list[Any]:
    engine = create_engine(server.database_url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(select(table).where(table.c.commitment == commitment)).all())
    finally:
        engine.dispose()


def test_a_follow_up_secret_comes_back_once_and_opens_the_thread(
    server: Server, client: httpx.Client
) -> None:
    accepted = submit(client, b"Road contract 17 was awarded twice", follow_up=True)
    secret = accepted["follow_up"]["secret"]
    assert secret.startswith("tlf1_")
    assert len(secret) == 5 + 43
    assert accepted["receipt"]["follow_up"] == {"secret": secret}
    assert accepted["identity"] is None
    # the receipt, with its extra field, is still a receipt (verifiers ignore unknown fields)
    assert Receipt.from_dict(accepted["receipt"]).commitment == accepted["commitment"]

    commitment = accepted["commitment"]
    response = follow_up(client, commitment, secret)
    assert response.status_code == 200, response.text
    assert "set-cookie" not in response.headers
    view = response.json()
    case = public_bytes(server.case_key(commitment).public_key())
    assert view == {
        "commitment": commitment,
        "anchored": view["anchored"],
        "review": None,
        # the tip's case key, for a device that seals its answers itself
        "seal_to": {"key": to_hex(case), "key_id": key_id_bytes(case).hex()},
        "messages": [],
    }
    deadline = time.monotonic() + 60
    while not follow_up(client, commitment, secret).json()["anchored"]:
        assert time.monotonic() < deadline, "never anchored"
        time.sleep(0.2)


def test_wrong_missing_or_foreign_secrets_and_unknown_tips_all_get_the_same_401(
    server: Server, client: httpx.Client
) -> None:
    mine = submit(client, b"Tip one " + os.urandom(4).hex().encode(), follow_up=True)
    other = submit(client, b"Tip two " + os.urandom(4).hex().encode(), follow_up=True)
    plain = submit(client, b"Tip without follow-up " + os.urandom(4).hex().encode())
    assert plain["follow_up"] is None
    assert "follow_up" not in plain["receipt"]
    unknown = "0x" + os.urandom(32).hex()
    cases = [
        (mine["commitment"], new_secret().text),  # wrong
        (mine["commitment"], other["follow_up"]["secret"]),  # another tip's
        (mine["commitment"], "tlf1_short"),  # malformed
        (mine["commitment"], "tls_" + "A" * 43),  # a desk session token
        (mine["commitment"], None),  # none
        (unknown, mine["follow_up"]["secret"]),  # no such tip
        (plain["commitment"], mine["follow_up"]["secret"]),  # a tip without a follow-up
    ]
    details = set()
    for commitment, secret in cases:
        response = follow_up(client, commitment, secret)
        assert response.status_code == 401, (commitment, secret, response.text)
        assert response.headers["www-authenticate"] == "Bearer"
        details.add(response.json()["detail"])
    assert len(details) == 1, details
    posted = client.post(
        f"/v1/tips/{mine['commitment']}/follow-up/messages",
        json={"text": "hello"},
        headers=bearer(other["follow_up"]["secret"]),
    )
    assert posted.status_code == 401
    assert posted.json()["detail"] in details
    # never in a URL: a query parameter is not read
    response = client.get(
        f"/v1/tips/{mine['commitment']}/follow-up",
        params={"secret": mine["follow_up"]["secret"]},
    )
    assert response.status_code == 401


def test_messages_both_ways_are_sealed_at_rest(server: Server, client: httpx.Client) -> None:
    accepted = submit(client, b"Procurement at district office 9", follow_up=True)
    commitment_hex = accepted["commitment"]
    commitment = from_hex(commitment_hex, 32)
    secret_text = accepted["follow_up"]["secret"]
    secret = parse_secret(secret_text)
    marker_answer = "ANSWER-" + os.urandom(8).hex()
    marker_question = "QUESTION-" + os.urandom(8).hex()

    # a member's question, sealed on their machine to the reporter and to the case key (as
    # `tipledger review ask` does) ...
    case = server.case_key(commitment_hex)
    reporter_public = reporter_key(secret, commitment).public_key()
    message_id = new_message_id()
    sealed = {
        "commitment": commitment,
        "message_id": message_id,
        "sender": FROM_REVIEWER,
        "text": marker_question,
    }
    server.service.follow_ups.desk_ask(
        commitment,
        reviewer=server.accounts[2].address,
        message_id=message_id,
        to_reporter=seal_message(reporter_public, **sealed),  # type: ignore[arg-type]
        to_desk=seal_message(case.public_key(), **sealed),  # type: ignore[arg-type]
    )
    # ... and the reporter's answer over HTTP
    response = client.post(
        f"/v1/tips/{commitment_hex}/follow-up/messages",
        json={"text": marker_answer},
        headers=bearer(secret_text),
    )
    assert response.status_code == 201, response.text
    sent = response.json()
    assert set(sent) == {"id", "sent_at"}
    assert abs(sent["sent_at"] - time.time()) < 30

    view = follow_up(client, commitment_hex, secret_text).json()
    assert [(m["from"], m["text"]) for m in view["messages"]] == [
        ("reviewer", marker_question),
        ("reporter", marker_answer),
    ]
    assert view["messages"][1]["id"] == sent["id"]

    # at rest: the Argon2id hash, the public key, ciphertexts; nothing readable
    (row,) = rows(server, follow_ups, commitment)
    assert row.secret_hash.startswith("$argon2id$")
    assert PasswordHasher().verify(row.secret_hash, secret.raw)
    assert secret_text not in row.secret_hash
    assert bytes(row.reporter_key) == reporter_public.public_bytes_raw()
    stored = rows(server, follow_up_messages, commitment)
    assert len(stored) == 2
    for m in stored:
        for value in (bytes(m.to_reporter), bytes(m.to_desk)):
            assert marker_answer.encode() not in value
            assert marker_question.encode() not in value
    answer = next(m for m in stored if m.sender == FROM_REPORTER)
    assert answer.reviewer is None
    # the desk's copy opens with the case key (granted to the members), not the member's own
    # key; the reporter's copy needs the secret
    with pytest.raises(EnvelopeError):
        open_message(
            server.desk_private,
            bytes(answer.to_desk),
            commitment=commitment,
            message_id=bytes(answer.id),
            sender=FROM_REPORTER,
        )
    assert (
        open_message(
            case,
            bytes(answer.to_desk),
            commitment=commitment,
            message_id=bytes(answer.id),
            sender=FROM_REPORTER,
        )
        == marker_answer
    )
    if server.sqlite_file is not None:  # not in the file, the WAL or anywhere beside it
        for path in server.sqlite_file.parent.iterdir():
            data = path.read_bytes()
            for needle in (marker_answer.encode(), marker_question.encode(), secret.raw):
                assert needle not in data, path
            assert secret_text.encode() not in data, path


def test_a_known_commitment_with_follow_up_stores_nothing_new(
    server: Server, client: httpx.Client
) -> None:
    document = b"Duplicate tip " + os.urandom(4).hex().encode()
    salt = to_hex(new_salt())
    first = submit(client, document, salt=salt)
    assert first["follow_up"] is None
    again = submit(client, document, salt=salt, follow_up=True)
    assert again["commitment"] == first["commitment"]
    assert again["follow_up"] is None
    assert "follow_up" not in again["receipt"]
    assert rows(server, follow_ups, from_hex(first["commitment"], 32)) == []

    document = b"Duplicate with follow-up " + os.urandom(4).hex().encode()
    first = submit(client, document, salt=salt, follow_up=True)
    again = submit(client, document, salt=salt, follow_up=True)
    assert again["follow_up"] is None
    (row,) = rows(server, follow_ups, from_hex(first["commitment"], 32))
    assert PasswordHasher().verify(row.secret_hash, parse_secret(first["follow_up"]["secret"]).raw)
    assert follow_up(client, first["commitment"], first["follow_up"]["secret"]).status_code == 200


def test_multipart_asks_for_a_follow_up_with_a_form_field(
    server: Server, client: httpx.Client
) -> None:
    response = client.post(
        "/v1/tips",
        data={"document": "Invoice paid twice", "follow_up": "true"},
        files=[("files", ("a.txt", b"attachment", "text/plain"))],
    )
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["follow_up"]["secret"].startswith("tlf1_")
    assert body["document"]
    ok = follow_up(client, body["commitment"], body["follow_up"]["secret"])
    assert ok.status_code == 200
    off = client.post("/v1/tips", files=form(document="No follow-up", follow_up="false"))
    assert off.status_code == 202
    assert off.json()["follow_up"] is None


@pytest.mark.parametrize(
    ("request_kwargs", "fragment"),
    [
        ({"json": {"document": "aGk=", "follow_up": "yes"}}, "follow_up"),
        ({"json": {"document": "aGk=", "follow_up": 1}}, "follow_up"),
        ({"json": {"document": "aGk=", "identity": "me"}}, "identity"),
        ({"json": {"document": "aGk=", "identity": {}}}, "identity"),
        ({"json": {"document": "aGk=", "identity": [1]}}, "identity"),
        ({"files": form(document="t", follow_up="maybe")}, "follow_up"),
        ({"files": form(document="t", follow_up="true", follow_up_="true")}, "more than once"),
        ({"files": form(document="t", identity="{not json")}, "identity"),
        ({"files": form(document="t", identity="[1]")}, "identity"),
    ],
)
def test_bad_follow_up_fields_are_422(
    client: httpx.Client, request_kwargs: dict[str, Any], fragment: str
) -> None:
    response = client.post("/v1/tips", **request_kwargs)
    assert response.status_code == 422, response.text
    assert fragment in response.json()["detail"]


def test_bad_messages_are_422(server: Server, client: httpx.Client) -> None:
    accepted = submit(
        client, b"Tip for bad messages " + os.urandom(4).hex().encode(), follow_up=True
    )
    url = f"/v1/tips/{accepted['commitment']}/follow-up/messages"
    headers = bearer(accepted["follow_up"]["secret"])
    for body in ({"text": ""}, {"text": "  "}, {"text": 5}, {}, {"text": "x" * 10_001}, {"t": 1}):
        response = client.post(url, json=body, headers=headers)
        assert response.status_code == 422, (body, response.text)
        assert isinstance(response.json()["detail"], str)
    assert client.post(url, content=b"{", headers=headers).status_code == 422
    bad = client.get("/v1/tips/0x1234/follow-up", headers=headers)
    assert bad.status_code == 422


def test_wrong_secrets_are_rate_limited_per_tip(server: Server, client: httpx.Client) -> None:
    accepted = submit(client, b"Rate limited " + os.urandom(4).hex().encode(), follow_up=True)
    commitment = accepted["commitment"]
    limit = server.service.follow_ups.limiter.limit
    for _ in range(limit):
        assert follow_up(client, commitment, new_secret().text).status_code == 401
    refused = follow_up(client, commitment, new_secret().text)
    assert refused.status_code == 429
    assert "too many" in refused.json()["detail"]
    # an unknown tip is limited alike (the answer tells nothing about which tips exist)
    unknown = "0x" + os.urandom(32).hex()
    for _ in range(limit):
        assert follow_up(client, unknown, new_secret().text).status_code == 401
    assert follow_up(client, unknown, new_secret().text).status_code == 429
    # other tips are not affected
    fresh = submit(client, b"Another " + os.urandom(4).hex().encode(), follow_up=True)
    assert follow_up(client, fresh["commitment"], fresh["follow_up"]["secret"]).status_code == 200


def test_follow_up_rows_only_for_follow_ups(server: Server, client: httpx.Client) -> None:
    engine = create_engine(server.database_url)
    try:
        with engine.connect() as conn:
            before = conn.scalar(select(func.count()).select_from(follow_ups))
        submit(client, b"No follow-up asked " + os.urandom(4).hex().encode())
        with engine.connect() as conn:
            after = conn.scalar(select(func.count()).select_from(follow_ups))
    finally:
        engine.dispose()
    assert after == before
