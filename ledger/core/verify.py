"""Receipt verification, the pure part (PROTOCOL.md section 7).

Two stages, so that the core stays free of I/O:

1. ``verify_offline(receipt, document)`` does steps 1-3 and the signature half of step 5 and says
   what the chain must confirm (a ``ChainQuery``);
2. the caller reads the chain (``eth_chainId``, ``checkpoint(tree_size)``, ``hasRole``,
   ``maxMergeDelay()``) and passes the answers to ``complete_verdict``, which adds step 4 and the
   rest of step 5.

Check names: ``content_digest``, ``commitment``, ``inclusion``, ``promise_signature`` (offline),
``chain_id``, ``checkpoint_root``, ``checkpoint_timestamp``, ``promise_signer_role`` (chain).
A receipt whose ``inclusion`` is null is *pending*: not ok, but not invalid either.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from ledger.core.commitment import commitment, content_digest
from ledger.core.eip712 import recover_promise_signer
from ledger.core.encoding import to_hex
from ledger.core.errors import ProtocolError, SignatureError
from ledger.core.merkle import leaf_hash, root_from_inclusion, split_point
from ledger.core.receipt import Receipt

CONTENT_DIGEST = "content_digest"
COMMITMENT = "commitment"
INCLUSION = "inclusion"
PROMISE_SIGNATURE = "promise_signature"
CHAIN_ID = "chain_id"
CHECKPOINT_ROOT = "checkpoint_root"
CHECKPOINT_TIMESTAMP = "checkpoint_timestamp"
PROMISE_SIGNER_ROLE = "promise_signer_role"
MERGE_DELAY = "merge_delay"


@dataclass(frozen=True, slots=True)
class Check:
    """One verification step: its name, whether it passed, and why (one short line)."""

    name: str
    ok: bool
    detail: str


@dataclass(frozen=True, slots=True)
class ChainQuery:
    """What the chain must confirm for a receipt (the caller performs the calls).

    - ``eth_chainId`` must equal ``chain_id``;
    - when anchored: ``checkpoint(tree_size)`` on ``contract`` must return ``root_hash`` with a
      non-zero timestamp equal to ``block_timestamp``;
    - when there is a promise: ``hasRole(ANCHORER_ROLE, promise_signer)`` on ``contract`` (best
      read at ``block_number``, the anchoring block, so a later key rotation does not matter),
      and ``maxMergeDelay()`` to compare ``block_timestamp`` with ``received_at``.
    """

    chain_id: int
    contract: str
    tree_size: int | None
    root_hash: bytes | None
    block_timestamp: int | None
    block_number: int | None
    promise_signer: str | None
    received_at: int | None


class _Checks:
    """What every verdict answers from its receipt and its checks."""

    __slots__ = ()
    receipt: Receipt
    checks: tuple[Check, ...]

    @property
    def pending(self) -> bool:
        """True when the receipt carries no inclusion yet (not yet anchored)."""
        return self.receipt.inclusion is None

    @property
    def ok(self) -> bool:
        """Every check passed and the receipt is anchored (offline: steps 1-3; in full: 1-5)."""
        return not self.pending and all(c.ok for c in self.checks)

    @property
    def failures(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if not c.ok)

    def check(self, name: str) -> Check | None:
        return next((c for c in self.checks if c.name == name), None)


@dataclass(frozen=True, slots=True)
class OfflineVerdict(_Checks):
    """Result of ``verify_offline``: the offline checks and the chain's part still to do."""

    receipt: Receipt
    checks: tuple[Check, ...]
    query: ChainQuery

    @property
    def document_checked(self) -> bool:
        return any(c.name == CONTENT_DIGEST for c in self.checks)


@dataclass(frozen=True, slots=True)
class Verdict(_Checks):
    """The full verdict: offline and chain checks, operator warnings, and what was not checked."""

    receipt: Receipt
    checks: tuple[Check, ...]
    warnings: tuple[str, ...]
    unchecked: tuple[str, ...]
    document_checked: bool

    @property
    def proven_time(self) -> int | None:
        """``block_timestamp`` when ok: the tip existed, as committed, no later than this."""
        inclusion = self.receipt.inclusion
        return inclusion.block_timestamp if self.ok and inclusion is not None else None

    def summary(self) -> str:
        """One line: VALID, INVALID or PENDING, and the essentials."""
        receipt = self.receipt
        if self.failures:
            line = "INVALID: " + "; ".join(f"{c.name}: {c.detail}" for c in self.failures)
        elif self.pending:
            line = f"PENDING: commitment {_short(receipt.commitment)} not yet anchored"
            if receipt.promise is not None:
                line += f" (promised, received at {_time(receipt.promise.received_at)})"
        else:
            inclusion = receipt.inclusion
            assert inclusion is not None
            what = "the document" if self.document_checked else "the commitment"
            line = (
                f"VALID: {what} existed no later than {_time(inclusion.block_timestamp)} "
                f"(commitment {_short(receipt.commitment)}, {_entry(inclusion.leaf_index)} of "
                f"{inclusion.tree_size}, block {inclusion.block_number}, chain {receipt.chain_id})"
            )
        if self.unchecked and not self.failures:
            line += "; not checked: " + ", ".join(self.unchecked)
        if self.warnings:
            n = len(self.warnings)
            line += f"; {n} warning{'s' if n > 1 else ''}: " + "; ".join(self.warnings)
        return line


