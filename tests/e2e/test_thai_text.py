"""Thai as a reader in Thailand reads it (issue 13, part 3), in Chromium: on a 320 px screen no
phrase that fits on a line is broken inside (the browser's dictionary splits words such as
ร่อง|รอย and เจ้า|หน้าที่), and times are Thailand's, written as Thai forms write them, with UTC
only in the details."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from .conftest import Services, open_page, send_tip

pytestmark = [pytest.mark.e2e, pytest.mark.chain]

NARROW = {"width": 320, "height": 640}
THAI_TIME = re.compile(r"^\d{1,2} [\u0E00-\u0E7F.]+ 25\d\d เวลา \d\d:\d\d:\d\d น\.$")

# Every Thai phrase on the page: how many lines it takes, and whether it is as wide as its line
# (only such a phrase may wrap inside).
BROKEN_PHRASES = """() => {
  const found = [];
  let phrases = 0;
  for (const span of document.querySelectorAll('.phrase')) {
    if (!span.offsetParent) continue; // not shown
    phrases += 1;
    const range = document.createRange();
    range.selectNodeContents(span);
    const tops = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
    const line = span.parentElement.getBoundingClientRect().width;
    if (tops.size > 1 && span.getBoundingClientRect().width < line - 1) {
      found.push(span.textContent);
    }
  }
  return { phrases, found };
}"""


def _check_wrapping(page: Any) -> int:
    result = page.evaluate(BROKEN_PHRASES)
    assert result["found"] == []
    return int(result["phrases"])


@pytest.mark.parametrize("path", ["/", "/status", "/verify"])
def test_thai_lines_break_between_phrases_on_a_320px_screen(
    browser: Any, services: Services, artifacts: Path, path: str
) -> None:
    context = browser.new_context(viewport=NARROW, locale="th-TH")
    page = context.new_page()
    open_page(page, services.url + path)
    assert _check_wrapping(page) > 10  # the page's Thai is in phrases at all
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    name = path.strip("/") or "submit"
    page.screenshot(path=artifacts / f"40-thai-320px-{name}.png", full_page=True)
    context.close()


def test_the_receipt_shows_thailands_time_and_keeps_phrases_whole(
    browser: Any, services: Services, artifacts: Path
) -> None:
    context = browser.new_context(viewport=NARROW, locale="th-TH", timezone_id="Europe/Berlin")
    page = context.new_page()
    send_tip(page, services, "ทดสอบเวลาไทย")
    page.wait_for_selector("body[data-receipt-state=anchored]", timeout=30_000)
    received = page.inner_text("#received-at").strip()
    assert THAI_TIME.match(received), received  # Thailand's time, whatever the device's zone
    assert "UTC" not in page.inner_text("#receipt-view")
    anchored = page.inner_text("#anchored-at").splitlines()[0].strip()
    assert THAI_TIME.match(anchored), anchored
    assert _check_wrapping(page) > 10
    page.screenshot(path=artifacts / "41-thai-320px-receipt.png", full_page=True)

    # the verify page's details give the same moment in UTC
    page.click("#verify-link")
    page.wait_for_selector("body[data-ready=true]")
    page.click("#verify-button")
    page.wait_for_selector("#verdict[data-status=valid]", timeout=20_000)
    assert page.inner_text("#verdict-title") == "ตรงกับใบรับ"
    assert "ไม่ได้รับรองว่าเนื้อหาของเบาะแสเป็นความจริง" in page.inner_text("#verdict-text")
    facts = page.text_content("#verdict-facts") or ""
    assert re.search(r"20\d\d-\d\d-\d\d \d\d:\d\d:\d\d UTC", facts), facts
    assert _check_wrapping(page) > 10
    context.close()
