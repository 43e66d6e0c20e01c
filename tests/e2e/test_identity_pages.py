"""The optional identity in the browser, against the real service, vault and chain.

While no custodian set exists the pages do not offer an identity at all. Once the admin (the
devchain's account 0) has granted CUSTODIAN_ROLE to three custodians, they have registered their
keys (signed in with Sign-In with Ethereum) and the admin has made a 2-of-3 reporter set through
the desk API, the submit page offers it at once (``/web-config.json`` is worked out per request)
and only for that kind: an identity sent with a tip comes back as a sealed record summary on the
receipt page, and one can be added later from the follow-up page with the secret.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from ledger.chain.anvil import dev_accounts
from ledger.chain.contract import TipLedgerContract
from ledger.cli.api_client import DeskClient
from ledger.core.encoding import to_hex
from ledger.vault.custodian_keys import CustodianKey
from ledger.vault.digests import sign_registration

from .conftest import Recorder, Services, http_get, open_page, send_tip

pytestmark = [pytest.mark.e2e, pytest.mark.chain]

THRESHOLD = 2
NAME = "สมหญิง ใจกล้า"
CONTACT = "Signal +66 81 234 5678"


def features(services: Services) -> dict[str, Any]:
    status, _headers, body = http_get(services.url + "/web-config.json")
    assert status == 200
    found: dict[str, Any] = json.loads(body)["features"]
    return found


def make_set(services: Services, contract: TipLedgerContract, kind: str) -> list[CustodianKey]:
    """Three new custodians (role on chain, keys registered) in a 2-of-3 set for ``kind``."""
    admin = dev_accounts(1)[0]
    keys = [CustodianKey.generate() for _ in range(3)]
    for key in keys:
        contract.grant_role(admin, "CUSTODIAN_ROLE", key.address)
        with DeskClient(services.url, key.eth_account) as desk:
            info = desk.call("GET", "/v1/vault")
            signature = sign_registration(
                key.eth_account, info["chain_id"], info["contract"], key.public()
            )
            desk.call(
                "POST",
                "/v1/vault/custodians",
                json={
                    "registration": key.public().to_dict(),
                    "signature": to_hex(signature),
                    "name": f"custodian {key.key_id}",
                },
            )
    with DeskClient(services.url, admin) as desk:
        desk.call(
            "POST",
            "/v1/vault/sets",
            json={
                "kind": kind,
                "threshold": THRESHOLD,
                "custodians": [k.key_id for k in keys],
            },
        )
    return keys


def records_of(services: Services, commitment: str) -> list[dict[str, Any]]:
    with DeskClient(services.url, dev_accounts(1)[0]) as desk:
        found: list[dict[str, Any]] = desk.call(
            "GET", "/v1/vault/records", params={"commitment": commitment}
        )
    return found


def test_an_identity_is_offered_once_custodians_exist_and_sealed_k_of_n(
    tab: tuple[Any, Recorder], services: Services, artifacts: Path, contract: TipLedgerContract
) -> None:
    page, recorder = tab
    # The first to make a reporter set in this package's service: before it, none is offered.
    assert not features(services)["identity"]["reporter"], "a reporter set exists already"
    open_page(page, services.url + "/")
    assert not page.is_visible("#identity-fieldset")

    keys = make_set(services, contract, "reporter")
    assert features(services)["identity"] == {"reporter": True, "witness": False}

    # The page offers it now, for the kind that has custodians only.
    open_page(page, services.url + "/")
    assert page.is_visible("#identity-fieldset")
    assert page.is_enabled("#identity-role-reporter")
    assert page.is_checked("#identity-role-reporter")
    assert page.is_disabled("#identity-role-witness")
    assert "พยาน" in page.inner_text("#identity-kind-note")
    page.fill("#tip-text", "ผู้อำนวยการกองคลังสั่งให้แก้ใบเสร็จ " + os.urandom(4).hex())
    page.fill("#identity-name", NAME)
    page.fill("#identity-contact", CONTACT)
    page.screenshot(path=artifacts / "30-submit-identity-th.png", full_page=True)
    page.click("#submit-button")
    page.wait_for_url("**/receipt", timeout=20_000)
    page.wait_for_selector("body[data-ready=true]")

    # The receipt page says what was sealed and who can open it.
    assert page.is_visible("#identity-sealed")
    assert not page.is_visible("#identity-kind-differs")
    text = page.inner_text("#identity-text")
    assert f"อย่างน้อย {THRESHOLD} จาก {len(keys)} คน" in text
    record = page.inner_text("#identity-record").split(":")[-1].strip()
    commitment = page.inner_text("#commitment").strip()
    stored = records_of(services, commitment)
    assert [(r["record_id"], r["kind"], r["threshold"]) for r in stored] == [
        (record, "reporter", THRESHOLD)
    ]
    assert sorted(stored[0]["custodian_key_ids"]) == sorted(k.key_id for k in keys)
    page.screenshot(path=artifacts / "31-receipt-identity-th.png", full_page=True)
    assert NAME not in json.dumps(page.evaluate("() => ({...sessionStorage})"))

    # A tip sent without one: the identity is added later, from the follow-up page.
    send_tip(page, services, "ใบเสร็จถูกแก้ไขย้อนหลัง " + os.urandom(4).hex())
    later = page.inner_text("#commitment").strip()
    assert not page.is_visible("#identity-sealed")
    page.click("#follow-up-link")
    page.wait_for_selector("body[data-follow-up=open]", timeout=20_000)
    assert page.is_visible("#identity-later")
    page.click("#identity-later summary")
    page.fill("#identity-name", NAME)
    page.fill("#identity-contact", "ทางไปรษณีย์ ตู้ ป.ณ. 17")
    page.click("#identity-button")
    page.wait_for_selector("#identity-result[data-kind=reporter]", timeout=20_000)
    assert f"{THRESHOLD} จาก {len(keys)}" in page.inner_text("#identity-result")
    assert page.input_value("#identity-name") == ""  # nothing of it left in the form
    assert [r["kind"] for r in records_of(services, later)] == ["reporter"]
    page.screenshot(path=artifacts / "32-follow-up-identity-th.png", full_page=True)

    page.click(".lang-switch")
    page.wait_for_function("() => document.documentElement.lang === 'en'")
    assert f"at least {THRESHOLD} of its {len(keys)} custodians" in page.inner_text(
        "#identity-result"
    )

    # A second one is refused, in one readable line.
    page.fill("#identity-name", NAME)
    page.click("#identity-button")
    page.wait_for_function(
        "() => !document.getElementById('identity-result').dataset.kind"
        " && document.getElementById('identity-result').textContent.length > 0"
    )
    assert "already" in page.inner_text("#identity-result")
    assert len(records_of(services, later)) == 1
    assert recorder.cookies == []
    assert [p for p in recorder.problems if "409" not in p] == []


def test_a_witness_is_sealed_for_the_witness_custodians(
    tab: tuple[Any, Recorder], services: Services, contract: TipLedgerContract
) -> None:
    page, recorder = tab
    if not features(services)["identity"]["witness"]:
        make_set(services, contract, "witness")
    assert features(services)["identity"]["witness"] is True
    open_page(page, services.url + "/")
    assert page.is_enabled("#identity-role-witness")
    page.check("#identity-role-witness")
    page.fill("#tip-text", "ข้าพเจ้าเห็นการรับเงินที่ลานจอดรถ " + os.urandom(4).hex())
    page.fill("#identity-name", NAME)
    page.click("#submit-button")
    page.wait_for_url("**/receipt", timeout=20_000)
    page.wait_for_selector("body[data-ready=true]")
    assert not page.is_visible("#identity-kind-differs")
    assert "ในฐานะพยาน" in page.inner_text("#identity-text")
    commitment = page.inner_text("#commitment").strip()
    assert [r["kind"] for r in records_of(services, commitment)] == ["witness"]
    assert recorder.problems == []
