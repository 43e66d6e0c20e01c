"""The sequencer: turns accepted submissions into log entries and anchors checkpoints.

One ``Sequencer`` runs in a background thread of each service process; among instances sharing
a database only the holder of the ``sequencer`` lease acts (``ledger.store.lease``). Each ``step``:

1. renews (or tries to take) the lease; a follower does nothing else;
2. reconciles with the chain (``Anchorer.reconcile``): a chain that does not match the stored
   log (a reset devchain, another contract) halts anchoring with ``ChainMismatchError``, kept in
   ``status`` until the chain matches again; nothing is sent meanwhile, and submissions are still
   accepted and sequenced (the API keeps working);
3. reads ``DirectCommitment`` events from its persisted cursor on (starting at the deploy block)
   and accepts them as submissions received at the event's block time, so they are sequenced
   with the next batch, well within ``maxMergeDelay``;
4. sequences up to ``batch_cap`` pending submissions (dense leaf indices, oldest second first;
   ``run`` takes whole seconds only, once they ended: see ``step``);
5. follows the anchor transaction in flight, if any (``ledger.chain.tx_manager``: awaited,
   resent if dropped, replaced if stuck; a checkpoint is recorded only once it has
   ``confirmations`` blocks on top), else, if the stored log grew past the chain's latest
   checkpoint, persists and sends ``anchor(size, root, consistencyProof)``, the root computed
   from the stored tree.

A chain outage (``ChainUnavailableError``) skips the chain's part of a step, with one log line
per outage and a growing pause (at most ``MAX_BACKOFF`` seconds) between attempts; sequencing
goes on. A crash at any point is recovered by the next step of a new instance: every anchor
transaction is persisted before it is sent, and every step starts from the stored state and the
chain's ``latest()``.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TypeVar

from eth_account.signers.local import LocalAccount

from ledger.chain.contract import Checkpoint, TipLedgerContract
from ledger.chain.tx_manager import TxManager, TxProgress
from ledger.config import Settings
from ledger.errors import (
    ChainMismatchError,
    ChainUnavailableError,
    LeaseLostError,
    LedgerError,
    LogStateError,
    StoreError,
)
from ledger.log.anchoring import Anchorer
from ledger.ops.coarse import AsOfSecond
from ledger.store import LogStore, StoredCheckpoint
from ledger.store.chain_txs import TX_FAILED, TX_FINAL, TX_LOST, ChainCursor, StoredTx, TxStore
from ledger.store.lease import Lease
from ledger.store.submissions import SOURCE_DIRECT, NewSubmission, SubmissionStore

__all__ = ["InFlight", "LastAnchor", "Sequencer", "SequencerStatus", "StepResult"]

log = logging.getLogger("tipledger.sequencer")

ANCHOR = "anchor"  # the purpose of the sequencer's transactions
# A second is sequenced once it ended this long ago: a tip stamped in its last instant may still
# be in its group commit when the second ends.
SETTLE = 0.25
EVENT_BLOCK_RANGE = 2_000  # blocks per eth_getLogs request (public endpoints cap the range)
EVENT_RANGES_PER_STEP = 10
MAX_BACKOFF = 5.0

_T = TypeVar("_T")


@dataclass(frozen=True)
class LastAnchor:
    """The newest checkpoint recorded as anchored (final)."""

    tree_size: int
    tx_hash: bytes
    time: int  # the anchoring block's timestamp
    block_number: int


@dataclass(frozen=True)
class InFlight:
    """The anchor transaction sent and not yet final."""

    tree_size: int
    nonce: int
    tx_hash: bytes  # its current version
    state: str  # "pending" or "mined"
    versions: int  # 1 + replacements
    confirmations: int


@dataclass(frozen=True)
class SequencerStatus:
    is_leader: bool
    last_anchor: LastAnchor | None
    pending: int  # submissions not yet in the log, at the last step
    last_error: str | None
    halted: bool  # anchoring refused: the chain does not match the stored log
    holder: str = ""
    log_size: int = 0
    in_flight: InFlight | None = None
    chain_available: bool = True
    last_step_at: float | None = None
    batches: int = 0  # batches this instance moved into the log
    anchors: int = 0  # checkpoints this instance recorded as anchored


@dataclass(frozen=True)
class StepResult:
    """What one ``step`` did."""

    leader: bool
    ingested: int = 0  # DirectCommitment events read (each accepted, idempotently)
    sequenced: int = 0  # submissions that got a leaf index
    pending: int = 0  # submissions still waiting, after this step
    action: str | None = None  # the anchor transaction: "sent", "resent" or "replaced"
    tx_hash: bytes | None = None  # the anchor transaction acted on, if any
    in_flight: InFlight | None = None
    anchored: StoredCheckpoint | None = None  # a checkpoint recorded as final in this step
    halted: bool = False
    error: str | None = None


@dataclass
class _Step:
    ingested: int = 0
    sequenced: int = 0
    action: str | None = None
    tx_hash: bytes | None = None
    in_flight: InFlight | None = None
    anchored: StoredCheckpoint | None = None
    chain_checked: bool = False  # whether the in-flight anchor was looked at
    errors: list[str] = field(default_factory=list)


class Sequencer:
    """Sequences and anchors one store's log through one contract, while it holds ``lease``."""

    def __init__(
        self,
        submissions: SubmissionStore,
        contract: TipLedgerContract,
        account: LocalAccount,
        *,
        settings: Settings,
        lease: Lease,
        deploy_block: int,
        deploy_block_hash: bytes | None = None,
        clock: Callable[[], float] = time.time,
        stuck_after: float | None = None,
        receipt_wait: float = 0.5,
    ) -> None:
        # A store of its own: the tree cache is not shared with the API's threads.
        self.log = LogStore(submissions.log.engine)
        self.submissions = SubmissionStore(self.log)
        self.contract = contract
        self.account = account
        self.settings = settings
        self.lease = lease
        self.deploy_block = deploy_block
        self.clock = clock
        self.batch_cap = max(1, settings.batch_cap)
        self.confirmations = max(0, settings.confirmations)
        self.receipt_wait = receipt_wait
        self.anchorer = Anchorer(
            self.log,
            contract,
            account,
            confirmations=self.confirmations,
            deploy_block=deploy_block,
            deploy_block_hash=deploy_block_hash,
            on_lost_history=self._resend_lost,
        )
        engine = self.log.engine
        self.txs = TxManager(
            contract.w3,
            account,
            TxStore(engine),
            stuck_after=settings.tx_stuck_seconds if stuck_after is None else stuck_after,
            decoder=contract.error_decoder,
            clock=clock,
        )
        self.cursor = ChainCursor(engine, "direct_commitments")
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._hinted = 0  # submissions notified since the status's pending count was read
        self._was_leader = False
        self._halted = False
        self._halt_reason: str | None = None
        self._last_warning: str | None = None
        self._chain_down_since: float | None = None
        self._chain_error: str | None = None  # while the chain is unavailable
        self._chain_backoff = 0.0
        self._chain_retry_at = 0.0
        last = None
        try:
            last = _last_anchor(self.log.latest_checkpoint())
        except StoreError as exc:
            log.warning("could not read the last checkpoint yet: %s", exc)
        self._status = SequencerStatus(
            is_leader=False,
            last_anchor=last,
            pending=0,
            last_error=None,
            halted=False,
            holder=lease.holder,
        )
        self._public = AsOfSecond(self._status)

    # -- the public interface ----------------------------------------------------------------

    @property
    def status(self) -> SequencerStatus:
        with self._lock:
            return self._status

    @property
    def public_status(self) -> SequencerStatus:
        """``status`` as it stood at the last whole-second boundary (for public figures: its
        counts move only at boundaries, so polling them times no tip finer than the second)."""
        return self._public.get()

    def notify(self, added: int) -> None:
        """Called by the intake after each committed batch with the number of submissions it
        added (that batch's alone, not a running total): wakes ``run`` at once when, with those
        left over at the last step, a full batch (``batch_cap``) is waiting."""
        with self._lock:
            self._hinted += max(0, added)
            waiting = self._status.pending + self._hinted
        if waiting >= self.batch_cap:
            self._wake.set()

    def run(
        self,
        stop: threading.Event,
        on_step: Callable[[SequencerStatus], None] | None = None,
    ) -> None:
        """Step every ``batch_interval`` (at once while a backlog of full batches waits, or when
        ``notify`` says a batch is full) until ``stop`` is set; then give up the lease.
        ``on_step`` gets the status after each step (e.g. to publish it)."""
        interval = max(0.01, self.settings.batch_interval)
        if interval > self.lease.seconds / 2:
            # Each step renews the lease: step often enough to keep it.
            log.warning(
                "batch interval %g s is not below half the lease (%g s): stepping every %g s",
                interval,
                self.lease.seconds,
                self.lease.seconds / 2,
            )
            interval = self.lease.seconds / 2
        log.info(
            "sequencer %s running: a batch every %g s or at %d submissions, %d confirmation(s)",
            self.lease.holder[:8],
            interval,
            self.batch_cap,
            self.confirmations,
        )
        try:
            while not stop.is_set():
                started = time.monotonic()
                result: StepResult | None
                try:
                    result = self.step(whole_seconds=True)
                except Exception:  # never die: log it, try again next interval
                    log.exception("sequencer step failed")
                    result = None
                if on_step is not None:
                    try:
                        on_step(self.status)
                    except Exception as exc:  # a report is not worth a step
                        log.warning("reporting the sequencer's state failed: %s", exc)
                if (
                    result is not None
                    and result.leader
                    and result.sequenced
                    and result.pending >= self.batch_cap
                ):
                    continue  # a backlog: the next full batch at once
                if self._sleep(stop, self._until_next_step(interval, started)):
                    # Woken by a full batch, perhaps of this very second: step once it ended.
                    now = self.clock()
                    stop.wait(max(0.0, int(now) + 1 + SETTLE - now))
        finally:
            try:
                self.lease.release()
            except StoreError as exc:
                log.warning("could not release the sequencer lease: %s", exc)
            with self._lock:
                self._status = replace(self._status, is_leader=False)
                self._public.set(self._status)
            log.info("sequencer %s stopped", self.lease.holder[:8])

    def step(self, whole_seconds: bool = False) -> StepResult:
        """One iteration (see the module's doc); never raises a LedgerError.

        ``whole_seconds`` (as ``run`` steps) sequences only seconds that ended ``SETTLE`` ago,
        so each second's tips go into the log together, in commitment order: a step in the
        middle of a second would split it into those that came before the step and after.
        """
        now = self.clock()
        try:
            leader = self.lease.try_acquire()
        except StoreError as exc:
            return self._finish(False, _Step(errors=[f"lease: {exc}"]), now, whole_seconds)
        if not leader:
            if self._was_leader:
                log.warning("lost the sequencer lease: another instance is the sequencer now")
            self._was_leader = False
            return self._finish(False, _Step(), now, whole_seconds)
        if not self._was_leader:
            log.info(
                "this instance (%s) is the sequencer now (lease term %s)",
                self.lease.holder[:8],
                self.lease.term,
            )
        self._was_leader = True

        out = _Step()
        latest: Checkpoint | None = None
        if time.monotonic() >= self._chain_retry_at:
            latest = self._chain_phase(out, self._reconcile)
        if latest is not None:
            self._chain_phase(out, self._ingest_direct_commitments)
        try:
            before = int(now - SETTLE) if whole_seconds else None
            appended = self.submissions.sequence(self.batch_cap, before=before)
            out.sequenced = len(appended)
            if appended:
                log.info(
                    "sequenced %d submission(s); log size %d",
                    out.sequenced,
                    max(a.leaf_index for a in appended) + 1,
                )
        except StoreError as exc:
            out.errors.append(f"sequencing: {exc}")
            self._warn(f"sequencing failed (will retry): {exc}")
        if latest is not None:
            self._chain_phase(out, lambda o: self._anchor_phase(o, latest))
        return self._finish(True, out, now, whole_seconds)

    # -- a step's parts ----------------------------------------------------------------------

    def _chain_phase(self, out: _Step, fn: Callable[[_Step], _T]) -> _T | None:
        """Run chain work; sort its failures into outage, mismatch (halt) and other errors."""
        try:
            value = fn(out)
        except ChainUnavailableError as exc:
            self._chain_down(exc)
            out.errors.append(str(exc))
            return None
        except (ChainMismatchError, LogStateError) as exc:
            self._chain_up()
            self._halt(str(exc))
            return None
        except LeaseLostError as exc:
            out.errors.append(str(exc))
            self._warn(f"{exc}: not sending")
            return None
        except LedgerError as exc:
            self._chain_up()
            out.errors.append(str(exc))
            self._warn(str(exc))
            return None
        self._chain_up()
        return value

    def _reconcile(self, _out: _Step) -> Checkpoint:
        latest = self.anchorer.reconcile()
        if self._halted:
            log.warning("the chain matches the stored log again: anchoring resumes")
        self._halted, self._halt_reason = False, None
        return latest

    def _resend_lost(self, latest: Checkpoint) -> None:
        """The chain lost the blocks holding our newest anchors: make those transactions
        pending again, so they are sent again as signed, in nonce order (each extends what the
        chain holds, as it did the first time), before anything new is planned."""
        used = self.contract.chain.transaction_count(
            self.account.address, "reading the anchorer's nonce"
        )
        reopened = self.txs.store.reopen_from(self.txs.chain_id, self.txs.sender, used, ANCHOR)
        log.warning(
            "the chain's latest checkpoint is of size %d: %d anchor transaction(s) from nonce %d "
            "on are no longer on chain and will be sent again",
            latest.tree_size,
            reopened,
            used,
        )

    def _ingest_direct_commitments(self, out: _Step) -> None:
        head = self.contract.chain.head_block()
        last = head - self.confirmations  # events from final blocks only
        # Past the head only if the chain lost blocks: read again from there (idempotent).
        start = min(self.cursor.get(self.deploy_block), last + 1)
        read = 0
        for _ in range(EVENT_RANGES_PER_STEP):
            if start > last:
                break
            end = min(last, start + EVENT_BLOCK_RANGE - 1)
            events = self.contract.direct_commitments(start, end)
            if events:
                self.submissions.accept(
                    [
                        NewSubmission(
                            e.commitment,
                            received_at=e.timestamp,
                            source=SOURCE_DIRECT,
                        )
                        for e in events
                    ]
                )
                read += len(events)
            self.cursor.set(end + 1)
            start = end + 1
        if read:
            log.info("accepted %d direct commitment(s) from the chain", read)
        out.ingested = read

    def _anchor_phase(self, out: _Step, latest: Checkpoint) -> None:
        if not self.lease.held():
            raise LeaseLostError("the sequencer lease may have expired during this step")
        out.chain_checked = True
        closed = False
        for tx in self.txs.open_transactions():
            if tx.purpose != ANCHOR:
                continue
            self._check_against_log(tx)
            progress = self._follow(out, tx)
            if progress.state == TX_FINAL:
                self._record(out, progress)
                closed = True
            elif progress.state == TX_FAILED:
                out.errors.append(
                    f"the anchor of size {tx.tree_size} (nonce {tx.nonce}) reverted on chain; "
                    "planning it again"
                )
                self._warn(out.errors[-1])
                closed = True
            elif progress.state == TX_LOST:
                closed = True
            else:
                return  # one anchor in flight at a time: wait for it
        if closed:
            latest = self.anchorer.reconcile()
        plan = self.anchorer.plan(latest)
        if plan is None:
            return
        if not self.lease.held():
            raise LeaseLostError("the sequencer lease may have expired during this step")
        tx = self.txs.prepare(
            to=self.contract.address,
            data=plan.calldata(self.contract),
            purpose=ANCHOR,
            tree_size=plan.tree_size,
            root_hash=plan.root_hash,
            guard=self.lease.check_in,
            what=f"anchor({plan.tree_size})",
        )
        log.info(
            "sending the anchor of size %d (entries %d..%d): tx 0x%s, nonce %d",
            plan.tree_size,
            plan.previous_size,
            plan.tree_size - 1,
            tx.current.tx_hash.hex(),
            tx.nonce,
        )
        progress = self._follow(out, tx)  # sends it: it was never sent
        if progress.state == TX_FINAL:
            self._record(out, progress)

    def _follow(self, out: _Step, tx: StoredTx) -> TxProgress:
        """Check the transaction once (sending, resending or replacing it as needed); after
        sending something, wait briefly for nodes that mine at once and check again."""
        progress = self.txs.progress(tx, self.confirmations)
        self._note(out, progress)
        if progress.action is not None and progress.tx.is_open:
            self._await_briefly(progress.tx)
            progress = self.txs.progress(progress.tx, self.confirmations)
            self._note(out, progress)
        return progress

    def _await_briefly(self, tx: StoredTx) -> None:
        """Nodes that mine at once (Anvil) have the receipt within milliseconds: wait a little
        for it rather than a whole interval."""
        if self.receipt_wait <= 0:
            return
        self.contract.chain.wait_for_receipt(
            tx.current.tx_hash,
            self.receipt_wait,
            poll_latency=0.02,
            what="waiting for the anchor's receipt",
        )

    def _check_against_log(self, tx: StoredTx) -> None:
        """Never (re)send an anchor the stored log disagrees with (a restored backup?)."""
        assert tx.tree_size is not None
        assert tx.root_hash is not None
        tree = self.log.tree()
        if tree.size < tx.tree_size or tree.root(tx.tree_size) != tx.root_hash:
            raise LogStateError(
                f"the anchor transaction of nonce {tx.nonce} is for size {tx.tree_size}, which "
                f"the stored log (size {tree.size}) does not hold with that root: refusing to "
                "send it"
            )

    def _note(self, out: _Step, progress: TxProgress) -> None:
        tx = progress.tx
        out.action = progress.action or out.action
        out.tx_hash = tx.mined_hash or tx.current.tx_hash
        out.in_flight = None
        if tx.is_open:
            assert tx.tree_size is not None
            out.in_flight = InFlight(
                tree_size=tx.tree_size,
                nonce=tx.nonce,
                tx_hash=tx.current.tx_hash,
                state=tx.state,
                versions=len(tx.attempts),
                confirmations=progress.confirmations,
            )

    def _record(self, out: _Step, progress: TxProgress) -> None:
        tx, receipt = progress.tx, progress.receipt
        assert receipt is not None
        assert tx.tree_size is not None
        assert tx.root_hash is not None
        event = self.contract.anchored_in(receipt)
        if event is None or (event.tree_size, event.root_hash) != (tx.tree_size, tx.root_hash):
            raise ChainMismatchError(
                f"the anchor transaction 0x{bytes(receipt['transactionHash']).hex()} emitted no "
                f"Anchored event for size {tx.tree_size} with the stored root"
            )
        out.anchored = self.anchorer.record(
            tx.tree_size, tx.root_hash, event.tx_hash, event.block_number, event.timestamp
        )
        log.info(
            "anchored: checkpoint of size %d final in block %d (tx 0x%s, %d confirmation(s))",
            tx.tree_size,
            event.block_number,
            event.tx_hash.hex(),
            progress.confirmations,
        )

    # -- state -------------------------------------------------------------------------------

    def _warn(self, message: str) -> None:
        """Log a warning, once while it repeats (a refusal would otherwise fill the log)."""
        if message != self._last_warning:
            log.warning("%s", message)
        self._last_warning = message

    def _halt(self, reason: str) -> None:
        if reason != self._halt_reason:
            log.error("REFUSING TO ANCHOR: %s", reason)
        self._halted, self._halt_reason = True, reason

    def _chain_down(self, exc: ChainUnavailableError) -> None:
        self._chain_error = str(exc)
        self._chain_backoff = min(MAX_BACKOFF, max(0.5, self._chain_backoff * 2))
        self._chain_retry_at = time.monotonic() + self._chain_backoff
        if self._chain_down_since is None:
            self._chain_down_since = time.monotonic()
            log.warning(
                "chain unavailable, anchoring paused (submissions are still accepted and "
                "sequenced; retrying every %g s at most): %s",
                MAX_BACKOFF,
                exc,
            )

    def _chain_up(self) -> None:
        if self._chain_down_since is not None:
            log.info(
                "chain reachable again after %.0f s: anchoring resumes",
                time.monotonic() - self._chain_down_since,
            )
        self._chain_down_since = None
        self._chain_error = None
        self._chain_backoff = 0.0
        self._chain_retry_at = 0.0

    def _finish(self, leader: bool, out: _Step, now: float, whole_seconds: bool) -> StepResult:
        with self._lock:
            # Reset just before counting: a submission notified during the step's sequencing was
            # either sequenced or is in this count; counting it here too would wake ``run`` early.
            self._hinted = 0
        try:
            # Stepping whole seconds, count only those of ended seconds: a count taken mid-second
            # would split that second's tips into arrivals before and after the step (/healthz).
            pending = self.submissions.pending_count(before=int(now) if whole_seconds else None)
            size = self.log.size()
            last = _last_anchor(out.anchored) if out.anchored else None
        except StoreError as exc:
            out.errors.append(f"reading the store: {exc}")
            pending, size, last = self._status.pending, self._status.log_size, None
        if self._halted:
            error = self._halt_reason
        else:  # this step's error, else the outage the chain's part of the step waits out
            error = out.errors[-1] if out.errors else self._chain_error if leader else None
        if not out.errors:
            self._last_warning = None
        with self._lock:
            previous = self._status
            self._status = SequencerStatus(
                is_leader=leader,
                last_anchor=last or previous.last_anchor,
                pending=pending,
                last_error=error,
                halted=self._halted,
                holder=self.lease.holder,
                log_size=size,
                in_flight=(
                    None
                    if not leader
                    else out.in_flight
                    if out.chain_checked
                    else previous.in_flight
                ),
                chain_available=self._chain_down_since is None,
                last_step_at=now,
                batches=previous.batches + (1 if out.sequenced else 0),
                anchors=previous.anchors + (1 if out.anchored else 0),
            )
            self._public.set(self._status)
        return StepResult(
            leader=leader,
            ingested=out.ingested,
            sequenced=out.sequenced,
            pending=pending,
            action=out.action,
            tx_hash=out.tx_hash,
            in_flight=out.in_flight,
            anchored=out.anchored,
            halted=self._halted,
            error=error,
        )

    def _until_next_step(self, interval: float, started: float) -> float:
        """Seconds until the next step: ``interval`` after this one began, moved back to just
        after a second has settled (an interval of 1 s or more), so a tip waits for the end of
        its second and not for another interval on top."""
        delay = interval - (time.monotonic() - started)
        if delay <= 0 or interval < 1:
            return delay
        now = self.clock()
        aligned = math.floor(now + delay - SETTLE) + SETTLE
        return aligned - now if aligned > now else delay

    def _sleep(self, stop: threading.Event, seconds: float) -> bool:
        """Wait ``seconds``, or less if stopped or woken; True if woken."""
        deadline = time.monotonic() + seconds
        while not stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            if self._wake.wait(min(left, 0.05)):
                self._wake.clear()
                return True
        return False


def _last_anchor(cp: StoredCheckpoint | None) -> LastAnchor | None:
    if cp is None:
        return None
    return LastAnchor(cp.tree_size, cp.anchor_tx, cp.block_timestamp, cp.block_number)
