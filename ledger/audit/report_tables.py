"""The HTML report's tables: violations, overdue tips, direct commitments, disclosures and
checkpoints, each at most ``HTML_ROWS`` rows (the JSON report has them all). Wide tables scroll
inside their box, so the page itself never scrolls sideways on a phone.
"""

from __future__ import annotations

from collections.abc import Iterable
from html import escape

from ledger.audit.auditor import AuditResult
from ledger.audit.report_text import Text
from ledger.audit.timeline import OverdueList
from ledger.core.encoding import to_hex

__all__ = [
    "HTML_ROWS",
    "checkpoints_table",
    "code",
    "directs_table",
    "disclosures_table",
    "overdue_section",
    "violations_table",
]

HTML_ROWS = 200  # rows per table in the HTML page; the JSON report has them all


def _table(
    t: Text, headers: list[str], rows: Iterable[list[str]], numeric: set[int] | None = None
) -> str:
    numeric = numeric or set()
    head = "".join(f"<th>{t.html(h)}</th>" for h in headers)
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


def code(data: bytes | str) -> str:
    text = to_hex(data) if isinstance(data, bytes) else data
    return f"<code>{escape(text)}</code>"


def overdue_section(
    t: Text, title: str, items: OverdueList, now: int, what: str, done_col: str
) -> str:
    if not items:
        return f"<h2>{escape(title)}</h2><p>{t.html(t('none_in_time', what=what))}</p>"
    shown = [items[i] for i in range(min(HTML_ROWS, len(items)))]
    more = (
        f"<p class='meta'>{t.html(t('first_rows', shown=f'{HTML_ROWS:,}', n=f'{len(items):,}'))}"
        "</p>"
        if len(items) > HTML_ROWS
        else ""
    )
    rows = [
        [
            str(o.index),
            code(o.commitment),
            t.when_html(o.anchored_at),
            t.when_html(o.deadline),
            t.when_html(o.done_at) if o.done_at is not None else f"<b>{t('still_open')}</b>",
            escape(t.duration(o.late_by(now))),
        ]
        for o in shown
    ]
    count = t("overdue_count", n=f"{len(items):,}", open=f"{items.open_count:,}")
    return (
        f"<h2>{escape(title)} ({escape(count)})</h2>"
        + _table(
            t,
            [t(k) for k in ("col_entry", "col_commitment", "col_anchored", "col_deadline")]
            + [t(done_col), t("col_late_by")],
            rows,
            {0, 5},
        )
        + more
    )


def violations_table(t: Text, result: AuditResult) -> str:
    if not result.violations:
        return f"<p>{t.html(t('none'))}</p>"
    return _table(
        t,
        [t("col_kind"), t("col_entry"), t("col_block"), t("col_finding")],
        (
            [
                code(v.kind),
                "" if v.index is None else str(v.index),
                "" if v.block is None else str(v.block),
                f'<span lang="en">{escape(v.message)}</span>',
            ]
            for v in result.violations
        ),
        {1, 2},
    )


def directs_table(t: Text, result: AuditResult) -> str:
    if not result.directs:
        return f"<p>{t.html(t('none'))}</p>"
    return _table(
        t,
        [
            t(k)
            for k in (
                "col_commitment",
                "col_block",
                "col_committed",
                "col_status",
                "col_entry",
                "col_anchored",
                "col_delay",
            )
        ],
        (
            [
                code(d.commitment),
                str(d.block_number),
                t.when_html(d.timestamp),
                f"<b class='bad'>{t.html(t('direct_' + d.status))}</b>"
                if d.status in ("late", "missing")
                else t.html(t("direct_" + d.status)),
                "" if d.index is None else str(d.index),
                t.when_html(d.anchored_at),
                "" if d.anchored_at is None else escape(t.duration(d.anchored_at - d.timestamp)),
            ]
            for d in result.directs[:HTML_ROWS]
        ),
        {1, 4},
    )


def disclosures_table(t: Text, result: AuditResult) -> str:
    if not result.disclosures:
        return f"<p>{t.html(t('none'))}</p>"
    return _table(
        t,
        [
            t(k)
            for k in (
                "col_record",
                "col_requester",
                "col_block",
                "col_time",
                "col_threshold",
                "col_custodians",
                "col_verdict",
            )
        ],
        (
            [
                code(d.record_id),
                code(d.requester),
                str(d.block_number),
                t.when_html(d.timestamp),
                str(d.threshold),
                "<br>".join(code(c) for c in d.custodians),
                t.html(t("valid_quorum"))
                if d.ok
                else f"<b class='bad' lang='en'>{escape('; '.join(d.problems))}</b>",
            ]
            for d in result.disclosures[:HTML_ROWS]
        ),
        {2, 4},
    )


def checkpoints_table(t: Text, result: AuditResult) -> str:
    bad = [a for a in result.anchors if a.root_matches is False or a.stored_matches is False]
    shown = bad[:HTML_ROWS] + [a for a in result.anchors[-HTML_ROWS:] if a not in bad]
    shown.sort(key=lambda a: a.block_number)

    def flag(value: bool | None) -> str:
        return "–" if value is None else (t("yes") if value else f"<b class='bad'>{t('no')}</b>")

    partial = t("latest_shown") if len(result.anchors) > len(shown) else ""
    title = t("h_checkpoints", n=f"{len(result.anchors):,}", partial=partial)
    table = _table(
        t,
        [
            t(k)
            for k in (
                "col_size",
                "col_block",
                "col_time",
                "col_root",
                "col_root_matches",
                "col_consistent",
                "col_storage",
            )
        ],
        (
            [
                f"{a.tree_size:,}",
                str(a.block_number),
                t.when_html(a.timestamp),
                code(a.root_hash),
                flag(a.root_matches),
                flag(a.consistent),
                flag(a.stored_matches),
            ]
            for a in shown
        ),
        {0, 1},
    )
    return f"<h2>{escape(title)}</h2>{table}"
