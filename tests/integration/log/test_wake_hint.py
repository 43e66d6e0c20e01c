"""The sequencer's wake-up hint through the real service: the intake's group commits tell the
sequencer how many submissions were added, and it steps before its interval only once a full
batch (``batch_cap``) waits. A hint counted twice (or summed over and over) would wake it early
under a steady load, anchoring in small batches and paying more gas per tip.

Both tests bound what the code guarantees whatever the machine's load: without a wake-up the
sequencer's steps start at least ``batch_interval`` apart, so a window of T seconds holds at
most T / interval + 1 of them. A slow machine only makes steps rarer, never more frequent."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ledger.config import Settings
from ledger.log.sequencer import SequencerStatus
from ledger.service import LedgerService

from ..chain_support import DeployedLedger

pytestmark = pytest.mark.chain


def start_service(
    database_url: str, ledger: DeployedLedger, home: Path, **settings: float
) -> LedgerService:
    values: dict[str, Any] = {
        "home": home,
        "database_url": database_url,
        "rpc_url": ledger.devchain.rpc_url,
    }
    values.update(settings)
    service = LedgerService(
        settings=Settings(**values),
        deployment=ledger.deployment,
        w3=ledger.w3,
        anchorer=ledger.anchorer,
    )
    service.start()
    return service


@pytest.fixture
def make_service(tmp_path: Path) -> Iterator[list[LedgerService]]:
    services: list[LedgerService] = []
    yield services
    for service in services:
        service.close()


def first_step(service: LedgerService, timeout: float = 30.0) -> SequencerStatus:
    """The sequencer's status once it leads and has taken its first step (the one at start)."""
    deadline = time.monotonic() + timeout
    while True:
        sequencer = service.sequencer
        if sequencer is not None:
            status = sequencer.status
            if status.is_leader and status.last_step_at is not None:
                return status
        assert time.monotonic() < deadline, "the sequencer did not start"
        time.sleep(0.05)


def wait_for(service: LedgerService, size: int, timeout: float) -> SequencerStatus:
    """The status once a checkpoint of ``size`` entries is anchored."""
    assert service.sequencer is not None
    deadline = time.monotonic() + timeout
    while True:
        status = service.sequencer.status
        if status.last_anchor is not None and status.last_anchor.tree_size >= size:
            return status
        assert time.monotonic() < deadline, f"no anchor of size {size} within {timeout} s"
        time.sleep(0.05)


def submit_one(service: LedgerService, i: int) -> None:
    # Blocking and one at a time: each tip is a group commit (and a hint) of its own.
    service.intake.submit(f"tip {i} {time.monotonic_ns()}".encode())


def test_below_the_cap_the_sequencer_waits_its_interval_and_a_full_batch_wakes_it(
    database_url: str, deployed: DeployedLedger, tmp_path: Path, make_service: list[LedgerService]
) -> None:
    cap = 40
    # A long interval: after its first step, nothing but a wake-up makes the sequencer step.
    service = start_service(
        database_url, deployed, tmp_path, batch_interval=60, batch_cap=cap, lease_seconds=300
    )
    make_service.append(service)
    started = first_step(service)
    assert service.sequencer is not None
    for i in range(cap - 1):
        submit_one(service, i)
    time.sleep(0.5)  # time for a (wrong) wake-up to become a step
    now = service.sequencer.status
    assert now.last_step_at == started.last_step_at, (
        f"{cap - 1} submissions, one commit each, below a cap of {cap}, woke the sequencer "
        f"(it sequenced {now.log_size} of them)"
    )
    assert now.log_size == 0
    submit_one(service, cap)  # a full batch waits now: it goes without waiting the 60 s
    status = wait_for(service, cap, timeout=20)
    assert status.last_anchor is not None
    assert status.last_anchor.tree_size == cap
    assert status.batches == 1


def test_a_steady_load_below_the_cap_gives_one_anchor_per_batch_interval(
    database_url: str, deployed: DeployedLedger, tmp_path: Path, make_service: list[LedgerService]
) -> None:
    interval, cap, rate, tips = 1.0, 100, 40.0, 240  # about 40 a batch, well below the cap
    service = start_service(
        database_url, deployed, tmp_path, batch_interval=interval, batch_cap=cap
    )
    make_service.append(service)
    before = first_step(service)
    assert service.sequencer is not None
    began = time.monotonic()
    for i in range(tips):
        # A steady trickle: on schedule, or as fast as a loaded machine allows.
        time.sleep(max(0.0, began + i / rate - time.monotonic()))
        submit_one(service, i)
    after = wait_for(service, tips, timeout=10 * interval + 10)
    elapsed = time.monotonic() - began
    batches = after.batches - before.batches
    anchors = after.anchors - before.anchors
    # Steps start at least an interval apart; one more may have begun just before `began`.
    bound = elapsed / interval + 2
    assert batches <= bound, (
        f"{batches} batches in {elapsed:.1f} s at an interval of {interval} s: the sequencer was "
        f"woken early (mean batch {tips / batches:.1f} submissions, cap {cap})"
    )
    assert anchors <= bound
    assert after.pending == 0
