"""Accepting tips: from a document to a durable, promised submission, with group commit.

Per tip the caller's thread (the API's event loop) does the CPU work: ``content_digest``, the
salt (the client's, or a fresh one the service makes and returns only in the receipt), the
commitment, the HPKE envelope of document + salt + author to the review desk
(``ledger.core.envelope.seal_tip``) to a fresh case key granted to each member of the tip's
agency (``ledger.core.casekey``), ``received_at`` in whole seconds, and the EIP-712
``Promise`` signed with the anchorer key (one ``Signer``, parsed once).

Durability is one committer thread: every submission waiting when it wakes is written in ONE
transaction (``SubmissionStore.accept``), and only after that transaction has committed is each
caller's future resolved. So a submission is acknowledged only once it is durable, and a burst of
N concurrent submissions costs one commit (one fsync), not N. A commitment already known keeps
its first row: the caller gets that entry and its stored promise.

Nothing about the sender is seen here: no address, no user agent, and no time finer than the
second (the batch is written in commitment order, not queue order; the sequencer orders a second
by commitment; the public counters move only at second boundaries).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import queue
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

from ledger.chain.agencies import Recipients
from ledger.core.agency import INTAKE, agency_id
from ledger.core.casekey import grant_case_key, new_case_key
from ledger.core.commitment import (
    SALT_SIZE,
    ZERO_AUTHOR,
    commitment,
    content_digest,
    new_salt,
)
from ledger.core.eip712 import Signer, sign_promise
from ledger.core.encoding import address_bytes, checksum_address
from ledger.core.envelope import seal_tip
from ledger.core.hpke import key_id_bytes, public_bytes
from ledger.core.sealed import SealedTip, check_sealed_tip
from ledger.errors import LedgerError, ProtocolError, StoreError
from ledger.ops.coarse import AsOfSecond
from ledger.store.submissions import (
    SOURCE_API,
    Companions,
    NewSubmission,
    Submission,
    SubmissionStore,
)

__all__ = ["Accepted", "CompanionBuilder", "Intake", "IntakeClosedError", "IntakeStats"]

INTAKE_ID = agency_id(INTAKE)
MAX_BATCH = 8192  # submissions per transaction; a burst larger than this takes several
# After the first submission of a batch arrives, the committer waits this long for others to
# join it: a commit costs the same for one row as for a hundred (one fsync, one transaction's
# overhead), so a little patience buys throughput at a cost of milliseconds.
LINGER = 0.002


class IntakeClosedError(StoreError):
    """The intake is shut down (the service is stopping): the tip was not stored."""


@dataclass(frozen=True, slots=True)
class Accepted:
    """A durably stored submission, as the submitter gets it back.

    ``salt``, ``content_digest`` and ``author`` are this request's (they exist nowhere else in
    readable form); ``received_at`` and the promise are the stored row's, so a repeated
    commitment gets its first promise back. ``new`` is False for a commitment already known.
    """

    commitment: bytes
    salt: bytes | None  # None for a tip sealed on the device: the service never saw it
    content_digest: bytes | None
    author: bytes | None
    received_at: int
    promise_signer: bytes | None
    promise_signature: bytes | None
    new: bool
    leaf_index: int | None


@dataclass
class IntakeStats:
    """Counters since start (written only by the committer thread). Public figures (/metrics)
    are read from ``Intake.public_stats``: as they stood when the current second began."""

    accepted: int = 0  # new submissions stored
    duplicates: int = 0  # submissions whose commitment was already known
    batches: int = 0  # transactions committed
    failed: int = 0  # submissions refused because their transaction failed
    refused: int = 0  # submissions refused alone, a companion's claim taken (a code's locator)
    last_batch_size: int = 0
    batch_seconds: float = 0.0  # total time spent in accept transactions


class RecipientSource(Protocol):
    """Whom a new tip for an agency is sealed to: ``ledger.chain.agencies.AgencyDirectory``
    (the members' keys as the chain lists them)."""

    def recipients(self, agency: bytes) -> Recipients: ...


# Given the new tip's commitment, the rows to store with it (see ``SubmissionStore.accept``).
CompanionBuilder = Callable[[bytes], Companions]


@dataclass(slots=True)
class _Prepared:
    row: NewSubmission
    companions: Companions = ()
    # The tip's own parts, known here only when the service sealed it (None when the device
    # did: then they exist only on the device and sealed).
    salt: bytes | None = None
    digest: bytes | None = None
    author: bytes | None = None
    # Where to deliver the outcome: an asyncio future on its loop, or a thread's future.
    loop: asyncio.AbstractEventLoop | None = None
    future: Any = None
    done: threading.Event | None = None
    outcome: Accepted | BaseException | None = field(default=None)


class Intake:
    """Prepares submissions on the caller's thread and commits them in groups on its own thread.

    ``start()`` launches the committer; ``close()`` stops taking new submissions, commits what
    is queued and joins the thread. ``on_accepted(n)`` is called (on the committer thread) after
    each transaction that stored ``n`` new submissions, e.g. ``sequencer.notify``.
    ``write_lock`` (a context manager) is held around each transaction: the service passes a
    file lock for SQLite, so the group commits of several worker processes take turns at once
    instead of through SQLite's sleeping retries. ``directory`` (the agencies and their members'
    keys, read from chain) None keeps no sealed copy (the local ``tipledger submit``: the tip
    reaches no agency, only the log and the reporter's receipt).
    """

    def __init__(
        self,
        submissions: SubmissionStore,
        signer: Signer,
        directory: RecipientSource | None,
        *,
        chain_id: int,
        contract: str,
        on_accepted: Callable[[int], None] | None = None,
        clock: Callable[[], float] = time.time,
        max_batch: int = MAX_BATCH,
        linger: float = LINGER,
        write_lock: AbstractContextManager[Any] | None = None,
    ) -> None:
        self._submissions = submissions
        self._signer = signer
        self._signer_bytes = address_bytes(signer.address)
        self._directory = directory
        self.chain_id = chain_id
        self.contract = checksum_address(contract)
        self._on_accepted = on_accepted
        self._clock = clock
        self._max_batch = max(1, max_batch)
        self._linger = max(0.0, linger)
        self._write_lock = write_lock
        self._queue: queue.SimpleQueue[_Prepared | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._lock = threading.Lock()
        self.stats = IntakeStats()
        self._public = AsOfSecond(IntakeStats())

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self._closed = False
            self._thread = threading.Thread(target=self._run, name="tipledger-intake", daemon=True)
            self._thread.start()

    def close(self, timeout: float = 30.0) -> None:
        """Refuse new submissions, commit those already queued, stop the committer."""
        with self._lock:
            self._closed = True
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout)
        self._fail_queued()

    def public_stats(self) -> IntakeStats:
        """``stats`` as they stood at the last whole-second boundary: polled, they say no more
        than how many tips each whole second stored."""
        return self._public.get()

    @property
    def running(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive()

    # -- submitting ------------------------------------------------------------------------

    def prepare(
        self,
        document: bytes,
        salt: bytes | None = None,
        author: bytes | str | None = None,
        companions: CompanionBuilder | None = None,
        agency: bytes = INTAKE_ID,
    ) -> _Prepared:
        """The per-tip work: digest, commitment, case key, envelope, grants, signed promise (the
        only I/O is the agency directory's cached read of the chain, at most once a second).

        Raises ``ProtocolError`` for a salt that is not 32 bytes or an author that is not an
        address, ``AgencyRefusedError`` for an agency that is unknown, inactive or has no
        members. The document is any bytes, as submitted (never re-serialised). ``companions``
        makes the rows stored with the tip, in its transaction, if it is new.
        """
        if not isinstance(document, bytes | bytearray | memoryview):
            raise ProtocolError(f"a tip document is bytes, got {type(document).__name__}")
        document = bytes(document)
        if salt is None:
            salt = new_salt()
        elif not isinstance(salt, bytes | bytearray) or len(salt) != SALT_SIZE:
            got = len(salt) if isinstance(salt, bytes | bytearray) else type(salt).__name__
            raise ProtocolError(f"salt must be {SALT_SIZE} bytes, got {got}")
        salt = bytes(salt)
        if author is None:
            author_raw = ZERO_AUTHOR
        else:
            try:
                author_raw = address_bytes(author)
            except ProtocolError as exc:
                raise ProtocolError(f"author: {exc}") from None
        digest = content_digest(document)
        entry = commitment(salt, digest, author_raw)
        envelope = case_public = grants = None
        if self._directory is not None:
            # A fresh case key per tip: the envelope is sealed to it, and its private half is
            # granted to each member the chain lists for the agency (PROTOCOL.md 16.3).
            recipients = self._directory.recipients(agency)
            case = new_case_key()
            envelope = seal_tip(
                case.public_key(), commitment=entry, document=document, salt=salt, author=author_raw
            )
            case_public = public_bytes(case.public_key())
            grants = b"".join(grant_case_key(key, case, entry) for key in recipients.keys)
        item = self._promised(entry, envelope, case_public, grants, agency, companions)
        item.salt, item.digest, item.author = salt, digest, author_raw
        return item

    def prepare_sealed(
        self, tip: SealedTip, companions: CompanionBuilder | None = None
    ) -> _Prepared:
        """A tip sealed on the reporter's device (PROTOCOL.md 17): checked, then promised.

        The service never sees its document, salt or author. ``AgencyRefusedError`` for an
        agency that is unknown, inactive or has no members; ``EnvelopeError`` when the envelope
        does not name the case key or the grants are not exactly one per member key the chain
        lists for the agency now (``ledger.core.sealed.check_sealed_tip``).
        """
        if self._directory is None:
            raise ProtocolError("this intake keeps no sealed copies (a local log)")
        agency = agency_id(tip.agency)
        recipients = self._directory.recipients(agency)
        check_sealed_tip(tip, [key_id_bytes(key) for key in recipients.keys])
        grants = b"".join(tip.grants)
        return self._promised(
            tip.commitment, tip.envelope, tip.case_key, grants, agency, companions
        )

    def _promised(
        self,
        entry: bytes,
        envelope: bytes | None,
        case_public: bytes | None,
        grants: bytes | None,
        agency: bytes,
        companions: CompanionBuilder | None,
    ) -> _Prepared:
        """The row of a new tip with its signed promise, and its companions."""
        received_at = int(self._clock())
        signature = sign_promise(self._signer, self.chain_id, self.contract, entry, received_at)
        row = NewSubmission(
            commitment=entry,
            received_at=received_at,
            source=SOURCE_API,
            envelope=envelope,
            promise_signer=self._signer_bytes,
            promise_signature=signature,
            agency=agency,
            case_key=case_public,
            grants=grants,
        )
        extra = () if companions is None else tuple(companions(entry))
        return _Prepared(row=row, companions=extra)

    async def submit_sealed_async(
        self, tip: SealedTip, companions: CompanionBuilder | None = None
    ) -> Accepted:
        """``prepare_sealed`` on this event loop, then wait for the group commit."""
        return await self._wait_async(self.prepare_sealed(tip, companions))

    async def submit_async(
        self,
        document: bytes,
        salt: bytes | None = None,
        author: bytes | str | None = None,
        companions: CompanionBuilder | None = None,
        agency: bytes = INTAKE_ID,
    ) -> Accepted:
        """Prepare on this event loop, then wait (without blocking it) for the group commit."""
        return await self._wait_async(self.prepare(document, salt, author, companions, agency))

    async def _wait_async(self, item: _Prepared) -> Accepted:
        loop = asyncio.get_running_loop()
        item.loop = loop
        item.future = loop.create_future()
        self._enqueue(item)
        result: Accepted = await item.future
        return result

    def submit(
        self,
        document: bytes,
        salt: bytes | None = None,
        author: bytes | str | None = None,
        timeout: float | None = 60.0,
        companions: CompanionBuilder | None = None,
        agency: bytes = INTAKE_ID,
    ) -> Accepted:
        """Blocking form of ``submit_async`` for threads without an event loop."""
        item = self.prepare(document, salt, author, companions, agency)
        item.done = threading.Event()
        self._enqueue(item)
        if not item.done.wait(timeout):
            raise StoreError(f"the submission was not stored within {timeout} s")
        if isinstance(item.outcome, BaseException):
            raise item.outcome
        assert isinstance(item.outcome, Accepted)
        return item.outcome

    def _enqueue(self, item: _Prepared) -> None:
        with self._lock:
            if self._closed or self._thread is None:
                raise IntakeClosedError("the service is not accepting submissions (shutting down)")
            self._queue.put(item)

    # -- the committer ---------------------------------------------------------------------

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                stopping = True
                batch: list[_Prepared] = []
            else:
                batch = [first]
                if self._linger:
                    time.sleep(self._linger)  # let the others in this burst join (GIL freed)
            while len(batch) < self._max_batch:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stopping = True
                    continue
                batch.append(nxt)
            if batch:
                self._commit(batch)

    def _commit(self, batch: list[_Prepared]) -> None:
        started = time.perf_counter()
        try:
            rows = [item.row for item in batch]
            extras = (
                [item.companions for item in batch] if any(i.companions for i in batch) else None
            )
            if self._write_lock is None:
                stored, news = self._submissions.accept_each(rows, extras)
            else:
                with self._write_lock:
                    stored, news = self._submissions.accept_each(rows, extras)
        except Exception as exc:  # deliver every failure to its callers, never lose the thread
            error = exc if isinstance(exc, LedgerError) else StoreError(f"storing failed: {exc}")
            self.stats.failed += len(batch)
            self._public.set(copy.copy(self.stats))
            self._deliver([(item, error) for item in batch])
            return
        new = refused = 0
        outcomes: list[tuple[_Prepared, Accepted | BaseException]] = []
        for item, row, stored_now in zip(batch, stored, news, strict=True):
            if isinstance(row, LedgerError):  # refused alone: nothing of it was stored
                refused += 1
                outcomes.append((item, row))
                continue
            # New when this item's row is the one stored (and not a repeat within the batch).
            is_new = stored_now and row.leaf_index is None
            new += is_new
            outcomes.append((item, _accepted(item, row, is_new)))
        stats = self.stats
        stats.batches += 1
        stats.accepted += new
        stats.refused += refused
        stats.duplicates += len(batch) - new - refused
        stats.last_batch_size = len(batch)
        stats.batch_seconds += time.perf_counter() - started
        self._public.set(copy.copy(stats))
        self._deliver(outcomes)
        if new and self._on_accepted is not None:
            # A hint only (the sequencer also runs on its timer): never fail the batch over it.
            with contextlib.suppress(Exception):
                self._on_accepted(new)

    def _deliver(self, outcomes: list[tuple[_Prepared, Accepted | BaseException]]) -> None:
        # One wake-up per event loop for the whole batch, not one per submission.
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[Any, Accepted | BaseException]]] = {}
        for item, outcome in outcomes:
            if item.loop is not None:
                by_loop.setdefault(item.loop, []).append((item.future, outcome))
            else:
                item.outcome = outcome
                if item.done is not None:
                    item.done.set()
        for loop, pairs in by_loop.items():
            with contextlib.suppress(RuntimeError):  # that loop is closed: its callers are gone
                loop.call_soon_threadsafe(_resolve, pairs)

    def _fail_queued(self) -> None:
        leftover: list[tuple[_Prepared, Accepted | BaseException]] = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                leftover.append((item, IntakeClosedError("the service stopped before storing")))
        if leftover:
            self._deliver(leftover)


def _resolve(pairs: list[tuple[Any, Accepted | BaseException]]) -> None:
    for future, outcome in pairs:
        if future.done():  # the caller went away (client disconnected): the tip is stored
            continue
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)


def _accepted(item: _Prepared, row: Submission, is_new: bool) -> Accepted:
    return Accepted(
        commitment=row.commitment,
        salt=item.salt,
        content_digest=item.digest,
        author=item.author,
        received_at=row.received_at,
        promise_signer=row.promise_signer,
        promise_signature=row.promise_signature,
        new=is_new,
        leaf_index=row.leaf_index,
    )
