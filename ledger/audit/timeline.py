"""How long things took, from chain timestamps alone: anchoring, first review, outcome.

A tip's clock starts when the first checkpoint covering its entry was anchored (the anchoring
block's time). Its first review is its first ``ReviewRecorded`` event (any status), its outcome
the first with a final status: 2 substantiated, 3 unsubstantiated, 4 referred, 5 closed
(``ledger.core.names``; reports show a status by its label, "under review" for 1). A tip
is past a deadline if that event came later than anchor time + the limit, or has not come and
the latest block is past it (EU directive 2019/1937: acknowledge within 7 days, give feedback
within 3 months).

The log can hold millions of entries, so the deadline tracker runs inside the one pass over the
served entries (``LogScan`` calls ``DeadlineTracker.page``) and keeps overdue tips compactly;
the tips whose deadline has passed are always a prefix of the log, since anchors only grow.
"""

from __future__ import annotations

import bisect
from array import array
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from ledger.chain.contract import AnchoredEvent, DirectCommitmentEvent, ReviewEvent
from ledger.core.encoding import to_hex
from ledger.core.merkle import HASH_SIZE
from ledger.core.names import OUTCOME_STATUSES, status_label

__all__ = [
    "DAY",
    "OUTCOME_STATUSES",
    "DeadlineTracker",
    "Overdue",
    "OverdueList",
    "ReviewIndex",
    "TipTimeline",
    "anchor_waits",
    "histogram",
    "per_period",
    "review_timelines",
]

DAY = 86_400


class ReviewIndex:
    """Per commitment: first review time, first outcome time, latest status."""

    def __init__(self, reviews: Sequence[ReviewEvent]) -> None:
        self.first_review_at: dict[bytes, int] = {}
        self.outcome_at: dict[bytes, int] = {}
        self.latest_status: dict[bytes, int] = {}
        for r in sorted(reviews, key=lambda r: (r.block_number, r.log_index)):
            self.first_review_at.setdefault(r.commitment, r.timestamp)
            if r.status in OUTCOME_STATUSES:
                self.outcome_at.setdefault(r.commitment, r.timestamp)
            self.latest_status[r.commitment] = r.status


@dataclass(frozen=True)
class Overdue:
    """A tip past a deadline: ``done_at`` is when the awaited event came (late), None if open."""

    index: int
    commitment: bytes
    anchored_at: int
    deadline: int
    done_at: int | None

    def late_by(self, now: int) -> int:
        return (self.done_at if self.done_at is not None else now) - self.deadline

    def to_json(self, now: int) -> dict[str, object]:
        return {
            "index": self.index,
            "commitment": to_hex(self.commitment),
            "anchored_at": self.anchored_at,
            "deadline": self.deadline,
            "done_at": self.done_at,
            "late_by": self.late_by(now),
        }


class OverdueList:
    """Overdue tips in arrays (48 bytes a tip), so a million of them stay cheap."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._index = array("q")
        self._deadline = array("q")
        self._done = array("q")
        self._commitments = bytearray()

    def add(self, index: int, commitment: bytes, deadline: int, done_at: int | None) -> None:
        self._index.append(index)
        self._deadline.append(deadline)
        self._done.append(-1 if done_at is None else done_at)
        self._commitments += commitment

    def __len__(self) -> int:
        return len(self._index)

    def __getitem__(self, i: int) -> Overdue:
        done = self._done[i]
        c = bytes(self._commitments[i * HASH_SIZE : (i + 1) * HASH_SIZE])
        deadline = self._deadline[i]
        return Overdue(
            self._index[i], c, deadline - self.limit, deadline, None if done < 0 else done
        )

    def __iter__(self) -> Iterator[Overdue]:
        return (self[i] for i in range(len(self)))

    @property
    def open_count(self) -> int:
        return self._done.tolist().count(-1)


class DeadlineTracker:
    """Finds, page by page, the tips past the first-review and outcome deadlines."""

    def __init__(
        self,
        anchors: Sequence[AnchoredEvent],
        reviews: ReviewIndex,
        now: int,
        first_review_limit: int,
        outcome_limit: int,
    ) -> None:
        self.now = now
        # Batches: entries [start, end) first anchored at time ts.
        self._ends: list[int] = []
        self._times: list[int] = []
        for a in anchors:  # increasing sizes
            self._ends.append(a.tree_size)
            self._times.append(a.timestamp)
        self.first_review = OverdueList(first_review_limit)
        self.outcome = OverdueList(outcome_limit)
        self._tracks = [
            (self.first_review, reviews.first_review_at, self._due_prefix(first_review_limit)),
            (self.outcome, reviews.outcome_at, self._due_prefix(outcome_limit)),
        ]

    def _due_prefix(self, limit: int) -> int:
        """Entries below this index have a deadline that has passed."""
        due = 0
        for end, ts in zip(self._ends, self._times, strict=True):
            if ts + limit >= self.now:
                break
            due = end
        return due

    def page(self, start: int, page: Sequence[bytes]) -> None:
        for overdue, done_at, due in self._tracks:
            stop = min(start + len(page), due)
            pos = start
            b = bisect.bisect_right(self._ends, pos)
            while pos < stop:
                seg_end = min(stop, self._ends[b])
                deadline = self._times[b] + overdue.limit
                get = done_at.get
                for j in range(pos - start, seg_end - start):
                    c = page[j]
                    t = get(c)
                    if t is None or t > deadline:
                        overdue.add(start + j, c, deadline, t)
                pos = seg_end
                b += 1


@dataclass(frozen=True)
class TipTimeline:
    """A reviewed tip's clock, in seconds from the chain."""

    index: int
    commitment: bytes
    anchored_at: int
    first_review_at: int
    outcome_at: int | None
    status: int

    def to_json(self) -> dict[str, object]:
        return {
            "index": self.index,
            "commitment": to_hex(self.commitment),
            "anchored_at": self.anchored_at,
            "first_review_at": self.first_review_at,
            "outcome_at": self.outcome_at,
            "status": self.status,
            "status_name": status_label(self.status),
            "to_first_review": self.first_review_at - self.anchored_at,
            "to_outcome": None if self.outcome_at is None else self.outcome_at - self.anchored_at,
        }


