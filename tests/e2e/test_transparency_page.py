"""The public /transparency page in Chromium, against a real Anvil driven through the bindings.

Two agencies, members, two anchored batches with real routing (ledger.core.routing), a
referral, and reviews at set chain times (``evm_setNextBlockTimestamp``), one of them 20 days
after its anchor. The page, reading only the chain over JSON-RPC, must show the figures worked
out by hand below (and the audit's, ledger/audit/agencies.py, on the same events), in Thai and
in English, on 390 px and 320 px phones, asking the service for nothing but the page, its
files and /web-config.json.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import random
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from eth_abi.abi import encode
from fastapi import FastAPI

from api.routes.pages import STATIC_DIR, load_texts, mount_pages
from ledger.audit.agencies import agency_summaries
from ledger.audit.deadlines import Deadlines
from ledger.audit.history import AgencyHistory
from ledger.chain.anvil import Devchain, rpc_request
from ledger.chain.client import connect
from ledger.chain.contract import TipLedgerContract
from ledger.chain.deploy import deploy, open_deployment
from ledger.chain.solc import load_artifact
from ledger.core import merkle
from ledger.core.agency import agency_id
from ledger.core.encoding import checksum_address
from ledger.core.routing import (
    RoutingProof,
    agency_counts,
    pack_counts,
    route_leaf,
    routing_path,
    routing_root,
)

from .conftest import (
    PHONE,
    Recorder,
    ServedApp,
    Services,
    fits_the_screen,
    origin,
    unnamed_controls,
)
from .test_thai_text import BROKEN_PHRASES, NARROW

pytestmark = [pytest.mark.e2e, pytest.mark.chain]

DAY = 86_400
INTAKE, NACC = agency_id("intake"), agency_id("nacc")
NAMES = {
    "intake": ("ศูนย์รับเรื่องร้องเรียนกลาง", "National intake desk"),
    "nacc": (
        "สำนักงานคณะกรรมการป้องกันและปราบปรามการทุจริตแห่งชาติ",
        "Office of the National Anti-Corruption Commission",
    ),
    "dsi": ("กรมสอบสวนคดีพิเศษ", "Department of Special Investigation"),  # deactivated, no tips
}
# Batch 1 (entries 0-3) and batch 2 (entries 4-5): which agency each tip was routed to.
ROUTES = [INTAKE, INTAKE, NACC, INTAKE, NACC, INTAKE]
NOW = 95 * DAY  # the latest block, from batch 1's anchor

# Worked out by hand (deadlines 15 and 90 days; times from each tip's anchor):
#   intake: tips 0, 1, 3 (batch 1) and 5 (batch 2); tip 0 reviewed at 2 d (under review) and
#     closed at 30 d; tip 1 referred to nacc at 3 d; tips 3 and 5 never opened on chain.
#     first response 2 d, 3 d; outcome 30 d, 3 d; past 15 d: tips 3 and 5 of 4 due;
#     past 90 d: only batch 1 is due (anchored 95 d ago, batch 2 85 d ago): tip 3 of 3.
#   nacc: tips 2 (batch 1) and 4 (batch 2), tip 1 referred in. Tip 2 first reviewed at 20 d
#     (under review: 5 days late, no outcome), tip 1 substantiated at 25 d (its clock is the
#     tip's anchor), tip 4 unsubstantiated 1 d after batch 2's anchor.
#     first response 20 d, 25 d, 1 d; outcome 25 d, 1 d; past 15 d: tip 2 of 2 due;
#     past 90 d: tip 2 of 1 due (still waiting).
EXPECTED = {
    "intake": {
        "received": 4,
        "opened": 2,
        "referred_in": 0,
        "referred_out": 1,
        "first": (2, 2.5 * DAY, 3 * DAY),
        "outcome": (2, 16.5 * DAY, 30 * DAY),
        "late_ack": (4, 2, 2),
        "late_outcome": (3, 1, 1),
    },
    "nacc": {
        "received": 2,
        "opened": 2,
        "referred_in": 1,
        "referred_out": 0,
        "first": (3, 20 * DAY, 25 * DAY),
        "outcome": (2, 13 * DAY, 25 * DAY),
        "late_ack": (2, 1, 0),
        "late_outcome": (1, 1, 1),
    },
}
TEXT = {
    "th": {
        "intake": {
            "first": "มัธยฐาน 2.5 วัน นานที่สุด 3 วัน (นับ 2 เรื่อง)",
            "outcome": "มัธยฐาน 16.5 วัน นานที่สุด 30 วัน (นับ 2 เรื่อง)",
            "late_ack": "เกินกำหนด 2 จาก 4 เรื่อง ในจำนวนนี้ยังค้างอยู่ 2 เรื่อง",
            "late_outcome": "เกินกำหนด 1 จาก 3 เรื่อง ในจำนวนนี้ยังค้างอยู่ 1 เรื่อง",
        },
        "dsi": {
            "first": "ยังไม่มีข้อมูล",
            "outcome": "ยังไม่มีข้อมูล",
            "late_ack": "ยังไม่มีเรื่องที่ครบกำหนด",
            "late_outcome": "ยังไม่มีเรื่องที่ครบกำหนด",
        },
        "nacc": {
            "first": "มัธยฐาน 20 วัน นานที่สุด 25 วัน (นับ 3 เรื่อง)",
            "outcome": "มัธยฐาน 13 วัน นานที่สุด 25 วัน (นับ 2 เรื่อง)",
            "late_ack": "เกินกำหนด 1 จาก 2 เรื่อง",
            "late_outcome": "เกินกำหนด 1 จาก 1 เรื่อง ในจำนวนนี้ยังค้างอยู่ 1 เรื่อง",
        },
    },
    "en": {
        "intake": {
            "first": "median 2.5 days, longest 3 days (tips counted: 2)",
            "outcome": "median 16.5 days, longest 30 days (tips counted: 2)",
            "late_ack": "2 of 4 past the deadline (2 still waiting)",
            "late_outcome": "1 of 3 past the deadline (1 still waiting)",
        },
        "dsi": {
            "first": "no data yet",
            "outcome": "no data yet",
            "late_ack": "none due yet",
            "late_outcome": "none due yet",
        },
        "nacc": {
            "first": "median 20 days, longest 25 days (tips counted: 3)",
            "outcome": "median 13 days, longest 25 days (tips counted: 2)",
            "late_ack": "1 of 2 past the deadline",
            "late_outcome": "1 of 1 past the deadline (1 still waiting)",
        },
    },
}


@dataclass(frozen=True)
class Scenario:
    url: str
    rpc_url: str
    contract: TipLedgerContract
    head_block: int
    deploy_block: int

    @property
    def origins(self) -> set[str]:
        return {origin(self.url), origin(self.rpc_url)}


class Batch:
    """A batch of the log with its routing, as the service would anchor it."""

    def __init__(self, start: int, entries: list[bytes], routes: list[bytes]) -> None:
        self.start, self.end = start, len(entries)
        self.entries = entries
        self.commitments = entries[start:]
        self.salts = [os.urandom(32) for _ in self.commitments]
        self.leaves = [
            route_leaf(c, a, s)
            for c, a, s in zip(self.commitments, routes[start : self.end], self.salts, strict=True)
        ]
        self.agencies, self.counts = agency_counts(routes[start : self.end])

    def anchor(self, contract: TipLedgerContract, anchorer: Any) -> None:
        proof = merkle.consistency_proof(self.entries, self.start) if self.start else []
        contract.anchor(
            anchorer,
            self.end,
            merkle.root(self.entries),
            proof,
            routing_root(self.leaves),
            self.agencies,
            self.counts,
        )

    def proof(self, entry: int) -> RoutingProof:
        i = entry - self.start
        return RoutingProof(self.end, i, self.salts[i], tuple(routing_path(self.leaves, i)))


def _drive(chain: Devchain) -> tuple[TipLedgerContract, int, int]:
    """The scenario of EXPECTED, on chain; returns the contract, the latest block and the block
    the contract was deployed in."""
    w3 = connect(chain.rpc_url)
    admin, anchorer, intake_member, nacc_member = chain.accounts[:4]
    rpc_request(chain.rpc_url, "evm_mine")  # a block before the contract: nothing to read there
    deployment = deploy(w3, admin, anchorer=anchorer.address)
    contract = open_deployment(w3, deployment)
    for slug, (name_th, name_en) in NAMES.items():
        contract.add_agency(admin, agency_id(slug), name_th, name_en)
    contract.add_member(admin, INTAKE, intake_member.address, os.urandom(32))
    contract.add_member(admin, NACC, nacc_member.address, os.urandom(32))
    contract.set_agency_active(admin, agency_id("dsi"), False)

    start = int(w3.eth.get_block("latest")["timestamp"]) + 1000

    def at(seconds: float) -> None:
        rpc_request(chain.rpc_url, "evm_setNextBlockTimestamp", [start + int(seconds)])

    tips = [hashlib.sha256(f"tip {i}".encode()).digest() for i in range(len(ROUTES))]
    first, second = Batch(0, tips[:4], ROUTES), Batch(4, tips, ROUTES)
    note = hashlib.sha256(b"note").digest()
    at(0)
    first.anchor(contract, anchorer)
    at(2 * DAY)
    contract.record_review(intake_member, tips[0], INTAKE, 1, note, first.proof(0))
    at(3 * DAY)
    contract.refer(intake_member, tips[1], INTAKE, NACC, False, first.proof(1))
    at(10 * DAY)
    second.anchor(contract, anchorer)
    at(11 * DAY)
    contract.record_review(nacc_member, tips[4], NACC, 3, note, second.proof(4))
    at(20 * DAY)
    contract.record_review(nacc_member, tips[2], NACC, 1, note, first.proof(2))
    at(25 * DAY)
    contract.record_review(nacc_member, tips[1], NACC, 2, note, None)
    at(30 * DAY)
    contract.record_review(intake_member, tips[0], INTAKE, 5, note, None)
    at(NOW)
    rpc_request(chain.rpc_url, "evm_mine")
    return contract, int(w3.eth.block_number), deployment.deploy_block


@pytest.fixture(scope="module")
def scenario(chromium_path: Path) -> Iterator[Scenario]:
    with Devchain(accounts=4) as chain:
        contract, head, deployed_at = _drive(chain)
        app = FastAPI()
        mount_pages(
            app,
            chain_rpc_url=chain.rpc_url,
            chain_id=chain.chain_id,
            contract=contract.address,
            deploy_block=deployed_at,
            deadline_days=(15, 90),
        )
        with ServedApp(app) as served:
            yield Scenario(served.url, chain.rpc_url, contract, head, deployed_at)


@pytest.fixture
def phone(browser: Any) -> Iterator[tuple[Any, Recorder]]:
    context = browser.new_context(viewport=PHONE, locale="th-TH")
    page = context.new_page()
    yield page, Recorder(page)
    context.close()


def _open(page: Any, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("body[data-ready=true]", timeout=20_000)
    assert page.get_attribute("body", "data-state") == "loaded"


def _figures(page: Any) -> dict[str, dict[str, Any]]:
    """Each agency card's figures: numbers from data attributes, texts as shown."""
    found: dict[str, dict[str, Any]] = page.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll('#agencies [data-agency]')]
             .map((card) => [card.dataset.agency, Object.fromEntries(
               [...card.querySelectorAll('dd[data-figure]')].map((dd) =>
                 [dd.dataset.figure, { ...dd.dataset, text: dd.textContent }]))]))"""
    )
    return found


def _times(shown: dict[str, Any]) -> tuple[int, float | None, float | None]:
    """A time figure as shown: (tips counted, median, worst) in seconds, None if no tips."""
    median, worst = shown["median"], shown["worst"]
    return int(shown["count"]), float(median) if median else None, float(worst) if worst else None


def _late(shown: dict[str, Any]) -> tuple[int, int, int]:
    """A deadline figure as shown: (due, late, still open)."""
    return int(shown["due"]), int(shown["late"]), int(shown["open"])


def _check_numbers(figures: dict[str, dict[str, Any]]) -> None:
    assert list(figures) == ["intake", "nacc", "dsi"]  # in the order they were added
    dsi = figures["dsi"]
    assert [int(dsi[key]["value"]) for key in ("received", "opened")] == [0, 0]
    assert [dsi[key]["count"] for key in ("first", "outcome")] == ["0", "0"]
    assert [_late(dsi[key]) for key in ("late_ack", "late_outcome")] == [(0, 0, 0)] * 2
    for slug, want in EXPECTED.items():
        got = figures[slug]
        for key in ("received", "opened", "referred_in", "referred_out"):
            assert int(got[key]["value"]) == want[key], (slug, key)
        for key in ("first", "outcome"):
            assert _times(got[key]) == want[key], (slug, key)
        for key in ("late_ack", "late_outcome"):
            assert _late(got[key]) == want[key], (slug, key)


def _check_texts(page: Any, language: str) -> None:
    figures = _figures(page)
    for slug, texts in TEXT[language].items():
        for key, text in texts.items():
            # numbers and their units are kept together by no-break spaces
            assert figures[slug][key]["text"].replace("\xa0", " ") == text, (language, slug, key)
    name = 0 if language == "th" else 1
    for slug, names in NAMES.items():
        heading = page.inner_text(f"#agencies [data-agency={slug}] h3")
        assert heading == names[name]
        assert page.inner_text(f"#chart-first li[data-agency={slug}] .bar-label") == names[name]


def test_the_figures_match_the_hand_count_in_thai(
    phone: tuple[Any, Recorder], scenario: Scenario, artifacts: Path
) -> None:
    page, recorder = phone
    _open(page, scenario.url + "/transparency")
    assert page.evaluate("document.documentElement.lang") == "th"
    assert page.inner_text("h1") == "สถิติการดำเนินการ"
    figures = _figures(page)
    _check_numbers(figures)
    _check_texts(page, "th")
    assert figures["intake"]["received"]["text"] == "4"
    state = page.inner_text("#transparency-state")
    assert state.startswith("ข้อมูล ณ ")
    assert f"(บล็อกที่ {scenario.head_block})" in state
    deadlines = page.inner_text("#counted-deadlines")
    assert "ภายใน 15\xa0วัน" in deadlines
    assert "ภายใน 90\xa0วัน" in deadlines
    assert page.inner_text("#agencies [data-agency=nacc] .agency-meta").endswith(
        "เจ้าหน้าที่ผู้บันทึกผลได้ 1\xa0คน"
    )
    # nacc's median first response (20 days) is past the 15-day line; intake's is not
    assert page.locator("#chart-first li[data-agency=nacc] .bar.over").count() == 1
    assert page.locator("#chart-first li[data-agency=intake] .bar.over").count() == 0
    assert page.inner_text("#chart-first li[data-agency=nacc] .bar-value") == "20\xa0วัน"
    # half of intake's due tips were late: the red part of its bar is half the track
    share = page.evaluate(
        """() => { const part = document.querySelector(
             '#chart-late li[data-agency=intake] [data-measure=ack] .bar-track');
           return part.querySelector('.bar.over').getBoundingClientRect().width
             / part.getBoundingClientRect().width; }"""
    )
    assert 0.45 < share < 0.55
    assert fits_the_screen(page)
    assert unnamed_controls(page) == []
    page.screenshot(path=artifacts / "50-transparency-th-phone.png", full_page=True)
    _check_requests(recorder, scenario)


def test_the_same_figures_in_english_and_on_switching(
    phone: tuple[Any, Recorder], scenario: Scenario, artifacts: Path
) -> None:
    page, recorder = phone
    _open(page, scenario.url + "/transparency?lang=en")
    assert page.inner_text("h1") == "Agency response times"
    _check_numbers(_figures(page))
    _check_texts(page, "en")
    assert "(block " in page.inner_text("#transparency-state")
    assert page.inner_text("#agencies [data-agency=dsi] .tag") == "no longer takes new tips"
    assert page.locator("#agencies .tag").count() == 1
    page.screenshot(path=artifacts / "51-transparency-en-phone.png", full_page=True)

    page.click(".lang-switch")  # in place: the figures are drawn again in Thai
    page.wait_for_function("() => document.documentElement.lang === 'th'")
    _check_texts(page, "th")
    assert page.url.endswith("/transparency")
    page.click(".lang-switch")
    page.wait_for_function("() => document.documentElement.lang === 'en'")
    _check_texts(page, "en")
    assert fits_the_screen(page)
    _check_requests(recorder, scenario)


@pytest.mark.parametrize("language", ["th", "en"])
def test_a_320px_phone_breaks_no_thai_phrase(
    browser: Any, scenario: Scenario, artifacts: Path, language: str
) -> None:
    context = browser.new_context(viewport=NARROW, locale="th-TH")
    page = context.new_page()
    recorder = Recorder(page)
    _open(page, scenario.url + ("/transparency" if language == "th" else "/transparency?lang=en"))
    result = page.evaluate(BROKEN_PHRASES)
    assert result["found"] == []
    if language == "th":
        assert result["phrases"] > 50
    assert fits_the_screen(page)
    _check_numbers(_figures(page))
    page.screenshot(path=artifacts / f"52-transparency-{language}-320px.png", full_page=True)
    _check_requests(recorder, scenario)
    context.close()


def test_the_deployments_deadlines_are_the_measure(
    phone: tuple[Any, Recorder], scenario: Scenario
) -> None:
    """Served with deadlines of 1 and 20 days, the same chain counts other tips late. Tip 4 was
    reviewed exactly 1 day after its anchor: in time (the audit's rule: not after the deadline)."""
    page, recorder = phone
    app = FastAPI()
    mount_pages(
        app,
        chain_rpc_url=scenario.rpc_url,
        chain_id=31337,
        contract=scenario.contract.address,
        deadline_days=(1, 20),
    )
    with ServedApp(app) as served:
        _open(page, served.url + "/transparency?lang=en")
        assert page.get_attribute("main", "data-deadline-ack-days") == "1"
        assert page.get_attribute("main", "data-deadline-outcome-days") == "20"
        figures = _figures(page)
        late = {
            slug: {key: _late(figures[slug][key]) for key in ("late_ack", "late_outcome")}
            for slug in figures
        }
        assert late == {
            "intake": {"late_ack": (4, 4, 2), "late_outcome": (4, 3, 2)},
            "nacc": {"late_ack": (2, 1, 0), "late_outcome": (2, 1, 1)},
            "dsi": {"late_ack": (0, 0, 0), "late_outcome": (0, 0, 0)},
        }
        assert "within 1\xa0day" in page.inner_text("#counted-deadlines")
        assert figures["nacc"]["first"]["median"] == str(20 * DAY)  # times do not change
    assert recorder.problems == []


def test_the_audit_counts_the_same(phone: tuple[Any, Recorder], scenario: Scenario) -> None:
    """The page and `tipledger audit` share their definitions: same events, same figures."""
    page, _ = phone
    _open(page, scenario.url + "/transparency?lang=en")
    shown = _figures(page)
    c = scenario.contract
    history = AgencyHistory(
        agencies=c.agency_events(),
        members=c.member_events(),
        routed=c.routed_events(),
        opened=c.case_opened_events(),
        referrals=c.referred_events(),
    )
    now = int(c.w3.eth.get_block(scenario.head_block)["timestamp"])
    summaries = agency_summaries(
        history, c.review_events(), c.anchored_events(), Deadlines(15, 90), now
    )
    assert [s.slug for s in summaries] == list(shown)
    for s in summaries:
        got = shown[s.slug]
        assert int(got["received"]["value"]) == s.received
        assert int(got["opened"]["value"]) == s.opened
        assert int(got["referred_in"]["value"]) == s.referrals_in
        assert int(got["referred_out"]["value"]) == s.referrals_out
        assert _times(got["first"]) == (len(s.to_ack), s.ack_median, s.ack_worst)
        assert _times(got["outcome"]) == (len(s.to_outcome), s.outcome_median, s.outcome_worst)
        for key, deadline in (("late_ack", s.ack), ("late_outcome", s.outcome)):
            assert _late(got[key]) == (deadline.due, deadline.late, deadline.open)


def test_another_node_and_a_wrong_chain(phone: tuple[Any, Recorder], scenario: Scenario) -> None:
    """The reader may point the page at another node: one on another chain is refused."""
    page, _ = phone
    with Devchain(accounts=1, chain_id=4242) as other:
        _open(page, scenario.url + "/transparency?lang=en")
        page.fill("#transparency-rpc", other.rpc_url)
        page.click("#transparency-reload")
        page.wait_for_selector("body[data-state=error]")
        assert "chain 4242" in page.inner_text("#transparency-error")
        assert page.is_hidden("#transparency-agencies")
    page.fill("#transparency-rpc", scenario.rpc_url)
    page.click("#transparency-reload")
    page.wait_for_selector("body[data-state=loaded]")
    _check_numbers(_figures(page))


class CappedNode:
    """A JSON-RPC endpoint in front of Anvil that refuses an eth_getLogs over more than
    ``span`` blocks with a JSON-RPC error, as public nodes cap them, and records the ranges."""

    def __init__(self, upstream: str, span: int) -> None:
        self.upstream, self.span = upstream, span
        self.ranges: list[tuple[int, int, bool]] = []  # (from, to, answered)
        node = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: object) -> None:
                pass

            def _send(self, status: int, body: bytes = b"") -> None:
                self.send_response(status)
                self.send_header("Access-Control-Allow-Origin", "*")
                self.send_header("Access-Control-Allow-Headers", "content-type")
                self.send_header("Access-Control-Allow-Methods", "POST")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_OPTIONS(self) -> None:  # the CORS preflight
                self._send(204)

            def do_POST(self) -> None:
                call = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if call["method"] == "eth_getLogs":
                    lo, hi = (int(call["params"][0][k], 16) for k in ("fromBlock", "toBlock"))
                    node.ranges.append((lo, hi, hi - lo < node.span))
                    if hi - lo >= node.span:
                        error = {"code": -32005, "message": "query exceeds the block range limit"}
                        self._send(200, json.dumps({**call, "error": error}).encode())
                        return
                result = rpc_request(node.upstream, call["method"], call["params"], timeout=10)
                reply = {"jsonrpc": "2.0", "id": call["id"], "result": result}
                self._send(200, json.dumps(reply).encode())

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> CappedNode:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_a_node_that_caps_log_ranges_is_asked_in_parts(
    phone: tuple[Any, Recorder], scenario: Scenario
) -> None:
    page, recorder = phone
    with CappedNode(scenario.rpc_url, span=4) as node:
        _open(page, scenario.url + "/transparency?lang=en")
        page.fill("#transparency-rpc", node.url)
        page.click("#transparency-reload")
        page.wait_for_selector("body[data-state=loaded]")
        _check_numbers(_figures(page))
    answered = sorted((lo, hi) for lo, hi, ok in node.ranges if ok)
    assert any(not ok for _, _, ok in node.ranges)  # the whole range was refused first
    # the parts asked cover every block from the deployment's once, each within the node's cap
    assert scenario.deploy_block > 0
    assert answered[0][0] == scenario.deploy_block
    assert answered[-1][1] == scenario.head_block
    assert all(a[1] + 1 == b[0] for a, b in itertools.pairwise(answered))
    assert all(hi - lo < node.span for lo, hi in answered)
    assert recorder.problems == []


