"""``audit_log`` end to end on a synthetic history, and its JSON and HTML reports."""

from __future__ import annotations

import json
import re
from pathlib import Path

from audit_synthetic import (
    REVIEWER,
    T0,
    agency_added,
    anchors_for,
    direct,
    entries,
    grant,
    history,
    member,
    opened,
    review,
    routed_for,
)

from ledger.audit import AuditOptions, MemoryEntrySource, audit_log
from ledger.audit.history import AgencyHistory
from ledger.audit.report import write_json
from ledger.audit.report_html import render_html, write_html
from ledger.audit.timeline import DAY

R = "0x00000000000000000000000000000000000A11CE"


def synthetic_result(tampered: bool = False):  # type: ignore[no-untyped-def]
    log = entries(50)
    anchors = anchors_for(log, [10, 30, 50], spacing=10 * DAY)
    served = list(log)
    if tampered:
        served[40] = b"\x00" * 32
    agencies = AgencyHistory(
        agencies=[agency_added("intake", 2)],
        members=[member("intake", R, 3)],
        routed=[
            routed_for(a, previous, {"intake": a.tree_size - previous})
            for a, previous in zip(anchors, [0, 10, 30], strict=True)
        ],
        opened=[opened(log[0], "intake", 10, 0, 20), opened(log[12], "intake", 30, 2, 22)],
    )
    h = history(
        anchors,
        now=T0 + 36 * DAY,
        roles=[grant(REVIEWER, R, 1)],
        agencies=agencies,
        reviews=[
            review(log[0], R, 20, T0 + 11 * DAY, status=1, log_index=1),
            review(log[0], R, 21, T0 + 12 * DAY, status=3),
            review(log[12], R, 22, T0 + 35 * DAY, status=2, log_index=1),
        ],
        direct_commitments=[direct(log[20], 15, T0 + 20 * DAY - 600, R)],
    )
    return audit_log(h, MemoryEntrySource(served, page_size=16), AuditOptions(7, 92))


def test_a_healthy_synthetic_ledger_passes_and_reports_overdue_tips() -> None:
    result = synthetic_result()
    assert result.ok, [v.line() for v in result.violations]
    assert result.served == 50
    # Batch 1 (10 tips) anchored day 10, batch 2 (20) day 20: first-review deadlines passed.
    # Entry 0 was reviewed on day 11 (in time); entry 12 on day 35 (8 days late).
    assert len(result.overdue_first_review) == 29
    assert result.overdue_first_review.open_count == 28
    assert len(result.overdue_outcome) == 0
    assert result.outcomes["unsubstantiated"] == 1
    assert result.outcomes["substantiated"] == 1
    assert result.outcomes["never reviewed"] == 48
    assert [d.status for d in result.directs] == ["on-time"]


def test_json_report_holds_every_finding(tmp_path: Path) -> None:
    result = synthetic_result(tampered=True)
    path = tmp_path / "audit.json"
    write_json(result, path)
    report = json.loads(path.read_text())
    assert report["format"] == "tipledger-audit/1"
    assert report["ok"] is False
    assert [(v["kind"], v["index"]) for v in report["violations"]] == [("entry-differs", 30)]
    assert report["summary"]["overdue_first_review"] == 29
    assert len(report["deadlines"]["first_review"]["overdue"]) == 29
    assert report["deadlines"]["first_review"]["overdue"][0]["index"] == 1
    assert [c["root_matches"] for c in report["checkpoints"]] == [True, True, False]
    assert report["charts"]["tips_per_period"] == [
        ["2027-01-25", 10],
        ["2027-02-04", 20],
        ["2027-02-14", 20],
    ]
    assert len(report["reviews"]["tips"]) == 2


def test_html_report_is_self_contained_with_its_charts(tmp_path: Path) -> None:
    result = synthetic_result(tampered=True)
    html = render_html(result, "en")
    assert "<script" not in html
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    urls = set(re.findall(r"https?://[^\s\"'<>]+", html))
    assert urls == {"http://www.w3.org/2000/svg"}  # the SVG namespace, never fetched
    assert html.count("<svg") == 7  # per day, to anchor, direct, outcomes, review x2, disclosures
    for title in (
        "Tips anchored per day",
        "Time to anchor",
        "Review outcomes",
        "Identity disclosures per month",
    ):
        assert title in html
    assert "FAIL: 1 violation(s)" in html
    assert "entry-differs" in html
    path = tmp_path / "audit.html"
    write_html(result, path, "en")
    assert path.read_text(encoding="utf-8") == html.replace(
        re.search(r"Audit took [^.]*\.", html).group(0),  # type: ignore[union-attr]
        re.search(r"Audit took [^.]*\.", path.read_text()).group(0),  # type: ignore[union-attr]
    )


def test_reports_hold_the_per_agency_section_and_the_html_fits_a_phone(tmp_path: Path) -> None:
    result = synthetic_result()
    [intake] = result.agencies
    assert (intake.slug, intake.received, intake.opened) == ("intake", 50, 2)
    # Anchors at days 10, 20, 30; 7 days: batches 1 and 2 (30 tips) are due, entry 0 in time.
    assert (intake.ack.due, intake.ack.late, intake.ack.open) == (30, 29, 28)
    path = tmp_path / "audit.json"
    write_json(result, path)
    report = json.loads(path.read_text())
    assert report["options"]["deadlines"] == "ack=7d,outcome=92d"
    [row] = report["agencies"]
    assert row["agency"] == "intake"
    assert row["to_first_response"] == {"count": 2, "median": 8 * DAY, "worst": 15 * DAY}
    assert row["past_first_response_deadline"] == {
        "limit_days": 7,
        "due": 30,
        "late": 29,
        "open": 28,
    }
    english = render_html(result, "en")
    assert "Accountability per agency" in english
    assert "past the first-response deadline (7 days), of those due" in english
    html = render_html(result)  # Thai by default
    assert "รายหน่วยงาน" in html
    assert "Accountability per agency" not in html
    thai = re.sub(r"<[^>]+>", "", html)
    assert "เกินกำหนดดำเนินการครั้งแรก (7 วัน) จากที่ครบกำหนด" in thai
    assert '<span class="phrase">การดำเนินการครั้งแรก</span>' in html  # never broken inside
    assert "ITA" not in html  # 7 and 92 days are no preset: no preset's basis is claimed
    # Nothing wider than a phone: no width or min-width over 360 px, in CSS or attributes.
    widths = re.findall(r"(?<![-\w])(?:min-)?width\s*[:=]\s*\"?(\d+)px", html)
    widths += re.findall(r"\swidth=\"(\d+)\"", html.split("<svg", 1)[-1].split(">", 1)[0])
    assert all(int(w) <= 360 for w in widths), widths
    assert "minmax(520px" not in html
