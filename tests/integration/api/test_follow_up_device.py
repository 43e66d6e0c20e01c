"""Follow-up with a secret made on the device (version 2) over real HTTP, on SQLite and
PostgreSQL, on the service's default (it seals nothing sent in clear).

The sealed tip carries only the enrolment; the device shows a token, never the secret; the
thread comes back sealed and opens on the device; answers are sealed on the device to the
reporter key and to the case key the view names, and the service checks which keys. A version 1
tip on this default can still answer, sealed on the device, but not in clear.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, select
from typer.testing import CliRunner, Result

from ledger.cli.app import app
from ledger.core.encoding import checksum_address, from_hex, to_hex
from ledger.core.hpke import key_id_bytes, public_bytes
from ledger.core.receipt import Receipt
from ledger.errors import EnvelopeError
from ledger.followup.device import bearer, device_follow_up, open_thread, seal_answer
from ledger.followup.secrets import (
    FROM_REPORTER,
    FROM_REVIEWER,
    FollowUpSecret,
    new_message_id,
    open_message,
    reporter_key,
    seal_message,
    token_text,
)
from ledger.store.schema import follow_up_messages, follow_ups

from .. import sealing
from .conftest import Server

pytestmark = pytest.mark.chain

UNAUTHENTICATED = "no follow-up for this tip with that secret"


@pytest.fixture(scope="module")
def server_sealing() -> bool:
    return False  # the default: answers and identities arrive sealed on the device


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def auth(credential: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {credential}"}


def device_tip(server: Server, client: httpx.Client) -> tuple[str, bytes, FollowUpSecret]:
    """A tip sealed on the device with a follow-up made there: (hex, commitment, secret)."""
    tip = sealing.seal(server.w3, server.deployment.address, b"Tender 88 " + os.urandom(6))
    secret, enrolment = device_follow_up(tip.commitment)
    r = sealing.post(client, tip, follow_up=enrolment)
    assert r.status_code == 202, r.text
    assert r.json()["follow_up"] is None  # the service has no secret to hand back
    return to_hex(tip.commitment), tip.commitment, secret


def rows(server: Server, table: Any, commitment: bytes) -> list[Any]:
    engine = create_engine(server.database_url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(select(table).where(table.c.commitment == commitment)).all())
    finally:
        engine.dispose()


def ask(server: Server, commitment_hex: str, secret: FollowUpSecret, text: str) -> bytes:
    """A member's question sealed as `tipledger review ask` seals it, stored by the service."""
    commitment = from_hex(commitment_hex, 32)
    case = server.case_key(commitment_hex)
    message_id = new_message_id()

    def sealed(key: Any) -> bytes:
        return seal_message(
            key, commitment=commitment, message_id=message_id, sender=FROM_REVIEWER, text=text
        )

    server.service.follow_ups.desk_ask(
        commitment,
        reviewer=server.accounts[2].address,
        message_id=message_id,
        to_reporter=sealed(reporter_key(secret, commitment).public_key()),
        to_desk=sealed(case.public_key()),
    )
    return message_id


def test_a_device_s_follow_up_end_to_end(server: Server, client: httpx.Client) -> None:
    commitment_hex, commitment, secret = device_tip(server, client)
    token = bearer(secret, commitment)
    assert token.startswith("tlt2_")
    path = f"/v1/tips/{commitment_hex}/follow-up"

    # stored: the reporter's public key and SHA-256 of the token, marked; never the secret
    (row,) = rows(server, follow_ups, commitment)
    assert row.secret_hash.startswith("sha256:")
    assert bytes(row.reporter_key) == public_bytes(reporter_key(secret, commitment).public_key())

    marker = "QUESTION-" + os.urandom(6).hex()
    ask(server, commitment_hex, secret, marker)
    r = client.get(path, headers=auth(token))
    assert r.status_code == 200, r.text
    view = r.json()
    case = server.case_key(commitment_hex)
    case_raw = public_bytes(case.public_key())
    assert view["version"] == 2
    assert view["seal_to"] == {"key": to_hex(case_raw), "key_id": key_id_bytes(case_raw).hex()}
    assert marker not in r.text  # sealed: the service did not open it
    assert [m["from"] for m in view["messages"]] == ["reviewer"]
    assert open_thread(view, secret, commitment)["messages"][0]["text"] == marker

    # the answer, sealed here
    answer = "ANSWER-" + os.urandom(6).hex()
    body = seal_answer(secret, commitment, view["seal_to"], answer)
    r = client.post(path + "/messages", json=body, headers=auth(token))
    assert r.status_code == 201, r.text
    assert r.json()["id"] == body["id"]
    opened = open_thread(client.get(path, headers=auth(token)).json(), secret, commitment)
    assert [(m["from"], m["text"]) for m in opened["messages"]] == [
        ("reviewer", marker),
        ("reporter", answer),
    ]
    # the desk opens its copy with the case key; nothing readable at rest
    stored = rows(server, follow_up_messages, commitment)
    mine = next(m for m in stored if m.sender == FROM_REPORTER)
    assert (
        open_message(
            case,
            bytes(mine.to_desk),
            commitment=commitment,
            message_id=bytes(mine.id),
            sender=FROM_REPORTER,
        )
        == answer
    )
    for m in stored:
        for value in (bytes(m.to_reporter), bytes(m.to_desk)):
            assert answer.encode() not in value
            assert marker.encode() not in value
    if server.sqlite_file is not None:  # the secret and the token reached no file
        for file in server.sqlite_file.parent.iterdir():
            data = file.read_bytes()
            assert secret.raw not in data, file
            assert token.encode() not in data, file