def test_the_page_served_by_the_service(browser: Any, services: Services, artifacts: Path) -> None:
    """`tipledger serve` serves the page with the deployment's deadlines (the default preset,
    th: 15 and 90 days) and the page reads its chain, never the /v1 API."""
    context = browser.new_context(viewport=PHONE, locale="th-TH")
    page = context.new_page()
    recorder = Recorder(page)
    _open(page, services.url + "/transparency")
    assert page.get_attribute("main", "data-deadline-ack-days") == "15"
    assert page.get_attribute("main", "data-deadline-outcome-days") == "90"
    assert page.get_attribute(".site-nav a[href='/transparency']", "aria-current") == "page"
    asked = [urlsplit(u).path for u in recorder.requests if origin(u) == origin(services.url)]
    assert not [p for p in asked if p.startswith("/v1")], asked
    assert recorder.foreign(services.origins) == []
    assert recorder.problems == []
    context.close()


def test_the_page_texts_exist_in_both_languages() -> None:
    th, en = load_texts("th"), load_texts("en")
    source = (STATIC_DIR / "js" / "page-transparency.js").read_text(encoding="utf-8")
    used = set(re.findall(r"['\"`]((?:transparency|verify|nav)\.[a-z_]*[a-z])['\"`]", source))
    for unit in ("seconds", "minutes", "hours", "days"):  # built as `${unit}_${plural form}`
        used |= {f"transparency.{unit}_one", f"transparency.{unit}_other"}
    assert used <= set(th) & set(en), used - (set(th) & set(en))
    assert th["nav.transparency"] == th["transparency.heading"] == "สถิติการดำเนินการ"
    assert len(th["transparency.description"]) > 40


