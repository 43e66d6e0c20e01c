"""The reporter chooses the agency on the submit page, in Chromium, on the real service.

Agencies and members are registered on the e2e service's own deployment (the devchain admin,
through the bindings); the service reads them from chain (cached for a second). The page lists
those that take tips, intake first and chosen, in Thai and in English; the chosen agency is the
one the service stores the tip for (read from its database) and the one the receipt names; an
agency deactivated after the page loaded is refused with a clear line beside the choice, and
nothing typed or attached is lost. A list the page cannot read leaves the tip to the intake
desk, saying nothing it does not know. Phone-sized and 320 px, Thai phrases kept whole.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from eth_account import Account

from ledger.chain.anvil import dev_accounts
from ledger.chain.contract import TipLedgerContract
from ledger.core.agency import agency_id
from ledger.store import LogStore, open_database
from ledger.store.submissions import SubmissionStore

from .conftest import (
    PHONE,
    Recorder,
    Services,
    fits_the_screen,
    http_get,
    open_page,
    unnamed_controls,
)
from .test_thai_text import BROKEN_PHRASES, NARROW

pytestmark = [pytest.mark.e2e, pytest.mark.chain]

INTAKE_NAMES = ("ศูนย์รับเรื่องร้องเรียนกลาง", "National intake desk")  # ledger/ops/devnet.py
NAMES = {
    "nacc": (
        "สำนักงานคณะกรรมการป้องกันและปราบปรามการทุจริตแห่งชาติ",
        "Office of the National Anti-Corruption Commission",
    ),
    "dsi": ("กรมสอบสวนคดีพิเศษ", "Department of Special Investigation"),
}
CLOSING = ("oag", "สำนักงานอัยการสูงสุด", "Office of the Attorney General")
CACHE_S = 1.2  # the service reads agencies from chain at most a second old
RECEIPT_TIMEOUT = 20_000  # ms


def _add_agency(contract: TipLedgerContract, slug: str, name_th: str, name_en: str) -> None:
    admin = dev_accounts(1)[0]
    raw = agency_id(slug)
    if contract.agency_info(raw) is None:
        contract.add_agency(admin, raw, name_th, name_en)
    if not contract.members(raw):
        # A member only has to exist on chain for tips to be sealed to it: nobody opens these.
        key = X25519PrivateKey.generate().public_key()
        raw_key = key.public_bytes(Encoding.Raw, PublicFormat.Raw)
        contract.add_member(admin, raw, Account.create().address, raw_key)


def _listed(services: Services) -> dict[str, dict[str, Any]]:
    status, _headers, body = http_get(services.url + "/v1/agencies")
    assert status == 200, body
    return {a["id"]: a for a in json.loads(body)["agencies"]}


def _wait_listed(services: Services, slug: str, *, active: bool = True) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        agency = _listed(services).get(slug)
        if agency is not None and agency["active"] is active and agency["members"]:
            return
        time.sleep(0.2)
    raise AssertionError(f"the service does not list {slug!r} (active={active}) yet")


@pytest.fixture(scope="module")
def agencies(services: Services, contract: TipLedgerContract) -> dict[str, tuple[str, str]]:
    """nacc and dsi beside the devchain's intake desk, each with one member, as the service
    lists them."""
    for slug, (name_th, name_en) in NAMES.items():
        _add_agency(contract, slug, name_th, name_en)
    for slug in NAMES:
        _wait_listed(services, slug)
    return {"intake": INTAKE_NAMES, **NAMES}


def stored_agency(services: Services, commitment: str) -> bytes:
    """The agency the service stored the tip for, read from its own database."""
    engine = open_database(f"sqlite:///{services.home / 'ledger.sqlite3'}", read_only=True)
    try:
        submission = SubmissionStore(LogStore(engine)).get(bytes.fromhex(commitment[2:]))
    finally:
        engine.dispose()
    assert submission is not None, commitment
    return submission.agency


def options(page: Any) -> list[tuple[str, str]]:
    found: list[list[str]] = page.eval_on_selector_all(
        "#tip-agency option", "els => els.map((o) => [o.value, o.textContent])"
    )
    return [(value, text) for value, text in found]


def switch_language(page: Any, code: str) -> None:
    page.click("a[data-lang-switch]")
    page.wait_for_function(f"() => document.documentElement.lang === '{code}'")


def in_view(page: Any, selector: str) -> bool:
    return bool(
        page.eval_on_selector(
            selector,
            """(el) => { const r = el.getBoundingClientRect();
                         return r.height > 0 && r.top >= 0 && r.bottom <= window.innerHeight; }""",
        )
    )


def send(page: Any) -> str:
    """Click send, land on the receipt, and return the tip's commitment."""
    page.click("#submit-button")
    page.wait_for_url("**/receipt*", timeout=RECEIPT_TIMEOUT)
    page.wait_for_selector("body[data-ready=true]")
    return str(page.inner_text("#commitment")).strip()


