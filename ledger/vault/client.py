"""The custodian's and the investigator's side of the vault: what runs on their own machines.

Everything that touches an opened share or K is here, never on the server. The service is
trusted for nothing that can be checked: a request's digest is recomputed from its fields
before it is signed or a share is re-sealed to its key; the chain is asked directly whether a
disclosure is recorded before a share is re-sealed; a registered key is used only if its
registration signature recovers to its address and that address holds CUSTODIAN_ROLE on chain;
approvals are checked one by one before they are sent to ``recordDisclosure``.

The reporter's side is here too: ``checked_custodian_set`` takes the service's list of a kind's
custodian keys only once every one checks against the chain, and ``seal_identity_on_device``
seals an identity to them (record version 2) before anything leaves the reporter's machine.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from ledger.auth.sessions import CUSTODIAN_ROLE
from ledger.core.eip712 import recover_disclosure_signer
from ledger.core.encoding import checksum_address, from_hex, to_hex
from ledger.core.errors import ProtocolError, SignatureError
from ledger.core.identity import record_kind
from ledger.core.identity_v2 import MIN_THRESHOLD_V2, RECORD_VERSION_V2
from ledger.vault.custodian_keys import CustodianKey, CustodianPublicInfo
from ledger.vault.digests import request_digest, rotation_digest, verify_registration
from ledger.vault.errors import (
    ApprovalError,
    DisclosureNotRecordedError,
    RecordError,
    ShareError,
    VaultError,
)
from ledger.vault.onchain import RecordedDisclosure, VaultChain
from ledger.vault.records import (
    CustodianPublicKey,
    IdentityRecord,
    RecordKind,
    SealedShare,
    combine,
    open_resealed,
    reseal_share,
    reshare,
    seal_identity,
)

__all__ = [
    "CheckedRequest",
    "SealingSet",
    "check_approvals",
    "check_request",
    "checked_custodian_set",
    "contribute_shares",
    "open_disclosure",
    "require_recorded",
    "reseal_for",
    "reshare_records",
    "seal_identity_on_device",
    "verified_custodian",
]


@dataclass(frozen=True)
class CheckedRequest:
    """A disclosure request whose digest was recomputed here from its fields."""

    id: int
    record_id: bytes
    epoch: int
    requester: str
    investigator_key: X25519PublicKey
    purpose: str
    filed_at: int
    request_digest: bytes


def _hex(data: Mapping[str, Any], name: str, length: int | None = None) -> bytes:
    value = data.get(name)
    if not isinstance(value, str):
        raise RecordError(f"the service's answer lacks {name}")
    try:
        return from_hex(value, length)
    except ProtocolError as exc:
        raise RecordError(f"the service's {name}: {exc}") from None


def check_request(view: Mapping[str, Any]) -> CheckedRequest:
    """The request, if its digest is what its fields give; ``VaultError`` otherwise."""
    try:
        checked = CheckedRequest(
            id=int(view["id"]),
            record_id=_hex(view, "record_id", 32),
            epoch=int(view["epoch"]),
            requester=checksum_address(str(view["requester"])),
            investigator_key=X25519PublicKey.from_public_bytes(_hex(view, "investigator_key", 32)),
            purpose=str(view["purpose"]),
            filed_at=int(view["filed_at"]),
            request_digest=_hex(view, "request_digest", 32),
        )
    except (KeyError, TypeError, ValueError, ProtocolError) as exc:
        raise RecordError(f"the service's disclosure request is malformed: {exc}") from None
    raw_key = CustodianPublicKey.from_public_key(checked.investigator_key).raw
    mine = request_digest(
        checked.record_id, checked.requester, raw_key, checked.purpose, checked.filed_at
    )
    if mine != checked.request_digest:
        raise VaultError(
            f"request {checked.id}: the service says digest {to_hex(checked.request_digest)}, "
            f"its fields give {to_hex(mine)}: refusing it (the request may have been altered)"
        )
    return checked


def verified_custodian(
    entry: Mapping[str, Any], chain: VaultChain, chain_id: int
) -> CustodianPublicInfo:
    """A registered custodian's keys, if its registration signature recovers to its address
    (for this chain and contract) and that address holds CUSTODIAN_ROLE on chain now."""
    info = CustodianPublicInfo.from_dict({"format": "tipledger-custodian-public/1", **entry})
    signature = _hex(entry, "registration_signature", 65)
    verify_registration(chain_id, chain.contract().address, info, signature)
    if not chain.has_role(CUSTODIAN_ROLE, info.address):
        raise VaultError(f"custodian {info.address} does not hold CUSTODIAN_ROLE on chain")
    return info


# --- the reporter's device ------------------------------------------------------------------


@dataclass(frozen=True)
class SealingSet:
    """A kind's custodian set as the service lists it, every custodian checked on chain."""

    kind: RecordKind
    threshold: int
    custodians: tuple[CustodianPublicInfo, ...]  # share order
    set_id: int
    version: int

    @property
    def share_keys(self) -> list[CustodianPublicKey]:
        return [c.share_key for c in self.custodians]


