"""Deadlines and durations from chain timestamps, on synthetic histories."""

from __future__ import annotations

from audit_synthetic import T0, anchors_for, entries, review

from ledger.audit.checks import LogScan
from ledger.audit.timeline import (
    DAY,
    WAIT_EDGES,
    DeadlineTracker,
    ReviewIndex,
    anchor_waits,
    histogram,
    per_period,
    review_timelines,
)

R = "0x00000000000000000000000000000000000A11CE"


def test_tips_past_the_first_review_and_outcome_deadlines() -> None:
    log = entries(10)
    # Checkpoints of sizes 4 and 10, anchored 20 days and 2 days before "now".
    now = T0 + 100 * DAY
    anchors = anchors_for(log, [4, 10])
    anchors = [
        a.__class__(**{**a.__dict__, "timestamp": ts})
        for a, ts in zip(anchors, [now - 20 * DAY, now - 2 * DAY], strict=True)
    ]
    first = anchors[0].timestamp
    reviews = ReviewIndex(
        [
            review(log[0], R, 20, first + 1 * DAY, status=1),  # reviewed in time
            review(log[0], R, 21, first + 10 * DAY, status=3),  # outcome in time
            review(log[1], R, 22, first + 9 * DAY, status=2),  # first review 2 days late
            review(log[5], R, 23, now - DAY, status=1),  # batch 2: deadline not passed
        ]
    )
    tracker = DeadlineTracker(anchors, reviews, now, 7 * DAY, 14 * DAY)
    s = LogScan(on_page=[tracker.page])
    for i in range(0, 10, 3):
        s.add(log[i : i + 3])
    late = list(tracker.first_review)
    assert [(o.index, o.done_at) for o in late] == [
        (1, first + 9 * DAY),
        (2, None),
        (3, None),
    ]
    assert late[0].late_by(now) == 2 * DAY
    assert late[1].late_by(now) == 13 * DAY
    assert late[1].anchored_at == first
    assert late[1].deadline == first + 7 * DAY
    assert tracker.first_review.open_count == 2
    # Outcome within 14 days: entry 0 had it (day 10), entry 1 too (status 2 on day 9).
    assert [(o.index, o.done_at) for o in tracker.outcome] == [(2, None), (3, None)]
    assert late[1].to_json(now)["late_by"] == 13 * DAY


def test_review_timelines_measure_from_the_covering_checkpoint() -> None:
    log = entries(6)
    anchors = anchors_for(log, [2, 6], spacing=100)
    reviews = ReviewIndex(
        [
            review(log[3], R, 30, T0 + 500, status=1),
            review(log[3], R, 31, T0 + 900, status=5),
            review(log[0], R, 32, T0 + 150, status=4),
            review(b"\x99" * 32, R, 33, T0 + 150, status=4),  # not in the log: no timeline
        ]
    )
    timelines = review_timelines(reviews, {log[0]: 0, log[3]: 3}, anchors)
    assert [
        (t.index, t.anchored_at, t.first_review_at, t.outcome_at, t.status) for t in timelines
    ] == [
        (0, T0 + 100, T0 + 150, T0 + 150, 4),
        (3, T0 + 200, T0 + 500, T0 + 900, 5),
    ]
    assert timelines[1].to_json()["to_outcome"] == 700


def test_chart_series() -> None:
    log = entries(12)
    anchors = anchors_for(log, [2, 5, 12], spacing=DAY // 2)
    assert per_period(anchors) == [("2027-01-15", 2), ("2027-01-16", 10)]
    assert per_period(anchors, monthly=True) == [("2027-01", 12)]
    waits = anchor_waits(anchors, T0)
    assert waits == [(DAY // 2, 2), (DAY // 2, 3), (DAY // 2, 7)]
    buckets = dict(histogram([(0, 4), (1, 1), (3, 2), (DAY // 2, 12), (2 * DAY, 1)], WAIT_EDGES))
    assert buckets["≤ 1 s"] == 5
    assert buckets["≤ 5 s"] == 2
    assert buckets["≤ 1 day"] == 12
    assert buckets["> 1 day"] == 1