@pytest.fixture
def english_tab(browser: Any, services: Services) -> Iterator[tuple[Any, Recorder]]:
    context = browser.new_context(viewport=PHONE, locale="en-GB")
    page = context.new_page()
    yield page, Recorder(page)
    context.close()


def test_the_list_names_the_agencies_in_each_language_intake_first(
    tab: tuple[Any, Recorder],
    services: Services,
    agencies: dict[str, tuple[str, str]],
    artifacts: Path,
) -> None:
    page, recorder = tab
    open_page(page, services.url + "/")
    assert page.is_visible("#tip-agency")
    assert not page.is_visible("#agency-only")
    assert page.inner_text("#agency-label") == "ส่งเรื่องถึงหน่วยงาน"
    thai = [(slug, names[0]) for slug, names in agencies.items()]
    assert options(page) == thai
    assert page.input_value("#tip-agency") == "intake"
    hint = page.inner_text("#agency-hint")
    assert f"หากท่านไม่แน่ใจว่าเรื่องนี้อยู่ในอำนาจหน้าที่ของหน่วยงานใด โปรดเลือก {INTAKE_NAMES[0]}" in hint
    assert "ส่งเรื่องต่อไปยังหน่วยงานที่มีอำนาจหน้าที่" in hint
    assert page.get_attribute("#tip-agency", "aria-describedby") == "agency-hint"
    assert unnamed_controls(page) == []
    assert fits_the_screen(page)
    page.screenshot(path=artifacts / "60-agency-choice-th-phone.png", full_page=True)

    # The language switch re-labels the options in place; the choice stays.
    page.select_option("#tip-agency", "dsi")
    page.fill("#tip-text", "kept")
    switch_language(page, "en")
    assert options(page) == [(slug, names[1]) for slug, names in agencies.items()]
    assert page.input_value("#tip-agency") == "dsi"
    assert page.input_value("#tip-text") == "kept"
    assert page.inner_text("#agency-label") == "Send to"
    assert page.inner_text("#agency-hint").startswith(
        f"If you are not sure which agency the matter belongs to, choose {INTAKE_NAMES[1]}:"
    )
    assert unnamed_controls(page) == []
    switch_language(page, "th")
    assert options(page) == thai
    assert page.input_value("#tip-agency") == "dsi"

    # Served in English from the start: English names, intake chosen.
    fresh = page.context.new_page()
    open_page(fresh, services.url + "/?lang=en")
    assert options(fresh) == [(slug, names[1]) for slug, names in agencies.items()]
    assert fresh.input_value("#tip-agency") == "intake"
    fresh.close()
    assert recorder.problems == []


