"""The chain loses history under a running service (Anvil rolled back to an older state, as a
node restarted from an old snapshot would be): no receipt the API serves claims an anchor the
chain does not hold, and the lost anchors are made again. And ``/healthz`` answers 503, with the
reason, whenever tips cannot be anchored: the chain down, anchoring halted, the deployment
refused at start (the sequencer cannot start at all)."""

from __future__ import annotations

import base64
import os
import socket
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from web3 import Web3

from api.main import create_app, uvicorn_config
from ledger.config import Settings
from ledger.core.encoding import from_hex
from ledger.service import LedgerService

from ..chain_support import DeployedLedger
from .support import (
    Acked,
    System,
    check_log_against_chain,
    free_port,
    receipt_status,
    wait_all_anchored,
    wait_until,
)

pytestmark = [pytest.mark.chain, pytest.mark.slow]


def submit(system: System, n: int) -> dict[str, Acked]:
    acked: dict[str, Acked] = {}
    with httpx.Client(timeout=10) as client:
        for _ in range(n):
            document = os.urandom(24)
            body = {"document": base64.b64encode(document).decode()}
            r = client.post(system.service.url + "/v1/tips", json=body)
            assert r.status_code == 202, r.text
            answer = r.json()
            acked[answer["commitment"]] = Acked(document, answer, time.time())
    return acked


def unbacked(system: System, commitments: list[str]) -> tuple[int, int]:
    """(receipts claiming an anchor the chain does not hold, receipts claiming one at all)."""
    claims = bad = 0
    with httpx.Client(timeout=10) as client:
        for c in commitments:
            code, view = receipt_status(client, system.service.url, c)
            assert code in (200, 202), (code, view)
            inclusion = view.get("inclusion")
            if not inclusion:
                continue
            claims += 1
            on_chain = system.contract().checkpoint(inclusion["tree_size"])
            if on_chain.root_hash != from_hex(inclusion["root_hash"]):
                bad += 1
    return bad, claims


def test_after_the_chain_loses_anchors_no_receipt_claims_them_and_all_are_anchored_again(
    system: System,
) -> None:
    service = system.service
    service.start()
    acked = submit(system, 10)
    wait_all_anchored(system, acked, timeout=30)
    kept = system.contract().latest().tree_size
    snapshot = system.chain.rpc("evm_snapshot")
    for _ in range(3):  # three more anchors, in blocks the chain is about to lose
        more = submit(system, 10)
        wait_all_anchored(system, more, timeout=30)
        acked.update(more)
    anchored = system.contract().latest().tree_size
    assert anchored == len(acked) > kept

    system.chain.rpc("evm_revert", snapshot)  # the chain is back at the first anchor
    assert system.contract().latest().tree_size == kept
    first_look = unbacked(system, sorted(acked))
    print(f"right after the rollback: {first_look[0]} of {len(acked)} receipts claim an anchor "
          f"the chain lacks ({first_look[1]} claim one)")  # fmt: skip

    def none_unbacked() -> bool:
        return unbacked(system, sorted(acked))[0] == 0

    wait_until("no receipt claiming an anchor the chain lacks", none_unbacked, 30, 0.5)
    wait_all_anchored(system, acked, timeout=60)  # and every tip anchored again
    assert check_log_against_chain(system) == len(acked)
    assert none_unbacked()
    assert "the chain lost history" in service.log()
    health = service.health()
    assert health["ok"] is True, health
    assert health["anchored_size"] == len(acked)


def healthz(system: System) -> tuple[int, dict[str, Any]]:
    r = httpx.get(system.service.url + "/healthz", timeout=5)
    return r.status_code, r.json()


def test_healthz_is_503_with_the_reason_whenever_tips_cannot_be_anchored(
    system: System,
) -> None:
    service = system.service
    service.start()
    wait_until("a healthy service", lambda: healthz(system)[0] == 200, 30)
    system.chain.stop()  # a chain outage: tips are accepted, not anchored
    wait_until("the outage", lambda: healthz(system)[0] == 503, 30)
    code, health = healthz(system)
    assert health["ok"] is False
    assert health["accepting"] is True
    assert "unavailable" in health["reason"], health

    system.chain.start()
    wait_until("a healthy service again", lambda: healthz(system)[0] == 200, 30)
    code, health = healthz(system)
    assert health["ok"] is True, health
    assert health["reason"] is None, health

    acked = submit(system, 3)
    wait_all_anchored(system, acked, timeout=30)
    system.chain.reset()  # the contract is gone: anchoring halts
    wait_until("anchoring halted", lambda: healthz(system)[1]["sequencer"]["halted"], 30)
    code, health = healthz(system)
    assert code == 503, health
    assert health["reason"].startswith("anchoring halted: "), health
    assert "no contract code" in health["reason"]
    # The reset chain holds none of the anchors: no receipt claims one.
    assert health["anchored_size"] == 0
    assert unbacked(system, sorted(acked)) == (0, 0)

    service.stop()
    service.start()  # the deployment is refused at start: the sequencer cannot start at all
    wait_until("the refused deployment", lambda: healthz(system)[1]["sequencer"]["halted"], 30)
    code, health = healthz(system)
    assert code == 503, health
    assert health["sequencer"]["running"] is False
    assert health["reason"].startswith("anchoring halted: "), health
    assert "contract code" in health["reason"] or "code hash" in health["reason"], health
    assert "sequencer cannot start" in service.log()


def test_healthz_is_503_while_the_sequencer_waits_for_a_chain_down_at_its_start(
    deployed: DeployedLedger, database_url: str, tmp_path: Path
) -> None:
    """The sequencer opens the deployment in its own thread, and retries while the chain does
    not answer (``serve`` waits for the chain first; the chain can go in between)."""
    dead = Web3(Web3.HTTPProvider(f"http://127.0.0.1:{free_port()}", request_kwargs={"timeout": 2}))
    settings = Settings(
        home=tmp_path, database_url=database_url, batch_interval=0.2, server_sealing=True
    )
    service = LedgerService(
        settings=settings,
        deployment=deployed.deployment,
        w3=dead,
        anchorer=deployed.anchorer,
    )
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = uvicorn.Server(uvicorn_config(create_app(service), settings, log_config=None))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        wait_until("uvicorn", lambda: server.started, 30, 0.05)

        def waiting() -> bool:
            answer = httpx.get(url + "/healthz", timeout=5)
            return answer.status_code == 503 and "unavailable" in (answer.json()["reason"] or "")

        wait_until("a 503 naming the chain outage", waiting, 30)
        health = httpx.get(url + "/healthz", timeout=5).json()
        assert health["ok"] is False
        assert health["accepting"] is True
        assert health["reason"].startswith("the sequencer is not running: "), health
        assert health["sequencer"]["running"] is False
    finally:
        server.should_exit = True
        thread.join(30)
