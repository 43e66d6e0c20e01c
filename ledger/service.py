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

import fcntl
import logging
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
from eth_account.signers.local import LocalAccount
from prometheus_client import CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from sqlalchemy import Engine, func, select
from web3 import Web3

from ledger.auth.sessions import RoleCheck, SessionStore, SignIn
from ledger.chain.contract import Review, TipLedgerContract
from ledger.chain.deploy import Deployment, open_deployment
from ledger.config import Settings
from ledger.core.commitment import DIGEST_SIZE
from ledger.core.eip712 import Signer
from ledger.core.encoding import checksum_address
from ledger.core.receipt import FORMAT, Inclusion, PromiseInfo, Receipt
from ledger.core.tree import MerkleTree
from ledger.core.verify import Verdict
from ledger.desk.queries import ReviewDesk
from ledger.desk.reviews import ReviewIndex
from ledger.errors import (
    ChainError,
    ChainUnavailableError,
    ContractRevertedError,
    DeploymentError,
    LedgerError,
    NotAnchoredError,
    ProofError,
    ReceiptError,
)
from ledger.followup.threads import FollowUps
from ledger.log.intake import Accepted, CompanionBuilder, Intake
from ledger.log.lease import Lease
from ledger.log.sequencer import Sequencer, SequencerStatus
from ledger.store import LogStore, StoredCheckpoint, open_database, sequencer_report
from ledger.store.followups import FollowUpStore
from ledger.store.schema import submissions as submissions_table
from ledger.store.submissions import SubmissionStore
from ledger.vault.service import VaultService
from ledger.verify import verify_receipt

__all__ = [
    "ENTRIES_PAGE_LIMIT",
    "Health",
    "LedgerService",
    "TipStatus",
]

log = logging.getLogger("tipledger.service")

ENTRIES_PAGE_LIMIT = 10_000
# Anchor latency buckets (seconds from acceptance to the anchoring block's timestamp; both are
# whole seconds, so the finest meaningful bucket is one second).
LATENCY_BUCKETS = (0.0, 1.0, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0, 86400.0)
_SEQUENCER_RETRY = 2.0  # seconds between attempts to reach the chain at start


@dataclass(frozen=True)
class TipStatus:
    """Where a commitment stands: ``anchored`` (with its inclusion), ``pending`` or ``unknown``."""

    status: Literal["anchored", "pending", "unknown"]
    commitment: bytes
    leaf_index: int | None = None
    promise: PromiseInfo | None = None
    inclusion: Inclusion | None = None


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


