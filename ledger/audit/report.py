"""The audit's reports: JSON for machines, one self-contained HTML page for people.

The JSON report holds every finding and every overdue tip (streamed, so a million of them cost
no more memory than the audit already used). The HTML page has inline CSS and inline SVG charts
(tips per day, time to anchor, review outcomes, time to review, disclosures): no script, no
font or stylesheet from anywhere, so it opens offline, prints, and can be archived as evidence.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import IO, Any

import orjson

from ledger.audit.agencies import AgencySummary
from ledger.audit.auditor import AuditResult
from ledger.audit.charts import PALETTE, bar_chart, hbar_chart
from ledger.audit.checks import increasing_anchors
from ledger.audit.timeline import (
    DAY,
    REVIEW_EDGES,
    WAIT_EDGES,
    Overdue,
    OverdueList,
    anchor_waits,
    direct_waits,
    histogram,
    per_period,
)
from ledger.core.encoding import to_hex

__all__ = ["FORMAT", "chart_data", "duration", "render_html", "summary", "write_html", "write_json"]

FORMAT = "tipledger-audit/1"
HTML_ROWS = 200  # rows per table in the HTML page; the JSON report has them all


def _utc(ts: int | None) -> str:
    if ts is None:
        return "–"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def duration(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * DAY:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / DAY:.1f} days"


# --- data ------------------------------------------------------------------------------------


def summary(result: AuditResult) -> dict[str, Any]:
    h = result.history
    return {
        "anchored_size": h.anchored_size,
        "served": result.served,
        "checkpoints": len(h.anchors),
        "direct_commitments": len(h.direct_commitments),
        "reviews": len(h.reviews),
        "reviewed_tips": len(result.timelines),
        "disclosures": len(h.disclosures),
        "violations": len(result.violations),
        "overdue_first_review": len(result.overdue_first_review),
        "overdue_first_review_open": result.overdue_first_review.open_count,
        "overdue_outcome": len(result.overdue_outcome),
        "overdue_outcome_open": result.overdue_outcome.open_count,
        "agencies": len(result.agencies),
    }


def chart_data(result: AuditResult) -> dict[str, list[tuple[str, int]]]:
    """The series the HTML charts draw (also in the JSON report)."""
    h = result.history
    anchors = increasing_anchors(h.anchors)
    days = per_period(anchors)
    tips_per_period = per_period(anchors, monthly=True) if len(days) > 120 else days
    anchored_at = {d.commitment: d.anchored_at for d in result.directs if d.anchored_at}
    months: dict[str, int] = {}
    for d in result.disclosures:
        month = datetime.fromtimestamp(d.timestamp, UTC).strftime("%Y-%m")
        months[month] = months.get(month, 0) + 1
    to_review = [(t.first_review_at - t.anchored_at, 1) for t in result.timelines]
    to_outcome = [
        (t.outcome_at - t.anchored_at, 1) for t in result.timelines if t.outcome_at is not None
    ]
    return {
        "tips_per_period": tips_per_period,
        "time_to_anchor": histogram(anchor_waits(anchors, h.deploy_timestamp), WAIT_EDGES),
        "direct_time_to_anchor": histogram(
            [(w, 1) for w in direct_waits(h.direct_commitments, anchored_at)], WAIT_EDGES
        ),
        "review_outcomes": list(result.outcomes.items()),
        "time_to_first_review": histogram(to_review, REVIEW_EDGES),
        "time_to_outcome": histogram(to_outcome, REVIEW_EDGES),
        "disclosures_per_month": sorted(months.items()),
    }


class _Stream:
    """A JSON array written item by item."""

    def __init__(self, items: Iterable[Any]) -> None:
        self.items = items


def _write(out: IO[bytes], value: Any) -> None:
    if isinstance(value, _Stream):
        out.write(b"[")
        first = True
        for item in value.items:
            out.write(b"\n" if first else b",\n")
            out.write(orjson.dumps(item))
            first = False
        out.write(b"]")
    elif isinstance(value, dict) and any(isinstance(v, _Stream | dict) for v in value.values()):
        out.write(b"{")
        for i, (k, v) in enumerate(value.items()):
            out.write(b",\n" if i else b"\n")
            out.write(orjson.dumps(k) + b": ")
            _write(out, v)
        out.write(b"\n}")
    else:
        out.write(orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS))


def _overdue(items: OverdueList, now: int) -> Iterator[dict[str, object]]:
    return (o.to_json(now) for o in items)


def write_json(result: AuditResult, path: Path) -> None:
    """The full report (format ``tipledger-audit/1``), streamed to ``path``."""
    h = result.history
    now = result.now
    report: dict[str, Any] = {
        "format": FORMAT,
        "ok": result.ok,
        "audited_at": int(datetime.now(UTC).timestamp()),
        "chain": {
            "chain_id": h.chain_id,
            "contract": h.contract,
            "from_block": h.from_block,
            "to_block": h.to_block,
            "head_timestamp": h.head_timestamp,
            "deploy_block": h.deploy_block,
            "deploy_timestamp": h.deploy_timestamp,
            "max_merge_delay": h.max_merge_delay,
            "disclosure_threshold": h.thresholds.initial,
        },
        "source": result.source,
        "options": {
            "first_review_days": result.options.first_review_days,
            "outcome_days": result.options.outcome_days,
            "deadlines": result.options.deadlines.spec(),
            "deadlines_basis": result.options.basis,
        },
        "summary": summary(result),
        "violations": [v.to_json() for v in result.violations],
        "notes": result.notes,
        "checkpoints": _Stream(a.to_json() for a in result.anchors),
        "direct_commitments": [d.to_json() for d in result.directs],
        "reviews": {
            "outcomes": result.outcomes,
            "tips": _Stream(t.to_json() for t in result.timelines),
        },
        "disclosures": [d.to_json() for d in result.disclosures],
        "agencies": [a.to_json() for a in result.agencies],
        "deadlines": {
            "first_review": {
                "limit_days": result.options.first_review_days,
                "count": len(result.overdue_first_review),
                "open": result.overdue_first_review.open_count,
                "overdue": _Stream(_overdue(result.overdue_first_review, now)),
            },
            "outcome": {
                "limit_days": result.options.outcome_days,
                "count": len(result.overdue_outcome),
                "open": result.overdue_outcome.open_count,
                "overdue": _Stream(_overdue(result.overdue_outcome, now)),
            },
        },
        "charts": chart_data(result),
        "timings": {k: round(v, 3) for k, v in result.timings.items()},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as out:
        _write(out, report)
        out.write(b"\n")
    tmp.replace(path)


# --- HTML ------------------------------------------------------------------------------------

CSS = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #2f3542;
       margin: 0 auto; max-width: 1120px; padding: 16px; }
h1 { font-size: 24px; margin: 0 0 4px; } h2 { font-size: 19px; margin: 32px 0 8px; }
.verdict { padding: 14px 18px; border-radius: 6px; color: #fff; font-weight: 600; margin: 16px 0; }
.pass { background: #218c5a; } .fail { background: #c0392b; }
.meta { color: #57606f; font-size: 13px; }
table { border-collapse: collapse; width: 100%; font-size: 13px; margin: 8px 0; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #dfe4ea;
         vertical-align: top; }
th { background: #f1f2f6; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
code { font: 12px ui-monospace, SFMono-Regular, Menlo, monospace; word-break: break-all; }
.scroll { overflow-x: auto; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 340px), 1fr));
          gap: 16px; }
figure { margin: 0; }
.chart { width: 100%; height: auto; background: #fff; border: 1px solid #dfe4ea;
         border-radius: 6px; }
.chart-title { font-size: 14px; font-weight: 600; fill: #2f3542; }
.tick { font-size: 11px; fill: #57606f; } .axis-label { font-size: 12px; fill: #57606f; }
.empty { font-size: 13px; fill: #8395a7; }
.kpis { display: flex; flex-wrap: wrap; gap: 12px; }
.kpi { border: 1px solid #dfe4ea; border-radius: 6px; padding: 8px 14px; min-width: 130px; }
.kpi b { display: block; font-size: 20px; } .kpi span { color: #57606f; font-size: 12px; }
.bad { color: #c0392b; }
.agencies { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 340px), 1fr));
            gap: 16px; }
.agency { border: 1px solid #dfe4ea; border-radius: 6px; padding: 8px 12px; }
.agency h3 { font-size: 16px; margin: 4px 0; } .agency .en { color: #57606f; font-size: 13px; }
.fig { display: flex; flex-wrap: wrap; gap: 2px 12px; padding: 6px 0;
       border-bottom: 1px solid #dfe4ea; font-size: 13px; }
.fig .label { flex: 1 1 180px; } .fig .en { display: block; font-size: 12px; }
.fig .value { margin-left: auto; text-align: right; font-variant-numeric: tabular-nums; }
.phrase { white-space: nowrap; }
@media print { .charts { display: block; } .chart { page-break-inside: avoid; } }
"""


