"""Accountability per agency (``ledger.audit.agencies``) on event histories built by hand."""

from __future__ import annotations

from dataclasses import replace

from audit_synthetic import (
    T0,
    agency_added,
    anchors_for,
    entries,
    member,
    opened,
    referred,
    review,
    routed_for,
)
from eth_utils.address import to_checksum_address
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.audit.agencies import AgencySummary, agency_summaries, check_authority, check_routing
from ledger.audit.deadlines import PRESETS
from ledger.audit.history import AgencyHistory
from ledger.chain.contract import ReviewEvent
from ledger.core.agency import agency_id
from ledger.core.encoding import to_hex

DAY = 86_400
ALICE = to_checksum_address("0x00000000000000000000000000000000000a11ce")  # intake
BOB = to_checksum_address("0x0000000000000000000000000000000000000b0b")  # police
CAROL = to_checksum_address("0x00000000000000000000000000000000000ca201")  # removed, block 40
LOG = entries(6)
ANCHORS = anchors_for(LOG, [4, 6], spacing=DAY)  # size 4 at T0 + 1 day, size 6 at T0 + 2 days
NOW = T0 + 40 * DAY


def scenario() -> tuple[AgencyHistory, list[ReviewEvent]]:
    """Two agencies; batch 1 (4 tips): intake 3, police 1; batch 2 (2 tips): intake 2.
    intake answers entry 0 (day 3, outcome day 11), refers entry 1 to police (day 5), closes
    entry 4 (day 4); police substantiates entry 1 (day 20) and looks at entry 3 (day 30).
    Entries 2 and 5 are never opened."""
    history = AgencyHistory(
        agencies=[
            agency_added("intake", 2, name_th="ศูนย์รับเรื่อง", name_en="Intake desk"),
            agency_added("police", 3, name_th="ตำรวจ", name_en="Police"),
        ],
        members=[
            member("intake", ALICE, 4),
            member("police", BOB, 4, 1),
            member("intake", CAROL, 5),
            member("intake", CAROL, 40, removed=True),
        ],
        routed=[
            routed_for(ANCHORS[0], 0, {"intake": 3, "police": 1}),
            routed_for(ANCHORS[1], 4, {"intake": 2}),
        ],
        opened=[
            opened(LOG[0], "intake", 4, 0, 20),
            opened(LOG[1], "intake", 4, 1, 21),
            opened(LOG[3], "police", 4, 3, 36),
            opened(LOG[4], "intake", 6, 0, 22),
        ],
        referrals=[referred(LOG[1], "intake", "police", ALICE, 21, T0 + 5 * DAY, log_index=1)],
    )
    police = agency_id("police")
    reviews = [
        review(LOG[0], ALICE, 20, T0 + 3 * DAY, status=1, log_index=1),
        review(LOG[4], ALICE, 22, T0 + 4 * DAY, status=5, log_index=1),
        review(LOG[0], ALICE, 30, T0 + 11 * DAY, status=3),
        review(LOG[1], BOB, 35, T0 + 20 * DAY, status=2, agency=police),
        review(LOG[3], BOB, 36, T0 + 30 * DAY, status=1, log_index=1, agency=police),
    ]
    return history, reviews


def by_slug(summaries: list[AgencySummary]) -> dict[str, AgencySummary]:
    return {s.slug: s for s in summaries}


# --- who may act -----------------------------------------------------------------------------


def test_a_clean_history_has_no_finding() -> None:
    history, reviews = scenario()
    assert check_authority(history, reviews) == []


def test_a_review_after_referring_the_case_away_is_caught_and_named() -> None:
    history, reviews = scenario()
    late = review(LOG[1], ALICE, 50, T0 + 30 * DAY, status=3)
    found = check_authority(history, [*reviews, late], {c: i for i, c in enumerate(LOG)})
    assert [(v.kind, v.block, v.index) for v in found] == [("review-unauthorised", 50, 1)]
    message = found[0].message
    assert to_hex(LOG[1]) in message
    assert ALICE in message
    assert "agency intake" in message
    assert "intake did not hold the case then: it referred it to police in block 21" in message


