"""Time to anchor from each tip's signed arrival (``ledger.audit.arrivals``), on synthetic
histories with real EIP-712 promise signatures, and the report's Thai and English wording."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from audit_synthetic import CHAIN_ID, CONTRACT, T0, anchors_for, entries, grant, history
from eth_account import Account

from ledger.audit import MemoryEntrySource, audit_log
from ledger.audit.arrivals import Arrival, MemoryArrivalSource
from ledger.audit.report import anchor_times, write_json
from ledger.audit.report_html import render_html
from ledger.audit.report_text import Text, parse_lang
from ledger.chain.contract import ROLES
from ledger.core.eip712 import sign_promise

ANCHORER = Account.from_key("0x" + "11" * 32)
STRANGER = Account.from_key("0x" + "22" * 32)
SPACING = 600  # checkpoints 10 min apart: the bound says "≤ 10 min" for every tip


def arrival(log: list[bytes], i: int, received_at: int, key: object = ANCHORER) -> Arrival:
    signature = sign_promise(key, CHAIN_ID, CONTRACT, log[i], received_at)  # type: ignore[arg-type]
    return Arrival(i, received_at, ANCHORER.address, signature)


def audited(arrivals: list[Arrival] | None, n: int = 20):  # type: ignore[no-untyped-def]
    log = entries(n)
    anchors = anchors_for(log, [n // 2, n], spacing=SPACING)
    h = history(anchors, roles=[grant(ROLES["ANCHORER_ROLE"], ANCHORER.address, 1)])
    source = MemoryArrivalSource(arrivals) if arrivals is not None else None
    return log, anchors, audit_log(h, MemoryEntrySource(log), arrivals=source)


def test_signed_arrivals_give_seconds_not_the_bound() -> None:
    log, anchors, _ = audited(None)
    arrivals = [arrival(log, i, anchors[0 if i < 10 else 1].timestamp - 2) for i in range(len(log))]
    _, _, result = audited(arrivals)
    assert result.ok, [v.line() for v in result.violations]
    times = anchor_times(result)
    assert times.measured
    assert times.tips == 20
    assert times.worst == 2
    assert times.median == 2
    html = render_html(result, "en")
    assert "Time to anchor (from each tip&#x27;s arrival)" in html
    assert "20 of 20 tips sent through the service" in html
    assert "Time to anchor (upper bound)" not in html


def test_without_arrivals_the_report_labels_the_bound() -> None:
    _, _, result = audited(None)
    times = anchor_times(result)
    assert not times.measured
    assert times.worst == SPACING
    english = render_html(result, "en")
    assert "Time to anchor (upper bound)" in english
    assert "An upper bound, not a measurement" in english
    thai = render_html(result)
    assert "ค่าสูงสุดที่เป็นไปได้ ไม่ใช่เวลาที่วัดได้จริง" in thai
    assert "≤ 10 นาที" in thai


def test_a_bad_signature_a_stranger_or_a_broken_promise_is_a_violation(tmp_path: Path) -> None:
    log, anchors, _ = audited(None)
    t1 = anchors[0].timestamp
    good = arrival(log, 0, t1 - 1)
    forged = Arrival(1, t1 - 1, ANCHORER.address, good.signature)  # another entry's signature
    stranger = arrival(log, 2, t1 - 1, key=STRANGER)
    stranger = Arrival(2, t1 - 1, STRANGER.address, stranger.signature)
    late = arrival(log, 3, t1 - 3601)  # maxMergeDelay 3600
    after = arrival(log, 4, t1 + 5)
    _, _, result = audited([good, forged, stranger, late, after])
    kinds = sorted((v.kind, v.index) for v in result.violations)
    assert kinds == [
        ("arrival-after-anchor", 4),
        ("arrival-signature", 1),
        ("arrival-signature", 2),
        ("promise-late", 3),
    ]
    assert result.arrivals is not None
    assert result.arrivals.rejected == 3
    assert anchor_times(result).tips == 2  # the good one and the late one
    path = tmp_path / "audit.json"
    write_json(result, path)
    report = json.loads(path.read_text())
    assert report["time_to_anchor"]["basis"] == "signed arrival times"
    assert report["time_to_anchor"]["rejected"] == 3


def test_the_report_is_thai_by_default_and_explains_its_terms() -> None:
    _, _, result = audited(None)
    html = render_html(result)
    assert html.startswith('<!DOCTYPE html>\n<html lang="th">')
    assert render_html(result, "en").startswith('<!DOCTYPE html>\n<html lang="en">')
    text = re.sub(r"<[^>]+>", "", html)
    for term in ("maxMergeDelay", "รายการส่งตรง (direct commitment)", "จุดบันทึก (checkpoint)"):
        assert term in text
    assert "ระยะเวลานานที่สุดที่สัญญาอัจฉริยะยอมให้" in text
    assert "ลายนิ้วมือ" not in html
    assert re.search(r"ผนึก", html) is None or "ปิดผนึก" in html
    assert "PASS" not in text
    assert "ผลการตรวจสอบ: ผ่าน" in text
    # Thai times in Thailand's time, the UTC one in the element's title
    head = Text("th").when(T0)
    assert head == "15 ม.ค. 2570 เวลา 15:00:00 น."
    assert f'title="{Text.utc(T0)}"' in Text("th").when_html(T0)


def test_text_units_labels_and_languages() -> None:
    th, en = Text("th"), Text("en")
    assert (th.duration(2), en.duration(2)) == ("2 วินาที", "2 s")
    assert th.duration(600) == "10 นาที"
    assert th.duration(3 * 86_400) == "3.0 วัน"
    assert th.label("≤ 10 min") == "≤ 10 นาที"
    assert th.label("> 1 day") == "> 1 วัน"
    assert th.label("≤ 3 months") == "≤ 3 เดือน"
    assert th.label("closed") == "ยุติเรื่องแล้ว"
    assert en.label("≤ 10 min") == "≤ 10 min"
    assert Text("th").when(1_796_190_876) == "2 ธ.ค. 2569 เวลา 12:54:36 น."
    for bad in ("TH", "de", ""):
        with pytest.raises(ValueError, match="expected th or en"):
            parse_lang(bad)
