"""Rotation on the server: a quorum moves a kind's records to its current custodian set.

1. A custodian of the current (target) set starts a rotation: it lists every record of the kind
   sealed to an older set, and fixes the rotation digest (``ledger.vault.digests``) over the
   target set's keys and the coordinator's key.
2. Each custodian of the old sets fetches its sealed shares of those records, opens them on its
   own machine and re-seals each to the coordinator's X25519 key for the rotation digest.
3. With k contributions for every record, the coordinator opens them on its machine,
   ``records.reshare``s each record to the target set (fresh K, epoch + 1) and uploads the new
   records; the service checks them against the target set and replaces the old ciphertexts and
   sealed shares, which are deleted. The server never holds an opened share or K.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ledger.core.encoding import checksum_address, to_hex
from ledger.store.rotations import OPEN, Contribution, Rotation, RotationStore
from ledger.store.vault import Custodian, CustodianSet, VaultStore
from ledger.vault.digests import rotation_digest
from ledger.vault.errors import (
    NoCustodianSetError,
    NotEntitledError,
    RecordError,
    ShareError,
    UnknownVaultItemError,
    VaultConflictError,
)
from ledger.vault.records import (
    IdentityRecord,
    RecordKind,
    resealed_share_index,
    resealed_share_size,
)

__all__ = ["Rotations"]

CurrentSet = Callable[..., CustodianSet | None]


class Rotations:
    def __init__(self, store: VaultStore, current_set: CurrentSet) -> None:
        self.store = store
        self.rotations = RotationStore(store.engine)
        self._current = current_set

    def start(self, caller: str, kind: RecordKind) -> dict[str, Any]:
        target = self._current(kind, fresh=True)
        if target is None:
            raise NoCustodianSetError(f"no {kind.value} custodian set is configured")
        coordinator = self._custodian(caller)
        if target.index_of(coordinator.key_id) is None:
            raise NotEntitledError(
                f"custodian {coordinator.address} is not in the current {kind.value} set "
                f"(version {target.version}): a member of the new set coordinates its rotation"
            )
        records = self.store.records_off_set(kind, target.id)
        if not records:
            raise VaultConflictError(
                f"every {kind.value} record is sealed to set version {target.version} already: "
                "nothing to rotate"
            )
        created_at = self.store.now()

        def digest_of(rotation_id: int) -> bytes:
            return rotation_digest(
                rotation_id=rotation_id,
                created_at=created_at,
                kind=kind,
                threshold=target.threshold,
                custodian_keys=[m.x25519_public for m in target.members],
                coordinator_key=coordinator.x25519_public,
            )

        rotation = self.rotations.start(
            kind=kind,
            to_set_id=target.id,
            coordinator_key_id=coordinator.key_id,
            created_at=created_at,
            records=records,
            digest_of=digest_of,
        )
        return self.view(rotation)

    def get(self, rotation_id: int) -> dict[str, Any]:
        return self.view(self.rotations.rotation(rotation_id))

    def listing(self) -> list[dict[str, Any]]:
        return [self.view(r) for r in self.rotations.rotations()]

    def view(self, rotation: Rotation) -> dict[str, Any]:
        coordinator = self.store.custodian(rotation.coordinator_key_id)
        target = self.store.custodian_set(rotation.to_set_id)
        contributed: dict[bytes, list[str]] = {}
        for c in self.rotations.contributions(rotation.id):
            contributed.setdefault(c.record_id, []).append(c.custodian_key_id)
        records: list[dict[str, Any]] = []
        for record_id, epoch in self.rotations.records(rotation.id):
            stored = self.store.record(record_id)
            records.append(
                {
                    "record_id": to_hex(record_id),
                    "epoch": epoch,
                    "threshold": stored.record.threshold,
                    "holders": list(stored.record.custodian_key_ids)
                    if stored.record.epoch == epoch
                    else [],
                    "contributed": contributed.get(record_id, []),
                }
            )
        members = [
            {**m, "x25519_public": to_hex(c.x25519_public)}
            for m, c in zip(target.to_dict()["custodians"], target.members, strict=True)
        ]
        return {
            "id": rotation.id,
            "kind": rotation.kind.value,
            "state": rotation.state,
            "created_at": rotation.created_at,
            "finished_at": rotation.finished_at,
            "digest": to_hex(rotation.digest),
            "coordinator": coordinator.to_dict(),
            "to_set": {**target.to_dict(), "custodians": members},
            "records": records,
            "ready": rotation.state == OPEN
            and all(len(r["contributed"]) >= r["threshold"] for r in records),
        }

    def my_shares(self, caller: str, rotation_id: int) -> dict[str, Any]:
        """The caller's sealed shares of the rotation's records it has not contributed yet."""
        rotation = self._open(rotation_id)
        me = self._custodian(caller)
        done = {
            c.record_id
            for c in self.rotations.contributions(rotation_id)
            if c.custodian_key_id == me.key_id
        }
        shares = []
        for record_id, epoch in self.rotations.records(rotation_id):
            record = self.store.record(record_id).record
            if (
                record.epoch != epoch
                or record_id in done
                or me.key_id not in record.custodian_key_ids
            ):
                continue
            shares.append(
                {
                    "record_id": to_hex(record_id),
                    "epoch": epoch,
                    "share": record.sealed_share_for(me.key_id).to_dict(),
                }
            )
        return {"rotation": self.view(rotation), "shares": shares}

    def contribute(
        self, caller: str, rotation_id: int, items: Sequence[tuple[bytes, bytes]]
    ) -> dict[str, Any]:
        """Accept the caller's shares ((record id, re-sealed share)) for the coordinator."""
        rotation = self._open(rotation_id)
        self._target_current(rotation)
        me = self._custodian(caller)
        listed = dict(self.rotations.records(rotation_id))
        accepted = []
        for record_id, resealed in items:
            if record_id not in listed:
                raise UnknownVaultItemError(
                    f"rotation {rotation_id} does not list record {to_hex(record_id)}"
                )
            record = self.store.record(record_id).record
            mine = record.sealed_share_for(me.key_id)  # ShareError if the caller holds none
            size = resealed_share_size(record.version)  # 70, or 71 for version 2
            if not isinstance(resealed, bytes) or len(resealed) != size:
                raise ShareError(f"a resealed share of this record is {size} bytes")
            epoch = int.from_bytes(resealed[2:6], "big")  # header: version, index, epoch (4)
            if resealed_share_index(resealed) != mine.index or epoch != listed[record_id]:
                raise ShareError(
                    f"the share for record {to_hex(record_id)} must be index {mine.index} of "
                    f"epoch {listed[record_id]}"
                )
            accepted.append(Contribution(record_id, mine.index, me.key_id, bytes(resealed)))
        if not accepted:
            raise RecordError("a contribution holds at least one re-sealed share")
        self.rotations.contribute(rotation_id, accepted)
        return self.view(self.rotations.rotation(rotation_id))

    def contributions(self, caller: str, rotation_id: int) -> dict[str, Any]:
        """For the coordinator: each record with the shares contributed for it."""
        rotation = self._open(rotation_id)
        self._coordinator(caller, rotation)
        by_record: dict[bytes, list[Contribution]] = {}
        for c in self.rotations.contributions(rotation_id):
            by_record.setdefault(c.record_id, []).append(c)
        records = []
        for record_id, _epoch in self.rotations.records(rotation_id):
            records.append(
                {
                    "record": self.store.record(record_id).record.to_dict(),
                    "contributions": [
                        {
                            "index": c.share_index,
                            "custodian_key_id": c.custodian_key_id,
                            "resealed": to_hex(c.resealed),
                        }
                        for c in by_record.get(record_id, [])
                    ],
                }
            )
        return {"rotation": self.view(rotation), "records": records}

    def finish(
        self, caller: str, rotation_id: int, records: Sequence[Mapping[str, Any]]
    ) -> dict[str, Any]:
        """Replace the records by the coordinator's re-shared ones, checked against the set."""
        rotation = self._open(rotation_id)
        self._coordinator(caller, rotation)
        target = self._target_current(rotation)
        expected = [m.key_id for m in target.members]
        parsed = []
        for data in records:
            new = IdentityRecord.from_dict(data)
            if new.kind != rotation.kind or new.threshold != target.threshold:
                raise RecordError(
                    f"record {to_hex(new.record_id)} must be a {rotation.kind.value} record with "
                    f"threshold {target.threshold}"
                )
            if list(new.custodian_key_ids) != expected or [
                s.index for s in new.sealed_shares
            ] != list(range(1, len(expected) + 1)):
                raise RecordError(
                    f"record {to_hex(new.record_id)} must hold one share for each custodian of "
                    f"set version {target.version}, in its order"
                )
            parsed.append(new)
        done, voided = self.rotations.finish(rotation_id, parsed, finished_at=self.store.now())
        return {**self.view(done), "superseded_requests": voided}

    def cancel(self, caller: str, rotation_id: int, *, is_admin: bool) -> dict[str, Any]:
        rotation = self._open(rotation_id)
        if not is_admin:
            self._coordinator(caller, rotation)
        return self.view(self.rotations.cancel(rotation_id, at=self.store.now()))

    # -- checks ------------------------------------------------------------------------------

    def _custodian(self, caller: str) -> Custodian:
        found = self.store.custodian_by_address(caller)
        if found is None:
            raise NotEntitledError(f"{checksum_address(caller)} is not a registered custodian")
        if not found.active:
            raise NotEntitledError(f"custodian {found.address} is inactive")
        return found

    def _open(self, rotation_id: int) -> Rotation:
        rotation = self.rotations.rotation(rotation_id)
        if rotation.state != OPEN:
            raise VaultConflictError(f"rotation {rotation_id} is {rotation.state}, not open")
        return rotation

    def _coordinator(self, caller: str, rotation: Rotation) -> None:
        me = self._custodian(caller)
        if me.key_id != rotation.coordinator_key_id:
            raise NotEntitledError(
                f"only the coordinator of rotation {rotation.id} may do this, and "
                f"{me.address} is not"
            )

    def _target_current(self, rotation: Rotation) -> CustodianSet:
        current = self._current(rotation.kind, fresh=True)
        if current is None or current.id != rotation.to_set_id:
            raise VaultConflictError(
                f"the {rotation.kind.value} custodian set changed since rotation {rotation.id} "
                "began: cancel it and start a new one"
            )
        return current
