"""Role membership and the disclosure threshold replayed from events."""

from __future__ import annotations

from audit_synthetic import CUSTODIAN, REVIEWER, grant, revoke

from ledger.audit.history import RoleHistory, ThresholdChange, ThresholdHistory

ALICE = "0x00000000000000000000000000000000000A11CE"
BOB = "0x0000000000000000000000000000000000000B0B"


def test_role_membership_at_any_point_of_the_chain() -> None:
    roles = RoleHistory(
        [
            revoke(REVIEWER, ALICE, 30, 1),  # given out of order: sorted by position
            grant(REVIEWER, ALICE, 10),
            grant(REVIEWER, ALICE, 40, 5),
            grant(CUSTODIAN, BOB, 10, 1),
        ]
    )
    assert not roles.holds(REVIEWER, ALICE, (10, 0))  # the grant's own log is not before it
    assert roles.holds(REVIEWER, ALICE, (10, 1))
    assert roles.holds(REVIEWER, ALICE, (30, 1))  # same block, before the revocation
    assert not roles.holds(REVIEWER, ALICE, (30, 2))
    assert not roles.holds(REVIEWER, ALICE, (40, 5))
    assert roles.holds(REVIEWER, ALICE.lower(), (41, 0))  # addresses compare case-insensitively
    assert not roles.holds(REVIEWER, BOB, (99, 0))  # another role entirely
    assert roles.holders(CUSTODIAN, (11, 0)) == [BOB]
    change = roles.last_change(REVIEWER, ALICE, (35, 0))
    assert change is not None
    assert (change.granted, change.block_number) == (False, 30)
    assert roles.last_change(REVIEWER, BOB, (99, 0)) is None
    assert len(roles.changes()) == 4


def test_granting_twice_and_revoking_once_leaves_no_role() -> None:
    roles = RoleHistory(
        [grant(REVIEWER, ALICE, 1), grant(REVIEWER, ALICE, 2), revoke(REVIEWER, ALICE, 3)]
    )
    assert not roles.holds(REVIEWER, ALICE, (4, 0))


def test_threshold_starts_at_the_constructor_value_and_follows_each_change() -> None:
    history = ThresholdHistory(3, [ThresholdChange(4, 2, 50, 0), ThresholdChange(3, 4, 20, 3)])
    assert history.at((1, 0)) == 3
    assert history.at((20, 3)) == 3
    assert history.at((20, 4)) == 4
    assert history.at((50, 0)) == 4
    assert history.at((51, 0)) == 2