def test_wrong_tokens_and_the_secret_itself_get_the_one_401(
    server: Server, client: httpx.Client
) -> None:
    commitment_hex, commitment, secret = device_tip(server, client)
    other, _ = device_follow_up(commitment)
    path = f"/v1/tips/{commitment_hex}/follow-up"
    for credential in (
        bearer(other, commitment),  # the token of another secret
        token_text(os.urandom(32)),
        secret.text,  # the secret is never a credential: a device sends the token
        "tlt2_short",
    ):
        r = client.get(path, headers=auth(credential))
        assert r.status_code == 401, (credential[:5], r.text)
        assert r.json()["detail"] == UNAUTHENTICATED
    assert client.get(path).status_code == 401
    unknown = to_hex(os.urandom(32))
    r = client.get(f"/v1/tips/{unknown}/follow-up", headers=auth(bearer(secret, commitment)))
    assert r.status_code == 401
    assert r.json()["detail"] == UNAUTHENTICATED
    r = client.post(
        path + "/messages",
        json=seal_answer(
            secret,
            commitment,
            {"key": "0x" + "09" * 32, "key_id": key_id_bytes(b"\x09" * 32).hex()},
            "A.",
        ),
        headers=auth(token_text(os.urandom(32))),
    )
    assert r.status_code == 401  # checked before the body's keys


def test_answers_to_the_wrong_keys_and_text_are_refused(
    server: Server, client: httpx.Client
) -> None:
    commitment_hex, commitment, secret = device_tip(server, client)
    token = auth(bearer(secret, commitment))
    path = f"/v1/tips/{commitment_hex}/follow-up"
    view = client.get(path, headers=token).json()
    good = seal_answer(secret, commitment, view["seal_to"], "A.")
    member = public_bytes(server.desk_private.public_key())  # the member's own key: not the tip's
    to_member = seal_answer(
        secret, commitment, {"key": to_hex(member), "key_id": key_id_bytes(member).hex()}, "A."
    )
    cases = [
        ({**good, "to_desk": to_member["to_desk"]}, "field 'to_desk': sealed to key"),
        ({**good, "to_reporter": good["to_desk"]}, "field 'to_reporter': sealed to key"),
        ({**good, "to_reporter": b64(b"\x01" * 20)}, "field 'to_reporter'"),
        ({**good, "id": "0x1234"}, "field 'id'"),
        ({**good, "to_desk": "not base64!"}, "to_desk"),
        ({"id": good["id"], "to_desk": good["to_desk"]}, "are required"),
        ({"text": "In clear."}, "sealed there"),
        ({**good, "text": "both"}, "either"),
    ]
    for body, message in cases:
        r = client.post(path + "/messages", json=body, headers=token)
        assert r.status_code == 422, (body.keys(), r.text)
        assert message in r.json()["detail"], r.text
    assert rows(server, follow_up_messages, commitment) == []
    # an identity in clear is refused too: a device seals it (identity record version 2)
    r = client.post(
        f"/v1/tips/{commitment_hex}/identity", json={"identity": {"name": "S."}}, headers=token
    )
    assert r.status_code == 422
    assert "sealed there" in r.json()["detail"]
    r = client.post(f"/v1/tips/{commitment_hex}/identity", json={}, headers=token)
    assert r.status_code == 422
    # the good answer still goes, once
    assert client.post(path + "/messages", json=good, headers=token).status_code == 201
    again = client.post(path + "/messages", json=good, headers=token)
    assert again.status_code == 422
    assert "already used" in again.json()["detail"]


