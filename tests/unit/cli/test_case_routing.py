"""A first review or referral of a tip not anchored yet is one line, not the contract's revert."""

from __future__ import annotations

from typing import Any, cast

import pytest
import typer

from ledger.chain.contract import TipLedgerContract
from ledger.cli.desk_support import case_routing

ENTRY = bytes(range(32))


class _Chain:
    """What case_routing asks of the contract: whether the case is open on chain."""

    def __init__(self, opened: bool) -> None:
        self.opened = opened

    def case_opened(self, commitment: bytes) -> bool:
        assert commitment == ENTRY
        return self.opened


def _contract(opened: bool) -> TipLedgerContract:
    return cast(TipLedgerContract, _Chain(opened))


def test_a_pending_tip_is_refused_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(typer.Exit) as done:
        case_routing(_contract(False), ENTRY, {"routing": None})
    assert done.value.exit_code == 2
    assert "is not anchored yet" in capsys.readouterr().err


def test_an_open_case_needs_no_proof_and_an_anchored_one_gets_its_own() -> None:
    assert case_routing(_contract(True), ENTRY, {"routing": None}) is None
    routing: dict[str, Any] = {"tree_size": 4, "index": 1, "salt": "0x" + "11" * 32, "path": []}
    proof = case_routing(_contract(False), ENTRY, {"routing": routing})
    assert proof is not None
    assert (proof.tree_size, proof.index) == (4, 1)
