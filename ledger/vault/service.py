"""The identity vault as a service: sealing identities, custodians, sets, disclosures, rotation.

``VaultService`` is what the API (and the tips route) call. Identities are sealed on the
reporter's device (record version 2, ``ledger.core.identity_v2``): the service only checks a
device-made record against the kind's current custodian set and stores it
(``accept_sealed_identity``), never seeing the identity. The legacy path that seals on the
server's CPU (``prepare_identity``, version 1, the identity in the request) stays for a
deployment that turns it on. Everything that needs K runs on custodians' and investigators'
machines (``ledger.vault.client``). The disclosure workflow is
``self.disclosures`` (``ledger.vault.disclosures``) and rotation ``self.rotations``
(``ledger.vault.rotations``).

Who may call what is enforced twice: the routes check the role on chain (sign-in sessions), and
the methods here check the part the caller plays (a custodian of this record, the requester of
this request, the coordinator of this rotation). Addresses passed in are the signed-in ones.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.sql.schema import Table

from ledger.auth.sessions import CUSTODIAN_ROLE
from ledger.chain.contract import TipLedgerContract
from ledger.core.encoding import checksum_address, to_hex
from ledger.store.vault import CustodianSet, StoredRecord, VaultStore, record_rows
from ledger.vault.custodian_keys import CustodianPublicInfo
from ledger.vault.digests import verify_registration
from ledger.vault.disclosures import Disclosures
from ledger.vault.errors import (
    NoCustodianSetError,
    NotEntitledError,
    RecordError,
    UnknownVaultItemError,
    VaultConflictError,
)
from ledger.vault.onchain import VaultChain
from ledger.vault.records import (
    RECORD_FORMAT,
    RECORD_FORMAT_V2,
    IdentityRecord,
    RecordKind,
    seal_identity,
)
from ledger.vault.rotations import Rotations

__all__ = ["MAX_NAME_CHARS", "PreparedIdentity", "VaultService", "parse_kind"]

MAX_NAME_CHARS = 200
SET_CACHE_SECONDS = 5.0  # other service processes see a new custodian set within this


def parse_kind(kind: object) -> RecordKind:
    if isinstance(kind, RecordKind):
        return kind
    choices = ", ".join(repr(k.value) for k in RecordKind)
    try:
        return RecordKind(str(kind))
    except ValueError:
        raise RecordError(f"unknown record kind {kind!r}: expected one of {choices}") from None


@dataclass(frozen=True)
class PreparedIdentity:
    """An identity sealed to a custodian set, not yet stored."""

    record: IdentityRecord
    set_id: int

    def summary(self) -> dict[str, Any]:
        return {
            "record_id": to_hex(self.record.record_id),
            "kind": self.record.kind.value,
            "threshold": self.record.threshold,
            "custodians": len(self.record.sealed_shares),
        }

    def rows(self, commitment: bytes) -> list[tuple[Table, dict[str, Any]]]:
        """The companion rows storing this record with tip ``commitment``: record, then shares."""
        return [
            (table, dict(values))
            for table, values in record_rows(self.record, self.set_id, commitment)
        ]


def _device_record(record: Mapping[str, Any] | bytes) -> IdentityRecord:
    """A device-made record parsed: version 2 only (``RecordError`` otherwise)."""
    data: object = record
    if isinstance(record, bytes | bytearray):
        try:
            data = json.loads(bytes(record).decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise RecordError(f"the identity record is not UTF-8 JSON: {exc}") from None
    if not isinstance(data, Mapping):
        raise RecordError(f"the identity record is a JSON object, got {type(data).__name__}")
    if data.get("format") == RECORD_FORMAT:
        raise RecordError(
            f"a device seals identity records of format {RECORD_FORMAT_V2!r}; "
            f"{RECORD_FORMAT!r} records are made only by the service, and it cannot tell a "
            "device's from any other"
        )
    if data.get("format") != RECORD_FORMAT_V2:
        raise RecordError(
            f"not an identity record: format {data.get('format')!r}, expected {RECORD_FORMAT_V2!r}"
        )
    return IdentityRecord.from_dict(data)


def _sealed_to(record: IdentityRecord, current: CustodianSet) -> bool:
    return list(record.custodian_key_ids) == [m.key_id for m in current.members]


class VaultService:
    def __init__(
        self,
        engine: Engine,
        contract_getter: Callable[[], TipLedgerContract],
        chain_id: int,
        contract_address: str,
        *,
        deploy_block: int = 0,
        rpc_url: str | None = None,
        clock: Callable[[], float] = time.time,
        set_cache_seconds: float = SET_CACHE_SECONDS,
    ) -> None:
        self.chain_id = chain_id
        self.contract_address = checksum_address(contract_address)
        self.rpc_url = rpc_url
        self.store = VaultStore(engine, clock)
        self.chain = VaultChain(contract_getter, deploy_block=deploy_block)
        self._cache_seconds = set_cache_seconds
        self._sets: dict[RecordKind, tuple[float, CustodianSet | None]] = {}
        self._chain_threshold: tuple[float, int] | None = None
        self._lock = threading.Lock()
        self.disclosures = Disclosures(self.store, self.chain, chain_id, self.contract_address)
        self.rotations = Rotations(self.store, self.current_set)

    # -- sealing identities ------------------------------------------------------------------

    def current_set(self, kind: RecordKind, *, fresh: bool = False) -> CustodianSet | None:
        """The kind's current set, cached for a few seconds (``fresh`` reads the database)."""
        now = time.monotonic()
        with self._lock:
            hit = self._sets.get(kind)
        if not fresh and hit is not None and now - hit[0] < self._cache_seconds:
            return hit[1]
        found = self.store.current_set(kind)
        with self._lock:
            self._sets[kind] = (now, found)
        return found

    def available(self, kind: str = "reporter") -> bool:
        """Whether identities of ``kind`` can be accepted (it has a custodian set)."""
        return self.current_set(parse_kind(kind)) is not None

    def prepare_identity(
        self, identity: bytes | Mapping[str, Any], kind: str = "reporter"
    ) -> PreparedIdentity:
        """Seal ``identity`` (UTF-8 JSON object) to the kind's current custodian set.

        The legacy path: the server sees the identity. It makes version 1 records, as before.
        """
        kind_ = parse_kind(kind)
        current = self._require_set(kind_)
        record = seal_identity(
            identity,
            kind=kind_,
            custodians=current.share_keys,
            threshold=current.threshold,
            version=1,
        )
        return PreparedIdentity(record, current.id)

    def accept_sealed_identity(
        self, record: Mapping[str, Any] | bytes, kind: str = "reporter"
    ) -> PreparedIdentity:
        """Check a record sealed on the reporter's device, for storing with a tip.

        The one entry point for device-made identities (with a new tip, or added later). What
        can be checked without keys is: a version 2 record of ``kind``, at epoch 0, sealed to
        exactly the kind's current custodian set (its custodians in the set's order, indices
        1..n, the set's threshold), every size right, and a record id not stored yet.
        ``RecordError`` (422) names the first thing wrong; ``NoCustodianSetError`` (409) if the
        kind has no set. Whether the shares open is for the custodians to find: the service
        cannot tell, and a record that does not open harms only the tip that carries it.
        """
        kind_ = parse_kind(kind)
        parsed = _device_record(record)
        if parsed.kind is not kind_:
            raise RecordError(
                f"the record is a {parsed.kind.value} record, but it is given as a "
                f"{kind_.value} identity"
            )
        if parsed.epoch != 0:
            raise RecordError(f"a new record is at epoch 0, this one says {parsed.epoch}")
        current = self._require_set(kind_)
        if not _sealed_to(parsed, current):  # the set may have changed within the cache time
            current = self._require_set(kind_, fresh=True)
        expected = [m.key_id for m in current.members]
        if list(parsed.custodian_key_ids) != expected:
            named = ", ".join(parsed.custodian_key_ids)
            raise RecordError(
                f"the record is not sealed to the current {kind_.value} custodian set (version "
                f"{current.version}): its shares name custodians {named}, the set is "
                f"{', '.join(expected)} in this order"
            )
        indices = [s.index for s in parsed.sealed_shares]
        if indices != list(range(1, len(expected) + 1)):
            raise RecordError(
                f"the record's share indices are {indices}: they must be 1 to {len(expected)} in "
                "the set's order"
            )
        if parsed.threshold != current.threshold:
            raise RecordError(
                f"the record's threshold is {parsed.threshold}, the current {kind_.value} set's "
                f"is {current.threshold}"
            )
        try:
            self.store.record(parsed.record_id)
        except UnknownVaultItemError:
            return PreparedIdentity(parsed, current.id)
        raise RecordError(
            f"record id {to_hex(parsed.record_id)} is taken: a device draws a fresh one for "
            "every record"
        )

    def add_sealed_identity(
        self, commitment: bytes, record: Mapping[str, Any] | bytes, kind: str = "reporter"
    ) -> dict[str, Any]:
        """Store a device-made record for a tip that exists already; its summary."""
        prepared = self.accept_sealed_identity(record, kind)
        self.store.add_record(prepared.record, prepared.set_id, bytes(commitment))
        return prepared.summary()

    def custodian_set(self, kind: str = "reporter") -> dict[str, Any]:
        """The kind's current custodian set with each custodian's keys and registration proof.

        Public: a reporter's device seals to these keys, after checking each registration
        signature and each address's CUSTODIAN_ROLE on chain itself (the service's word is not
        enough). ``NoCustodianSetError`` if the kind has none.
        """
        kind_ = parse_kind(kind)
        current = self._require_set(kind_)  # cached: a public route; acceptance reads fresh
        return {
            "kind": kind_.value,
            "set_id": current.id,
            "version": current.version,
            "threshold": current.threshold,
            "chain_id": self.chain_id,
            "contract": self.contract_address,
            "record_format": RECORD_FORMAT_V2,
            "custodians": [
                {
                    "index": i,
                    "key_id": m.key_id,
                    "x25519_public": to_hex(m.x25519_public),
                    "address": m.address,
                    "name": m.name,
                    "registration_signature": to_hex(m.registration_signature),
                }
                for i, m in enumerate(current.members, start=1)
            ],
        }

    def _require_set(self, kind: RecordKind, *, fresh: bool = False) -> CustodianSet:
        current = self.current_set(kind, fresh=fresh)
        if current is None:
            raise NoCustodianSetError(
                f"no {kind.value} custodian set is configured yet: this service cannot accept "
                f"{kind.value} identities (an administrator runs `tipledger vault "
                "set-custodians`)"
            )
        return current

    def add_identity(
        self, commitment: bytes, identity: bytes | Mapping[str, Any], kind: str = "reporter"
    ) -> dict[str, Any]:
        """Store an identity record for a tip that exists already; its summary."""
        prepared = self.prepare_identity(identity, kind)
        self.store.add_record(prepared.record, prepared.set_id, bytes(commitment))
        return prepared.summary()

    def records_of(self, commitment: bytes) -> list[dict[str, Any]]:
        return [self._record_view(r) for r in self.store.records_of(bytes(commitment))]

    def record(self, record_id: bytes) -> dict[str, Any]:
        return self._record_view(self.store.record(bytes(record_id)))

    def _record_view(self, stored: StoredRecord) -> dict[str, Any]:
        r = stored.record
        return {
            "record_id": to_hex(r.record_id),
            "kind": r.kind.value,
            "epoch": r.epoch,
            "threshold": r.threshold,
            "set_id": stored.set_id,
            "commitment": None if stored.commitment is None else to_hex(stored.commitment),
            "custodian_key_ids": list(r.custodian_key_ids),
        }

    # -- custodians --------------------------------------------------------------------------

    def register_custodian(
        self, caller: str, registration: Mapping[str, Any], signature: bytes, name: str = ""
    ) -> dict[str, Any]:
        """Register the signed-in custodian's public keys, with its proof of possession."""
        info = CustodianPublicInfo.from_dict(registration)
        if info.address != checksum_address(caller):
            raise NotEntitledError(
                f"signed in as {checksum_address(caller)}, but the registration is for "
                f"{info.address}: a custodian registers its own keys"
            )
        if not isinstance(name, str) or len(name) > MAX_NAME_CHARS:
            raise RecordError(f"a custodian name is at most {MAX_NAME_CHARS} characters")
        verify_registration(self.chain_id, self.contract_address, info, signature)
        return self.store.add_custodian(info, name.strip(), signature).to_dict()

    def custodians(self) -> list[dict[str, Any]]:
        return [c.to_dict() for c in self.store.custodians()]

    def set_custodian_active(self, key_id: str, active: bool) -> dict[str, Any]:
        return self.store.set_custodian_active(key_id, active).to_dict()

    # -- custodian sets ----------------------------------------------------------------------

    def configure_set(
        self, caller: str, kind: str, threshold: int, key_ids: Sequence[str]
    ) -> dict[str, Any]:
        """A new version of ``kind``'s custodian set (administrators only; the route checks)."""
        kind_ = parse_kind(kind)
        ids = list(key_ids)
        if len(set(ids)) != len(ids):
            raise RecordError("each custodian may appear once in a set")
        if not 2 <= len(ids) <= 255:
            raise RecordError(f"a custodian set has 2 to 255 custodians, got {len(ids)}")
        if isinstance(threshold, bool) or not 2 <= threshold <= len(ids):
            raise RecordError(
                f"the threshold must be from 2 (one custodian alone must never read an "
                f"identity) to {len(ids)} (the custodians), got {threshold}"
            )
        chain_threshold = self.chain.threshold()
        if len(ids) < chain_threshold:
            raise RecordError(
                f"the contract's disclosureThreshold is {chain_threshold}: a set of {len(ids)} "
                "custodians could never approve a disclosure"
            )
        for key_id in ids:
            custodian = self.store.custodian(key_id)
            if not custodian.active:
                raise VaultConflictError(f"custodian {key_id} ({custodian.address}) is inactive")
            if not self.chain.has_role(CUSTODIAN_ROLE, custodian.address):
                raise VaultConflictError(
                    f"custodian {key_id} ({custodian.address}) does not hold CUSTODIAN_ROLE on "
                    "chain: grant it first (`tipledger roles grant CUSTODIAN_ROLE ADDRESS`)"
                )
        created = self.store.add_set(kind_, threshold, ids, caller)
        self.current_set(kind_, fresh=True)
        return self._set_view(created, current=True)

    def sets(self) -> list[dict[str, Any]]:
        counts = self.store.count_records()
        current = {k: getattr(self.store.current_set(k), "id", None) for k in RecordKind}
        views = []
        for s in self.store.sets():
            view = self._set_view(s, current=current[s.kind] == s.id)
            view["records"] = counts.get((s.kind.value, s.id), 0)
            views.append(view)
        return views

    def _set_view(self, s: CustodianSet, *, current: bool) -> dict[str, Any]:
        view = s.to_dict()
        view["current"] = current
        return view

    def info(self) -> dict[str, Any]:
        """Public facts: the chain and contract approvals are for, and what each kind takes."""
        kinds: dict[str, Any] = {}
        for kind in RecordKind:
            s = self.current_set(kind)
            kinds[kind.value] = {
                "available": s is not None,
                "version": None if s is None else s.version,
                "threshold": None if s is None else s.threshold,
                "custodians": 0 if s is None else len(s.members),
            }
        return {
            "chain_id": self.chain_id,
            "contract": self.contract_address,
            "rpc_url": self.rpc_url,
            "disclosure_threshold": self._threshold(),
            "kinds": kinds,
        }

    def _threshold(self) -> int:
        """The contract's threshold for the public info, asked at most every few seconds (the
        decisions ask the chain each time)."""
        now = time.monotonic()
        with self._lock:
            cached = self._chain_threshold
        if cached is not None and now - cached[0] < self._cache_seconds:
            return cached[1]
        value = self.chain.threshold()
        with self._lock:
            self._chain_threshold = (now, value)
        return value

    def custodian_of(self, caller: str) -> dict[str, Any]:
        found = self.store.custodian_by_address(caller)
        if found is None:
            raise UnknownVaultItemError(f"{checksum_address(caller)} is not a registered custodian")
        return found.to_dict()