def review_timelines(
    reviews: ReviewIndex, index_of: Mapping[bytes, int], anchors: Sequence[AnchoredEvent]
) -> list[TipTimeline]:
    """The clock of every reviewed tip that is in the anchored log, by entry index."""
    sizes = [a.tree_size for a in anchors]
    out: list[TipTimeline] = []
    for c, first in reviews.first_review_at.items():
        index = index_of.get(c)
        if index is None:
            continue
        k = bisect.bisect_right(sizes, index)
        if k == len(anchors):
            continue
        out.append(
            TipTimeline(
                index=index,
                commitment=c,
                anchored_at=anchors[k].timestamp,
                first_review_at=first,
                outcome_at=reviews.outcome_at.get(c),
                status=reviews.latest_status[c],
            )
        )
    out.sort(key=lambda t: t.index)
    return out


# --- chart data ------------------------------------------------------------------------------


def _day(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")


def _month(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m")


def per_period(anchors: Sequence[AnchoredEvent], *, monthly: bool = False) -> list[tuple[str, int]]:
    """Tips anchored per UTC day (or month), from the checkpoints' sizes and times."""
    label = _month if monthly else _day
    counts: Counter[str] = Counter()
    previous = 0
    for a in anchors:
        counts[label(a.timestamp)] += a.tree_size - previous
        previous = a.tree_size
    return sorted(counts.items())


def anchor_waits(anchors: Sequence[AnchoredEvent], since: int | None) -> list[tuple[int, int]]:
    """``(seconds, tips)`` per checkpoint: the time since the previous checkpoint (or since
    ``since``, the deployment, for the first), which bounds how long each of its tips waited
    to be anchored after the log took it."""
    out: list[tuple[int, int]] = []
    previous_size, previous_time = 0, since
    for a in anchors:
        wait = a.timestamp - previous_time if previous_time is not None else 0
        out.append((max(0, wait), a.tree_size - previous_size))
        previous_size, previous_time = a.tree_size, a.timestamp
    return out


def direct_waits(
    directs: Sequence[DirectCommitmentEvent], anchored_at: Mapping[bytes, int]
) -> list[int]:
    """Seconds from each direct commitment to its first anchoring (anchored ones only)."""
    return [
        max(0, anchored_at[d.commitment] - d.timestamp)
        for d in directs
        if d.commitment in anchored_at
    ]


def histogram(
    values: Sequence[tuple[int, int]], edges: Sequence[tuple[int, str]]
) -> list[tuple[str, int]]:
    """Weighted ``(value, weight)`` pairs counted into buckets ``value <= edge`` (labelled),
    with one last bucket for anything above the last edge."""
    bounds = [e for e, _ in edges]
    counts = [0] * (len(edges) + 1)
    for value, weight in values:
        counts[bisect.bisect_left(bounds, value)] += weight
    labels = [label for _, label in edges] + [f"> {edges[-1][1].removeprefix('≤ ')}"]
    return list(zip(labels, counts, strict=True))


WAIT_EDGES = [
    (1, "≤ 1 s"),
    (2, "≤ 2 s"),
    (5, "≤ 5 s"),
    (30, "≤ 30 s"),
    (60, "≤ 1 min"),
    (600, "≤ 10 min"),
    (3600, "≤ 1 h"),
    (DAY, "≤ 1 day"),
]

REVIEW_EDGES = [
    (DAY, "≤ 1 day"),
    (7 * DAY, "≤ 7 days"),
    (30 * DAY, "≤ 30 days"),
    (92 * DAY, "≤ 3 months"),
    (365 * DAY, "≤ 1 year"),
]
