"""The disclosure workflow on the server: requests, approvals, declines, withheld shares.

1. An investigator (REVIEWER_ROLE) files a request: record, purpose, the investigator's X25519
   public key. The service fixes ``filed_at`` and the request digest (``ledger.vault.digests``).
2. Each custodian of the record's set reads it on their own machine, recomputes the digest, and
   approves with an EIP-712 ``Disclosure(recordId, requestDigest, requester)`` signature, or
   declines with a reason. An approval counts only if its signature recovers to the signed-in
   custodian, who must be a registered custodian of the record's set and hold CUSTODIAN_ROLE
   on chain; each custodian decides once.
3. Anyone sends ``recordDisclosure`` with the approvals' signatures (at least max(record
   threshold, contract threshold) of them are collected before the request reads approved).
4. Only once ``isDisclosed(recordId, requestDigest)`` is true on chain does the service hand an
   approving custodian its sealed share, and accept the share re-sealed to the investigator;
   only the requester may fetch the re-sealed shares. The server never holds an opened share.
"""

from __future__ import annotations

import time
from typing import Any

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from ledger.auth.sessions import CUSTODIAN_ROLE
from ledger.core.eip712 import disclosure_digest, recover_disclosure_signer
from ledger.core.encoding import checksum_address, to_hex
from ledger.core.errors import SignatureError
from ledger.store.disclosures import (
    OPEN_STATES,
    RECORDED,
    SUPERSEDED,
    Decision,
    DisclosureRequest,
    DisclosureStore,
    ResealedShare,
)
from ledger.store.vault import Custodian, CustodianSet, StoredRecord, VaultStore
from ledger.vault.digests import check_purpose, purpose_digest, request_digest
from ledger.vault.errors import (
    ApprovalError,
    DisclosureNotRecordedError,
    NotEntitledError,
    RecordError,
    ShareError,
    VaultConflictError,
)
from ledger.vault.onchain import RecordedDisclosure, VaultChain
from ledger.vault.records import (
    CustodianPublicKey,
    key_id,
    resealed_share_index,
    resealed_share_size,
)

__all__ = ["MAX_REASON_CHARS", "Disclosures", "investigator_key"]

MAX_REASON_CHARS = 2000


def investigator_key(raw: bytes) -> X25519PublicKey:
    """The investigator's X25519 public key, if it is one shares can be sealed to."""
    if not isinstance(raw, bytes) or len(raw) != 32:
        raise RecordError("the investigator key is a raw 32-byte X25519 public key")
    public = X25519PublicKey.from_public_bytes(raw)
    CustodianPublicKey.from_public_key(public)  # refuses low-order points
    return public


