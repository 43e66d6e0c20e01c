"""Anvil stopped for 30 s under load: every submission is still accepted (202), anchoring pauses
with the outage said in /healthz, and resumes by itself once the chain is back."""

from __future__ import annotations

import time

import pytest

from .support import Load, System, check_log_against_chain, wait_all_anchored, wait_until

pytestmark = [pytest.mark.chain, pytest.mark.slow]

OUTAGE = 30.0


def test_a_30_second_chain_outage_delays_anchoring_and_refuses_nothing(system: System) -> None:
    service = system.service
    service.start()
    load = Load(service.url, pause=0.04).start()  # about 100 a second: enough, and quick to check
    try:
        wait_until("a first anchor", lambda: service.health()["anchored_size"] > 0, 20)
        system.chain.stop()
        down_at = time.time()
        before = service.health()["anchored_size"]

        def outage_reported() -> bool:
            error = service.health()["sequencer"].get("last_error") or ""
            return "unavailable" in error

        wait_until("the outage in /healthz", outage_reported, 15)
        health = service.health()
        assert health["accepting"]
        assert not health["sequencer"]["halted"]
        time.sleep(max(0.0, down_at + OUTAGE - time.time()))
        during = load.acked_since(down_at)
        assert service.health()["anchored_size"] == before  # nothing anchored meanwhile
        system.chain.start()  # the same chain, from its state file
        up_at = time.monotonic()
        wait_until(
            "anchoring to resume", lambda: service.health()["anchored_size"] > before, 30, 0.1
        )
        resumed_after = time.monotonic() - up_at
        time.sleep(1.0)
    finally:
        load.stop()
    assert not load.refused, load.refused[:5]
    assert load.unreachable == 0  # the service itself never went away
    assert during > 100  # and kept acknowledging through the outage
    wait_all_anchored(system, load.acked, timeout=30)
    anchored = check_log_against_chain(system)
    assert anchored >= len(load.acked)
    assert service.health()["sequencer"]["last_error"] is None
    assert "chain unavailable" in service.log()
    print(
        f"{during} submissions acknowledged during the {OUTAGE:g} s outage; anchoring resumed "
        f"{resumed_after:.1f} s after the chain came back; {len(load.acked)} in all"
    )
