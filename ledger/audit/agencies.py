"""Accountability per agency, from chain events alone (PROTOCOL.md section 16).

Pure functions over the event dataclasses; nothing here reads the chain or the log.

``check_authority`` replays AgencyAdded, AgencyActiveSet, MemberAdded, MemberRemoved, CaseOpened
and Referred in chain order and finds every ReviewRecorded and Referred whose sender was not then
a member of an agency holding the case, and every referral to an unknown or inactive agency (the
contract refuses these; a finding means the contract or the node is not what it claims).

``agency_summaries`` measures each agency. Definitions (the public transparency page uses the
same ones):

- received: the sum of the agency's ``Routed`` counts; referrals in and out: ``Referred``
  events to and from it;
- a case's clock starts at the anchoring of the checkpoint its routing proof named (the
  ``Anchored`` timestamp of ``CaseOpened.treeSize``);
- first response ("ack"): the agency's first ``ReviewRecorded`` for the case, or its referral of
  the case away if that came first (a desk that passes a tip on has acted on it);
- outcome: the agency's first review with a final status (2..5), or its referral away;
- times (median, worst) cover every case the agency acted on, a case referred to it included,
  counted from the tip's anchor (so a referral's wait is part of the next agency's time: the
  tipster's wait is what is measured); cases never answered are in the deadline counts, not here;
- past a deadline: for each ``Routed`` batch whose anchor time + limit is before the latest
  block, the batch's count for the agency minus its cases of that batch answered in time, so a
  tip never opened on chain counts as late. ``open``: those not answered at all yet.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from ledger.audit.checks import Violation
from ledger.audit.deadlines import Deadlines
from ledger.audit.history import AgencyHistory
from ledger.chain.contract import (
    AgencyEvent,
    AnchoredEvent,
    CaseOpenedEvent,
    MemberEvent,
    ReferredEvent,
    ReviewEvent,
    RoutedEvent,
)
from ledger.core.agency import agency_slug
from ledger.core.encoding import to_hex
from ledger.core.errors import AgencyError
from ledger.core.names import OUTCOME_STATUSES

__all__ = [
    "AgencySummary",
    "Deadline",
    "agency_summaries",
    "check_authority",
    "check_routing",
    "slug",
]

_Event = AgencyEvent | MemberEvent | CaseOpenedEvent | ReferredEvent | ReviewEvent


def slug(agency: bytes) -> str:
    """The agency's slug, or its hex if the bytes are not a padded slug."""
    try:
        return agency_slug(agency)
    except AgencyError:
        return to_hex(agency)


# --- who may act on a case -------------------------------------------------------------------


def _ordered(events: Iterable[_Event]) -> list[_Event]:
    """Chain order, except that a CaseOpened goes first in its transaction: the review or
    referral that opened the case was allowed by it, whatever order the contract logs them."""
    events = list(events)
    first_in_tx: dict[bytes, int] = {}
    for e in events:
        first_in_tx[e.tx_hash] = min(first_in_tx.get(e.tx_hash, e.log_index), e.log_index)

    def key(e: _Event) -> tuple[int, int, int]:
        if isinstance(e, CaseOpenedEvent):
            return (e.block_number, first_in_tx[e.tx_hash], 0)
        return (e.block_number, e.log_index, 1)

    return sorted(events, key=key)


