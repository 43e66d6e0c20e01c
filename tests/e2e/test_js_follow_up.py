"""The follow-up keys of the reporter's device (api/web/static/js/followup-keys.js and the
sealing in followup.js) against ledger.core.followup, in Debian's Chromium, both ways.

JS derives what Python derives, byte for byte (the reporter key, the token, the verifier, the
enrolment, for random secrets and tips, version 1 and 2); a secret and enrolment made in JS are
accepted by Python's checks and give Python's keys; a desk question sealed by Python opens in
JS, and one altered, moved or sealed to another key is refused there; an answer sealed in the
browser (followup.js sendAnswer, the request caught before it leaves) opens in Python with the
case key and the reporter key. Nothing but the served modules is fetched.
"""

from __future__ import annotations

import base64
import json
import os
import random
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from ledger.core import hpke
from ledger.core.errors import EnvelopeError
from ledger.core.followup import (
    FROM_REPORTER,
    FROM_REVIEWER,
    FollowUpSecret,
    device_enrolment,
    device_secret_from_text,
    enrolment_from_json,
    follow_up_token,
    open_message,
    reporter_key,
    seal_message,
    token_text,
)
from ledger.followup.device import bearer

from .conftest import PHONE, ServedApp

pytestmark = pytest.mark.e2e

SEED = 20261204
PRELUDE = """
const K = await import('/web/js/followup-keys.js');
const F = await import('/web/js/followup.js');
const P = await import('/web/js/protocol.js');
const hex = (h) => P.fromHex(h);
const b64 = (bytes) => P.toBase64(bytes);
"""


@pytest.fixture(scope="module")
def page(browser: Any, pages_only: ServedApp) -> Iterator[Any]:
    context = browser.new_context(viewport=PHONE)
    tab = context.new_page()
    foreign: list[str] = []
    tab.on(
        "request",
        lambda r: foreign.append(r.url) if not r.url.startswith(pages_only.url) else None,
    )
    tab.goto(pages_only.url + "/status")
    tab.wait_for_selector("body[data-ready=true]")
    yield tab
    context.close()
    assert foreign == [], f"the page fetched from elsewhere: {foreign}"


def js(page: Any, body: str, arg: Any = None) -> Any:
    return page.evaluate(f"async (arg) => {{ {PRELUDE}\n{body} }}", arg)


def h(data: bytes) -> str:
    return "0x" + data.hex()


def test_js_derives_what_python_derives(page: Any) -> None:
    rng = random.Random(SEED)
    cases = []
    for i in range(24):
        version = 1 + i % 2
        cases.append((FollowUpSecret(rng.randbytes(32), version), rng.randbytes(32)))
    got = js(
        page,
        """
        const out = [];
        for (const [text, c] of arg) {
          const commitment = hex(c);
          const keys = await K.followUpKeys(text, commitment);
          const parsed = K.parseSecret(text);
          const e = parsed.version === 2 ? await K.enrolment(parsed.raw, commitment) : null;
          out.push({ version: keys.version, bearer: keys.bearer,
                     privateRaw: P.toHex(keys.key.privateRaw),
                     publicRaw: P.toHex(keys.key.publicRaw), enrolment: e });
        }
        return out;
        """,
        [[s.text, h(c)] for s, c in cases],
    )
    for (secret, commitment), mine in zip(cases, got, strict=True):
        key = reporter_key(secret, commitment)
        assert mine["version"] == secret.version
        assert mine["privateRaw"] == h(key.private_bytes_raw())
        assert mine["publicRaw"] == h(hpke.public_bytes(key.public_key()))
        assert mine["bearer"] == bearer(secret, commitment)
        if secret.version == 2:
            assert mine["bearer"] == token_text(follow_up_token(secret, commitment))
            assert mine["enrolment"] == device_enrolment(secret, commitment).to_json()
        else:
            assert mine["bearer"] == secret.text  # a version 1 secret is its own credential
            assert mine["enrolment"] is None


def test_a_follow_up_made_in_js_is_python_s(page: Any) -> None:
    commitments = [os.urandom(32) for _ in range(5)]
    got = js(
        page,
        """
        const out = [];
        for (const c of arg) out.push(await K.newFollowUp(hex(c)));
        return out;
        """,
        [h(c) for c in commitments],
    )
    secrets = set()
    for commitment, made in zip(commitments, got, strict=True):
        secret = device_secret_from_text(made["secret"])
        assert secret is not None, made["secret"]
        assert secret.version == 2
        secrets.add(secret.raw)
        assert enrolment_from_json(made["enrolment"]) == device_enrolment(secret, commitment)
        assert set(made["enrolment"]) == {"version", "reporter_key", "verifier"}  # no secret
    assert len(secrets) == 5


def test_the_js_refuses_what_is_not_a_secret(page: Any) -> None:
    got = js(
        page,
        """
        const out = {};
        for (const t of arg) out[t] = K.parseSecret(t) === null;
        const c = new Uint8Array(32);
        try { await K.followUpKeys('tlt2_' + 'A'.repeat(43), c); out.token = 'accepted'; }
        catch (err) { out.token = err.name; }
        return out;
        """,
        ["", "tlf3_" + "A" * 43, "tlf2_" + "A" * 42, "tlf2_" + "+" * 43, "tlt2_" + "A" * 43],
    )
    assert got.pop("token") == "FollowUpKeyError"
    assert all(got.values()), got