def verify_offline(receipt: Receipt, document: bytes | None = None) -> OfflineVerdict:
    """Steps 1-3 of PROTOCOL.md section 7 and the promise signature of step 5, no I/O."""
    checks: list[Check] = []

    if document is not None:
        digest = content_digest(document)
        same = digest == receipt.content_digest_bytes
        checks.append(
            Check(
                CONTENT_DIGEST,
                same,
                "the document hashes to content_digest"
                if same
                else f"the document hashes to {_short(to_hex(digest))}, "
                f"the receipt says {_short(receipt.content_digest)}",
            )
        )

    commitment_bytes = receipt.commitment_bytes
    recomputed = commitment(receipt.salt_bytes, receipt.content_digest_bytes, receipt.author_bytes)
    same = recomputed == commitment_bytes
    checks.append(
        Check(
            COMMITMENT,
            same,
            "salt, content_digest and author give the commitment"
            if same
            else f"salt, content_digest and author give {_short(to_hex(recomputed))}, "
            f"not {_short(receipt.commitment)}",
        )
    )

    inclusion = receipt.inclusion
    if inclusion is not None:
        checks.append(_inclusion_check(receipt, commitment_bytes))

    promise = receipt.promise
    if promise is not None:
        try:
            signer = recover_promise_signer(
                receipt.chain_id,
                receipt.contract_bytes,
                commitment_bytes,
                promise.received_at,
                promise.signature_bytes,
            )
        except SignatureError as exc:
            checks.append(Check(PROMISE_SIGNATURE, False, f"malformed promise signature: {exc}"))
        else:
            same = signer == promise.signer
            checks.append(
                Check(
                    PROMISE_SIGNATURE,
                    same,
                    f"promise signed by {signer}"
                    if same
                    else f"promise signature recovers to {signer}, not signer {promise.signer}",
                )
            )

    query = ChainQuery(
        chain_id=receipt.chain_id,
        contract=receipt.contract,
        tree_size=inclusion.tree_size if inclusion else None,
        root_hash=inclusion.root_hash_bytes if inclusion else None,
        block_timestamp=inclusion.block_timestamp if inclusion else None,
        block_number=inclusion.block_number if inclusion else None,
        promise_signer=promise.signer if promise else None,
        received_at=promise.received_at if promise else None,
    )
    return OfflineVerdict(receipt=receipt, checks=tuple(checks), query=query)


