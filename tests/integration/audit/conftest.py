"""Audit fixtures: real ledgers on a real Anvil, a real SQLite store, the real anchorer, and
the ``tipledger audit`` command run as a person runs it (a subprocess).

Tests that move the chain's clock (``evm_increaseTime``) use a private Anvil (``warp_chain``),
so the session's shared chain keeps wall-clock time for everyone else.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak

from ledger.chain.anvil import Devchain, rpc_request
from ledger.chain.client import connect
from ledger.chain.contract import ROLES
from ledger.chain.deploy import deploy, open_deployment
from ledger.core.eip712 import sign_disclosure
from ledger.core.hpke import public_bytes
from ledger.desk.cases import CaseDesk
from ledger.log.anchoring import Anchorer
from ledger.log.intake import INTAKE_ID
from ledger.store import LogStore, open_database
from ledger.store.cases import CaseStore
from ledger.store.submissions import SOURCE_API, SOURCE_DIRECT, NewSubmission, SubmissionStore

from ..chain_support import THRESHOLD, DeployedLedger

# OpenZeppelin AccessControl keeps ``mapping(bytes32 => RoleData) _roles`` in slot 0 (RoleData's
# first member is ``mapping(address => bool) hasRole``).
ROLES_SLOT = 0


def rpc(chain: Devchain, method: str, *params: Any) -> Any:
    return rpc_request(chain.rpc_url, method, list(params))


def deploy_on(chain: Devchain) -> DeployedLedger:
    """A fresh TipLedger on ``chain``, roles as in the integration ``deployed`` fixture."""
    w3 = connect(chain.rpc_url)
    accounts = chain.accounts
    deployment = deploy(
        w3,
        accounts[0],
        anchorer=accounts[1].address,
        reviewers=[a.address for a in accounts[2:4]],
        custodians=[a.address for a in accounts[4:9]],
        max_merge_delay=3600,
        disclosure_threshold=THRESHOLD,
    )
    return DeployedLedger(
        devchain=chain,
        w3=w3,
        deployment=deployment,
        contract=open_deployment(w3, deployment),
        admin=accounts[0],
        anchorer=accounts[1],
        reviewers=tuple(accounts[2:4]),
        custodians=tuple(accounts[4:9]),
        outsider=accounts[9],
    )


@dataclass
class Ledger:
    """A deployment, its log in SQLite and the anchorer: a ledger to audit (and to break)."""

    chain: DeployedLedger
    store: LogStore
    database_url: str
    anchorer: Anchorer
    submissions: SubmissionStore
    desk: CaseDesk
    entries: list[bytes] = field(default_factory=list)

    @property
    def contract(self) -> Any:
        return self.chain.contract

    def append(
        self, commitments: Sequence[bytes], anchor: bool = True, direct: bool = False
    ) -> int | None:
        """Accept and sequence as the service does (each entry has its submission and routing,
        to intake), then (by default) anchor; the anchoring block's number."""
        now = int(time.time())
        source = SOURCE_DIRECT if direct else SOURCE_API
        self.submissions.accept([NewSubmission(c, now, source=source) for c in commitments])
        appended = self.submissions.sequence(len(commitments))
        assert sorted(a.commitment for a in appended) == sorted(commitments)
        self.entries.extend(a.commitment for a in appended)  # log order: by commitment
        if not anchor:
            return None
        outcome = self.anchorer.anchor()
        assert outcome is not None
        return outcome.checkpoint.block_number

    def review(
        self, member: LocalAccount, commitment: bytes, status: int, note_digest: bytes
    ) -> Any:
        """A review for intake, with the routing proof the contract asks to open the case."""
        proof = None
        if not self.contract.case_opened(commitment):
            row = self.submissions.get(commitment)
            assert row is not None
            proof = self.desk.routing_proof(row)
        return self.contract.record_review(
            member, commitment, INTAKE_ID, status, note_digest, proof
        )

    def add_member(self, account: LocalAccount) -> Any:
        key = public_bytes(X25519PrivateKey.generate().public_key())
        return self.contract.add_member(self.chain.admin, INTAKE_ID, account.address, key)

    def new_tips(self, n: int) -> list[bytes]:
        return [os.urandom(32) for _ in range(n)]

    def disclose(self, signers: Sequence[LocalAccount], requester: LocalAccount) -> int:
        d = self.chain.deployment
        record_id, request_digest = os.urandom(32), os.urandom(32)
        signatures = [
            sign_disclosure(s, d.chain_id, d.address, record_id, request_digest, requester.address)
            for s in signers
        ]
        result = self.contract.record_disclosure(
            requester, record_id, request_digest, requester.address, signatures
        )
        return int(result.block_number)

    def backdoor_role(self, role: str, account: str) -> None:
        """Give ``account`` the role by writing the contract's storage: no RoleGranted event, as
        a compromised node or contract would. ``hasRole`` then says yes; the events say no."""
        inner = keccak(ROLES[role] + ROLES_SLOT.to_bytes(32, "big"))
        slot = keccak(bytes(12) + bytes.fromhex(account[2:]) + inner)
        self._set_storage(slot, 1)
        assert self.contract.has_role(role, account)

    def backdoor_threshold(self, threshold: int) -> None:
        """Lower the disclosure threshold in storage, without a DisclosureThresholdChanged.

        The byte is found by trying each one that holds the current threshold (and putting it
        back): the contract's packed layout moves whenever a state variable is added."""
        address = self.chain.deployment.address
        current = self.contract.disclosure_threshold()
        for slot in range(16):
            word = int.from_bytes(self.chain.w3.eth.get_storage_at(address, slot), "big")
            for shift in range(0, 256, 8):
                if (word >> shift) & 0xFF != current:
                    continue
                key = slot.to_bytes(32, "big")
                self._set_storage(key, (word & ~(0xFF << shift)) | (threshold << shift))
                if self.contract.disclosure_threshold() == threshold:
                    return
                self._set_storage(key, word)
        raise AssertionError("the disclosure threshold is in none of the first 16 slots")

    def _set_storage(self, slot: bytes, value: int) -> None:
        rpc(
            self.chain.devchain,
            "anvil_setStorageAt",
            self.chain.deployment.address,
            "0x" + slot.hex(),
            "0x" + value.to_bytes(32, "big").hex(),
        )


