"""Anchor latency per submission, as a Prometheus histogram filled from the database."""

from __future__ import annotations

import threading

from ledger.store import StoredCheckpoint
from ledger.store.submissions import SubmissionStore

__all__ = ["LATENCY_BUCKETS", "LatencyTracker"]

# Seconds from acceptance to the anchoring block's timestamp; both are whole seconds, so the
# finest meaningful bucket is one second.
LATENCY_BUCKETS = (0.0, 1.0, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0, 86400.0)


class LatencyTracker:
    """Anchor latency per submission, ``block_timestamp - received_at``, as a histogram.

    Filled from the database (one GROUP BY per new checkpoint), so it counts what was anchored
    whichever instance's sequencer did it, and costs nothing on the submission path.
    """

    def __init__(self) -> None:
        self.size = -1  # entries covered so far; -1 until the first scrape
        self.buckets = [0] * len(LATENCY_BUCKETS)
        self.count = 0
        self.total = 0.0
        self._lock = threading.Lock()

    def catch_up(self, submissions: SubmissionStore, cp: StoredCheckpoint) -> None:
        with self._lock:
            if self.size < 0:
                self.size = cp.tree_size  # history before this process is not ours to time
                return
            if cp.tree_size <= self.size:
                return
            for received_at, n in submissions.received_counts(self.size, cp.tree_size):
                latency = max(0.0, float(cp.block_timestamp - received_at))
                for i, bound in enumerate(LATENCY_BUCKETS):
                    if latency <= bound:
                        self.buckets[i] += n
                self.count += n
                self.total += latency * n
            self.size = cp.tree_size

    def snapshot(self) -> tuple[list[tuple[str, float]], float]:
        with self._lock:
            pairs = zip(LATENCY_BUCKETS, self.buckets, strict=True)
            cumulative = [(_bound(b), float(n)) for b, n in pairs]
            cumulative.append(("+Inf", float(self.count)))
            return cumulative, self.total


def _bound(value: float) -> str:
    return str(int(value)) + ".0"