@pytest.mark.parametrize(
    ("slug", "language", "with_file"),
    [("nacc", "th", False), ("dsi", "en", True)],
    ids=["json-thai", "multipart-english"],
)
def test_the_chosen_agency_gets_the_tip_and_the_receipt_names_it(
    browser: Any,
    services: Services,
    agencies: dict[str, tuple[str, str]],
    artifacts: Path,
    slug: str,
    language: str,
    with_file: bool,
) -> None:
    context = browser.new_context(viewport=PHONE, locale="th-TH")
    page = context.new_page()
    recorder = Recorder(page)
    open_page(page, services.url + ("/" if language == "th" else "/?lang=en"))
    page.fill("#tip-text", f"เบาะแสถึง {slug}")
    if with_file:  # multipart/form-data
        page.set_input_files(
            "#tip-files",
            files=[{"name": "scan.pdf", "mimeType": "application/pdf", "buffer": os.urandom(4096)}],
        )
        page.locator("#file-list .mono").first.wait_for()
    page.select_option("#tip-agency", slug)
    commitment = send(page)
    assert stored_agency(services, commitment) == agency_id(slug)

    name_th, name_en = agencies[slug]
    first, other = (name_th, name_en) if language == "th" else (name_en, name_th)
    assert page.is_visible("#agency-name")
    assert page.inner_text("#agency-name").strip() == first
    assert page.inner_text("#agency-term") == ("ส่งถึงหน่วยงาน" if language == "th" else "Sent to")
    if language == "th":
        page.screenshot(path=artifacts / "62-agency-receipt-th-phone.png", full_page=True)
    switch_language(page, "en" if language == "th" else "th")
    assert page.inner_text("#agency-name").strip() == other
    assert recorder.problems == []
    context.close()


def test_an_agency_deactivated_after_the_page_loaded_is_refused_beside_the_choice(
    tab: tuple[Any, Recorder],
    services: Services,
    contract: TipLedgerContract,
    agencies: dict[str, tuple[str, str]],
    artifacts: Path,
) -> None:
    page, _recorder = tab
    slug, name_th, name_en = CLOSING
    _add_agency(contract, slug, name_th, name_en)
    try:
        _wait_listed(services, slug)
        open_page(page, services.url + "/")
        assert (slug, name_th) in options(page)
        text = "ใบแจ้งหนี้เลขที่ 4711 ถูกจ่ายซ้ำ"
        page.fill("#tip-text", text)
        page.set_input_files(
            "#tip-files",
            files=[{"name": "invoice.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4"}],
        )
        page.locator("#file-list .mono").first.wait_for()
        page.select_option("#tip-agency", slug)
    finally:
        contract.set_agency_active(dev_accounts(1)[0], agency_id(slug), False)
    time.sleep(CACHE_S)

    page.click("#submit-button")
    error = page.locator("#agency-error")
    error.wait_for(state="visible", timeout=RECEIPT_TIMEOUT)
    line = error.inner_text()
    assert line.startswith("หน่วยงานที่ท่านเลือกไม่รับเรื่องในขณะนี้ (")
    # the page read the agency's standing from the chain itself before sealing anything, and
    # says it in Thai
    assert "(บล็อกเชนระบุว่าหน่วยงานนี้งดรับเรื่อง)" in line
    assert "ระบบยังไม่ได้บันทึกเบาะแสของท่าน" in line
    assert in_view(page, "#agency-error")
    assert page.evaluate("document.activeElement.id") == "tip-agency"
    assert page.get_attribute("#tip-agency", "aria-invalid") == "true"
    assert page.get_attribute("#error-box", "hidden") is not None
    assert not page.is_visible("#progress-box")
    # nothing lost: the text, the file, the choice
    assert page.input_value("#tip-text") == text
    assert page.locator("#file-list li").count() == 1
    assert page.input_value("#tip-agency") == slug
    assert page.url.rstrip("/") == services.url
    assert page.evaluate(BROKEN_PHRASES)["found"] == []
    page.screenshot(path=artifacts / "63-agency-refused-th-phone.png")

    # Choosing another clears the line, and the same form goes.
    page.select_option("#tip-agency", "intake")
    assert not error.is_visible()
    assert page.get_attribute("#tip-agency", "aria-invalid") is None
    commitment = send(page)
    assert stored_agency(services, commitment) == agency_id("intake")
    assert page.inner_text("#agency-name").strip() == INTAKE_NAMES[0]