class LedgerService:
    """One deployment's ledger, served. ``start()`` begins intake and sequencing; ``close()``."""

    def __init__(
        self,
        *,
        settings: Settings,
        deployment: Deployment,
        w3: Web3,
        anchorer: LocalAccount,
        desk_key: X25519PublicKey,
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
        self._reader = LogStore(read_engine)
        self._read_lock = threading.Lock()
        self.submissions = SubmissionStore(intake_log)
        self.intake = Intake(
            self.submissions,
            Signer(anchorer.key),
            desk_key,
            chain_id=self.chain_id,
            contract=self.contract_address,
            on_accepted=self._notify_sequencer,
            write_lock=_sqlite_writer_lock(settings.database),
        )
        self.run_sequencer = run_sequencer
        self._contract = contract
        self.sequencer: Sequencer | None = None
        self._hint_step: float | None = None
        self._hint_since = 0
        self._sequencer_thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._startup_error: str | None = None
        self._published: tuple[object, float] = (None, 0.0)
        self._latency = _LatencyTracker()
        self.sessions = SignIn(
            SessionStore(engine),
            RoleCheck(self.contract),
            public_url=settings.service_url,
            chain_id=self.chain_id,
            session_seconds=settings.session_seconds,
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
        self.follow_ups = FollowUps(
            FollowUpStore(engine, read_engine),
            desk_key,
            review_of=self._review_of,
            is_anchored=lambda c: self.tip_status(c).status == "anchored",
        )
        self.review_desk = ReviewDesk(
            read_engine,
            index=ReviewIndex(self.contract, deployment.deploy_block),
            follow_ups=self.follow_ups,
            tip_status=self.tip_status,
            checkpoint=self.checkpoint,
            review_of=self._review_of,
        )
        self.registry = CollectorRegistry()
        self.registry.register(_Metrics(self))
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

    def _review_of(self, commitment: bytes) -> Review:
        return self.contract().review_of(commitment)

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
                self._startup_error = str(exc)
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
        """After each group commit: tell the sequencer how many submissions wait (its last
        count plus what was accepted since), so a full batch goes without waiting the interval."""
        sequencer = self.sequencer
        if sequencer is None:
            return
        status = sequencer.status
        if status.last_step_at != self._hint_step:
            self._hint_step, self._hint_since = status.last_step_at, 0
        self._hint_since += new
        sequencer.notify(status.pending + self._hint_since)

    # -- submitting ------------------------------------------------------------------------

    async def submit(
        self,
        document: bytes,
        salt: bytes | None = None,
        author: bytes | str | None = None,
        companions: CompanionBuilder | None = None,
    ) -> Accepted:
        """Accept a tip: durable and promised once this returns (see ``ledger.log.intake``).

        ``companions`` makes rows stored in the tip's own transaction if it is new (a follow-up
        secret's hash, a sealed identity record).
        """
        return await self.intake.submit_async(document, salt, author, companions)

    def receipt_dict(self, accepted: Accepted) -> dict[str, Any]:
        """The receipt (``inclusion: null``) for an accepted tip, JSON-ready."""
        return accepted.receipt_dict(self.chain_id, self.contract_address)

    # -- reading ---------------------------------------------------------------------------

    def _tree(self) -> MerkleTree:
        # Serialised: concurrent catch-ups of one cache would otherwise restart each other. The
        # tree returned is never changed afterwards (a newer one replaces it), so it is safe to
        # read outside the lock.
        with self._read_lock:
            return self._reader.tree()

    def checkpoint(self) -> StoredCheckpoint | None:
        """The latest checkpoint anchored on chain (as the sequencer recorded it)."""
        return self._reader.latest_checkpoint()

    def _anchored(self) -> StoredCheckpoint:
        cp = self.checkpoint()
        if cp is None:
            raise NotAnchoredError("no checkpoint has been anchored yet")
        return cp

    def tip_status(self, commitment: bytes) -> TipStatus:
        """Where ``commitment`` stands, with an inclusion proof against the latest checkpoint."""
        if len(commitment) != DIGEST_SIZE:
            raise ProofError(f"a commitment is {DIGEST_SIZE} bytes, got {len(commitment)}")
        with self.read_engine.connect() as conn:
            row = conn.execute(
                select(
                    submissions_table.c.received_at,
                    submissions_table.c.promise_signer,
                    submissions_table.c.promise_signature,
                    submissions_table.c.leaf_index,
                ).where(submissions_table.c.commitment == commitment)
            ).first()
        promise = None
        leaf_index: int | None = None
        if row is not None:
            received_at, signer, signature, leaf_index = row
            if signer is not None and signature is not None:
                promise = PromiseInfo.create(
                    received_at=int(received_at), signer=bytes(signer), signature=bytes(signature)
                )
        else:
            leaf_index = self._reader.index_of(commitment)  # a log entry without a submission
            if leaf_index is None:
                return TipStatus("unknown", commitment)
        cp = self.checkpoint()
        if leaf_index is None or cp is None or leaf_index >= cp.tree_size:
            return TipStatus("pending", commitment, leaf_index, promise)
        tree = self._tree()
        inclusion = Inclusion.create(
            leaf_index=leaf_index,
            tree_size=cp.tree_size,
            root_hash=cp.root_hash,
            proof=tree.inclusion_proof(leaf_index, cp.tree_size),
            anchor_tx=cp.anchor_tx,
            block_number=cp.block_number,
            block_timestamp=cp.block_timestamp,
        )
        return TipStatus("anchored", commitment, leaf_index, promise, inclusion)

    def receipt_view(self, status: TipStatus) -> dict[str, Any]:
        """What the service holds of a tip's receipt, in the receipt's own keys.

        The salt, content digest and author exist only sealed to the review desk (and in the
        submitter's receipt), so they are absent: the holder merges this into their receipt
        (``inclusion`` is what changes).
        """
        return {
            "status": status.status,
            "format": FORMAT,
            "chain_id": self.chain_id,
            "contract": self.contract_address,
            "commitment": "0x" + status.commitment.hex(),
            "leaf_index": status.leaf_index,
            "promise": None if status.promise is None else status.promise.model_dump(mode="json"),
            "inclusion": (
                None if status.inclusion is None else status.inclusion.model_dump(mode="json")
            ),
        }

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """RFC 9162 ``PATH(index, D[size])``; ``size`` at most the latest anchored size."""
        if size < 1:
            raise ProofError(f"size must be at least 1, got {size}")
        if not 0 <= index < size:
            raise ProofError(f"index must be at least 0 and below size {size}, got {index}")
        self._within_anchored(size)
        return self._tree().inclusion_proof(index, size)

    def consistency_proof(self, first: int, second: int) -> list[bytes]:
        """RFC 9162 ``PROOF(first, D[second])``, ``0 < first <= second <= anchored size``."""
        if first < 1:
            raise ProofError(f"first must be at least 1, got {first}")
        if second < first:
            raise ProofError(f"second must be at least first ({first}), got {second}")
        self._within_anchored(second)
        return self._tree().consistency_proof(first, second)

    def _within_anchored(self, size: int) -> None:
        cp = self._anchored()
        if size > cp.tree_size:
            raise NotAnchoredError(
                f"size {size} is beyond the latest anchored checkpoint ({cp.tree_size} entries)"
            )

    def entries(self, start: int, end: int, limit: int = ENTRIES_PAGE_LIMIT) -> list[bytes]:
        """Anchored entries ``start`` up to ``end`` (exclusive), at most ``limit`` of them."""
        if start < 0:
            raise ProofError(f"start must be at least 0, got {start}")
        if end < start:
            raise ProofError(f"end must be at least start ({start}), got {end}")
        cp = self.checkpoint()
        anchored = cp.tree_size if cp is not None else 0
        stop = min(end, anchored, start + max(1, limit))
        if stop <= start:
            return []
        return self._reader.entries(start, stop)

    def verify(self, receipt: Receipt, document: bytes | None) -> Verdict:
        """The verdict of ``ledger.verify.verify_receipt``: exactly what the CLI computes.

        A receipt naming a contract that is not a TipLedger on this chain cannot be checked
        here: that is the receipt's problem (``ReceiptError``), not the chain's.
        """
        try:
            return verify_receipt(receipt, document, self.w3)
        except (DeploymentError, ContractRevertedError) as exc:
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
                "halted": False,
            }
        status = sequencer.status
        out: dict[str, Any] = {"running": self._sequencer_thread is not None}
        for name in ("is_leader", "last_anchor", "pending", "last_error", "halted"):
            value = getattr(status, name, None)
            out[name] = _plain(value)
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
            "reported_at": report.get("at"),
        }

    def pending_count(self) -> int:
        with self.read_engine.connect() as conn:
            count = conn.scalar(
                select(func.count())
                .select_from(submissions_table)
                .where(submissions_table.c.leaf_index.is_(None))
            )
        return int(count or 0)

    def health(self) -> Health:
        cp = self.checkpoint()
        sequencer = self.sequencer_status()
        halted = bool(sequencer.get("halted"))
        pending = sequencer.get("pending")
        if not isinstance(pending, int):
            pending = self.pending_count()
        size = self._tree().size
        return Health(
            ok=self.intake.running and not halted,
            chain_id=self.chain_id,
            contract=self.contract_address,
            accepting=self.intake.running,
            log_size=size,
            anchored_size=cp.tree_size if cp is not None else 0,
            last_anchor_at=cp.block_timestamp if cp is not None else None,
            pending=pending,
            sequencer=sequencer,
        )

    def observe_anchors(self) -> _LatencyTracker:
        """Bring the anchor-latency histogram up to the latest checkpoint (at scrape time)."""
        cp = self.checkpoint()
        if cp is not None:
            self._latency.catch_up(self.read_engine, cp)
        return self._latency


