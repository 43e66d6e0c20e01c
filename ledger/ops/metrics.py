"""Prometheus metrics of a running service, and the public figures of ``/healthz``.

Every figure that moves with each tip (the intake's counters, the pending count, the
sequencer's counts) is read as it stood at the last whole-second boundary (``AsOfSecond``):
polled as often as one likes, they tell how many tips each whole second brought, never when
inside a second a tip came. The log's size and anchors move no finer than the public log.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import replace
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from ledger.errors import ChainError, LedgerError

if TYPE_CHECKING:
    from ledger.log.sequencer import Sequencer
    from ledger.service import Health, LedgerService

__all__ = ["metrics_registry", "public_health"]

log = logging.getLogger("tipledger.metrics")


def public_health(service: LedgerService) -> Health:
    """``service.health()`` with its pending counts as of the last second boundary."""
    health = service.health()
    pending = _public_pending(service)
    sequencer = dict(health.sequencer)
    if "pending" in sequencer:
        sequencer["pending"] = pending
    return replace(health, pending=pending, sequencer=sequencer)


def _public_pending(service: LedgerService) -> int | None:
    # Only the local sequencer's count of ended seconds' tips, taken at its steps and read as of
    # the last boundary; a live COUNT(*) would move with every tip. A worker without a sequencer
    # (serve --workers) says None.
    sequencer = service.sequencer
    return None if sequencer is None else sequencer.public_status.pending


def metrics_registry(service: LedgerService) -> CollectorRegistry:
    """A registry whose one collector reads ``service`` at each scrape."""
    registry = CollectorRegistry()
    registry.register(_Metrics(service))
    return registry


class _Metrics:
    """Prometheus collector reading the service's live state at scrape time."""

    def __init__(self, service: LedgerService) -> None:
        self.service = service

    def collect(self) -> Iterator[Metric]:
        service = self.service
        stats = service.intake.public_stats()
        yield _counter(
            "tipledger_submissions_accepted",
            "Submissions stored durably and promised (new commitments).",
            stats.accepted,
        )
        yield _counter(
            "tipledger_submissions_duplicate",
            "Submissions whose commitment was already known (answered with the existing entry).",
            stats.duplicates,
        )
        yield _counter(
            "tipledger_submissions_failed",
            "Submissions refused because their transaction failed.",
            stats.failed,
        )
        yield _counter(
            "tipledger_intake_batches",
            "Group-commit transactions (each stores every submission waiting).",
            stats.batches,
        )
        yield _counter(
            "tipledger_intake_batch_seconds",
            "Time spent in group-commit transactions.",
            stats.batch_seconds,
        )
        try:
            health = public_health(service)
            latency = service.observe_anchors()
        except (LedgerError, ChainError) as exc:
            log.warning("metrics: %s", exc)
            return
        sequencer = health.sequencer
        if health.pending is not None:  # only where the sequencer runs (see _public_pending)
            yield _gauge(
                "tipledger_pending_submissions",
                "Accepted submissions of ended seconds not yet in the log.",
                health.pending,
            )
        yield _gauge("tipledger_log_size", "Entries in the log.", health.log_size)
        yield _gauge(
            "tipledger_anchored_tree_size",
            "Tree size of the latest checkpoint anchored on chain.",
            health.anchored_size,
        )
        if health.last_anchor_at is not None:
            yield _gauge(
                "tipledger_last_anchor_timestamp_seconds",
                "Block timestamp of the latest anchored checkpoint.",
                health.last_anchor_at,
            )
        yield _gauge(
            "tipledger_sequencer_leader",
            "1 when this instance's sequencer holds the lease.",
            1 if sequencer.get("is_leader") else 0,
        )
        yield _gauge(
            "tipledger_sequencer_halted",
            "1 when the sequencer refuses to anchor (a chain that does not match the log).",
            1 if sequencer.get("halted") else 0,
        )
        counts = _sequencer_counts(service.sequencer)
        for name, help_text in (
            ("batches", "Batches the sequencer moved into the log."),
            ("anchors", "Checkpoints the sequencer anchored on chain."),
        ):
            if name in counts:
                yield _counter(f"tipledger_sequencer_{name}", help_text, counts[name])
        buckets, total = latency.snapshot()
        hist = HistogramMetricFamily(
            "tipledger_anchor_latency_seconds",
            "Seconds from a submission's acceptance to the block timestamp of its anchor.",
        )
        hist.add_metric([], buckets, total)
        yield hist


def _sequencer_counts(sequencer: Sequencer | None) -> dict[str, int]:
    if sequencer is None:
        return {}
    status = sequencer.public_status
    out: dict[str, int] = {}
    for name in ("batches", "anchors"):
        value = getattr(status, name, None)
        if isinstance(value, int):
            out[name] = value
    return out


def _counter(name: str, help_text: str, value: float) -> CounterMetricFamily:
    metric = CounterMetricFamily(name, help_text)
    metric.add_metric([], value)
    return metric


def _gauge(name: str, help_text: str, value: float) -> GaugeMetricFamily:
    metric = GaugeMetricFamily(name, help_text)
    metric.add_metric([], value)
    return metric
