"""Sequencer fixtures: stores on SQLite and PostgreSQL, sequencers bound to a real deployment, and
private Anvil chains for tests that stop mining, drop transactions or reset the chain."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from ledger.chain.anvil import Devchain, rpc_request
from ledger.chain.client import connect
from ledger.chain.deploy import deploy, open_deployment
from ledger.config import Settings
from ledger.core.commitment import ZERO_AUTHOR, commitment, content_digest, new_salt
from ledger.log.sequencer import Sequencer
from ledger.store import LogStore
from ledger.store.lease import Lease
from ledger.store.submissions import NewSubmission, SubmissionStore

from ..chain_support import THRESHOLD, DeployedLedger, add_intake


@dataclass(frozen=True)
class Tip:
    document: bytes
    salt: bytes
    digest: bytes
    commitment: bytes


def make_tip(text: str | None = None) -> Tip:
    document = (text or f"tip {os.urandom(8).hex()}").encode()
    salt = new_salt()
    digest = content_digest(document)
    return Tip(document, salt, digest, commitment(salt, digest, ZERO_AUTHOR))


def accept(store: SubmissionStore, n: int, received_at: int | None = None) -> list[Tip]:
    tips = [make_tip() for _ in range(n)]
    store.accept([NewSubmission(t.commitment, received_at or int(time.time())) for t in tips])
    return tips


def rpc(chain: Devchain, method: str, *params: Any) -> Any:
    return rpc_request(chain.rpc_url, method, list(params))


def deploy_ledger(chain: Devchain) -> DeployedLedger:
    """A fresh TipLedger on ``chain``, roles as in the integration ``deployed`` fixture, and the
    intake agency (reviewers[0] its member) that the anchors of these tips name."""
    w3 = connect(chain.rpc_url)
    accounts = chain.accounts
    admin, anchorer = accounts[0], accounts[1]
    deployment = deploy(
        w3,
        admin,
        anchorer=anchorer.address,
        reviewers=[a.address for a in accounts[2:4]],
        custodians=[a.address for a in accounts[4:9]],
        max_merge_delay=3600,
        disclosure_threshold=THRESHOLD,
    )
    ledger = DeployedLedger(
        devchain=chain,
        w3=w3,
        deployment=deployment,
        contract=open_deployment(w3, deployment),
        admin=admin,
        anchorer=anchorer,
        reviewers=tuple(accounts[2:4]),
        custodians=tuple(accounts[4:9]),
        outsider=accounts[9],
    )
    add_intake(ledger.contract, admin, ledger.reviewers[0])
    return ledger


@pytest.fixture
def deployed(devchain: Devchain) -> DeployedLedger:
    """The integration ``deployed`` fixture, with the intake agency."""
    return deploy_ledger(devchain)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def private_chain(tmp_path: Path) -> Iterator[Devchain]:
    """An Anvil of this test's own (it may stop mining, drop transactions, be restarted on the
    same port, with its state or without)."""
    chain = Devchain(port=free_port(), accounts=12, state=tmp_path / "anvil-state.json")
    with chain:
        yield chain


@pytest.fixture
def private_ledger(private_chain: Devchain) -> DeployedLedger:
    return deploy_ledger(private_chain)


SequencerFactory = Callable[..., Sequencer]


def build_sequencer(
    engine: Engine,
    ledger: DeployedLedger,
    *,
    holder: str | None = None,
    lease_seconds: float = 5.0,
    bind: bool = True,
    clock: Callable[[], float] = time.time,
    stuck_after: float | None = None,
    **settings: Any,
) -> Sequencer:
    log = LogStore(engine)
    if bind:
        log.bind_deployment(ledger.deployment.chain_id, ledger.deployment.address)
    values: dict[str, Any] = {"batch_interval": 0.2, "lease_seconds": lease_seconds}
    values.update(settings)
    return Sequencer(
        SubmissionStore(log),
        ledger.contract,
        ledger.anchorer,
        settings=Settings(**values),
        lease=Lease(engine, holder=holder, seconds=lease_seconds),
        deploy_block=ledger.deployment.deploy_block,
        clock=clock,
        stuck_after=stuck_after,
    )


@pytest.fixture
def store(engine: Engine) -> SubmissionStore:
    return SubmissionStore(LogStore(engine))