class _State:
    """Agencies, members and holdings as the replay has reached them, with how each came to be
    (so a finding says why)."""

    def __init__(self) -> None:
        self.agencies: set[bytes] = set()
        self.inactive_since: dict[bytes, int] = {}
        self.members: dict[bytes, set[str]] = defaultdict(set)
        self.removed_at: dict[tuple[bytes, str], int] = {}
        self.holds: dict[bytes, set[bytes]] = defaultdict(set)
        self.left_at: dict[tuple[bytes, bytes], ReferredEvent] = {}

    def apply(self, e: _Event) -> None:
        if isinstance(e, AgencyEvent):
            if e.kind == "added":
                self.agencies.add(e.agency)
            elif e.active:
                self.inactive_since.pop(e.agency, None)
            else:
                self.inactive_since.setdefault(e.agency, e.block_number)
        elif isinstance(e, MemberEvent):
            key = e.member.lower()
            if e.kind == "added":
                self.members[e.agency].add(key)
            else:
                self.members[e.agency].discard(key)
                self.removed_at[(e.agency, key)] = e.block_number
        elif isinstance(e, CaseOpenedEvent):
            self.holds[e.commitment].add(e.agency)
        elif isinstance(e, ReferredEvent):
            self.holds[e.commitment].add(e.to_agency)
            if not e.keep_access:
                self.holds[e.commitment].discard(e.from_agency)
                self.left_at[(e.commitment, e.from_agency)] = e

    def refusal(self, commitment: bytes, agency: bytes, sender: str) -> str | None:
        """Why the contract should have refused ``sender`` acting for ``agency``, or None."""
        name = slug(agency)
        if agency not in self.agencies:
            return f"{name} is not an agency"
        if sender.lower() not in self.members[agency]:
            removed = self.removed_at.get((agency, sender.lower()))
            how = f"was removed in block {removed}" if removed is not None else "was never added"
            return f"not a member of {name} then (it {how})"
        if agency not in self.holds[commitment]:
            left = self.left_at.get((commitment, agency))
            if left is not None:
                how = f"referred it to {slug(left.to_agency)} in block {left.block_number}"
            else:
                how = "never held it"
            return f"{name} did not hold the case then: it {how}"
        return None

    def target_refusal(self, e: ReferredEvent) -> str | None:
        """Why the contract should have refused the referral's destination, or None."""
        name = slug(e.to_agency)
        if e.to_agency not in self.agencies:
            return f"{name} is not an agency"
        if e.to_agency == e.from_agency:
            return "it refers the case to the agency holding it"
        if e.to_agency in self.inactive_since:
            return f"{name} was inactive then (since block {self.inactive_since[e.to_agency]})"
        return None


def check_authority(
    history: AgencyHistory,
    reviews: Sequence[ReviewEvent],
    index_of: Mapping[bytes, int] | None = None,
) -> list[Violation]:
    """Every review and referral by a member of an agency holding the case at that point."""
    index_of = index_of or {}
    events: list[_Event] = [
        *history.agencies,
        *history.members,
        *history.opened,
        *history.referrals,
        *reviews,
    ]
    state = _State()
    found: list[Violation] = []
    for e in _ordered(events):
        if isinstance(e, ReviewEvent):
            why = state.refusal(e.commitment, e.agency, e.reviewer)
            if why is not None:
                found.append(
                    Violation(
                        "review-unauthorised",
                        f"review (status {e.status}) of commitment {to_hex(e.commitment)} for "
                        f"agency {slug(e.agency)} by {e.reviewer}: {why}",
                        block=e.block_number,
                        index=index_of.get(e.commitment),
                        tx_hash=e.tx_hash,
                    )
                )
        elif isinstance(e, ReferredEvent):
            why = state.refusal(e.commitment, e.from_agency, e.by) or state.target_refusal(e)
            if why is not None:
                found.append(
                    Violation(
                        "referral-unauthorised",
                        f"referral of commitment {to_hex(e.commitment)} from agency "
                        f"{slug(e.from_agency)} to {slug(e.to_agency)} by {e.by}: {why}",
                        block=e.block_number,
                        index=index_of.get(e.commitment),
                        tx_hash=e.tx_hash,
                    )
                )
        state.apply(e)
    return found


def check_routing(
    routed: Sequence[RoutedEvent], anchors: Sequence[AnchoredEvent]
) -> tuple[list[Violation], list[str]]:
    """Each Routed event's counts sum to its batch (from the previous anchored size); an
    anchor without routing is noted (findings, notes)."""
    found: list[Violation] = []
    by_size = {r.tree_size: r for r in routed}
    previous = 0
    unrouted = 0
    for a in sorted(anchors, key=lambda a: (a.block_number, a.log_index)):
        r = by_size.get(a.tree_size)
        if r is None:
            unrouted += 1
        elif r.previous_size != previous or sum(r.counts) != r.tree_size - r.previous_size:
            found.append(
                Violation(
                    "routing-counts",
                    f"the routing of checkpoint {a.tree_size:,} counts {sum(r.counts):,} tips "
                    f"from size {r.previous_size:,}; the batch is entries {previous:,} to "
                    f"{a.tree_size - 1:,}",
                    block=r.block_number,
                    index=previous,
                    tx_hash=r.tx_hash,
                )
            )
        previous = max(previous, a.tree_size)
    notes = (
        [f"{unrouted} checkpoint(s) carry no routing: their tips count for no agency"]
        if unrouted
        else []
    )
    return found, notes