def test_keeping_access_lets_the_referring_agency_review_on() -> None:
    history, reviews = scenario()
    kept = replace(history.referrals[0], keep_access=True)
    history = replace(history, referrals=[kept])
    later = review(LOG[1], ALICE, 50, T0 + 30 * DAY, status=3)
    assert check_authority(history, [*reviews, later]) == []


def test_a_removed_members_review_is_caught() -> None:
    history, reviews = scenario()
    before = review(LOG[4], CAROL, 39, T0 + 6 * DAY, status=1)
    after = review(LOG[4], CAROL, 41, T0 + 7 * DAY, status=2)
    found = check_authority(history, [*reviews, before, after])
    assert [(v.kind, v.block) for v in found] == [("review-unauthorised", 41)]
    assert f"by {CAROL}: not a member of intake then (it was removed in block 40)" in (
        found[0].message
    )


def test_a_non_member_an_unheld_case_and_an_unknown_agency_are_each_caught() -> None:
    history, reviews = scenario()
    intruders = [
        review(LOG[0], BOB, 45, NOW, status=2),  # police's member, for intake
        review(LOG[0], BOB, 46, NOW, status=2, agency=agency_id("police")),  # police not holding
        review(LOG[0], ALICE, 47, NOW, agency=agency_id("customs")),
    ]
    found = check_authority(history, [*reviews, *intruders])
    assert [v.block for v in found] == [45, 46, 47]
    assert "not a member of intake then (it was never added)" in found[0].message
    assert "police did not hold the case then: it never held it" in found[1].message
    assert "customs is not an agency" in found[2].message


def test_a_referral_by_an_outsider_is_caught() -> None:
    history, reviews = scenario()
    bad = referred(LOG[0], "intake", "police", BOB, 48, NOW, log_index=0)
    found = check_authority(replace(history, referrals=[*history.referrals, bad]), reviews)
    assert [(v.kind, v.block) for v in found] == [("referral-unauthorised", 48)]
    assert "referral of commitment" in found[0].message
    assert "from agency intake to police by " + BOB in found[0].message


def test_the_opening_review_is_allowed_whatever_order_its_transaction_logs_them_in() -> None:
    history, reviews = scenario()
    # CaseOpened logged after the review in the same transaction.
    first = reviews[0]
    moved = replace(history.opened[0], log_index=2, tx_hash=first.tx_hash)
    history = replace(history, opened=[moved, *history.opened[1:]])
    assert check_authority(history, reviews) == []


def test_routing_counts_must_sum_to_the_batch() -> None:
    history, _ = scenario()
    assert check_routing(history.routed, ANCHORS) == ([], [])
    wrong = replace(history.routed[1], counts=(3,))
    found, notes = check_routing([history.routed[0], wrong], ANCHORS)
    assert [(v.kind, v.block, v.index) for v in found] == [("routing-counts", 11, 4)]
    assert notes == []
    _, notes = check_routing(history.routed[:1], ANCHORS)
    assert notes == ["1 checkpoint(s) carry no routing: their tips count for no agency"]


# --- figures ---------------------------------------------------------------------------------


def test_figures_on_a_small_history_computed_by_hand() -> None:
    history, reviews = scenario()
    s = by_slug(agency_summaries(history, reviews, ANCHORS, PRESETS["th"], NOW))
    intake, police = s["intake"], s["police"]
    assert (intake.name_th, intake.name_en, intake.active) == ("ศูนย์รับเรื่อง", "Intake desk", True)
    assert (intake.received, intake.opened, intake.referrals_in, intake.referrals_out) == (
        5,
        3,
        0,
        1,
    )
    assert intake.reviews == 3
    # From anchors at day 1 (entries 0, 1) and day 2 (entry 4).
    assert intake.to_ack == [2 * DAY, 2 * DAY, 4 * DAY]
    assert (intake.ack_median, intake.ack_worst) == (2 * DAY, 4 * DAY)
    assert intake.to_outcome == [2 * DAY, 4 * DAY, 10 * DAY]
    assert (intake.outcome_median, intake.outcome_worst) == (4 * DAY, 10 * DAY)
    # 15 days: both batches are due; entries 2 and 5 never opened.
    assert (intake.ack.due, intake.ack.late, intake.ack.open) == (5, 2, 2)
    assert (intake.outcome.due, intake.outcome.late) == (0, 0)  # 90 days: none due yet

    assert (police.received, police.opened, police.referrals_in, police.referrals_out) == (
        1,
        1,
        1,
        0,
    )
    assert police.to_ack == [19 * DAY, 29 * DAY]  # entry 1 referred in, entry 3 its own
    assert police.ack_median == 24 * DAY
    assert police.to_outcome == [19 * DAY]
    assert (police.ack.due, police.ack.late, police.ack.open) == (1, 1, 0)  # answered on day 30


