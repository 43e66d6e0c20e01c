"""``audit_log`` end to end on a synthetic history, and its JSON and HTML reports."""

from __future__ import annotations

import json
import re
from pathlib import Path

from audit_synthetic import (
    REVIEWER,
    T0,
    anchors_for,
    direct,
    entries,
    grant,
    history,
    review,
)

from ledger.audit import AuditOptions, MemoryEntrySource, audit_log
from ledger.audit.report import render_html, write_html, write_json
from ledger.audit.timeline import DAY

R = "0x00000000000000000000000000000000000A11CE"


def synthetic_result(tampered: bool = False):  # type: ignore[no-untyped-def]
    log = entries(50)
    anchors = anchors_for(log, [10, 30, 50], spacing=10 * DAY)
    served = list(log)
    if tampered:
        served[40] = b"\x00" * 32
    h = history(
        anchors,
        now=T0 + 36 * DAY,
        roles=[grant(REVIEWER, R, 1)],
        reviews=[
            review(log[0], R, 20, T0 + 11 * DAY, status=1),
            review(log[0], R, 21, T0 + 12 * DAY, status=3),
            review(log[12], R, 22, T0 + 35 * DAY, status=2),
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
    html = render_html(result)
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
    write_html(result, path)
    assert path.read_text(encoding="utf-8") == html.replace(
        re.search(r"Audit took [^.]*\.", html).group(0),  # type: ignore[union-attr]
        re.search(r"Audit took [^.]*\.", path.read_text()).group(0),  # type: ignore[union-attr]
    )