# --- figures per agency ----------------------------------------------------------------------


@dataclass(frozen=True)
class Deadline:
    """One deadline's record for an agency: tips whose deadline has passed (``due``), those
    not answered in time (``late``, including never opened), and those not answered at all."""

    limit_days: float
    due: int = 0
    late: int = 0
    open: int = 0

    def to_json(self) -> dict[str, object]:
        return {
            "limit_days": self.limit_days,
            "due": self.due,
            "late": self.late,
            "open": self.open,
        }


@dataclass(frozen=True)
class AgencySummary:
    agency: bytes
    name_th: str
    name_en: str
    active: bool
    received: int
    opened: int
    referrals_in: int
    referrals_out: int
    reviews: int
    to_ack: list[int] = field(default_factory=list)  # seconds, per answered case
    to_outcome: list[int] = field(default_factory=list)
    ack: Deadline = Deadline(0)
    outcome: Deadline = Deadline(0)

    @property
    def slug(self) -> str:
        return slug(self.agency)

    @staticmethod
    def _median(values: Sequence[int]) -> float | None:
        return statistics.median(values) if values else None

    @property
    def ack_median(self) -> float | None:
        return self._median(self.to_ack)

    @property
    def ack_worst(self) -> int | None:
        return max(self.to_ack, default=None)

    @property
    def outcome_median(self) -> float | None:
        return self._median(self.to_outcome)

    @property
    def outcome_worst(self) -> int | None:
        return max(self.to_outcome, default=None)

    def to_json(self) -> dict[str, object]:
        return {
            "agency": self.slug,
            "agency_id": to_hex(self.agency),
            "name_th": self.name_th,
            "name_en": self.name_en,
            "active": self.active,
            "received": self.received,
            "opened": self.opened,
            "referrals_in": self.referrals_in,
            "referrals_out": self.referrals_out,
            "reviews": self.reviews,
            "to_first_response": {
                "count": len(self.to_ack),
                "median": self.ack_median,
                "worst": self.ack_worst,
            },
            "to_outcome": {
                "count": len(self.to_outcome),
                "median": self.outcome_median,
                "worst": self.outcome_worst,
            },
            "past_first_response_deadline": self.ack.to_json(),
            "past_outcome_deadline": self.outcome.to_json(),
        }


def _first(times: dict[tuple[bytes, bytes], int], key: tuple[bytes, bytes], t: int) -> None:
    if key not in times or t < times[key]:
        times[key] = t


def _past(
    routed: Sequence[RoutedEvent],
    anchored_at: Mapping[int, int],
    batch_cases: Mapping[tuple[int, bytes], list[bytes]],
    done: Mapping[tuple[bytes, bytes], int],
    limit: int,
    now: int,
) -> dict[bytes, tuple[int, int, int]]:
    """Per agency, over the batches whose deadline has passed: (due, late, still open)."""
    out: dict[bytes, list[int]] = defaultdict(lambda: [0, 0, 0])
    for r in routed:
        start = anchored_at.get(r.tree_size)
        if start is None or start + limit >= now:
            continue
        for agency, n in zip(r.agencies, r.counts, strict=False):
            cases = batch_cases.get((r.tree_size, agency), ())
            answered = [done[(c, agency)] for c in cases if (c, agency) in done]
            figures = out[agency]
            figures[0] += n
            figures[1] += max(0, n - sum(1 for t in answered if t <= start + limit))
            figures[2] += max(0, n - len(answered))
    return {a: (due, late, still_open) for a, (due, late, still_open) in out.items()}