def test_abi_decoding_matches_eth_abi(browser: Any, pages_only: ServedApp) -> None:
    """eth.js decodes what eth-abi encodes, Thai strings and arrays included, and refuses
    words that are not what their type allows."""
    rng = random.Random(20261202)
    types = ["uint64", "bytes32", "string", "bool", "address", "bytes32[]", "uint32[]", "string"]
    cases: list[tuple[str, list[Any]]] = []
    for _ in range(20):
        values: list[Any] = [
            rng.randrange(2**64),
            rng.randbytes(32),
            "".join(rng.choice("กขคงจฉัาิีึืุู่้๊๋ abc") for _ in range(rng.randrange(70))),
            rng.random() < 0.5,
            checksum_address(rng.randbytes(20)),
            [rng.randbytes(32) for _ in range(rng.randrange(4))],
            [rng.randrange(2**32) for _ in range(rng.randrange(4))],
            "",
        ]
        cases.append(("0x" + encode(types, values).hex(), values))
    bad = [
        ("uint64", "0x" + encode(["uint256"], [2**64]).hex()),
        ("bool", "0x" + encode(["uint256"], [2]).hex()),
        ("address", "0x" + encode(["uint256"], [2**160]).hex()),
        ("string", "0x" + encode(["string"], ["abc"]).hex()[:-64]),  # cut short
        ("string", "0x" + encode(["bytes"], [b"\xff\xfe"]).hex()),  # not UTF-8
    ]
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    page.goto(pages_only.url + "/status")
    page.wait_for_selector("body[data-ready=true]")
    got = page.evaluate(
        """async ([types, cases, bad]) => {
             const P = await import('/web/js/protocol.js');
             const E = await import('/web/js/eth.js');
             const plain = (v) => v instanceof Uint8Array ? P.toHex(v)
               : Array.isArray(v) ? v.map(plain) : typeof v === 'bigint' ? v.toString() : v;
             const refused = bad.map(([type, data]) => {
               try { E.decodeAbi([type], P.fromHex(data)); return false; } catch { return true; }
             });
             return [cases.map(([data]) => plain(E.decodeAbi(types, P.fromHex(data)))), refused];
           }""",
        [types, [[data] for data, _ in cases], bad],
    )
    context.close()
    decoded, refused = got
    for row, (_, values) in zip(decoded, cases, strict=True):
        assert row == [
            str(values[0]),
            "0x" + values[1].hex(),
            values[2],
            values[3],
            values[4],
            ["0x" + b.hex() for b in values[5]],
            [str(n) for n in values[6]],
            "",
        ]
    assert refused == [True] * len(bad)