def test_the_eu_outcome_deadline_and_json() -> None:
    history, reviews = scenario()
    later = T0 + 100 * DAY
    s = by_slug(agency_summaries(history, reviews, ANCHORS, PRESETS["eu"], later))
    intake = s["intake"]
    # 92 days: entries 0, 1 and 4 had their outcome in time; 2 and 5 never.
    assert (intake.outcome.due, intake.outcome.late, intake.outcome.open) == (5, 2, 2)
    # 7 days: entry 0 (day 3), 1 (day 5) and 4 (day 4) in time.
    assert (intake.ack.due, intake.ack.late) == (5, 2)
    data = intake.to_json()
    assert data["agency"] == "intake"
    assert data["received"] == 5
    assert data["to_first_response"] == {"count": 3, "median": 2 * DAY, "worst": 4 * DAY}
    assert data["past_outcome_deadline"] == {"limit_days": 92, "due": 5, "late": 2, "open": 2}


def test_a_deadline_not_yet_passed_counts_nothing() -> None:
    history, reviews = scenario()
    s = by_slug(agency_summaries(history, reviews, ANCHORS, PRESETS["th"], T0 + 16 * DAY))
    assert s["intake"].ack.due == 0  # batch 1's deadline is T0 + 16 days: not before now


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.lists(st.integers(0, 5), min_size=3, max_size=3).filter(lambda c: sum(c) > 0),
        min_size=1,
        max_size=6,
    ),
    st.integers(0, 60),
)
def test_counts_received_sum_to_the_log_and_late_never_exceeds_due(
    batches: list[list[int]], now_days: int
) -> None:
    slugs = ["intake", "police", "customs"]
    sizes, total = [], 0
    for counts in batches:
        total += sum(counts)
        sizes.append(total)
    log = entries(total)
    anchors = anchors_for(log, sizes, spacing=DAY)
    previous = [0, *sizes[:-1]]
    history = AgencyHistory(
        agencies=[agency_added(s, 2, k) for k, s in enumerate(slugs)],
        routed=[
            routed_for(a, p, {s: n for s, n in zip(slugs, counts, strict=True) if n})
            for a, p, counts in zip(anchors, previous, batches, strict=True)
        ],
    )
    summaries = agency_summaries(history, [], anchors, PRESETS["th"], T0 + now_days * DAY)
    assert sum(s.received for s in summaries) == total
    for s in summaries:
        assert s.ack.open == s.ack.late <= s.ack.due <= s.received  # nothing opened: all late
    assert check_routing(history.routed, anchors) == ([], [])


def test_a_referral_to_an_inactive_agency_is_caught() -> None:
    history, reviews = scenario()
    off = replace(history.agencies[1], kind="active", active=False, block_number=15)
    history = replace(history, agencies=[*history.agencies, off])
    found = check_authority(history, reviews)
    # The referral of entry 1 (block 21) and police's reviews of a case it then held anyway.
    assert [(v.kind, v.block) for v in found] == [("referral-unauthorised", 21)]
    assert found[0].message.endswith("police was inactive then (since block 15)")
    back_on = replace(off, active=True, block_number=16)
    history = replace(history, agencies=[*history.agencies, back_on])
    assert check_authority(history, reviews) == []
