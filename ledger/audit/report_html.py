"""The audit report for people: one self-contained HTML page, in Thai (default) or English.

Inline CSS and inline SVG charts (tips per day, time to anchor, review outcomes, time to review,
disclosures): no script, no font or stylesheet from anywhere, so it opens offline, prints, and
can be archived as evidence. It explains its terms (``report_text.TERMS``), fits a 320 px phone
(charts scale to their box, wide tables scroll inside theirs), and says on what basis each tip's
time to anchor was found: measured from its signed arrival, or bounded by the checkpoints.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from ledger.audit.agencies import AgencySummary
from ledger.audit.auditor import AuditResult
from ledger.audit.charts import PALETTE, bar_chart, hbar_chart
from ledger.audit.report import anchor_times, chart_data, summary
from ledger.audit.report_tables import (
    checkpoints_table,
    code,
    directs_table,
    disclosures_table,
    overdue_section,
    violations_table,
)
from ledger.audit.report_text import Lang, Text

__all__ = ["render_html", "write_html"]

CSS = """
body { font: 15px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans Thai",
       "Loma", sans-serif; color: #2f3542; margin: 0 auto; max-width: 1120px; padding: 16px;
       overflow-wrap: break-word; }
:lang(th) { line-break: strict; word-break: normal; }
h1 { font-size: 24px; margin: 0 0 4px; } h2 { font-size: 19px; margin: 32px 0 8px; }
.verdict { padding: 14px 18px; border-radius: 6px; color: #fff; font-weight: 600; margin: 16px 0; }
.pass { background: #218c5a; } .fail { background: #c0392b; }
.meta { color: #57606f; font-size: 13px; }
table { border-collapse: collapse; width: 100%; font-size: 13px; margin: 8px 0; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #dfe4ea;
         vertical-align: top; }
th { background: #f1f2f6; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
code { font: 12px ui-monospace, SFMono-Regular, Menlo, monospace; word-break: break-all; }
td span[lang=en] { overflow-wrap: anywhere; }  /* findings hold long hex values */
.scroll { overflow-x: auto; max-width: 100%; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 320px), 1fr));
          gap: 16px; }
figure { margin: 0; min-width: 0; }
figcaption { font-size: 14px; font-weight: 600; margin: 0 0 4px; }
figure .meta { margin: 4px 0 0; }
.chart { display: block; width: 100%; max-width: 100%; height: auto; background: #fff;
         border: 1px solid #dfe4ea; border-radius: 6px; }
.tick { font-size: 12px; fill: #57606f; } .axis-label { font-size: 12px; fill: #57606f; }
.empty { font-size: 13px; fill: #8395a7; }
.kpis { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(100%, 124px), 1fr));
        gap: 12px; }
.kpi { border: 1px solid #dfe4ea; border-radius: 6px; padding: 8px 14px; }
.kpi b { display: block; font-size: 20px; } .kpi span { color: #57606f; font-size: 12px; }
.bad { color: #c0392b; }
dl.terms { margin: 0; } dl.terms dt { font-weight: 600; margin-top: 8px; }
dl.terms dd { margin: 0 0 0 0; }
details { margin: 8px 0; } summary { cursor: pointer; }
.agencies { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 320px), 1fr));
            gap: 16px; }
.agency { border: 1px solid #dfe4ea; border-radius: 6px; padding: 8px 12px; }
.agency h3 { font-size: 16px; margin: 4px 0; } .agency .other { color: #57606f; font-size: 13px; }
.fig { display: flex; flex-wrap: wrap; gap: 2px 12px; padding: 6px 0;
       border-bottom: 1px solid #dfe4ea; font-size: 13px; }
.fig .label { flex: 1 1 160px; }
.fig .value { margin-left: auto; text-align: right; font-variant-numeric: tabular-nums; }
.phrase { white-space: nowrap; }
@media print { .charts { display: block; } .chart { page-break-inside: avoid; } }
"""


def _kpi(t: Text, value: object, label: str, bad: bool = False) -> str:
    cls = ' class="bad"' if bad else ""
    shown = f"{value:,}" if isinstance(value, int) else escape(str(value))
    return f'<div class="kpi"><b{cls}>{shown}</b><span>{t.html(label)}</span></div>'


def _phrases(parts: tuple[str, ...]) -> str:
    """Thai text as phrases a line never breaks inside (Thai has no spaces between words, so
    a browser may otherwise break anywhere its dictionary allows)."""
    return "".join(f'<span class="phrase">{escape(p)}</span>' for p in parts)


# --- per agency --------------------------------------------------------------------------------


def _times(t: Text, values: list[int], median: float | None, worst: int | None) -> str:
    if median is None or worst is None:
        return "–"
    return (
        f"{escape(t.duration(median))} / {escape(t.duration(worst))} "
        f"<span class='meta'>({len(values):,})</span>"
    )


def _past(t: Text, due: int, late: int, still_open: int) -> str:
    if not due:
        return "–"
    shown = f"{late:,} / {due:,}"
    text = f"<b class='bad'>{shown}</b>" if late else shown
    opened = "ค้าง" if t.lang == "th" else "open"
    return text + (f" <span class='meta'>({still_open:,} {opened})</span>" if still_open else "")


def _agency_card(t: Text, a: AgencySummary) -> str:
    ack, outcome = a.ack.limit_days, a.outcome.limit_days
    times = (" (มัธยฐาน / นานที่สุด)",)
    rows: list[tuple[tuple[str, ...], str, str]] = [
        (("เบาะแสที่ได้รับ",), "tips received", f"{a.received:,}"),
        (("เปิดเรื่อง", "บนบล็อกเชนแล้ว"), "cases opened on chain", f"{a.opened:,}"),
        (("รับเรื่องต่อ", "จากหน่วยงานอื่น"), "referrals in", f"{a.referrals_in:,}"),
        (("ส่งเรื่องต่อ", "ให้หน่วยงานอื่น"), "referrals out", f"{a.referrals_out:,}"),
        (("บันทึกผลการพิจารณา",), "reviews recorded", f"{a.reviews:,}"),
        (
            ("เวลาจนถึง", "การดำเนินการครั้งแรก", *times),
            "time to first response (median / worst)",
            _times(t, a.to_ack, a.ack_median, a.ack_worst),
        ),
        (
            ("เวลาจนถึง", "ผลการดำเนินการ", *times),
            "time to outcome (median / worst)",
            _times(t, a.to_outcome, a.outcome_median, a.outcome_worst),
        ),
        (
            ("เกินกำหนด", "ดำเนินการครั้งแรก", f" ({ack:g} วัน)", " จากที่ครบกำหนด"),
            f"past the first-response deadline ({ack:g} days), of those due",
            _past(t, a.ack.due, a.ack.late, a.ack.open),
        ),
        (
            ("เกินกำหนด", "แจ้งผล", f" ({outcome:g} วัน)", " จากที่ครบกำหนด"),
            f"past the outcome deadline ({outcome:g} days), of those due",
            _past(t, a.outcome.due, a.outcome.late, a.outcome.open),
        ),
    ]
    body = "".join(
        f'<div class="fig"><div class="label">'
        f"{_phrases(th) if t.lang == 'th' else escape(en)}</div>"
        f'<div class="value">{value}</div></div>'
        for th, en, value in rows
    )
    if t.lang == "th":
        inactive = "" if a.active else " <span class='meta'>(ไม่รับเรื่องใหม่)</span>"
        heading = f"<h3>{escape(a.name_th or a.slug)}</h3>"
        other = f'<div class="other" lang="en">{escape(a.name_en)} · <code>{escape(a.slug)}</code>'
    else:
        inactive = "" if a.active else " <span class='meta'>(inactive)</span>"
        heading = f"<h3>{escape(a.name_en or a.slug)}</h3>"
        other = f'<div class="other"><span lang="th">{escape(a.name_th)}</span> · '
        other += f"<code>{escape(a.slug)}</code>"
    return f'<section class="agency">{heading}{other}{inactive}</div>{body}</section>'


def _agencies_section(t: Text, result: AuditResult) -> str:
    title = f"<h2>{t.html(t('h_agencies'))}</h2>"
    o = result.options
    if t.lang == "th":
        if not result.agencies:
            return f"{title}<p>ยังไม่มีหน่วยงานบนบล็อกเชนนี้</p>"
        note = (
            "คำนวณจากเหตุการณ์บนบล็อกเชนเท่านั้น เริ่มนับเวลาเมื่อจุดบันทึกของเบาะแสบันทึกลงบล็อกเชน "
            "การดำเนินการครั้งแรก คือการบันทึกผลการพิจารณาครั้งแรกของหน่วยงาน หรือการส่งเรื่องต่อ "
            "ผลการดำเนินการ คือสถานะสุดท้ายครั้งแรก (มีมูล ไม่มีมูล ส่งเรื่องต่อ ยุติเรื่อง) "
            "หรือการส่งเรื่องต่อ เกินกำหนด คือเบาะแสที่ส่งถึงหน่วยงานซึ่งครบกำหนดแล้วแต่ไม่ได้"
            "ดำเนินการภายในกำหนด รวมถึงเรื่องที่ยังไม่ได้เปิด "
            f"กำหนดเวลา {o.deadlines.spec()}: {o.basis}"
        )
    else:
        if not result.agencies:
            return f"{title}<p>None: no agency on this chain.</p>"
        note = (
            "From chain events alone. Clock: the anchoring of the tip's checkpoint. First "
            "response: the agency's first review, or its referral away; outcome: its first "
            "final status (2..5), or its referral away. Past a deadline: of the tips routed to "
            "it whose deadline has passed, those not answered in time, unopened ones included. "
            f"Deadlines {o.deadlines.spec()}: {o.basis}."
        )
    cards = "".join(_agency_card(t, a) for a in result.agencies)
    return f'{title}<p class="meta">{t.html(note)}</p><div class="agencies">{cards}</div>'


# --- charts ------------------------------------------------------------------------------------


def _figure(t: Text, title: str, svg: str, note: str = "") -> str:
    caption = f"<figcaption>{t.html(title)}</figcaption>"
    return f"<figure>{caption}{svg}{f'<p class=meta>{t.html(note)}</p>' if note else ''}</figure>"


def _charts(t: Text, result: AuditResult) -> str:
    charts = chart_data(result)
    times = anchor_times(result)

    def labelled(key: str) -> list[tuple[str, int]]:
        return [(t.label(label), n) for label, n in charts[key]]

    empty, tips = t("chart_empty"), t("axis_tips")
    outcome_colors = [PALETTE["muted"], "#f0932b", "#c0392b", "#218c5a", "#8e44ad", "#3867d6"]
    monthly = bool(charts["tips_per_period"]) and len(charts["tips_per_period"][0][0]) == 7
    per = t("chart_per_month" if monthly else "chart_per_day")
    if times.measured:
        anchor_title = t("chart_anchor_measured")
        rejected = t("anchor_rejected", n=f"{times.rejected:,}") if times.rejected else ""
        anchor_note = t(
            "anchor_measured_note",
            measured=f"{times.tips:,}",
            api=f"{times.api_tips:,}",
            rejected=rejected,
        )
    else:
        anchor_title, anchor_note = t("chart_anchor_bound"), t("anchor_bound_note")
    figures = [
        _figure(t, per, bar_chart(charts["tips_per_period"], title=per, y_label=tips, empty=empty)),
        _figure(
            t,
            anchor_title,
            bar_chart(labelled("time_to_anchor"), title=anchor_title, y_label=tips, empty=empty),
            anchor_note,
        ),
        _figure(
            t,
            t("chart_outcomes"),
            hbar_chart(
                labelled("review_outcomes"), title=t("chart_outcomes"), colors=outcome_colors
            ),
        ),
        _figure(
            t,
            t("chart_first_review"),
            bar_chart(
                labelled("time_to_first_review"),
                title=t("chart_first_review"),
                y_label=tips,
                empty=empty,
            ),
        ),
        _figure(
            t,
            t("chart_outcome"),
            bar_chart(
                labelled("time_to_outcome"), title=t("chart_outcome"), y_label=tips, empty=empty
            ),
        ),
        _figure(
            t,
            t("chart_disclosures"),
            bar_chart(
                charts["disclosures_per_month"],
                title=t("chart_disclosures"),
                y_label=t("axis_disclosures"),
                colors=[PALETTE["bad"]],
                empty=empty,
            ),
        ),
    ]
    if result.history.direct_commitments:
        figures.insert(
            2,
            _figure(
                t,
                t("chart_direct"),
                bar_chart(
                    labelled("direct_time_to_anchor"),
                    title=t("chart_direct"),
                    y_label=t("axis_commitments"),
                    empty=empty,
                ),
            ),
        )
    return f'<div class="charts">{"".join(figures)}</div>'


# --- the page ----------------------------------------------------------------------------------


def render_html(result: AuditResult, lang: Lang = "th") -> str:
    """The report as one HTML document (inline CSS and SVG; no script, no external request)."""
    t = Text(lang)
    h = result.history
    s = summary(result)
    o = result.options
    times = anchor_times(result)
    verdict = (
        f'<div class="verdict pass">{t.html(t("pass"))}</div>'
        if result.ok
        else f'<div class="verdict fail">{t.html(t("fail", n=f"{len(result.violations):,}"))}</div>'
    )
    first_open, outcome_open = s["overdue_first_review_open"], s["overdue_outcome_open"]
    median = "–" if times.median is None else t.duration(times.median)
    median_label = t("kpi_anchor_median") + ("" if times.measured else " (≤)")
    kpis = "".join(
        [
            _kpi(t, s["anchored_size"], t("kpi_anchored")),
            _kpi(t, s["checkpoints"], t("kpi_checkpoints")),
            _kpi(t, median, median_label),
            _kpi(t, s["direct_commitments"], t("kpi_directs")),
            _kpi(t, s["reviews"], t("kpi_reviews")),
            _kpi(t, s["disclosures"], t("kpi_disclosures")),
            _kpi(t, s["violations"], t("kpi_violations"), bad=s["violations"] > 0),
            _kpi(t, first_open, t("kpi_first_open"), bad=first_open > 0),
            _kpi(t, outcome_open, t("kpi_outcome_open"), bad=outcome_open > 0),
        ]
    )
    meta = t(
        "meta",
        contract="{contract}",
        chain=h.chain_id,
        first=h.from_block,
        last=h.to_block,
        as_of="{as_of}",
        source="{source}",
    )
    meta = (
        escape(meta)
        .replace("{contract}", code(h.contract))
        .replace("{as_of}", t.when_html(h.head_timestamp))
        .replace("{source}", f'<span lang="en">{escape(result.source)}</span>')
    )
    rules = t(
        "meta_rules",
        delay=t.duration(h.max_merge_delay),
        ack=f"{o.first_review_days:g}",
        outcome=f"{o.outcome_days:g}",
        basis=o.basis,
    )
    terms = "".join(
        f"<dt>{t.html(term)}</dt><dd>{t.html(text)}</dd>"
        for term, text in t.terms(h.max_merge_delay)
    )
    notes = (
        f"<h2>{t.html(t('h_notes'))}</h2><ul lang='en'>"
        + "".join(f"<li>{escape(n)}</li>" for n in result.notes)
        + "</ul>"
        if result.notes
        else ""
    )
    overdue_first = overdue_section(
        t,
        t("h_first_overdue"),
        result.overdue_first_review,
        result.now,
        t("what_first"),
        "col_done_first",
    )
    overdue_outcome = overdue_section(
        t, t("h_outcome_overdue"), result.overdue_outcome, result.now, t("what_outcome"),
        "col_done_outcome",
    )  # fmt: skip
    unit = t("seconds_unit")
    timings = ", ".join(f"{k} {v:.2f} {unit}" for k, v in result.timings.items())
    return f"""<!DOCTYPE html>
<html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{t.html(t("doc_title", contract=h.contract, chain=h.chain_id))}</title>
<style>{CSS}</style></head>
<body>
<h1>{t.html(t("title"))}</h1>
<p class="meta">{meta}</p>
<p class="meta">{escape(rules)}</p>
{verdict}
<div class="kpis">{kpis}</div>
<details open><summary>{t.html(t("h_terms"))}</summary><dl class="terms">{terms}</dl></details>
<h2>{t.html(t("h_violations"))}</h2>
{violations_table(t, result)}
{_agencies_section(t, result)}
<h2>{t.html(t("h_charts"))}</h2>
{_charts(t, result)}
{overdue_first}
{overdue_outcome}
<h2>{t.html(t("h_directs", n=f"{len(result.directs):,}"))}</h2>
{directs_table(t, result)}
<h2>{t.html(t("h_disclosures", n=f"{len(result.disclosures):,}"))}</h2>
{disclosures_table(t, result)}
{checkpoints_table(t, result)}
{notes}
<p class="meta">{t.html(t("footer", timings=timings))}</p>
</body></html>
"""


def write_html(result: AuditResult, path: Path, lang: Lang = "th") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(render_html(result, lang), encoding="utf-8")
    tmp.replace(path)
