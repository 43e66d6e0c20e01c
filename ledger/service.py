"""The ledger service: the composition root the HTTP API (and ``tipledger serve``) runs on.

``LedgerService`` is built from what the caller opened (settings, the deployment, a ``Web3``,
the anchorer key, the review desk's public key) and owns everything behind the routes: the
database engines and stores, the intake (group commit), the sequencer and its thread, and the
read side (receipts, checkpoints, proofs, entries, verification). Nothing here reaches for a
global; nothing here speaks HTTP (``api`` maps results and ``LedgerError`` to responses).

Reads use their own store objects on a read-only engine (one snapshot per transaction), so a
proof is never computed from a tree that a concurrent append is changing, and on SQLite a
reader never waits for the write lock.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
from eth_account.signers.local import LocalAccount
from sqlalchemy import Engine
from web3 import Web3

from ledger.auth.sessions import RoleCheck, SignIn
from ledger.chain.agencies import AgencyDirectory
from ledger.chain.contract import TipLedgerContract
from ledger.chain.deploy import Deployment, open_deployment
from ledger.config import Settings
from ledger.core.eip712 import Signer
from ledger.core.encoding import checksum_address
from ledger.core.receipt import Receipt
from ledger.core.sealed import SealedTip
from ledger.core.verify import Verdict
from ledger.desk.cases import CaseDesk
from ledger.desk.queries import ReviewDesk
from ledger.desk.reviews import ReviewIndex
from ledger.errors import (
    ChainUnavailableError,
    ContractRevertedError,
    DeploymentError,
    LedgerError,
    MissingBlockError,
    ReceiptError,
)
from ledger.followup.threads import FollowUps
from ledger.log.intake import INTAKE_ID, Accepted, CompanionBuilder, Intake
from ledger.log.reader import LogReader
from ledger.log.receipts import ReceiptBuilder
from ledger.log.sequencer import Sequencer, SequencerStatus
from ledger.ops.latency import LatencyTracker
from ledger.store import LogStore, StoredCheckpoint, open_database, sequencer_report
from ledger.store.attachments import AttachmentStore
from ledger.store.cases import CaseStore
from ledger.store.database import writer_lock
from ledger.store.followups import FollowUpStore
from ledger.store.lease import Lease
from ledger.store.sessions import SessionStore
from ledger.store.submissions import SubmissionStore
from ledger.vault.service import VaultService
from ledger.verify import verify_receipt

__all__ = [
    "Health",
    "LedgerService",
]

log = logging.getLogger("tipledger.service")

_SEQUENCER_RETRY = 2.0  # seconds between attempts to reach the chain at start


@dataclass(frozen=True)
class Health:
    ok: bool
    chain_id: int
    contract: str
    accepting: bool
    log_size: int
    anchored_size: int
    last_anchor_at: int | None
    pending: int | None
    sequencer: dict[str, Any] = field(default_factory=dict)
    # Why tips cannot be anchored now (None while they can): /healthz answers 503 with it.
    reason: str | None = None


class LedgerService:
    """One deployment's ledger, served. ``start()`` begins intake and sequencing; ``close()``."""

    def __init__(
        self,
        *,
        settings: Settings,
        deployment: Deployment,
        w3: Web3,
        anchorer: LocalAccount,
        desk_key: X25519PublicKey | None = None,
        engine: Engine | None = None,
        read_engine: Engine | None = None,
        run_sequencer: bool = True,
        contract: TipLedgerContract | None = None,
    ) -> None:
        self.settings = settings
        self.deployment = deployment
        self.w3 = w3
        self.chain_id = deployment.chain_id
        self.contract_address = checksum_address(deployment.address)
        self._anchorer = anchorer
        self._own_engines: list[Engine] = []
        if engine is None:
            engine = open_database(settings.database)
            self._own_engines.append(engine)
        if read_engine is None:
            read_engine = open_database(settings.database, migrate=False, read_only=True)
            self._own_engines.append(read_engine)
        self.engine = engine
        self.read_engine = read_engine
        # The intake writes through its store, the sequencer through its own (it makes them), the
        # API reads through a third: each keeps its own tree cache, none sees another's half-done
        # append.
        intake_log = LogStore(engine)
        intake_log.bind_deployment(self.chain_id, self.contract_address)
        self.reader = LogReader(read_engine)
        self.receipts = ReceiptBuilder(self.chain_id, self.contract_address)
        self.submissions = SubmissionStore(intake_log)
        self._contract = contract
        # Agencies and their members' keys, read from chain (never the service's own).
        self.agencies = AgencyDirectory(self.contract)
        self.cases = CaseStore(engine, read_engine)
        self.attachments = AttachmentStore(read_engine)
        self.intake = Intake(
            self.submissions,
            Signer(anchorer.key),
            self.agencies,
            chain_id=self.chain_id,
            contract=self.contract_address,
            on_accepted=self._notify_sequencer,
            write_lock=writer_lock(settings.database),
        )
        self.run_sequencer = run_sequencer
        self.sequencer: Sequencer | None = None
        self._sequencer_thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._startup_error: str | None = None
        self._startup_failed = False  # the sequencer gave up at start (not a chain outage)
        self._published: tuple[object, float] = (None, 0.0)
        self.sessions = SignIn(
            SessionStore(engine, max_open=settings.max_open_challenges),
            RoleCheck(self.contract),
            public_url=settings.service_url,
            chain_id=self.chain_id,
            session_seconds=settings.session_seconds,
            challenges_per_source=settings.challenges_per_source,
        )
        # The identity vault: sealed identities, custodians and the disclosure workflow.
        self.vault = VaultService(
            engine,
            self.contract,
            self.chain_id,
            self.contract_address,
            deploy_block=deployment.deploy_block,
            rpc_url=settings.rpc_url or deployment.rpc_url,
        )
        # Follow-up threads (reporter and desk) and the desk's reads; reviews come from chain.
        reviews = ReviewIndex(self.contract, deployment.deploy_block)
        follow_up_store = FollowUpStore(engine, read_engine)
        self.follow_ups = FollowUps(
            follow_up_store,
            desk_key,
            case_keys=self._case_key,
            reader=self.reader,
            reviews=reviews,
        )
        self.case_desk = CaseDesk(self.cases, self.reader.log, self.contract)
        self.review_desk = ReviewDesk(
            self.reader,
            index=reviews,
            follow_ups=follow_up_store,
            receipts=self.receipts,
            cases=self.case_desk,
            attachments=self.attachments,
        )
        self.latency = LatencyTracker()
        self.started_at = time.time()

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        self._stop.clear()
        self.intake.start()
        if self.run_sequencer and self._sequencer_thread is None:
            self._sequencer_thread = threading.Thread(
                target=self._run_sequencer, name="tipledger-sequencer", daemon=True
            )
            self._sequencer_thread.start()

    def close(self, timeout: float = 30.0) -> None:
        """Stop taking submissions (committing those queued), stop the sequencer, dispose."""
        self.intake.close(timeout)
        self._stop.set()
        thread, self._sequencer_thread = self._sequencer_thread, None
        if thread is not None:
            thread.join(timeout)
        for engine in self._own_engines:
            engine.dispose()
        self._own_engines.clear()

    def __enter__(self) -> LedgerService:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def contract(self) -> TipLedgerContract:
        """The deployment's contract (the sequencer's, once it has checked the code)."""
        if self._contract is None:
            return TipLedgerContract(self.w3, self.contract_address)
        return self._contract

    def _run_sequencer(self) -> None:
        """Open the contract (retrying while the chain is down), build the sequencer, run it."""
        while not self._stop.is_set():
            try:
                contract = self._contract or open_deployment(self.w3, self.deployment)
                self._contract = contract
                self.sequencer = self._make_sequencer(contract)
                self._startup_error = None
                break
            except ChainUnavailableError as exc:
                self._startup_error = str(exc)
                log.warning("sequencer waiting for the chain: %s", exc)
            except LedgerError as exc:
                # Said by /healthz (503, halted) for as long as the process runs.
                self._startup_error, self._startup_failed = str(exc), True
                log.error("sequencer cannot start: %s", exc)
                return
            self._stop.wait(_SEQUENCER_RETRY)
        if self.sequencer is not None:
            self.sequencer.run(self._stop, on_step=self._publish_status)

    def _make_sequencer(self, contract: TipLedgerContract) -> Sequencer:
        lease = Lease(self.engine, name="sequencer", seconds=self.settings.lease_seconds)
        return Sequencer(
            self.submissions,  # it opens stores of its own on the same engine
            contract,
            self._anchorer,
            settings=self.settings,
            lease=lease,
            deploy_block=self.deployment.deploy_block,
            deploy_block_hash=self.deployment.block_hash(),
        )

    def _publish_status(self, status: SequencerStatus) -> None:
        """Publish the leader's state when it changes, and as a heartbeat (for other processes'
        and instances' ``/healthz``); a follower publishes nothing."""
        if not status.is_leader:
            return
        report = {
            "holder": status.holder[:8],
            "halted": status.halted,
            "last_error": status.last_error,
            "pending": status.pending,
            "log_size": status.log_size,
            "chain_available": status.chain_available,
        }
        now = time.monotonic()
        key = (report["halted"], report["last_error"], report["chain_available"])
        if (
            key == self._published[0]
            and now - self._published[1] < sequencer_report.HEARTBEAT_SECONDS
        ):
            return
        sequencer_report.publish(self.engine, report)
        self._published = (key, now)

    def _notify_sequencer(self, new: int) -> None:
        """After each group commit: tell the sequencer how many submissions it added (the
        sequencer adds those it left waiting), so a full batch goes without waiting the
        interval."""
        sequencer = self.sequencer
        if sequencer is not None:
            sequencer.notify(new)

    def _case_key(self, commitment: bytes) -> bytes | None:
        row = self.reader.submissions.standing(commitment)
        return None if row is None else row.case_key

    # -- submitting ------------------------------------------------------------------------

    async def submit(
        self,
        document: bytes,
        salt: bytes | None = None,
        author: bytes | str | None = None,
        companions: CompanionBuilder | None = None,
        agency: bytes = INTAKE_ID,
    ) -> Accepted:
        """Accept a tip for ``agency``: durable and promised once this returns (see
        ``ledger.log.intake``).

        ``companions`` makes rows stored in the tip's own transaction if it is new (a follow-up
        secret's hash, a sealed identity record).
        """
        return await self.intake.submit_async(document, salt, author, companions, agency)

    async def submit_sealed(
        self, tip: SealedTip, companions: CompanionBuilder | None = None
    ) -> Accepted:
        """Accept a tip sealed on the reporter's device (PROTOCOL.md 17): checked against the
        members the chain lists for its agency, then durable and promised as ``submit``."""
        return await self.intake.submit_sealed_async(tip, companions)

    # -- reading ---------------------------------------------------------------------------

    def checkpoint(self) -> StoredCheckpoint | None:
        """The latest checkpoint anchored on chain (as the sequencer recorded it)."""
        return self.reader.checkpoint()

    def verify(self, receipt: Receipt, document: bytes | None) -> Verdict:
        """The verdict of ``ledger.verify.verify_receipt``: exactly what the CLI computes.

        A receipt naming a contract that is not a TipLedger on this chain cannot be checked
        here: that is the receipt's problem (``ReceiptError``), not the chain's.
        """
        try:
            return verify_receipt(receipt, document, self.w3)
        except (DeploymentError, ContractRevertedError, MissingBlockError) as exc:
            raise ReceiptError(
                f"cannot check this receipt on chain {self.chain_id}: {exc}"
            ) from None

    # -- health and metrics ----------------------------------------------------------------

    def sequencer_status(self) -> dict[str, Any]:
        sequencer = self.sequencer
        if sequencer is None:
            if not self.run_sequencer:
                return self._reported_status()
            return {
                "running": False,
                "is_leader": False,
                "last_error": self._startup_error,
                "halted": self._startup_failed,
                "chain_available": self._startup_failed or self._startup_error is None,
            }
        status = sequencer.status
        out: dict[str, Any] = {"running": self._sequencer_thread is not None}
        for name in ("is_leader", "last_anchor", "pending", "last_error", "halted"):
            value = getattr(status, name, None)
            out[name] = _plain(value)
        out["chain_available"] = status.chain_available
        return out

    def _reported_status(self) -> dict[str, Any]:
        """The sequencer of another process or instance, as it last reported itself."""
        report = sequencer_report.read(self.read_engine)
        if report is None:
            return {"running": False, "detail": "not run by this process; no sequencer reported"}
        stale = bool(report.get("stale"))
        return {
            "running": not stale,
            "detail": "run by another process"
            + (" (not reporting for over 30 s)" if stale else ""),
            "is_leader": False,
            "pending": report.get("pending"),
            "last_error": report.get("last_error"),
            "halted": bool(report.get("halted")),
            "chain_available": report.get("chain_available", True) is not False,
            "reported_at": report.get("at"),
        }

    def health(self) -> Health:
        cp = self.checkpoint()
        sequencer = self.sequencer_status()
        pending = sequencer.get("pending")
        if not isinstance(pending, int):
            pending = self.reader.pending_count()
        size = self.reader.tree().size
        reason = self._not_anchoring(sequencer)
        return Health(
            ok=reason is None,
            chain_id=self.chain_id,
            contract=self.contract_address,
            accepting=self.intake.running,
            log_size=size,
            anchored_size=cp.tree_size if cp is not None else 0,
            last_anchor_at=cp.block_timestamp if cp is not None else None,
            pending=pending,
            sequencer=sequencer,
            reason=reason,
        )

    def _not_anchoring(self, sequencer: dict[str, Any]) -> str | None:
        """Why accepted tips cannot be anchored now, or None if they can."""
        error = sequencer.get("last_error") or sequencer.get("detail")
        if not self.intake.running:
            return "not accepting submissions: the intake is stopped"
        if sequencer.get("halted"):
            return f"anchoring halted: {error}"
        if not sequencer.get("running"):
            if error:
                return f"the sequencer is not running: {error}"
            return "the sequencer is starting"
        if sequencer.get("chain_available") is False:
            return f"the chain is unavailable: {error}"
        return None

    def observe_anchors(self) -> LatencyTracker:
        """Bring the anchor-latency histogram up to the latest checkpoint (at scrape time)."""
        cp = self.checkpoint()
        if cp is not None:
            self.latency.catch_up(self.reader.submissions, cp)
        return self.latency


def _plain(value: Any) -> Any:
    """A status field as JSON-ready data (dataclasses to dicts, bytes to hex)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if hasattr(value, "__dataclass_fields__"):
        return {k: _plain(getattr(value, k)) for k in value.__dataclass_fields__}
    if isinstance(value, BaseException):
        return str(value)
    return str(value)
