"""The audit's reports: the data they share, and the JSON report for machines.

The JSON report holds every finding and every overdue tip (streamed, so a million of them cost
no more memory than the audit already used). The HTML page for people is ``report_html``.

Time to anchor: with checked arrival times (``ledger.audit.arrivals``, an oversight sign-in),
each tip's is its first checkpoint's block time minus its signed ``received_at``; without them
the public log only bounds it, by the time since the previous checkpoint, and the report says so.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import orjson

from ledger.audit.auditor import AuditResult
from ledger.audit.checks import increasing_anchors
from ledger.audit.timeline import (
    DAY,
    REVIEW_EDGES,
    WAIT_EDGES,
    OverdueList,
    anchor_waits,
    direct_waits,
    histogram,
    per_period,
)

__all__ = [
    "FORMAT",
    "AnchorTimes",
    "anchor_times",
    "chart_data",
    "duration",
    "summary",
    "write_json",
]

FORMAT = "tipledger-audit/1"


def duration(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * DAY:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / DAY:.1f} days"


# --- data ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AnchorTimes:
    """How long the tips sent through the service took to be anchored, and on what basis:
    ``measured`` from checked arrival times, else an upper bound from the checkpoints."""

    measured: bool
    waits: list[tuple[int, int]]  # (seconds, tips)
    tips: int  # tips the figures cover
    api_tips: int  # anchored entries that are not direct commitments
    rejected: int  # arrivals not used (their signature did not check)
    median: float | None
    worst: int | None

    def to_json(self) -> dict[str, object]:
        return {
            "basis": "signed arrival times" if self.measured else "previous checkpoint (bound)",
            "tips": self.tips,
            "api_tips": self.api_tips,
            "rejected": self.rejected,
            "median": self.median,
            "worst": self.worst,
        }


def _weighted_median(waits: list[tuple[int, int]]) -> float | None:
    total = sum(n for _, n in waits)
    half, seen = (total - 1) // 2, 0
    for wait, n in sorted(waits):
        seen += n
        if seen > half:
            return float(wait)
    return None


def anchor_times(result: AuditResult) -> AnchorTimes:
    h = result.history
    api_tips = max(0, h.anchored_size - len(h.direct_commitments))
    a = result.arrivals
    if a is not None and a.measured:
        return AnchorTimes(
            True, sorted(a.waits.items()), a.measured, api_tips, a.rejected, a.median(), a.worst()
        )
    waits = [w for w in anchor_waits(increasing_anchors(h.anchors), h.deploy_timestamp) if w[1]]
    return AnchorTimes(
        False,
        waits,
        sum(n for _, n in waits),
        api_tips,
        a.rejected if a is not None else 0,
        _weighted_median(waits),
        max((w for w, _ in waits), default=None),
    )


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
        "time_to_anchor": histogram(anchor_times(result).waits, WAIT_EDGES),
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
        "time_to_anchor": anchor_times(result).to_json(),
        "charts": chart_data(result),
        "timings": {k: round(v, 3) for k, v in result.timings.items()},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as out:
        _write(out, report)
        out.write(b"\n")
    tmp.replace(path)