def checked_custodian_set(
    view: Mapping[str, Any], chain: VaultChain, chain_id: int, kind: RecordKind | str
) -> SealingSet:
    """``GET /v1/vault/custodian-set/{kind}``'s answer, if it checks: for this chain id and the
    chain's contract, in share order, and every custodian's registration signature recovering
    to its address, which holds CUSTODIAN_ROLE on chain now (``verified_custodian``).
    ``VaultError`` naming the first thing wrong: an identity is never sealed to such a set."""
    kind_ = record_kind(kind)
    try:
        same_deployment = int(view["chain_id"]) == int(chain_id) and checksum_address(
            str(view["contract"])
        ) == checksum_address(chain.contract().address)
        members = list(view["custodians"])
        threshold = int(view["threshold"])
        listed_kind = record_kind(view["kind"])
        set_id, version = int(view["set_id"]), int(view["version"])
    except (KeyError, TypeError, ValueError, ProtocolError) as exc:
        raise RecordError(f"the service's custodian set is malformed: {exc}") from None
    if not same_deployment:
        raise VaultError("the service's custodian set is for another chain or contract")
    if listed_kind is not kind_:
        raise VaultError(f"asked for the {kind_.value} set, the service sent a {listed_kind} one")
    checked = []
    for i, member in enumerate(members, start=1):
        if not isinstance(member, Mapping) or member.get("index") != i:
            raise VaultError(f"custodian {i} of the service's set is out of share order")
        checked.append(verified_custodian(member, chain, chain_id))
    if not MIN_THRESHOLD_V2 <= threshold <= len(checked):
        raise VaultError(
            f"the service's set has threshold {threshold} for {len(checked)} custodians"
        )
    return SealingSet(kind_, threshold, tuple(checked), set_id, version)


def seal_identity_on_device(
    identity: Mapping[str, Any] | bytes,
    kind: RecordKind | str,
    custodians: Sequence[CustodianPublicKey],
    threshold: int,
) -> IdentityRecord:
    """Seal ``identity`` here, on the reporter's machine: a version 2 record whose ``to_dict()``
    is what the service receives. ``custodians`` and ``threshold`` come from a
    ``checked_custodian_set`` (its ``share_keys``), never from the service unchecked."""
    return seal_identity(
        identity, kind=kind, custodians=custodians, threshold=threshold, version=RECORD_VERSION_V2
    )


def require_recorded(chain: VaultChain, request: CheckedRequest) -> RecordedDisclosure:
    """The on-chain record of this disclosure, asked of the chain itself."""
    found = chain.recorded(request.record_id, request.request_digest)
    if found is None:
        raise DisclosureNotRecordedError(
            f"the chain has no recordDisclosure for request {request.id} (isDisclosed is false "
            "on the contract): refusing to re-seal a share before the disclosure is recorded"
        )
    if found.requester is not None and found.requester != request.requester:
        raise DisclosureNotRecordedError(
            f"the chain records request {request.id} for requester {found.requester}, not "
            f"{request.requester}: refusing to re-seal"
        )
    return found


def reseal_for(key: CustodianKey, share: Mapping[str, Any], request: CheckedRequest) -> bytes:
    """Open this custodian's sealed share and re-seal it to the request's investigator key."""
    sealed = SealedShare.from_dict(share)
    if sealed.epoch != request.epoch:
        raise ShareError(
            f"the share is of epoch {sealed.epoch}, request {request.id} of epoch {request.epoch}"
        )
    opened = key.open_share(sealed, request.record_id)
    return reseal_share(
        opened,
        record_id=request.record_id,
        investigator_public_key=request.investigator_key,
        request_digest=request.request_digest,
    )


def check_approvals(
    view: Mapping[str, Any], request: CheckedRequest, chain: VaultChain, chain_id: int
) -> list[bytes]:
    """The approvals' signatures, each checked: a valid EIP-712 Disclosure by the custodian it
    names, no signer twice, each holding CUSTODIAN_ROLE, and at least as many as needed."""
    contract = chain.contract().address
    signatures: list[bytes] = []
    seen: set[str] = set()
    for approval in view.get("approvals", []):
        signature = _hex(approval, "signature", 65)
        try:
            signer = recover_disclosure_signer(
                chain_id,
                contract,
                request.record_id,
                request.request_digest,
                request.requester,
                signature,
            )
        except SignatureError as exc:
            raise ApprovalError(
                f"an approval of request {request.id} is malformed: {exc}"
            ) from None
        if signer != checksum_address(str(approval.get("address"))):
            raise ApprovalError(
                f"the approval listed for {approval.get('address')} was signed by {signer}"
            )
        if signer in seen:
            raise ApprovalError(f"{signer} approves request {request.id} twice")
        if not chain.has_role(CUSTODIAN_ROLE, signer):
            raise ApprovalError(f"{signer} approved, but does not hold CUSTODIAN_ROLE on chain")
        seen.add(signer)
        signatures.append(signature)
    need = max(int(view.get("need", 0)), chain.threshold())
    if len(signatures) < need:
        raise ApprovalError(
            f"request {request.id} has {len(signatures)} approvals, {need} are needed"
        )
    return signatures