def test_routing_counts_decode_as_python_packs_them(browser: Any, pages_only: ServedApp) -> None:
    """eth.js reads a Routed event's packed counts as ledger.core.routing writes them, and
    refuses bytes that are not whole 6-byte entries."""
    rng = random.Random(16)
    cases = [[(0, 1)], [(1, 2**32 - 1), (65_535, 7)]]
    cases += [sorted({(rng.randrange(2**16), rng.randrange(1, 2**32)) for _ in range(50)})]
    packed = ["0x" + pack_counts([i for i, _ in c], [n for _, n in c]).hex() for c in cases]
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    page.goto(pages_only.url + "/status")
    page.wait_for_selector("body[data-ready=true]")
    got, refused = page.evaluate(
        """async (packed) => {
             const P = await import('/web/js/protocol.js');
             const E = await import('/web/js/eth.js');
             const read = packed.map((hex) => E.routingCounts(P.fromHex(hex)).map(
               ({ index, count }) => [index, count]));
             const refused = ['0x00', '0x' + '00'.repeat(7)].map((hex) => {
               try { E.routingCounts(P.fromHex(hex)); return false; } catch { return true; }
             });
             return [read, refused];
           }""",
        packed,
    )
    context.close()
    assert got == [[list(e) for e in c] for c in cases]
    assert refused == [True, True]