def open_ledger(chain: DeployedLedger, tmp_path: Path) -> Ledger:
    """A ledger whose tips all go to the intake agency; the reviewers are its members."""
    url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    store = LogStore(open_database(url))
    store.bind_deployment(chain.deployment.chain_id, chain.deployment.address)
    desk = CaseDesk(CaseStore(store.engine), store, lambda: chain.contract)
    ledger = Ledger(
        chain, store, url, Anchorer(store, chain.contract, chain.anchorer), SubmissionStore(store),
        desk,
    )  # fmt: skip
    chain.contract.add_agency(chain.admin, INTAKE_ID, "ศูนย์รับเรื่องร้องเรียนกลาง", "Intake")
    for reviewer in chain.reviewers:
        ledger.add_member(reviewer)
    return ledger


@dataclass(frozen=True)
class Healthy:
    """What ``build_healthy`` did, to assert against."""

    ledger: Ledger
    direct: bytes
    direct_block: int
    reviewed: list[bytes]
    disclosure_block: int
    anchor_blocks: list[int]
    removal_block: int  # reviewers[1] left intake here, after reviewing entry 6


def build_healthy(chain: DeployedLedger, tmp_path: Path) -> Healthy:
    """A ledger that does everything right: checkpoints of sizes 3, 5, 8 and 20; a direct
    commitment logged and anchored at once (size 21); reviews by a member of intake from the
    start, by one added later and by one removed after reviewing (entries 0, 4, 6 and the
    direct one); a 3-of-5 custodian disclosure."""
    ledger = open_ledger(chain, tmp_path)
    accounts = chain.devchain.accounts
    blocks = []
    for n in (3, 2, 3, 12):
        block = ledger.append(ledger.new_tips(n))
        assert block is not None
        blocks.append(block)
    direct = os.urandom(32)
    direct_block = ledger.contract.commit(chain.outsider, direct).block_number
    last = ledger.append([direct], direct=True)
    assert last is not None
    blocks.append(last)
    tips = ledger.entries
    ledger.review(chain.reviewers[0], tips[0], 1, keccak(b"note 0"))
    ledger.review(chain.reviewers[0], tips[0], 3, keccak(b"closed: unsubstantiated"))
    late_member = accounts[10]
    ledger.add_member(late_member)
    ledger.review(late_member, tips[4], 2, keccak(b"substantiated"))
    ledger.review(chain.reviewers[1], tips[6], 4, keccak(b"referred"))
    removed = ledger.contract.remove_member(chain.admin, INTAKE_ID, chain.reviewers[1].address)
    ledger.review(chain.reviewers[0], direct, 1, keccak(b"looking at it"))
    disclosure_block = ledger.disclose(chain.custodians[1:4], chain.outsider)
    return Healthy(
        ledger=ledger,
        direct=direct,
        direct_block=direct_block,
        reviewed=[tips[0], tips[4], tips[6], direct],
        disclosure_block=disclosure_block,
        anchor_blocks=blocks,
        removal_block=removed.block_number,
    )