def complete_verdict(
    offline: OfflineVerdict,
    *,
    chain_id: int,
    checkpoint_root: bytes | None,
    checkpoint_timestamp: int | None,
    signer_is_anchorer: bool | None,
    max_merge_delay: int | None,
    now: int | None = None,
) -> Verdict:
    """Add the chain's answers (step 4 and the rest of step 5) to an offline verdict.

    ``chain_id`` is ``eth_chainId``; ``checkpoint_root`` and ``checkpoint_timestamp`` are what
    ``checkpoint(tree_size)`` returned (required for an anchored receipt, ignored for a pending
    one); ``signer_is_anchorer`` is ``hasRole(ANCHORER_ROLE, signer)`` and ``max_merge_delay`` is
    ``maxMergeDelay()`` (``None``: not checked, listed in ``unchecked``). ``now`` (Unix seconds),
    if given, lets a pending receipt's promise be flagged as overdue.

    Lateness never fails a receipt: it is evidence against the operator, reported in ``warnings``.
    """
    receipt = offline.receipt
    checks = list(offline.checks)
    warnings: list[str] = []
    unchecked: list[str] = []

    same_chain = chain_id == receipt.chain_id
    checks.append(
        Check(
            CHAIN_ID,
            same_chain,
            f"chain {chain_id}"
            if same_chain
            else f"the endpoint is chain {chain_id}, the receipt is for chain {receipt.chain_id}",
        )
    )

    inclusion = receipt.inclusion
    if inclusion is not None:
        if checkpoint_root is None or checkpoint_timestamp is None:
            raise ProtocolError(
                "an anchored receipt needs checkpoint_root and checkpoint_timestamp from the chain"
            )
        checks.extend(_checkpoint_checks(receipt, checkpoint_root, checkpoint_timestamp))

    promise = receipt.promise
    if promise is not None:
        if signer_is_anchorer is None:
            unchecked.append(PROMISE_SIGNER_ROLE)
        else:
            checks.append(
                Check(
                    PROMISE_SIGNER_ROLE,
                    signer_is_anchorer,
                    f"{promise.signer} holds ANCHORER_ROLE"
                    if signer_is_anchorer
                    else f"promise signer {promise.signer} does not hold ANCHORER_ROLE",
                )
            )
        if max_merge_delay is None:
            unchecked.append(MERGE_DELAY)
        else:
            deadline = promise.received_at + max_merge_delay
            if inclusion is not None and inclusion.block_timestamp > deadline:
                late = inclusion.block_timestamp - promise.received_at
                warnings.append(
                    f"late inclusion: anchored {late} s after received_at, "
                    f"beyond maxMergeDelay of {max_merge_delay} s"
                )
            elif inclusion is None and now is not None and now > deadline:
                warnings.append(
                    f"promise overdue: not anchored {now - promise.received_at} s after "
                    f"received_at, beyond maxMergeDelay of {max_merge_delay} s"
                )

    return Verdict(
        receipt=receipt,
        checks=tuple(checks),
        warnings=tuple(warnings),
        unchecked=tuple(unchecked),
        document_checked=offline.document_checked,
    )


# --- helpers -----------------------------------------------------------------------------------


def _inclusion_check(receipt: Receipt, commitment_bytes: bytes) -> Check:
    inclusion = receipt.inclusion
    assert inclusion is not None
    index, size = inclusion.leaf_index, inclusion.tree_size
    if index >= size:
        return Check(INCLUSION, False, f"leaf index {index} is outside a log of {size} entries")
    proof = inclusion.proof_bytes
    computed = root_from_inclusion(leaf_hash(commitment_bytes), index, size, proof)
    if computed is None:
        need = _path_length(index, size)
        return Check(
            INCLUSION,
            False,
            f"proof has {len(proof)} hashes; {_entry(index)} of {size} needs {need}",
        )
    if computed != inclusion.root_hash_bytes:
        return Check(
            INCLUSION,
            False,
            f"proof leads to {_short(to_hex(computed))}, "
            f"not root_hash {_short(inclusion.root_hash)}",
        )
    return Check(INCLUSION, True, f"{_entry(index)} of {size} leads to root_hash")


def _checkpoint_checks(receipt: Receipt, root: bytes, timestamp: int) -> list[Check]:
    inclusion = receipt.inclusion
    assert inclusion is not None
    size = inclusion.tree_size
    if timestamp == 0:
        return [
            Check(
                CHECKPOINT_ROOT,
                False,
                f"tree size {size} was never anchored on {receipt.contract}",
            ),
            Check(CHECKPOINT_TIMESTAMP, False, f"checkpoint({size}) has timestamp 0"),
        ]
    same_root = root == inclusion.root_hash_bytes
    same_time = timestamp == inclusion.block_timestamp
    return [
        Check(
            CHECKPOINT_ROOT,
            same_root,
            f"checkpoint({size}) is root_hash"
            if same_root
            else f"checkpoint({size}) is {_short(to_hex(root))}, "
            f"not root_hash {_short(inclusion.root_hash)}",
        ),
        Check(
            CHECKPOINT_TIMESTAMP,
            same_time,
            f"anchored at {_time(timestamp)}"
            if same_time
            else f"checkpoint({size}) was anchored at {_time(timestamp)}, "
            f"the receipt says {_time(inclusion.block_timestamp)}",
        ),
    ]


def _path_length(index: int, size: int) -> int:
    """The length of RFC 9162 ``PATH(index, D[size])``, without hashing anything."""
    length, lo, hi, m = 0, 0, size, index
    while hi - lo > 1:
        k = split_point(hi - lo)
        if m < k:
            hi = lo + k
        else:
            lo, m = lo + k, m - k
        length += 1
    return length


def _short(hex_text: str) -> str:
    return hex_text if len(hex_text) <= 14 else f"{hex_text[:10]}...{hex_text[-4:]}"


def _entry(leaf_index: int) -> str:
    """An entry as people count it, from 1 (the wire's ``leaf_index`` counts from 0)."""
    return f"entry {leaf_index + 1}"


def _time(ts: int) -> str:
    try:
        return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, ValueError, OSError):
        return f"unix time {ts}"