def _table(headers: list[str], rows: Iterable[list[str]], numeric: set[int] | None = None) -> str:
    numeric = numeric or set()
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{cell}</td>' if i in numeric else f"<td>{cell}</td>"
            for i, cell in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return (
        f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody>'
        "</table></div>"
    )


def _code(data: bytes | str) -> str:
    text = to_hex(data) if isinstance(data, bytes) else data
    return f"<code>{escape(text)}</code>"


def _kpi(value: object, label: str, bad: bool = False) -> str:
    cls = ' class="bad"' if bad else ""
    shown = f"{value:,}" if isinstance(value, int) else escape(str(value))
    return f'<div class="kpi"><b{cls}>{shown}</b><span>{escape(label)}</span></div>'


def _overdue_section(title: str, items: OverdueList, now: int, what: str) -> str:
    shown: list[Overdue] = [items[i] for i in range(min(HTML_ROWS, len(items)))]
    more = (
        f"<p class='meta'>First {HTML_ROWS:,} of {len(items):,} shown; the JSON report lists "
        "all.</p>"
        if len(items) > HTML_ROWS
        else ""
    )
    if not items:
        return f"<h2>{escape(title)}</h2><p>None: every {escape(what)} came in time.</p>"
    rows = [
        [
            str(o.index),
            _code(o.commitment),
            escape(_utc(o.anchored_at)),
            escape(_utc(o.deadline)),
            escape(_utc(o.done_at)) if o.done_at is not None else "<b>still open</b>",
            escape(duration(o.late_by(now))),
        ]
        for o in shown
    ]
    return (
        f"<h2>{escape(title)} ({len(items):,}, {items.open_count:,} still open)</h2>"
        + _table(
            ["entry", "commitment", "anchored", "deadline", f"{what} at", "late by"],
            rows,
            {0, 5},
        )
        + more
    )