def agency_summaries(
    history: AgencyHistory,
    reviews: Sequence[ReviewEvent],
    anchors: Sequence[AnchoredEvent],
    deadlines: Deadlines,
    now: int,
) -> list[AgencySummary]:
    """Each agency's figures (see the module doc), in the order the agencies were added; an
    agency routed to but never added (which the contract refuses) comes last."""
    anchored_at: dict[int, int] = {}
    for a in sorted(anchors, key=lambda a: (a.block_number, a.log_index)):
        anchored_at.setdefault(a.tree_size, a.timestamp)

    names: dict[bytes, tuple[str, str]] = {}
    active: dict[bytes, bool] = {}
    for e in sorted(history.agencies, key=lambda e: (e.block_number, e.log_index)):
        if e.kind == "added":
            names.setdefault(e.agency, (e.name_th, e.name_en))
        active[e.agency] = e.active

    received: Counter[bytes] = Counter()
    for r in history.routed:
        for agency, count in zip(r.agencies, r.counts, strict=False):
            received[agency] += count

    # When each agency first answered each case: (commitment, agency) -> time.
    ack_at: dict[tuple[bytes, bytes], int] = {}
    outcome_at: dict[tuple[bytes, bytes], int] = {}
    reviews_by: Counter[bytes] = Counter()
    for rv in reviews:
        reviews_by[rv.agency] += 1
        _first(ack_at, (rv.commitment, rv.agency), rv.timestamp)
        if rv.status in OUTCOME_STATUSES:
            _first(outcome_at, (rv.commitment, rv.agency), rv.timestamp)
    referrals_in: Counter[bytes] = Counter()
    referrals_out: Counter[bytes] = Counter()
    for ref in history.referrals:
        referrals_in[ref.to_agency] += 1
        referrals_out[ref.from_agency] += 1
        _first(ack_at, (ref.commitment, ref.from_agency), ref.timestamp)
        _first(outcome_at, (ref.commitment, ref.from_agency), ref.timestamp)

    # Cases routed to each agency, by batch: the first CaseOpened of each commitment.
    opened: dict[bytes, CaseOpenedEvent] = {}
    for o in sorted(history.opened, key=lambda o: (o.block_number, o.log_index)):
        opened.setdefault(o.commitment, o)
    batch_cases: dict[tuple[int, bytes], list[bytes]] = defaultdict(list)
    for c, o in opened.items():
        batch_cases[(o.tree_size, o.agency)].append(c)
    # Times from the tip's anchor, for every case each agency acted on (referred in or not).
    to_ack: dict[bytes, list[int]] = defaultdict(list)
    to_outcome: dict[bytes, list[int]] = defaultdict(list)
    for times, into in ((ack_at, to_ack), (outcome_at, to_outcome)):
        for (c, agency), t in times.items():
            case = opened.get(c)
            start = anchored_at.get(case.tree_size) if case is not None else None
            if start is not None:
                into[agency].append(max(0, t - start))

    ack = _past(history.routed, anchored_at, batch_cases, ack_at, deadlines.ack_limit, now)
    outcome = _past(
        history.routed, anchored_at, batch_cases, outcome_at, deadlines.outcome_limit, now
    )
    opened_by = Counter(o.agency for o in opened.values())

    order = list(names)
    order += sorted(set(received) - set(names))
    return [
        AgencySummary(
            agency=agency,
            name_th=names.get(agency, ("", ""))[0],
            name_en=names.get(agency, ("", ""))[1],
            active=active.get(agency, False),
            received=received[agency],
            opened=opened_by[agency],
            referrals_in=referrals_in[agency],
            referrals_out=referrals_out[agency],
            reviews=reviews_by[agency],
            to_ack=sorted(to_ack[agency]),
            to_outcome=sorted(to_outcome[agency]),
            ack=Deadline(deadlines.ack_days, *ack.get(agency, (0, 0, 0))),
            outcome=Deadline(deadlines.outcome_days, *outcome.get(agency, (0, 0, 0))),
        )
        for agency in order
    ]
