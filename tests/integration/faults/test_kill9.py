"""kill -9 of the service under a load of HTTP submissions: no acknowledged submission is lost,
no anchor ever disagrees with the stored entries, and a restart resumes by itself."""

from __future__ import annotations

import random
import time

import pytest

from .support import Load, System, check_log_against_chain, wait_all_anchored, wait_until

pytestmark = [pytest.mark.chain, pytest.mark.slow]

KILLS = 3


def test_kill9_under_load_loses_no_acknowledged_submission(system: System) -> None:
    service = system.service
    service.start()
    load = Load(service.url).start()
    rng = random.Random()
    try:
        wait_until("acknowledged submissions", lambda: load.count() >= 50, 20)
        for _ in range(KILLS):
            # At a random moment: mid group-commit, mid sequencing, mid anchor, between them.
            time.sleep(rng.uniform(0.2, 2.5))
            service.kill9()
            before = load.count()
            time.sleep(rng.uniform(0.0, 1.0))
            service.start()
            wait_until("acknowledgements after the restart", lambda b=before: load.count() > b, 30)
        time.sleep(1.0)
    finally:
        load.stop()
    assert not load.refused, load.refused[:5]
    assert load.unreachable > 0  # the kills did hit a loaded service
    wait_all_anchored(system, load.acked, timeout=40)
    anchored = check_log_against_chain(system)
    assert anchored >= len(load.acked)
    txs = system.txs()
    print(
        f"{len(load.acked)} acknowledged, {load.unreachable} refused connections during "
        f"{KILLS} kills; log anchored at {anchored} by {len(txs)} transactions"
    )
    assert [t.nonce for t in txs] == list(range(len(txs)))  # one transaction per nonce
    assert system.w3.eth.get_transaction_count(system.deployment.anchorer) == len(
        [t for t in txs if t.state in ("final", "failed")]
    )