def _times(values: list[int], median: float | None, worst: int | None) -> str:
    if median is None or worst is None:
        return "–"
    return (
        f"{escape(duration(round(median)))} / {escape(duration(worst))} "
        f"<span class='meta'>({len(values):,})</span>"
    )


def _past(due: int, late: int, still_open: int) -> str:
    if not due:
        return "–"
    shown = f"{late:,} / {due:,}"
    text = f"<b class='bad'>{shown}</b>" if late else shown
    return text + (f" <span class='meta'>({still_open:,} open)</span>" if still_open else "")


def _phrases(parts: tuple[str, ...]) -> str:
    """Thai text as phrases a line never breaks inside (Thai has no spaces between words, so
    a browser may otherwise break anywhere its dictionary allows)."""
    return "".join(f'<span class="phrase">{escape(p)}</span>' for p in parts)


def _agency_card(a: AgencySummary) -> str:
    inactive = (
        ""
        if a.active
        else " <span class='meta'>(inactive · <span lang='th'>ไม่รับเรื่องใหม่</span>)</span>"
    )
    ack, outcome = f"({a.ack.limit_days:g} วัน)", f"({a.outcome.limit_days:g} วัน)"
    times = " (มัธยฐาน / นานที่สุด)"
    rows = [
        (("เบาะแสที่ได้รับ",), "tips received", f"{a.received:,}"),
        (("เปิดเรื่อง", "บนบล็อกเชนแล้ว"), "cases opened on chain", f"{a.opened:,}"),
        (("รับเรื่องต่อ", "จากหน่วยงานอื่น"), "referrals in", f"{a.referrals_in:,}"),
        (("ส่งเรื่องต่อ", "ให้หน่วยงานอื่น"), "referrals out", f"{a.referrals_out:,}"),
        (("บันทึกผลการพิจารณา",), "reviews recorded", f"{a.reviews:,}"),
        (
            ("เวลาจนถึง", "การดำเนินการครั้งแรก", times),
            "time to first response (median / worst)",
            _times(a.to_ack, a.ack_median, a.ack_worst),
        ),
        (
            ("เวลาจนถึง", "ผลการดำเนินการ", times),
            "time to outcome (median / worst)",
            _times(a.to_outcome, a.outcome_median, a.outcome_worst),
        ),
        (
            ("เกินกำหนด", "ดำเนินการครั้งแรก", f" {ack}", " จากที่ครบกำหนด"),
            f"past the first-response deadline ({a.ack.limit_days:g} days), of those due",
            _past(a.ack.due, a.ack.late, a.ack.open),
        ),
        (
            ("เกินกำหนด", "แจ้งผล", f" {outcome}", " จากที่ครบกำหนด"),
            f"past the outcome deadline ({a.outcome.limit_days:g} days), of those due",
            _past(a.outcome.due, a.outcome.late, a.outcome.open),
        ),
    ]
    body = "".join(
        f'<div class="fig"><div class="label"><span lang="th">{_phrases(th)}</span>'
        f'<span class="en">{escape(en)}</span></div><div class="value">{value}</div></div>'
        for th, en, value in rows
    )
    return (
        f'<section class="agency"><h3 lang="th">{escape(a.name_th or a.slug)}</h3>'
        f'<div class="en">{escape(a.name_en)} · <code>{escape(a.slug)}</code>{inactive}</div>'
        f"{body}</section>"
    )