class _FileLock:
    """An exclusive ``flock`` on a file beside a SQLite database, taken around each group commit.

    Several worker processes each commit their own groups; SQLite lets one writer in at a time
    and makes the others retry on a sleeping back-off (1, 2, 5, 10 ms ...), which wastes most of
    the lock's time under load. Waiting on ``flock`` instead hands the lock over the moment it is
    released.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self._mutex = threading.Lock()

    def __enter__(self) -> None:
        self._mutex.acquire()
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX)

    def __exit__(self, *_exc: object) -> None:
        assert self._fd is not None
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._mutex.release()


def _sqlite_writer_lock(url: str) -> _FileLock | None:
    if not url.startswith("sqlite:///") or url == "sqlite:///:memory:":
        return None
    return _FileLock(Path(url.removeprefix("sqlite:///") + ".intake-lock"))


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


class _LatencyTracker:
    """Anchor latency per submission, ``block_timestamp - received_at``, as a histogram.

    Filled from the database (one GROUP BY per new checkpoint), so it counts what was anchored
    whichever instance's sequencer did it, and costs nothing on the submission path.
    """

    def __init__(self) -> None:
        self.size = -1  # entries covered so far; -1 until the first scrape
        self.buckets = [0] * len(LATENCY_BUCKETS)
        self.count = 0
        self.total = 0.0
        self._lock = threading.Lock()

    def catch_up(self, engine: Engine, cp: StoredCheckpoint) -> None:
        with self._lock:
            if self.size < 0:
                self.size = cp.tree_size  # history before this process is not ours to time
                return
            if cp.tree_size <= self.size:
                return
            t = submissions_table.c
            with engine.connect() as conn:
                rows = conn.execute(
                    select(t.received_at, func.count())
                    .where(t.leaf_index >= self.size, t.leaf_index < cp.tree_size)
                    .group_by(t.received_at)
                ).all()
            for received_at, n in rows:
                latency = max(0.0, float(cp.block_timestamp - int(received_at)))
                for i, bound in enumerate(LATENCY_BUCKETS):
                    if latency <= bound:
                        self.buckets[i] += int(n)
                self.count += int(n)
                self.total += latency * int(n)
            self.size = cp.tree_size

    def snapshot(self) -> tuple[list[tuple[str, float]], float]:
        with self._lock:
            pairs = zip(LATENCY_BUCKETS, self.buckets, strict=True)
            cumulative = [(_bound(b), float(n)) for b, n in pairs]
            cumulative.append(("+Inf", float(self.count)))
            return cumulative, self.total


def _bound(value: float) -> str:
    return str(int(value)) + ".0"


class _Metrics:
    """Prometheus collector reading the service's live state at scrape time."""

    def __init__(self, service: LedgerService) -> None:
        self.service = service

    def collect(self) -> Iterator[Metric]:
        service = self.service
        stats = service.intake.stats
        yield _counter(
            "tipledger_submissions_accepted",
            "Submissions stored durably and promised (new commitments).",
            stats.accepted,
        )
        yield _counter(
            "tipledger_submissions_duplicate",
            "Submissions whose commitment was already known (answered with the existing entry).",
            stats.duplicates,
        )
        yield _counter(
            "tipledger_submissions_failed",
            "Submissions refused because their transaction failed.",
            stats.failed,
        )
        yield _counter(
            "tipledger_intake_batches",
            "Group-commit transactions (each stores every submission waiting).",
            stats.batches,
        )
        yield _counter(
            "tipledger_intake_batch_seconds",
            "Time spent in group-commit transactions.",
            stats.batch_seconds,
        )
        try:
            health = service.health()
            latency = service.observe_anchors()
        except (LedgerError, ChainError) as exc:
            log.warning("metrics: %s", exc)
            return
        sequencer = health.sequencer
        yield _gauge(
            "tipledger_pending_submissions",
            "Accepted submissions not yet in the log.",
            health.pending or 0,
        )
        yield _gauge("tipledger_log_size", "Entries in the log.", health.log_size)
        yield _gauge(
            "tipledger_anchored_tree_size",
            "Tree size of the latest checkpoint anchored on chain.",
            health.anchored_size,
        )
        if health.last_anchor_at is not None:
            yield _gauge(
                "tipledger_last_anchor_timestamp_seconds",
                "Block timestamp of the latest anchored checkpoint.",
                health.last_anchor_at,
            )
        yield _gauge(
            "tipledger_sequencer_leader",
            "1 when this instance's sequencer holds the lease.",
            1 if sequencer.get("is_leader") else 0,
        )
        yield _gauge(
            "tipledger_sequencer_halted",
            "1 when the sequencer refuses to anchor (a chain that does not match the log).",
            1 if sequencer.get("halted") else 0,
        )
        counts = _sequencer_counts(service.sequencer)
        for name, help_text in (
            ("batches", "Batches the sequencer moved into the log."),
            ("anchors", "Checkpoints the sequencer anchored on chain."),
        ):
            if name in counts:
                yield _counter(f"tipledger_sequencer_{name}", help_text, counts[name])
        buckets, total = latency.snapshot()
        hist = HistogramMetricFamily(
            "tipledger_anchor_latency_seconds",
            "Seconds from a submission's acceptance to the block timestamp of its anchor.",
        )
        hist.add_metric([], buckets, total)
        yield hist


def _sequencer_counts(sequencer: Sequencer | None) -> dict[str, int]:
    if sequencer is None:
        return {}
    status = sequencer.status
    out: dict[str, int] = {}
    for name in ("batches", "anchors"):
        value = getattr(status, name, None)
        if isinstance(value, int):
            out[name] = value
    return out


def _counter(name: str, help_text: str, value: float) -> CounterMetricFamily:
    metric = CounterMetricFamily(name, help_text)
    metric.add_metric([], value)
    return metric


def _gauge(name: str, help_text: str, value: float) -> GaugeMetricFamily:
    metric = GaugeMetricFamily(name, help_text)
    metric.add_metric([], value)
    return metric