def test_the_events_read_are_the_contracts() -> None:
    """The page decodes logs by the declarations in its source: they must be the ABI's."""
    source = (STATIC_DIR / "js" / "page-transparency.js").read_text(encoding="utf-8")
    declared = set(re.findall(r"^  '(\w+\(.*\))',$", source, re.MULTILINE))
    abi = {
        event["name"]
        + "("
        + ", ".join(
            f"{i['type']}{' indexed' if i['indexed'] else ''} {i['name']}" for i in event["inputs"]
        )
        + ")"
        for event in load_artifact()["abi"]
        if event["type"] == "event"
    }
    assert len(declared) == 9
    assert declared <= abi, declared - abi


def _check_requests(recorder: Recorder, scenario: Scenario) -> None:
    """The page asked its own service only for itself and its files, and the chain the rest."""
    service = origin(scenario.url)
    asked = [urlsplit(u).path for u in recorder.requests if origin(u) == service]
    assert not [p for p in asked if p.startswith("/v1")], asked
    assert all(p == "/transparency" or p.startswith("/web") for p in asked), asked
    assert any(origin(u) == origin(scenario.rpc_url) for u in recorder.requests)
    assert recorder.foreign(scenario.origins) == []
    assert recorder.cookies == []
    assert recorder.problems == [], json.dumps(recorder.problems, ensure_ascii=False)