def _agencies_section(result: AuditResult) -> str:
    title = "<h2><span lang='th' class='phrase'>รายหน่วยงาน</span> · Accountability per agency</h2>"
    if not result.agencies:
        return (
            f"{title}<p>None: no agency on this chain. · "
            "<span lang='th'>ยังไม่มีหน่วยงานบนบล็อกเชนนี้</span></p>"
        )
    o = result.options
    note = (
        "<p class='meta'>From chain events alone. Clock: the anchoring of the tip's checkpoint. "
        "First response: the agency's first review, or its referral away; outcome: its first "
        "final status (2..5), or its referral away. Past a deadline: of the tips routed to it "
        "whose deadline has passed, those not answered in time, unopened ones included. "
        f"Deadlines {escape(o.deadlines.spec())}: {escape(o.basis)}.</p>"
    )
    cards = "".join(_agency_card(a) for a in result.agencies)
    return f'{title}{note}<div class="agencies">{cards}</div>'


def render_html(result: AuditResult) -> str:
    """The report as one HTML document (inline CSS and SVG; no script, no external request)."""
    h = result.history
    s = summary(result)
    charts = chart_data(result)
    outcome_colors = [PALETTE["muted"], "#f0932b", "#c0392b", "#218c5a", "#8e44ad", "#3867d6"]
    verdict = (
        '<div class="verdict pass">PASS: no violation found. The published log is the anchored '
        "one, nothing was left out, every review and disclosure was authorised.</div>"
        if result.ok
        else f'<div class="verdict fail">FAIL: {len(result.violations):,} violation(s) '
        "found (listed below).</div>"
    )
    kpis = "".join(
        [
            _kpi(s["anchored_size"], "anchored entries"),
            _kpi(s["checkpoints"], "checkpoints"),
            _kpi(s["direct_commitments"], "direct commitments"),
            _kpi(s["reviews"], "reviews recorded"),
            _kpi(s["disclosures"], "disclosures"),
            _kpi(s["violations"], "violations", bad=s["violations"] > 0),
            _kpi(s["overdue_first_review_open"], "awaiting first review, overdue", bad=True)
            if s["overdue_first_review_open"]
            else _kpi(0, "awaiting first review, overdue"),
            _kpi(s["overdue_outcome_open"], "awaiting outcome, overdue", bad=True)
            if s["overdue_outcome_open"]
            else _kpi(0, "awaiting outcome, overdue"),
        ]
    )
    violations = (
        _table(
            ["kind", "entry", "block", "finding"],
            (
                [
                    escape(v.kind),
                    "" if v.index is None else str(v.index),
                    "" if v.block is None else str(v.block),
                    escape(v.message),
                ]
                for v in result.violations
            ),
            {1, 2},
        )
        if result.violations
        else "<p>None.</p>"
    )
    period = (
        "month"
        if charts["tips_per_period"] and len(charts["tips_per_period"][0][0]) == 7
        else "day"
    )
    chart_svgs = [
        bar_chart(charts["tips_per_period"], title=f"Tips anchored per {period} (UTC)"),
        bar_chart(
            charts["time_to_anchor"],
            title="Time to anchor (bound: time since the previous checkpoint)",
        ),
        hbar_chart(charts["review_outcomes"], title="Review outcomes", colors=outcome_colors),
        bar_chart(charts["time_to_first_review"], title="Time from anchor to first review"),
        bar_chart(charts["time_to_outcome"], title="Time from anchor to outcome"),
        bar_chart(
            charts["disclosures_per_month"],
            title="Identity disclosures per month",
            y_label="disclosures",
            colors=[PALETTE["bad"]],
        ),
    ]
    if h.direct_commitments:
        chart_svgs.insert(
            2,
            bar_chart(
                charts["direct_time_to_anchor"],
                title="Direct commitments: time from commit() to anchor",
                y_label="commitments",
            ),
        )
    directs = (
        _table(
            ["commitment", "block", "committed", "status", "entry", "anchored", "delay"],
            (
                [
                    _code(d.commitment),
                    str(d.block_number),
                    escape(_utc(d.timestamp)),
                    f"<b class='bad'>{d.status}</b>"
                    if d.status in ("late", "missing")
                    else escape(d.status),
                    "" if d.index is None else str(d.index),
                    escape(_utc(d.anchored_at)),
                    "" if d.anchored_at is None else escape(duration(d.anchored_at - d.timestamp)),
                ]
                for d in result.directs[:HTML_ROWS]
            ),
            {1, 4},
        )
        if result.directs
        else "<p>None.</p>"
    )
    disclosures = (
        _table(
            ["record", "requester", "block", "time", "threshold", "custodians", "verdict"],
            (
                [
                    _code(d.record_id),
                    _code(d.requester),
                    str(d.block_number),
                    escape(_utc(d.timestamp)),
                    str(d.threshold),
                    "<br>".join(_code(c) for c in d.custodians),
                    "valid quorum"
                    if d.ok
                    else f"<b class='bad'>{escape('; '.join(d.problems))}</b>",
                ]
                for d in result.disclosures[:HTML_ROWS]
            ),
            {2, 4},
        )
        if result.disclosures
        else "<p>None.</p>"
    )
    bad_anchors = [
        a for a in result.anchors if a.root_matches is False or a.stored_matches is False
    ]
    shown_anchors = bad_anchors[:HTML_ROWS] + [
        a for a in result.anchors[-HTML_ROWS:] if a not in bad_anchors
    ]
    shown_anchors.sort(key=lambda a: a.block_number)

    def _flag(value: bool | None) -> str:
        return "–" if value is None else ("yes" if value else "<b class='bad'>NO</b>")

    checkpoints = _table(
        ["tree size", "block", "time", "root", "root matches", "consistent", "storage"],
        (
            [
                f"{a.tree_size:,}",
                str(a.block_number),
                escape(_utc(a.timestamp)),
                _code(a.root_hash),
                _flag(a.root_matches),
                _flag(a.consistent),
                _flag(a.stored_matches),
            ]
            for a in shown_anchors
        ),
        {0, 1},
    )
    notes = (
        "<h2>Notes</h2><ul>" + "".join(f"<li>{escape(n)}</li>" for n in result.notes) + "</ul>"
        if result.notes
        else ""
    )
    overdue_first = _overdue_section(
        "Past the first-review deadline", result.overdue_first_review, result.now, "first review"
    )
    overdue_outcome = _overdue_section(
        "Past the outcome deadline", result.overdue_outcome, result.now, "outcome"
    )
    partial = ", latest shown" if len(result.anchors) > len(shown_anchors) else ""
    timings = ", ".join(f"{k} {v:.2f} s" for k, v in result.timings.items())
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>TipLedger audit: {escape(h.contract)} on chain {h.chain_id}</title>
<style>{CSS}</style></head>
<body>
<h1>TipLedger oversight audit</h1>
<p class="meta">Contract {_code(h.contract)} on chain {h.chain_id},
blocks {h.from_block}–{h.to_block}
(as of {escape(_utc(h.head_timestamp))}). Entries from {escape(result.source)}.
maxMergeDelay {h.max_merge_delay:,} s. Deadlines: first review within
{result.options.first_review_days:g} days, outcome within {result.options.outcome_days:g} days of
anchoring ({escape(result.options.basis)}).</p>
{verdict}
<div class="kpis">{kpis}</div>
<h2>Violations</h2>
{violations}
{_agencies_section(result)}
<h2>Charts</h2>
<div class="charts">{"".join(f"<figure>{svg}</figure>" for svg in chart_svgs)}</div>
{overdue_first}
{overdue_outcome}
<h2>Direct commitments ({len(result.directs):,})</h2>
{directs}
<h2>Disclosures ({len(result.disclosures):,})</h2>
{disclosures}
<h2>Checkpoints ({len(result.anchors):,}{partial})</h2>
{checkpoints}
{notes}
<p class="meta">Audit took {escape(timings)}. Generated by tipledger audit; the JSON report
holds every row.</p>
</body></html>
"""


def write_html(result: AuditResult, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(render_html(result), encoding="utf-8")
    tmp.replace(path)