def test_a_question_sealed_in_python_opens_in_js_and_a_changed_one_does_not(page: Any) -> None:
    secret = FollowUpSecret(os.urandom(32), 2)
    commitment = os.urandom(32)
    key = reporter_key(secret, commitment)
    message_id = os.urandom(16)
    text = "ใบเบิกจ่ายลงวันที่เท่าใด? Which dates? 🧾"
    sealed = seal_message(
        key.public_key(),
        commitment=commitment,
        message_id=message_id,
        sender=FROM_REVIEWER,
        text=text,
    )
    stranger = seal_message(
        X25519PrivateKey.generate().public_key(),
        commitment=commitment,
        message_id=message_id,
        sender=FROM_REVIEWER,
        text=text,
    )
    flipped = bytearray(sealed)
    flipped[-1] ^= 1
    got = js(
        page,
        """
        const keys = await K.followUpKeys(arg.secret, hex(arg.c));
        const where = (c, id, sender) => ({ commitment: hex(c), messageId: hex(id), sender });
        const tries = {
          right: [arg.sealed, where(arg.c, arg.id, K.FROM_REVIEWER)],
          otherTip: [arg.sealed, where(arg.other, arg.id, K.FROM_REVIEWER)],
          otherId: [arg.sealed, where(arg.c, arg.otherId, K.FROM_REVIEWER)],
          otherSender: [arg.sealed, where(arg.c, arg.id, K.FROM_REPORTER)],
          flipped: [arg.flipped, where(arg.c, arg.id, K.FROM_REVIEWER)],
          stranger: [arg.stranger, where(arg.c, arg.id, K.FROM_REVIEWER)],
        };
        const out = {};
        for (const [name, [sealed, w]] of Object.entries(tries)) {
          try { out[name] = await K.openMessage(keys.key, P.fromBase64(sealed), w); }
          catch (err) { out[name] = `${err.name}: ${err.message}`; }
        }
        return out;
        """,
        {
            "secret": secret.text,
            "c": h(commitment),
            "other": h(os.urandom(32)),
            "id": h(message_id),
            "otherId": h(os.urandom(16)),
            "sealed": base64.b64encode(sealed).decode(),
            "flipped": base64.b64encode(bytes(flipped)).decode(),
            "stranger": base64.b64encode(stranger).decode(),
        },
    )
    assert got.pop("right") == text
    assert got.pop("stranger").endswith("is sealed to another key")
    for name, outcome in got.items():
        assert outcome.startswith("FollowUpKeyError:"), (name, outcome)
        assert "does not open" in outcome, (name, outcome)


def test_an_answer_sealed_in_the_browser_opens_in_python(page: Any) -> None:
    secret = FollowUpSecret(os.urandom(32), 2)
    commitment = os.urandom(32)
    case = X25519PrivateKey.generate()
    case_raw = hpke.public_bytes(case.public_key())
    text = "ฉบับแรก 3 มีนาคม\n(both signed by the same officer) ✍️"
    # followup.js builds and posts the body; the request is caught here before it leaves
    got = js(
        page,
        """
        const bodies = [];
        const real = window.fetch;
        window.fetch = async (url, init) => {
          const auth = init.headers.Authorization;
          bodies.push({ url: String(url), auth, body: JSON.parse(init.body) });
          return new Response(JSON.stringify({ id: '0x00', sent_at: 1 }), { status: 201 });
        };
        try {
          const session = await F.openSession(arg.c, arg.secret);
          await F.sendAnswer(session, arg.text, { key: arg.caseKey, key_id: arg.caseKeyId });
          let refused = null;
          const wrong = { key: arg.caseKey, key_id: '00'.repeat(8) };
          try { await F.sendAnswer(session, arg.text, wrong); }
          catch (err) { refused = err.key + ' ' + err.params.detail; }
          return { bodies, refused };
        } finally {
          window.fetch = real;
        }
        """,
        {
            "secret": secret.text,
            "c": h(commitment),
            "text": text,
            "caseKey": h(case_raw),
            "caseKeyId": hpke.key_id_bytes(case_raw).hex(),
        },
    )
    assert got["refused"].startswith("status.follow_up_refused")
    (sent,) = got["bodies"]  # the refused one never left
    assert sent["url"] == f"/v1/tips/{h(commitment)}/follow-up/messages"
    assert sent["auth"] == "Bearer " + token_text(follow_up_token(secret, commitment))
    body = sent["body"]
    assert set(body) == {"id", "to_reporter", "to_desk"}
    assert secret.text not in json.dumps(sent)
    message_id = bytes.fromhex(body["id"][2:])
    where = {"commitment": commitment, "message_id": message_id, "sender": FROM_REPORTER}
    to_desk = base64.b64decode(body["to_desk"])
    to_reporter = base64.b64decode(body["to_reporter"])
    assert open_message(case, to_desk, **where) == text  # type: ignore[arg-type]
    mine = reporter_key(secret, commitment)
    assert open_message(mine, to_reporter, **where) == text  # type: ignore[arg-type]
    with pytest.raises(EnvelopeError):  # each copy is for its own key only
        open_message(case, to_reporter, **where)  # type: ignore[arg-type]
