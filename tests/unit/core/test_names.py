"""Role ids and review statuses (ledger.core.names): one spelling, pinned ids."""

from __future__ import annotations

import pytest
from core_vectors import ROLE_IDS, STATUSES
from eth_utils.crypto import keccak

from ledger.audit import timeline
from ledger.chain import contract
from ledger.core import names
from ledger.core.errors import ProtocolError
from ledger.desk import reviews


def test_role_ids_known_answer() -> None:
    assert names.ROLES == ROLE_IDS
    for name in ("ANCHORER_ROLE", "REVIEWER_ROLE", "CUSTODIAN_ROLE"):
        assert names.role_id(name) == keccak(text=name)
    assert names.role_id(names.DEFAULT_ADMIN_ROLE) == bytes(32)
    assert names.role_id(b"\x01" * 32) == b"\x01" * 32
    assert contract.role_id is names.role_id
    assert contract.ROLES is names.ROLES


@pytest.mark.parametrize("role", ["OWNER_ROLE", b"\x00" * 31])
def test_unknown_roles_are_refused(role: str | bytes) -> None:
    with pytest.raises(ProtocolError):
        names.role_id(role)


def test_statuses_have_one_name_each() -> None:
    assert names.STATUS_NAMES == STATUSES
    assert reviews.STATUS_NAMES is names.STATUS_NAMES
    assert {names.status_id(n) for n in STATUSES.values()} == set(STATUSES)
    assert names.status_id("Under Review") == names.status_id("under-review") == 1
    with pytest.raises(ProtocolError, match="unknown review status"):
        names.status_id("pending")
    assert names.OUTCOME_STATUSES == timeline.OUTCOME_STATUSES == {2, 3, 4, 5}


def test_reports_show_the_label_derived_from_the_name() -> None:
    assert names.status_label(names.UNDER_REVIEW) == "under review"
    assert names.status_label(names.CLOSED) == "closed"
    assert names.status_label(9) == "9"