def test_a_version_1_tip_answers_sealed_on_the_device_but_not_in_clear(
    server: Server, client: httpx.Client
) -> None:
    threads = server.service.follow_ups
    enrolment = threads.enrol()
    accepted = server.service.intake.submit(
        b"Old tip " + os.urandom(6), companions=lambda c: enrolment.rows(c)
    )
    commitment = accepted.commitment
    commitment_hex = to_hex(commitment)
    secret = enrolment.secret
    path = f"/v1/tips/{commitment_hex}/follow-up"
    r = client.get(path, headers=auth(secret.text))
    assert r.status_code == 200, r.text
    view = r.json()
    assert "version" not in view  # today's view, with text, and the key to seal to
    assert view["messages"] == []
    r = client.post(path + "/messages", json={"text": "In clear."}, headers=auth(secret.text))
    assert r.status_code == 422
    assert "TIPLEDGER_SERVER_SEALING" in r.json()["detail"]
    assert "the device must seal" in r.json()["detail"]
    body = seal_answer(secret, commitment, view["seal_to"], "Sealed on the device.")
    r = client.post(path + "/messages", json=body, headers=auth(secret.text))
    assert r.status_code == 201, r.text
    view = client.get(path, headers=auth(secret.text)).json()
    assert [m["text"] for m in view["messages"]] == ["Sealed on the device."]
    # a token is no credential for a version 1 tip
    r = client.get(path, headers=auth(token_text(os.urandom(32))))
    assert r.status_code == 401
    with pytest.raises(EnvelopeError):  # and a version 2 reading of it is refused
        open_thread({**view, "version": 2, "reporter_key_id": "00" * 8}, secret, commitment)


def test_the_reporter_commands_with_a_device_secret(
    server: Server, client: httpx.Client, tmp_path: Path
) -> None:
    tip = sealing.seal(server.w3, server.deployment.address, b"CLI tender " + os.urandom(6))
    secret, enrolment = device_follow_up(tip.commitment)
    r = sealing.post(client, tip, follow_up=enrolment)
    assert r.status_code == 202, r.text
    public = dict(r.json()["receipt"])
    public.update(
        salt=to_hex(tip.salt),
        content_digest=to_hex(tip.content_digest),
        author=checksum_address(tip.author),
    )
    receipt = Receipt.from_dict(public)
    receipt_file = tmp_path / "receipt.json"
    receipt_file.write_text(json.dumps({**receipt.to_dict(), "follow_up": {"secret": secret.text}}))
    commitment_hex = to_hex(tip.commitment)
    marker = "QUESTION-" + os.urandom(6).hex()
    ask(server, commitment_hex, secret, marker)
    runner = CliRunner()
    env = {"TIPLEDGER_HOME": str(tmp_path / "home")}

    def cli(*args: str) -> Result:
        return runner.invoke(app, list(args), env=env, catch_exceptions=False)

    status = cli("follow-up", "status", str(receipt_file), "--api", server.url, "--json")
    assert status.exit_code == 0, status.output
    view = json.loads(status.stdout)
    assert [(m["from"], m["text"]) for m in view["messages"]] == [("reviewer", marker)]

    answer = "ANSWER-" + os.urandom(6).hex()
    replied = cli("follow-up", "reply", str(receipt_file), "--api", server.url, "--text", answer)
    assert replied.exit_code == 0, replied.output
    status = cli("follow-up", "status", str(receipt_file), "--api", server.url)
    assert answer in status.stdout
    # sealed here: the desk's copy opens with the case key
    stored = rows(server, follow_up_messages, tip.commitment)
    mine = next(m for m in stored if m.sender == FROM_REPORTER)
    opened = open_message(
        server.case_key(commitment_hex),
        bytes(mine.to_desk),
        commitment=tip.commitment,
        message_id=bytes(mine.id),
        sender=FROM_REPORTER,
    )
    assert opened == answer

    # no reporter custodian set in this module: nothing is sealed, the refusal says so
    identity_file = tmp_path / "me.json"
    identity_file.write_text(json.dumps({"name": "Reporter R."}))
    added = cli(
        "follow-up",
        "add-identity",
        str(receipt_file),
        "--api",
        server.url,
        "--identity-file",
        str(identity_file),
        "--rpc",
        server.rpc_url,
    )
    assert added.exit_code == 2
    assert "custodian set" in added.stderr

    forged = json.loads(receipt_file.read_text())
    forged["follow_up"]["secret"] = "tlf2_" + "B" * 43
    forged_file = tmp_path / "forged.json"
    forged_file.write_text(json.dumps(forged))
    wrong = cli("follow-up", "status", str(forged_file), "--api", server.url)
    assert wrong.exit_code == 2
    assert "401" in wrong.stderr