def open_disclosure(
    investigator: CustodianKey, data: Mapping[str, Any], request: CheckedRequest
) -> bytes:
    """Open the re-sealed shares with the investigator's key and decrypt: the identity JSON."""
    record = IdentityRecord.from_dict(data["record"])
    if record.record_id != request.record_id:
        raise ShareError("the service sent another record than the request names")
    shares = []
    for entry in data.get("resealed", []):
        shares.append(
            open_resealed(
                _hex(entry, "resealed"),
                record_id=request.record_id,
                request_digest=request.request_digest,
                investigator_private_key=investigator.x25519_private,
            )
        )
    if len(shares) < record.threshold:
        raise ShareError(
            f"{len(shares)} of the {record.threshold} shares needed have been re-sealed so far: "
            "wait for the approving custodians to run `tipledger custodian reseal`"
        )
    return combine(shares, record)


# --- rotation --------------------------------------------------------------------------------


def _rotation_digest(view: Mapping[str, Any]) -> bytes:
    """The rotation digest recomputed from the view; ``VaultError`` if the service's differs."""
    members = view["to_set"]["custodians"]
    mine = rotation_digest(
        rotation_id=int(view["id"]),
        created_at=int(view["created_at"]),
        kind=RecordKind(view["kind"]),
        threshold=int(view["to_set"]["threshold"]),
        custodian_keys=[_hex(m, "x25519_public", 32) for m in members],
        coordinator_key=_hex(view["coordinator"], "x25519_public", 32),
    )
    if mine != _hex(view, "digest", 32):
        raise VaultError(f"rotation {view['id']}: the digest does not match its fields: refusing")
    return mine


def contribute_shares(
    key: CustodianKey,
    view: Mapping[str, Any],
    shares: Sequence[Mapping[str, Any]],
    chain: VaultChain,
    chain_id: int,
) -> list[tuple[bytes, bytes]]:
    """Re-seal this custodian's shares to the rotation's coordinator: (record id, resealed)."""
    digest = _rotation_digest(view)
    coordinator = verified_custodian(view["coordinator"], chain, chain_id)
    out = []
    for item in shares:
        record_id = _hex(item, "record_id", 32)
        opened = key.open_share(SealedShare.from_dict(item["share"]), record_id)
        resealed = reseal_share(
            opened,
            record_id=record_id,
            investigator_public_key=coordinator.x25519_public,
            request_digest=digest,
        )
        out.append((record_id, resealed))
    return out


def reshare_records(
    key: CustodianKey,
    data: Mapping[str, Any],
    custodians: Sequence[Mapping[str, Any]],
    chain: VaultChain,
    chain_id: int,
) -> list[dict[str, Any]]:
    """As the coordinator: open the contributions, re-share every record to the target set."""
    view = data["rotation"]
    digest = _rotation_digest(view)
    if view["coordinator"]["key_id"] != key.key_id:
        raise VaultError(f"this key ({key.key_id}) does not coordinate rotation {view['id']}")
    registered = {c["key_id"]: c for c in custodians}
    targets = []
    for member in view["to_set"]["custodians"]:
        entry = registered.get(member["key_id"])
        if entry is None or entry["x25519_public"] != member["x25519_public"]:
            raise VaultError(f"custodian {member['key_id']} of the new set is not registered so")
        targets.append(verified_custodian(entry, chain, chain_id).share_key)
    threshold = int(view["to_set"]["threshold"])
    out = []
    for item in data["records"]:
        record = IdentityRecord.from_dict(item["record"])
        shares = [
            open_resealed(
                _hex(c, "resealed"),
                record_id=record.record_id,
                request_digest=digest,
                investigator_private_key=key.x25519_private,
            )
            for c in item["contributions"]
        ]
        if len(shares) < record.threshold:
            raise ShareError(
                f"record {to_hex(record.record_id)} has {len(shares)} of the {record.threshold} "
                "contributions it needs"
            )
        out.append(reshare(shares, record, custodians=targets, threshold=threshold).to_dict())
    return out
