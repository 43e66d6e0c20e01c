"""The oversight audit's HTML report in Chromium on a phone (390x844) and at 320 px: Thai by
default with the right ``lang`` attributes, no sideways scrolling, every chart inside the
viewport with labels a person can read, and English with ``lang="en"``.

The report is written from a synthetic audit (``tests/unit/audit/audit_synthetic.py``: real
Merkle roots and EIP-712 signatures, no chain needed) with a violation, a direct commitment,
an agency with a long Thai name and measured arrival times, so every section is on the page.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from eth_account import Account

from ledger.audit import AuditResult, MemoryEntrySource, audit_log
from ledger.audit.arrivals import Arrival, MemoryArrivalSource
from ledger.audit.history import AgencyHistory
from ledger.audit.report_html import write_html
from ledger.chain.contract import ROLES
from ledger.core.eip712 import sign_promise

from .conftest import PHONE, ROOT, fits_the_screen

pytestmark = pytest.mark.e2e

NARROW = {"width": 320, "height": 640}
ANCHORER = Account.from_key("0x" + "33" * 32)
POLICE_TH = "สำนักงานคณะกรรมการป้องกันและปราบปรามการทุจริตแห่งชาติ"


def _synthetic() -> ModuleType:
    path = ROOT / "tests" / "unit" / "audit" / "audit_synthetic.py"
    spec = importlib.util.spec_from_file_location("audit_synthetic_e2e", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _result() -> AuditResult:
    syn = _synthetic()
    day = 86_400
    log = syn.entries(60)
    anchors = syn.anchors_for(log, [20, 40, 60], spacing=2 * day)
    served = list(log)
    served[50] = b"\x00" * 32  # one violation, so the violations table is on the page
    reviewer = "0x00000000000000000000000000000000000A11CE"
    agencies = AgencyHistory(
        agencies=[syn.agency_added("nacc", 2, name_th=POLICE_TH, name_en="NACC")],
        members=[syn.member("nacc", reviewer, 3)],
        routed=[
            syn.routed_for(a, previous, {"nacc": a.tree_size - previous})
            for a, previous in zip(anchors, [0, 20, 40], strict=True)
        ],
        opened=[syn.opened(log[0], "nacc", 20, 0, 20)],
    )
    h = syn.history(
        anchors,
        now=syn.T0 + 30 * day,
        roles=[
            syn.grant(syn.REVIEWER, reviewer, 1),
            syn.grant(ROLES["ANCHORER_ROLE"], ANCHORER.address, 1),
        ],
        agencies=agencies,
        reviews=[syn.review(log[0], reviewer, 20, syn.T0 + 3 * day, status=2)],
        direct_commitments=[syn.direct(log[25], 15, syn.T0 + 3 * day, reviewer)],
    )
    arrivals = []
    for i in range(40):
        if i == 25:
            continue  # the direct commitment has no promise
        received = anchors[i // 20].timestamp - (1 + i % 3)
        signature = sign_promise(ANCHORER.key, syn.CHAIN_ID, syn.CONTRACT, log[i], received)
        arrivals.append(Arrival(i, received, ANCHORER.address, signature))
    return audit_log(h, MemoryEntrySource(served), arrivals=MemoryArrivalSource(arrivals))


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    result = _result()
    directory = tmp_path_factory.mktemp("audit-report")
    paths = {"th": directory / "audit-th.html", "en": directory / "audit-en.html"}
    write_html(result, paths["th"])  # Thai: the default
    write_html(result, paths["en"], "en")
    return paths


def _charts(page: Any) -> list[dict[str, float]]:
    found: list[dict[str, float]] = page.evaluate(
        """() => [...document.querySelectorAll('svg.chart')].map((svg) => {
             const box = svg.getBoundingClientRect();
             const scale = box.width / svg.viewBox.baseVal.width;
             const ticks = [...svg.querySelectorAll('text.tick')];
             const size = Math.min(...ticks.map((t) => parseFloat(getComputedStyle(t).fontSize)));
             return {left: box.left, right: box.right, width: box.width,
                     tick_px: ticks.length ? size * scale : 99};
           })"""
    )
    return found


@pytest.mark.parametrize("viewport", [PHONE, NARROW], ids=["390px", "320px"])
def test_the_thai_report_fits_a_phone(
    browser: Any, artifacts: Path, reports: dict[str, Path], viewport: dict[str, int]
) -> None:
    page = browser.new_page(viewport=viewport)
    try:
        page.goto(reports["th"].as_uri())
        assert page.evaluate("() => document.documentElement.lang") == "th"
        heading = page.text_content("h1")
        assert heading == "รายงานการตรวจสอบของหน่วยงานกำกับดูแล"
        text = page.inner_text("body")
        assert "maxMergeDelay" in text
        assert "รายการส่งตรง (direct commitment)" in text
        assert "ระยะเวลาจนบันทึกลงบล็อกเชน (วัดจากเวลาที่ได้รับ)" in text
        assert POLICE_TH in text
        assert "ผลการตรวจสอบ: ไม่ผ่าน" in text
        assert "PASS" not in text
        assert " UTC" not in text  # Thai times in the text; UTC only in their titles
        assert page.get_attribute("time", "title").endswith(" UTC")  # type: ignore[union-attr]
        # English bits inside the Thai page say so: the agency's English name, the findings
        assert page.locator(".agency .other[lang=en]").count() == 1
        assert page.locator("td span[lang=en]").count() >= 1
        assert fits_the_screen(page), page.evaluate(
            "() => [document.documentElement.scrollWidth, window.innerWidth]"
        )
        width = viewport["width"]
        charts = _charts(page)
        assert len(charts) == 7
        for chart in charts:
            assert chart["left"] >= 0
            assert chart["right"] <= width
            assert chart["tick_px"] >= 9, chart  # drawn at 12 px on a 320-unit canvas
        page.screenshot(path=artifacts / f"70-oversight-report-th-{width}px.png", full_page=True)
    finally:
        page.close()


def test_the_english_report_says_so(
    browser: Any, artifacts: Path, reports: dict[str, Path]
) -> None:
    page = browser.new_page(viewport=PHONE)
    try:
        page.goto(reports["en"].as_uri())
        assert page.evaluate("() => document.documentElement.lang") == "en"
        assert page.text_content("h1") == "TipLedger oversight audit"
        text = page.inner_text("body")
        assert "Time to anchor (from each tip's arrival)" in text
        assert "The longest the contract allows" in text
        assert page.locator(".agency .other span[lang=th]").count() == 1
        assert fits_the_screen(page)
        assert all(c["right"] <= PHONE["width"] for c in _charts(page))
        page.screenshot(path=artifacts / "72-oversight-report-en-phone.png", full_page=True)
    finally:
        page.close()
