"""The audit, start to finish: read the chain once, stream the published entries once, check.

``audit_log`` runs every check on a ``ChainHistory`` and an ``EntrySource`` (pure apart from the
source, so tests can hand it synthetic histories); ``run_audit`` reads the history from a
contract first. Neither raises for what it finds: findings are ``Violation``s in the result,
and only a failure to carry the audit out (chain or source unreachable) raises a LedgerError.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Protocol

from ledger.audit.agencies import (
    AgencySummary,
    agency_summaries,
    check_authority,
    check_routing,
)
from ledger.audit.arrivals import ArrivalCheck, ArrivalSource
from ledger.audit.chain_history import DEFAULT_CHUNK_BLOCKS, AnchorProofReader, read_history
from ledger.audit.checks import (
    AnchorCheck,
    DirectCheck,
    DisclosureCheck,
    LogScan,
    ProofReader,
    Violation,
    check_anchors,
    check_direct_commitments,
    check_disclosures,
    check_reviews,
    increasing_anchors,
)
from ledger.audit.deadlines import DEFAULT, PRESETS, Deadlines
from ledger.audit.history import ChainHistory
from ledger.audit.sources import EntrySource
from ledger.audit.timeline import (
    DAY,
    DeadlineTracker,
    OverdueList,
    ReviewIndex,
    TipTimeline,
    review_timelines,
)
from ledger.chain.contract import TipLedgerContract
from ledger.core.names import STATUS_LABELS, status_label

__all__ = ["AuditOptions", "AuditResult", "NoProgress", "Progress", "audit_log", "run_audit"]


@dataclass(frozen=True)
class AuditOptions:
    """Deadlines in days (default: the ``th`` preset, ``ledger.audit.deadlines``); ``preset``
    names the preset they came from (ignored when the days are not that preset's)."""

    first_review_days: float = PRESETS[DEFAULT].ack_days
    outcome_days: float = PRESETS[DEFAULT].outcome_days
    preset: str = DEFAULT

    @classmethod
    def of(cls, deadlines: Deadlines) -> AuditOptions:
        return cls(deadlines.ack_days, deadlines.outcome_days, deadlines.name)

    @property
    def deadlines(self) -> Deadlines:
        preset = PRESETS.get(self.preset)
        days = (self.first_review_days, self.outcome_days)
        if preset is not None and (preset.ack_days, preset.outcome_days) == days:
            return preset
        return Deadlines(*days)

    @property
    def basis(self) -> str:
        return self.deadlines.basis

    @property
    def first_review_limit(self) -> int:
        return round(self.first_review_days * DAY)

    @property
    def outcome_limit(self) -> int:
        return round(self.outcome_days * DAY)


class Progress(Protocol):
    """Where the audit reports how far it is (the CLI draws a progress bar)."""

    def begin(self, stage: str, total: int | None) -> None: ...

    def total(self, total: int) -> None: ...

    def advance(self, amount: int) -> None: ...


class NoProgress:
    def begin(self, stage: str, total: int | None) -> None:
        pass

    def total(self, total: int) -> None:
        pass

    def advance(self, amount: int) -> None:
        pass


@dataclass
class AuditResult:
    """Everything the audit established; ``ok`` when it found no violation."""

    history: ChainHistory
    source: str
    options: AuditOptions
    served: int
    anchors: list[AnchorCheck]
    directs: list[DirectCheck]
    disclosures: list[DisclosureCheck]
    timelines: list[TipTimeline]
    overdue_first_review: OverdueList
    overdue_outcome: OverdueList
    outcomes: dict[str, int]
    violations: list[Violation]
    agencies: list[AgencySummary] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    # Checked arrival times (``ledger.audit.arrivals``); None when the audit had no access.
    arrivals: ArrivalCheck | None = None

    @property
    def ok(self) -> bool:
        return not self.violations

    @property
    def now(self) -> int:
        return self.history.head_timestamp


def audit_log(
    history: ChainHistory,
    source: EntrySource,
    options: AuditOptions | None = None,
    *,
    progress: Progress | None = None,
    proofs: ProofReader | None = None,
    timings: dict[str, float] | None = None,
    arrivals: ArrivalSource | None = None,
) -> AuditResult:
    """Check the entries ``source`` serves against ``history`` (see the package doc); with
    ``arrivals``, also each tip's signed arrival time (its time to anchor)."""
    options = options or AuditOptions()
    progress = progress or NoProgress()
    timings = {} if timings is None else timings
    anchors = increasing_anchors(history.anchors)
    reviews = ReviewIndex(history.reviews)
    now = history.head_timestamp
    tracker = DeadlineTracker(
        anchors, reviews, now, options.first_review_limit, options.outcome_limit
    )
    wanted = {d.commitment for d in history.direct_commitments}
    wanted.update(r.commitment for r in history.reviews)
    wanted.update(r.commitment for r in history.agencies.referrals)
    arrival_check = ArrivalCheck(history, anchors, arrivals) if arrivals is not None else None
    hooks = [tracker.page] + ([arrival_check.page] if arrival_check is not None else [])
    scan = LogScan(wanted, on_page=hooks)

    target = history.anchored_size
    progress.begin("entries", target)
    t = time.perf_counter()
    for page in source.pages(0, target):
        scan.add(page)
        progress.advance(len(page))
    timings["entries"] = time.perf_counter() - t

    progress.begin("checks", None)
    t = time.perf_counter()
    tree = scan.tree
    anchor_checks, violations = check_anchors(tree, history.anchors, history.stored, proofs)
    violations += scan.duplicate_violations(anchors)
    directs, found = check_direct_commitments(
        history.direct_commitments, scan.index_of, anchors, history.max_merge_delay, now
    )
    violations += found
    violations += check_reviews(history.reviews, scan.index_of, tree.size)
    violations += check_authority(history.agencies, history.reviews, scan.index_of)
    found, routing_notes = check_routing(history.agencies.routed, history.anchors)
    violations += found
    agencies = agency_summaries(
        history.agencies, history.reviews, history.anchors, options.deadlines, now
    )
    disclosures, found = check_disclosures(
        history.disclosures, history.roles, history.thresholds, history.chain_id, history.contract
    )
    violations += found
    if arrival_check is not None:
        violations += arrival_check.violations
    timelines = review_timelines(reviews, scan.index_of, anchors)
    outcomes: Counter[str] = Counter({label: 0 for label in STATUS_LABELS.values()})
    reviewed_in_log = 0
    for c, status in reviews.latest_status.items():
        if c in scan.index_of:
            outcomes[status_label(status)] += 1
            reviewed_in_log += 1
    outcome_counts = {"never reviewed": tree.size - reviewed_in_log, **outcomes}
    timings["checks"] = time.perf_counter() - t
    violations.sort(key=lambda v: (v.block if v.block is not None else -1, v.index or 0))
    return AuditResult(
        history=history,
        source=source.description,
        options=options,
        served=tree.size,
        anchors=anchor_checks,
        directs=directs,
        disclosures=disclosures,
        timelines=timelines,
        overdue_first_review=tracker.first_review,
        overdue_outcome=tracker.outcome,
        outcomes=outcome_counts,
        violations=violations,
        agencies=agencies,
        notes=[
            *history.notes,
            *routing_notes,
            *(arrival_check.notes() if arrival_check is not None else []),
        ],
        timings=timings,
        arrivals=arrival_check,
    )


def run_audit(
    contract: TipLedgerContract,
    source: EntrySource,
    options: AuditOptions | None = None,
    *,
    from_block: int = 0,
    to_block: int | None = None,
    deploy_tx: bytes | None = None,
    chunk_blocks: int = DEFAULT_CHUNK_BLOCKS,
    progress: Progress | None = None,
    arrivals: ArrivalSource | None = None,
) -> AuditResult:
    """Read ``contract``'s history from ``from_block`` and audit ``source`` against it."""
    progress = progress or NoProgress()
    timings: dict[str, float] = {}
    started = time.perf_counter()
    source.probe()
    progress.begin("chain events", None)
    history = read_history(
        contract,
        from_block=from_block,
        to_block=to_block,
        deploy_tx=deploy_tx,
        chunk_blocks=chunk_blocks,
        advance=progress.advance,
        set_total=progress.total,
    )
    timings["chain"] = time.perf_counter() - started
    result = audit_log(
        history,
        source,
        options,
        progress=progress,
        proofs=AnchorProofReader(contract),
        timings=timings,
        arrivals=arrivals,
    )
    timings["total"] = time.perf_counter() - started
    return result