# --- running the command -----------------------------------------------------------------


def run_audit_cli(home: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TIPLEDGER_HOME": str(home), "NO_COLOR": "1", "COLUMNS": "200"}
    for name in ("TIPLEDGER_RPC_URL", "TIPLEDGER_DATABASE_URL"):
        env.pop(name, None)
    return subprocess.run(
        [sys.executable, "-m", "ledger.cli", "audit", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def audit_args(ledger: Ledger, tmp_path: Path, *extra: str) -> list[str]:
    """The command's arguments for ``ledger``, in English (the tests read its words; the
    Thai default has its own tests in test_audit_arrivals.py)."""
    return [
        "--lang",
        "en",
        "--rpc",
        ledger.chain.devchain.rpc_url,
        "--contract",
        ledger.chain.deployment.address,
        "--database",
        ledger.database_url,
        "--json",
        str(tmp_path / "audit.json"),
        "--html",
        str(tmp_path / "audit.html"),
        *extra,
    ]


def violation_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("VIOLATION ")]


# --- fixtures ----------------------------------------------------------------------------


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture(scope="module")
def warp_chain() -> Iterator[Devchain]:
    """A private Anvil whose clock the tests move forward."""
    with Devchain(accounts=12) as chain:
        yield chain


def warp(chain: Devchain, seconds: int) -> None:
    rpc(chain, "evm_increaseTime", seconds)
    rpc(chain, "evm_mine")


# --- the real HTTP API over a ledger -----------------------------------------------------


@dataclass
class ApiServer:
    url: str
    server: Any
    thread: threading.Thread
    service: Any

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(15)
        self.service.close()


def serve_api(ledger: Ledger, tmp_path: Path) -> ApiServer:
    """The project's FastAPI app and LedgerService over ``ledger``'s database, in this process,
    without its sequencer (the test anchors), on a free loopback port."""
    import socket

    import uvicorn
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    from api.main import create_app, uvicorn_config
    from ledger.config import Settings
    from ledger.service import LedgerService

    settings = Settings(
        home=tmp_path / "api-home", database_url=ledger.database_url, server_sealing=True
    )
    service = LedgerService(
        settings=settings,
        deployment=ledger.chain.deployment,
        w3=ledger.chain.w3,
        anchorer=ledger.chain.anchorer,
        desk_key=X25519PrivateKey.generate().public_key(),
        run_sequencer=False,
        contract=ledger.contract,
    )
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    app = create_app(service, manage_lifecycle=False)
    server = uvicorn.Server(
        uvicorn_config(app, settings, host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise AssertionError("the API did not start")
        time.sleep(0.05)
    return ApiServer(f"http://127.0.0.1:{port}", server, thread, service)
