"""The reporter's one code in the browser (api/web/static/js/reporter-code.js) against
ledger.core.reporter_code, in Debian's Chromium, both ways.

JS reads codes as Python reads them (case, spaces, hyphens, O/I/L) and refuses what Python
refuses with the same line; JS stretches the PROTOCOL vector (docs/PROTOCOL.md 15.14) to the
same follow-up secret, salt, pin key, case key tag and token, and random codes (some made in
JS, some in Python) to Python's keys and enrolment. The Argon2 module is fetched only when a
code is first stretched. Nothing but the served modules is fetched.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from typing import Any

import pytest

from ledger.core.commitment import commitment as compute_commitment
from ledger.core.commitment import content_digest
from ledger.core.errors import ProtocolError
from ledger.core.followup import follow_up_token, token_text
from ledger.core.reporter_code import (
    ALPHABET,
    case_key_tag,
    code_enrolment,
    code_enrolment_from_json,
    code_keys,
    new_code,
    parse_code,
)

from .conftest import PHONE, ServedApp

pytestmark = pytest.mark.e2e

SEED = 20261203
PRELUDE = """
const R = await import('/web/js/reporter-code.js');
const K = await import('/web/js/followup-keys.js');
const P = await import('/web/js/protocol.js');
const hex = (h) => P.fromHex(h);
"""

# PROTOCOL 15.14 (computed with ledger.core.reporter_code; /tmp/briefs/code-spec.md)
VECTOR_DOCUMENT = b'{"format":"tipledger-tip/1"}'
VECTOR = {
    "code": "7KQM-4T9X-J2RB-8HCE",
    "secret": "tlf2_qTbAJeonuXVGIlw36eLAekokHl5xu4RkG6u3owdCnQM",
    "salt": "0x7ae2097e325f6df7fd51c048fa6b9aa98823cd59026e756b4611b113fd55d3ce",
    "pin": "0x8ae65163fb61a533e0e082fbde15a6e4cdbbf6197fda5e10aa776608d84a92b1",
    "commitment": "0x16f1f60cbb92a5f4058fcaa80bb6965d3b8e024dfc5cbdb4c6523cb79b979b77",
    "case_key_tag": "0xfa25048486eb602fce1daf6caa916b2e",
    "token": "tlt2_2RLfwI934h6HpraOsbd8AuF6PUDU3O3wQ-U4GbDEINQ",
}


@pytest.fixture(scope="module")
def page(browser: Any, pages_only: ServedApp) -> Iterator[Any]:
    context = browser.new_context(viewport=PHONE)
    tab = context.new_page()
    foreign: list[str] = []
    fetched: list[str] = []
    tab.on("request", lambda r: fetched.append(r.url))
    tab.on(
        "request",
        lambda r: foreign.append(r.url) if not r.url.startswith(pages_only.url) else None,
    )
    tab.goto(pages_only.url + "/status")
    tab.wait_for_selector("body[data-ready=true]")
    tab.fetched = fetched
    yield tab
    context.close()
    assert foreign == [], f"the page fetched from elsewhere: {foreign}"


def js(page: Any, body: str, arg: Any = None) -> Any:
    return page.evaluate(f"async (arg) => {{ {PRELUDE}\n{body} }}", arg)


def h(data: bytes) -> str:
    return "0x" + data.hex()


STRETCH = """
const keys = await R.codeKeys(R.parseCode(arg.code));
const c = hex(arg.commitment);
const caseKey = hex(arg.caseKey);
const followUp = K.toBase64Url(keys.followUp.raw);
const bearer = (await K.followUpKeys('tlf2_' + followUp, c)).bearer;
return {
  symbols: keys.code.symbols, secret: 'tlf2_' + followUp, salt: P.toHex(keys.salt),
  pin: P.toHex(keys.pinKey), tag: P.toHex(await R.caseKeyTag(keys, c, caseKey)),
  checks: await R.checkCaseKey(keys, c, caseKey, await R.caseKeyTag(keys, c, caseKey)),
  otherKey: await R.checkCaseKey(keys, c, new Uint8Array(32).fill(7),
                                 await R.caseKeyTag(keys, c, caseKey)),
  enrolment: await R.codeEnrolment(keys, c, caseKey), bearer,
};
"""


def test_the_argon2_module_is_fetched_only_to_stretch(page: Any) -> None:
    assert not [u for u in page.fetched if "argon2" in u]
    js(page, "R.parseCode(R.newCode().text); return null;")
    assert not [u for u in page.fetched if "argon2" in u]  # reading a code needs no Argon2


def test_js_stretches_the_protocol_vector_as_python(page: Any) -> None:
    keys = code_keys(parse_code(VECTOR["code"]))
    case_key = bytes(range(32))
    digest = content_digest(VECTOR_DOCUMENT)
    commitment = compute_commitment(keys.salt, digest, bytes(20))
    assert h(commitment) == VECTOR["commitment"]
    got = js(
        page,
        STRETCH,
        {"code": VECTOR["code"].lower(), "commitment": h(commitment), "caseKey": h(case_key)},
    )
    assert got["symbols"] == "7KQM4T9XJ2RB8HCE"
    assert got["secret"] == VECTOR["secret"] == keys.follow_up.text
    assert got["salt"] == VECTOR["salt"]
    assert got["pin"] == VECTOR["pin"]
    assert got["tag"] == VECTOR["case_key_tag"] == h(case_key_tag(keys, commitment, case_key))
    assert got["checks"] is True
    assert got["otherKey"] is False
    assert got["bearer"] == VECTOR["token"]
    assert got["enrolment"] == code_enrolment(keys, commitment, case_key).to_json()
    assert [u for u in page.fetched if u.endswith("/vendor/noble-hashes/argon2.js")]


def test_random_codes_stretch_alike_both_ways(page: Any) -> None:
    rng = random.Random(SEED)
    made_in_js: list[str] = js(page, "return [R.newCode().text, R.newCode().text];")
    codes = [*made_in_js, new_code().text, new_code().text]
    for text in codes:
        code = parse_code(text)  # a JS code reads in Python
        assert text == code.text
        keys = code_keys(code)
        commitment, case_key = rng.randbytes(32), os.urandom(32)
        got = js(page, STRETCH, {"code": text, "commitment": h(commitment), "caseKey": h(case_key)})
        assert got["secret"] == keys.follow_up.text
        assert got["salt"] == h(keys.salt)
        assert got["pin"] == h(keys.pin_key)
        assert got["tag"] == h(case_key_tag(keys, commitment, case_key))
        assert got["bearer"] == token_text(follow_up_token(keys.follow_up, commitment))
        enrolment = code_enrolment_from_json(got["enrolment"])  # the service's parser takes it
        assert enrolment == code_enrolment(keys, commitment, case_key)


def _typed_variants(rng: random.Random, symbols: str) -> str:
    """The code as a reporter might type it: any case, spaces, hyphens, O for 0, I or L for 1."""
    out = []
    for i, s in enumerate(symbols):
        if s == "0" and rng.random() < 0.5:
            s = "O"
        elif s == "1" and rng.random() < 0.5:
            s = rng.choice("IL")
        out.append(s.lower() if rng.random() < 0.5 else s)
        if i % 4 == 3 and rng.random() < 0.5:
            out.append(rng.choice([" ", "-", " - ", "\n"]))
    return "".join(out)


def _python_reads(text: object) -> str | ProtocolError:
    try:
        return parse_code(text).symbols
    except ProtocolError as exc:
        return exc


def test_js_reads_and_refuses_codes_as_python(page: Any) -> None:
    rng = random.Random(SEED + 1)
    texts: list[object] = []
    for _ in range(60):
        symbols = new_code().symbols
        texts.append(_typed_variants(rng, symbols))
        # one symbol changed: almost always refused by the check symbol
        i = rng.randrange(16)
        texts.append(symbols[:i] + rng.choice(ALPHABET.replace(symbols[i], "")) + symbols[i + 1 :])
    texts += [
        "",
        "7KQM-4T9X-J2RB",
        "7KQM-4T9X-J2RB-8HCE-0",
        "7KQM-4T9X-J2RB-8HCU",
        "7KQM-4T9X-J2RB-8HC*",
        "7KQM-4T9X-J2RB-8HCF",
        "7KQM 4T9X J2RB 8HCE",
        "7kqm4t9xj2rb8hce",
        "7KQM-4T9X-J2RB-8HCก",
        12,
        None,
    ]
    got = js(
        page,
        """
        return arg.map((text) => {
          try { return { symbols: R.parseCode(text).symbols }; }
          catch (exc) {
            return { error: exc.message, key: exc.key, params: exc.params,
                     isCodeError: exc instanceof R.CodeError };
          }
        });
        """,
        texts,
    )
    keys_seen = set()
    for text, mine in zip(texts, got, strict=True):
        expected = _python_reads(text)
        if isinstance(expected, ProtocolError):
            assert mine.get("error") == str(expected), text
            assert mine["isCodeError"] is True
            keys_seen.add(mine["key"])
        else:
            assert mine == {"symbols": expected}, text
    assert keys_seen == {
        "code.error_not_text",
        "code.error_length",
        "code.error_symbol",
        "code.error_check",
    }


def test_a_case_key_tag_of_the_wrong_size_does_not_check(page: Any) -> None:
    got = js(
        page,
        """
        const keys = { pinKey: new Uint8Array(32) };
        const c = new Uint8Array(32), k = new Uint8Array(32);
        const tag = await R.caseKeyTag(keys, c, k);
        return [await R.checkCaseKey(keys, c, k, tag),
                await R.checkCaseKey(keys, c, k, tag.slice(0, 15)),
                await R.checkCaseKey(keys, c, k, null),
                R.isLocator('7KQM4T'), R.isLocator('7kqm4t'), R.isLocator('7KQM4U')];
        """,
    )
    assert got == [True, False, False, True, False, False]
