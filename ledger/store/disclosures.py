"""Disclosure requests, the custodians' decisions on them, and the shares re-sealed for them.

A request moves through these states (``next_state``)::

    pending  --approvals >= need-->  approved  --recordDisclosure seen on chain-->  recorded
    pending  --a quorum can no longer be reached-->  declined
    pending / approved / (recorded, not yet re-sealed)  --record rotated-->  superseded

``need`` is max(the record's threshold, the contract's disclosureThreshold), refreshed at every
decision. A decision is taken under a row lock on the request, so two concurrent approvals
cannot both miss the quorum.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, Row, delete, func, insert, select, update

from ledger.core.encoding import to_hex
from ledger.store.schema import vault_decisions, vault_requests, vault_resealed_shares
from ledger.store.vault import read, write
from ledger.vault.errors import UnknownVaultItemError, VaultConflictError

__all__ = [
    "APPROVED",
    "DECLINED",
    "OPEN_STATES",
    "PENDING",
    "RECORDED",
    "STATES",
    "SUPERSEDED",
    "Decision",
    "DisclosureRequest",
    "DisclosureStore",
    "ResealedShare",
    "next_state",
    "supersede",
]

PENDING = "pending"
APPROVED = "approved"
DECLINED = "declined"
RECORDED = "recorded"
SUPERSEDED = "superseded"
STATES = (PENDING, APPROVED, DECLINED, RECORDED, SUPERSEDED)
OPEN_STATES = (PENDING, APPROVED)  # decisions are taken only in these


@dataclass(frozen=True)
class DisclosureRequest:
    id: int
    request_digest: bytes
    record_id: bytes
    epoch: int
    purpose: str
    investigator_key: bytes
    requester: str
    filed_at: int
    state: str
    need: int
    recorded_tx: bytes | None = None
    recorded_block: int | None = None
    recorded_at: int | None = None


@dataclass(frozen=True)
class Decision:
    custodian_key_id: str
    address: str
    approve: bool
    signature: bytes | None
    reason: str | None
    decided_at: int

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "custodian_key_id": self.custodian_key_id,
            "address": self.address,
            "decided_at": self.decided_at,
        }
        if self.approve:
            out["signature"] = None if self.signature is None else to_hex(self.signature)
        else:
            out["reason"] = self.reason
        return out


@dataclass(frozen=True)
class ResealedShare:
    share_index: int
    custodian_key_id: str
    resealed: bytes
    resealed_at: int


def next_state(state: str, approvals: int, declines: int, members: int, need: int) -> str:
    """The state after a decision (module doc); only pending and approved ones move."""
    if state not in OPEN_STATES:
        return state
    if approvals >= need:
        return APPROVED
    if approvals + (members - approvals - declines) < need:
        return DECLINED
    return PENDING


def _request(row: Row[Any]) -> DisclosureRequest:
    r = row._mapping
    tx = r["recorded_tx"]
    return DisclosureRequest(
        id=int(r["id"]),
        request_digest=bytes(r["request_digest"]),
        record_id=bytes(r["record_id"]),
        epoch=int(r["epoch"]),
        purpose=str(r["purpose"]),
        investigator_key=bytes(r["investigator_key"]),
        requester=str(r["requester"]),
        filed_at=int(r["filed_at"]),
        state=str(r["state"]),
        need=int(r["need"]),
        recorded_tx=None if tx is None else bytes(tx),
        recorded_block=None if r["recorded_block"] is None else int(r["recorded_block"]),
        recorded_at=None if r["recorded_at"] is None else int(r["recorded_at"]),
    )


def supersede(conn: Connection, record_ids: Sequence[bytes], thresholds: dict[bytes, int]) -> int:
    """Within a rotation's transaction: void the unfinished requests on these records.

    Open requests, and recorded ones with fewer re-sealed shares than the record's threshold,
    become superseded and lose their re-sealed shares (of an epoch that no longer exists).
    """
    t = vault_requests.c
    changed = 0
    for record_id in record_ids:
        rows = conn.execute(
            select(t.id, t.state).where(
                t.record_id == record_id, t.state.in_((PENDING, APPROVED, RECORDED))
            )
        ).all()
        for request_id, state in rows:
            if state == RECORDED:
                have = conn.execute(
                    select(func.count()).where(vault_resealed_shares.c.request_id == request_id)
                ).scalar_one()
                if int(have) >= thresholds[record_id]:
                    continue
            conn.execute(
                delete(vault_resealed_shares).where(
                    vault_resealed_shares.c.request_id == request_id
                )
            )
            conn.execute(update(vault_requests).where(t.id == request_id).values(state=SUPERSEDED))
            changed += 1
    return changed


class DisclosureStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add_request(
        self,
        *,
        record_id: bytes,
        epoch: int,
        purpose: str,
        investigator_key: bytes,
        requester: str,
        filed_at: int,
        request_digest: bytes,
        need: int,
    ) -> DisclosureRequest:
        conflict = "an identical request was filed this very second: file it again"
        with write(self.engine, conflict) as conn:
            request_id = conn.execute(
                insert(vault_requests)
                .values(
                    request_digest=request_digest,
                    record_id=record_id,
                    epoch=epoch,
                    purpose=purpose,
                    investigator_key=investigator_key,
                    requester=requester,
                    filed_at=filed_at,
                    state=PENDING,
                    need=need,
                )
                .returning(vault_requests.c.id)
            ).scalar_one()
        return self.request(int(request_id))

    def request(self, request_id: int) -> DisclosureRequest:
        with read(self.engine) as conn:
            row = conn.execute(
                select(vault_requests).where(vault_requests.c.id == request_id)
            ).first()
        if row is None:
            raise UnknownVaultItemError(f"no disclosure request {request_id}")
        return _request(row)

    def requests(
        self, *, state: str | None = None, record_ids: Iterable[bytes] | None = None
    ) -> list[DisclosureRequest]:
        t = vault_requests.c
        query = select(vault_requests).order_by(t.id)
        if state is not None:
            query = query.where(t.state == state)
        if record_ids is not None:
            query = query.where(t.record_id.in_(list(record_ids)))
        with read(self.engine) as conn:
            return [_request(r) for r in conn.execute(query).all()]

    def decisions(self, request_ids: Iterable[int]) -> dict[int, list[Decision]]:
        ids = list(request_ids)
        out: dict[int, list[Decision]] = {i: [] for i in ids}
        if not ids:
            return out
        t = vault_decisions.c
        with read(self.engine) as conn:
            rows = conn.execute(
                select(vault_decisions)
                .where(t.request_id.in_(ids))
                .order_by(t.decided_at, t.custodian_key_id)
            ).all()
        for row in rows:
            r = row._mapping
            out[int(r["request_id"])].append(
                Decision(
                    custodian_key_id=str(r["custodian_key_id"]),
                    address=str(r["address"]),
                    approve=bool(r["approve"]),
                    signature=None if r["signature"] is None else bytes(r["signature"]),
                    reason=None if r["reason"] is None else str(r["reason"]),
                    decided_at=int(r["decided_at"]),
                )
            )
        return out

    def decide(
        self,
        request_id: int,
        decision: Decision,
        *,
        members: int,
        need: int,
        check: Callable[[DisclosureRequest], None],
    ) -> DisclosureRequest:
        """Add one custodian's decision and move the request's state, atomically.

        ``check`` sees the locked request and raises to refuse (wrong state, rotated record).
        A custodian decides once: a second decision is ``VaultConflictError``.
        """
        t = vault_requests.c
        d = vault_decisions.c
        duplicate = f"custodian {decision.address} has already decided on request {request_id}"
        with write(self.engine, duplicate) as conn:
            row = conn.execute(
                select(vault_requests).where(t.id == request_id).with_for_update()
            ).first()
            if row is None:
                raise UnknownVaultItemError(f"no disclosure request {request_id}")
            request = _request(row)
            check(request)
            earlier = conn.execute(
                select(d.approve).where(
                    d.request_id == request_id, d.custodian_key_id == decision.custodian_key_id
                )
            ).first()
            if earlier is not None:
                verb = "approved" if earlier[0] else "declined"
                raise VaultConflictError(
                    f"custodian {decision.address} has already {verb} request {request_id}: "
                    "each custodian decides once"
                )
            conn.execute(
                insert(vault_decisions).values(
                    request_id=request_id,
                    custodian_key_id=decision.custodian_key_id,
                    address=decision.address,
                    approve=decision.approve,
                    signature=decision.signature,
                    reason=decision.reason,
                    decided_at=decision.decided_at,
                )
            )
            counts: dict[bool, int] = dict(
                conn.execute(
                    select(d.approve, func.count())
                    .where(d.request_id == request_id)
                    .group_by(d.approve)
                ).all()
            )
            approvals = int(counts.get(True, 0))
            declines = int(counts.get(False, 0))
            state = next_state(request.state, approvals, declines, members, need)
            conn.execute(
                update(vault_requests).where(t.id == request_id).values(state=state, need=need)
            )
        return self.request(request_id)

    def mark_recorded(
        self, request_id: int, *, tx_hash: bytes | None, block: int | None, at: int | None
    ) -> DisclosureRequest:
        """The request is recorded on chain (it may have been declined here meanwhile: the
        chain is the record, so it wins over every state but superseded)."""
        t = vault_requests.c
        with write(self.engine) as conn:
            conn.execute(
                update(vault_requests)
                .where(t.id == request_id, t.state != SUPERSEDED)
                .values(state=RECORDED, recorded_tx=tx_hash, recorded_block=block, recorded_at=at)
            )
        return self.request(request_id)

    def add_resealed(self, request_id: int, share: ResealedShare) -> None:
        conflict = f"share {share.share_index} has already been re-sealed for request {request_id}"
        with write(self.engine, conflict) as conn:
            conn.execute(
                insert(vault_resealed_shares).values(
                    request_id=request_id,
                    share_index=share.share_index,
                    custodian_key_id=share.custodian_key_id,
                    resealed=share.resealed,
                    resealed_at=share.resealed_at,
                )
            )

    def resealed(self, request_id: int) -> list[ResealedShare]:
        t = vault_resealed_shares.c
        with read(self.engine) as conn:
            rows = conn.execute(
                select(vault_resealed_shares)
                .where(t.request_id == request_id)
                .order_by(t.share_index)
            ).all()
        return [
            ResealedShare(
                share_index=int(r.share_index),
                custodian_key_id=str(r.custodian_key_id),
                resealed=bytes(r.resealed),
                resealed_at=int(r.resealed_at),
            )
            for r in rows
        ]

    def resealed_counts(self, request_ids: Iterable[int]) -> dict[int, int]:
        ids = list(request_ids)
        if not ids:
            return {}
        t = vault_resealed_shares.c
        with read(self.engine) as conn:
            rows = conn.execute(
                select(t.request_id, func.count())
                .where(t.request_id.in_(ids))
                .group_by(t.request_id)
            ).all()
        return {int(i): int(n) for i, n in rows}