@pytest.mark.parametrize("language", ["th", "en"])
def test_the_choice_fits_a_320px_screen_thai_phrases_whole(
    browser: Any,
    services: Services,
    agencies: dict[str, tuple[str, str]],
    artifacts: Path,
    language: str,
) -> None:
    context = browser.new_context(viewport=NARROW, locale="th-TH")
    page = context.new_page()
    open_page(page, services.url + ("/" if language == "th" else "/?lang=en"))
    assert page.is_visible("#tip-agency")
    assert len(options(page)) == len(agencies)
    assert page.evaluate(
        "() => document.getElementById('tip-agency').getBoundingClientRect().right"
        " <= window.innerWidth"
    )
    assert fits_the_screen(page)
    assert unnamed_controls(page) == []
    if language == "th":
        result = page.evaluate(BROKEN_PHRASES)
        assert result["found"] == []
        assert result["phrases"] > 10
        assert page.locator("#agency-hint .phrase").count() > 5  # the hint is in phrases too
        page.screenshot(path=artifacts / "61-agency-choice-th-320px.png", full_page=True)
    context.close()


def test_one_agency_is_shown_as_text(
    tab: tuple[Any, Recorder], services: Services, agencies: dict[str, tuple[str, str]]
) -> None:
    """A channel whose only agency taking tips is the intake desk: the service's own answer,
    with the other agencies taken out on the way (this deployment has more)."""
    page, recorder = tab

    def intake_only(route: Any) -> None:
        response = route.fetch()
        listed = json.loads(response.body())
        listed["agencies"] = [a for a in listed["agencies"] if a["id"] == "intake"]
        # the body as read (unpacked), so none of the service's encoding headers
        route.fulfill(status=200, content_type="application/json", body=json.dumps(listed))

    page.route("**/v1/agencies", intake_only)
    open_page(page, services.url + "/")
    assert not page.is_visible("#tip-agency")
    assert page.inner_text("#agency-only").strip() == INTAKE_NAMES[0]
    assert page.get_attribute("#agency-label", "for") is None
    hint = page.inner_text("#agency-hint")
    assert hint.startswith(f"{INTAKE_NAMES[0]} จะส่งเรื่องต่อไปยังหน่วยงานที่มีอำนาจหน้าที่")
    assert "โปรดเลือก" not in hint  # there is nothing to choose
    assert unnamed_controls(page) == []
    switch_language(page, "en")
    assert page.inner_text("#agency-only").strip() == INTAKE_NAMES[1]
    switch_language(page, "th")
    page.fill("#tip-text", "ถึงศูนย์รับเรื่อง")
    commitment = send(page)
    assert stored_agency(services, commitment) == agency_id("intake")
    assert page.inner_text("#agency-name").strip() == INTAKE_NAMES[0]
    assert recorder.problems == []


def test_a_list_that_cannot_be_read_leaves_the_tip_to_the_intake_desk(
    tab: tuple[Any, Recorder], services: Services, agencies: dict[str, tuple[str, str]]
) -> None:
    page, _recorder = tab
    page.route("**/v1/agencies", lambda route: route.abort("connectionrefused"))
    open_page(page, services.url + "/")
    assert not page.is_visible("#agency-field")  # nothing claimed about where it goes
    assert not page.is_visible("#error-box")
    page.fill("#tip-text", "รายการหน่วยงานอ่านไม่ได้")
    commitment = send(page)
    assert stored_agency(services, commitment) == agency_id("intake")
    # The service took it for its default, the intake desk, by id: named by the page's words.
    assert page.inner_text("#agency-name").strip() == "ศูนย์รับเรื่องกลาง"