class Disclosures:
    def __init__(
        self, store: VaultStore, chain: VaultChain, chain_id: int, contract_address: str
    ) -> None:
        self.store = store
        self.requests = DisclosureStore(store.engine)
        self.chain = chain
        self.chain_id = chain_id
        self.contract_address = contract_address

    # -- filing and reading ------------------------------------------------------------------

    def file(
        self, requester: str, record_id: bytes, purpose: str, investigator: bytes
    ) -> dict[str, Any]:
        record = self.store.record(bytes(record_id))
        purpose = check_purpose(purpose)
        investigator_key(investigator)
        requester = checksum_address(requester)
        filed_at = self.store.now()
        digest = request_digest(record.record.record_id, requester, investigator, purpose, filed_at)
        need = max(record.record.threshold, self.chain.threshold())
        created = self.requests.add_request(
            record_id=record.record.record_id,
            epoch=record.record.epoch,
            purpose=purpose,
            investigator_key=investigator,
            requester=requester,
            filed_at=filed_at,
            request_digest=digest,
            need=need,
        )
        return self.view(created)

    def get(self, request_id: int) -> dict[str, Any]:
        return self.view(self.requests.request(request_id))

    def listing(
        self,
        *,
        state: str | None = None,
        awaiting: str | None = None,
        requester: str | None = None,
    ) -> list[dict[str, Any]]:
        """All requests with their decisions (oversight); ``awaiting`` keeps the open ones that
        custodian address has yet to decide on, ``requester`` those that address filed."""
        found = self.requests.requests(state=state)
        if requester is not None:
            found = [r for r in found if r.requester == checksum_address(requester)]
        decisions = self.requests.decisions(r.id for r in found)
        counts = self.requests.resealed_counts(r.id for r in found)
        records: dict[bytes, StoredRecord] = {}
        sets: dict[int, CustodianSet] = {}
        views = []
        for r in found:
            view = self._view(r, decisions[r.id], counts.get(r.id, 0), records, sets)
            if awaiting is not None:
                me = checksum_address(awaiting)
                holders = {c["address"] for c in view["custodians"]}
                decided = {d.address for d in decisions[r.id]}
                if r.state not in OPEN_STATES or me not in holders or me in decided:
                    continue
            views.append(view)
        return views

    def view(self, request: DisclosureRequest) -> dict[str, Any]:
        decisions = self.requests.decisions([request.id])[request.id]
        count = self.requests.resealed_counts([request.id]).get(request.id, 0)
        return self._view(request, decisions, count, {}, {})

    def _view(
        self,
        r: DisclosureRequest,
        decisions: list[Decision],
        resealed: int,
        records: dict[bytes, StoredRecord],
        sets: dict[int, CustodianSet],
    ) -> dict[str, Any]:
        if r.record_id not in records:
            records[r.record_id] = self.store.record(r.record_id)
        stored = records[r.record_id]
        if stored.set_id not in sets:
            sets[stored.set_id] = self.store.custodian_set(stored.set_id)
        holders = sets[stored.set_id]
        rotated = stored.record.epoch != r.epoch
        return {
            "id": r.id,
            "record_id": to_hex(r.record_id),
            "kind": stored.record.kind.value,
            "epoch": r.epoch,
            "threshold": stored.record.threshold,
            "purpose": r.purpose,
            "purpose_digest": to_hex(purpose_digest(r.purpose)),
            "investigator_key": to_hex(r.investigator_key),
            "investigator_key_id": key_id(X25519PublicKey.from_public_bytes(r.investigator_key)),
            "requester": r.requester,
            "filed_at": r.filed_at,
            "request_digest": to_hex(r.request_digest),
            "eip712_digest": to_hex(
                disclosure_digest(
                    self.chain_id, self.contract_address, r.record_id, r.request_digest, r.requester
                )
            ),
            "state": r.state,
            "need": r.need,
            # The record's custodians now; after a rotation they are not the request's.
            "custodians": []
            if rotated
            else [
                {"index": i, "key_id": m.key_id, "address": m.address, "name": m.name}
                for i, m in enumerate(holders.members, start=1)
            ],
            "approvals": [d.to_dict() for d in decisions if d.approve],
            "declines": [d.to_dict() for d in decisions if not d.approve],
            "resealed": resealed,
            "recorded": None
            if r.state != RECORDED
            else {
                "tx_hash": None if r.recorded_tx is None else to_hex(r.recorded_tx),
                "block_number": r.recorded_block,
                "timestamp": r.recorded_at,
            },
        }

    # -- decisions ---------------------------------------------------------------------------

    def approve(self, caller: str, request_id: int, signature: bytes) -> dict[str, Any]:
        request = self.requests.request(request_id)
        custodian, stored, members = self._holder(caller, request)
        try:
            signer = recover_disclosure_signer(
                self.chain_id,
                self.contract_address,
                request.record_id,
                request.request_digest,
                request.requester,
                signature,
            )
        except SignatureError as exc:
            raise ApprovalError(f"the approval signature is malformed: {exc}") from None
        if signer != custodian.address:
            raise ApprovalError(
                f"the signature recovers to {signer}, not to {custodian.address}: it is not "
                f"{custodian.address}'s EIP-712 Disclosure approval of request {request_id}"
            )
        if not self.chain.has_role(CUSTODIAN_ROLE, signer):
            raise NotEntitledError(f"{signer} does not hold CUSTODIAN_ROLE on chain")
        decision = Decision(
            custodian.key_id, custodian.address, True, bytes(signature), None, self.store.now()
        )
        return self._decide(request, decision, stored, members)

    def decline(self, caller: str, request_id: int, reason: str) -> dict[str, Any]:
        if not isinstance(reason, str) or not reason.strip():
            raise RecordError("a decline needs a reason, for the record")
        if len(reason) > MAX_REASON_CHARS:
            raise RecordError(f"the reason is at most {MAX_REASON_CHARS} characters")
        request = self.requests.request(request_id)
        custodian, stored, members = self._holder(caller, request)
        decision = Decision(
            custodian.key_id, custodian.address, False, None, reason, self.store.now()
        )
        return self._decide(request, decision, stored, members)

    def _decide(
        self, request: DisclosureRequest, decision: Decision, stored: StoredRecord, members: int
    ) -> dict[str, Any]:
        need = max(stored.record.threshold, self.chain.threshold())

        def check(locked: DisclosureRequest) -> None:
            if locked.state not in OPEN_STATES:
                raise VaultConflictError(
                    f"request {locked.id} is {locked.state}: decisions are taken only while it "
                    "is pending or approved"
                )

        return self.view(
            self.requests.decide(request.id, decision, members=members, need=need, check=check)
        )

    def _holder(
        self, caller: str, request: DisclosureRequest
    ) -> tuple[Custodian, StoredRecord, int]:
        """The calling custodian, if it holds a share of the request's record at its epoch."""
        custodian = self.store.custodian_by_address(caller)
        if custodian is None:
            raise NotEntitledError(f"{checksum_address(caller)} is not a registered custodian")
        if not custodian.active:
            raise NotEntitledError(f"custodian {custodian.address} is inactive")
        stored = self.store.record(request.record_id)
        if stored.record.epoch != request.epoch or request.state == SUPERSEDED:
            raise VaultConflictError(
                f"request {request.id} is superseded: its record was rotated to new custodians; "
                "file a new request"
            )
        holders = self.store.custodian_set(stored.set_id)
        if holders.index_of(custodian.key_id) is None:
            raise NotEntitledError(
                f"custodian {custodian.address} holds no share of record "
                f"{to_hex(request.record_id)}"
            )
        return custodian, stored, len(holders.members)

    # -- the chain ---------------------------------------------------------------------------

    def chain_state(self, request_id: int) -> dict[str, Any]:
        """The on-chain state of a request (``isDisclosed`` and its ``DisclosureApproved``)."""
        request = self.requests.request(request_id)
        found = self.chain.recorded(request.record_id, request.request_digest)
        if found is not None:
            request = self._mark(request, found)
        return {
            "recorded": found is not None,
            "event": None if found is None else found.to_dict(),
            "request": self.view(request),
        }

    def _mark(self, request: DisclosureRequest, found: RecordedDisclosure) -> DisclosureRequest:
        if request.state in (RECORDED, SUPERSEDED):
            return request
        return self.requests.mark_recorded(
            request.id, tx_hash=found.tx_hash, block=found.block_number, at=found.timestamp
        )

    def _on_chain(self, request: DisclosureRequest) -> DisclosureRequest:
        """The request, if ``recordDisclosure`` has succeeded for it: asked of the chain each
        time, whatever the database says."""
        found = self.chain.recorded(request.record_id, request.request_digest)
        if found is None:
            raise DisclosureNotRecordedError(
                f"request {request.id} is not recorded on chain (isDisclosed is false): no share "
                "is handed out or accepted before recordDisclosure succeeds"
            )
        return self._mark(request, found)

    def _approver(self, caller: str, request: DisclosureRequest) -> tuple[Custodian, StoredRecord]:
        custodian, stored, _ = self._holder(caller, request)
        decided = self.requests.decisions([request.id])[request.id]
        if not any(d.custodian_key_id == custodian.key_id and d.approve for d in decided):
            raise NotEntitledError(
                f"custodian {custodian.address} did not approve request {request.id}: only "
                "approving custodians re-seal their shares"
            )
        return custodian, stored

    # -- shares ------------------------------------------------------------------------------

    def sealed_share(self, caller: str, request_id: int) -> dict[str, Any]:
        """An approving custodian's sealed share, once the disclosure is recorded on chain."""
        request = self.requests.request(request_id)
        custodian, stored = self._approver(caller, request)
        request = self._on_chain(request)
        share = stored.record.sealed_share_for(custodian.key_id)
        return {"request": self.view(request), "share": share.to_dict()}

    def add_resealed(self, caller: str, request_id: int, resealed: bytes) -> dict[str, Any]:
        """Accept an approving custodian's share re-sealed to the investigator."""
        request = self.requests.request(request_id)
        custodian, stored = self._approver(caller, request)
        request = self._on_chain(request)
        size = resealed_share_size(stored.record.version)  # 70, or 71 for version 2
        if not isinstance(resealed, bytes) or len(resealed) != size:
            raise ShareError(f"a resealed share of this record is {size} bytes")
        mine = stored.record.sealed_share_for(custodian.key_id)
        index = resealed_share_index(resealed)
        epoch = int.from_bytes(resealed[2:6], "big")  # header: version, index, epoch (4)
        if index != mine.index or epoch != stored.record.epoch:
            raise ShareError(
                f"this resealed share says index {index}, epoch {epoch}; custodian "
                f"{custodian.address} holds share {mine.index} of epoch {stored.record.epoch}"
            )
        self.requests.add_resealed(
            request.id,
            ResealedShare(mine.index, custodian.key_id, bytes(resealed), int(time.time())),
        )
        return self.view(self.requests.request(request.id))

    def resealed_shares(self, caller: str, request_id: int) -> dict[str, Any]:
        """For the requester only, once recorded on chain: the record and the re-sealed shares."""
        request = self.requests.request(request_id)
        if checksum_address(caller) != request.requester:
            raise NotEntitledError(
                f"only the requester {request.requester} may fetch the shares re-sealed for "
                f"request {request.id}"
            )
        request = self._on_chain(request)
        stored = self.store.record(request.record_id)
        if stored.record.epoch != request.epoch:
            raise VaultConflictError(
                f"record {to_hex(request.record_id)} was rotated since request {request.id}: "
                "its re-sealed shares no longer open it; file a new request"
            )
        shares = self.requests.resealed(request.id)
        return {
            "request": self.view(request),
            "record": stored.record.to_dict(),
            "resealed": [
                {
                    "index": s.share_index,
                    "custodian_key_id": s.custodian_key_id,
                    "resealed": to_hex(s.resealed),
                }
                for s in shares
            ],
        }
