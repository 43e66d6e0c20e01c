"""Rotations: moving a kind's records to its current custodian set without the server seeing K.

A rotation lists the records not yet sealed to the target set, with the epoch each was at. The
old custodians contribute their shares of those records, each re-sealed to the coordinating
custodian's X25519 key for the rotation digest (``ledger.vault.digests``). The coordinator opens
k of them per record on their own machine, re-shares (``records.reshare``: fresh K, epoch + 1)
and uploads the new records; ``finish`` then replaces each record's ciphertext and sealed
shares, deletes the old ones and the contributions, and supersedes the unfinished disclosure
requests on those records, all in one transaction. One rotation per kind is open at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, Row, delete, insert, select, update

from ledger.core.encoding import to_hex
from ledger.store.disclosures import supersede
from ledger.store.schema import (
    vault_records,
    vault_rotation_records,
    vault_rotation_shares,
    vault_rotations,
    vault_shares,
)
from ledger.store.vault import read, share_row, write
from ledger.vault.errors import UnknownVaultItemError, VaultConflictError
from ledger.vault.records import IdentityRecord, RecordKind

__all__ = ["CANCELLED", "DONE", "OPEN", "Contribution", "Rotation", "RotationStore"]

OPEN = "open"
DONE = "done"
CANCELLED = "cancelled"


@dataclass(frozen=True)
class Rotation:
    id: int
    kind: RecordKind
    to_set_id: int
    coordinator_key_id: str
    digest: bytes
    created_at: int
    state: str
    finished_at: int | None


@dataclass(frozen=True)
class Contribution:
    record_id: bytes
    share_index: int
    custodian_key_id: str
    resealed: bytes


def _rotation(row: Row[Any]) -> Rotation:
    r = row._mapping
    return Rotation(
        id=int(r["id"]),
        kind=RecordKind(r["kind"]),
        to_set_id=int(r["to_set_id"]),
        coordinator_key_id=str(r["coordinator_key_id"]),
        digest=bytes(r["digest"]),
        created_at=int(r["created_at"]),
        state=str(r["state"]),
        finished_at=None if r["finished_at"] is None else int(r["finished_at"]),
    )


class RotationStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def start(
        self,
        *,
        kind: RecordKind,
        to_set_id: int,
        coordinator_key_id: str,
        created_at: int,
        records: Sequence[tuple[bytes, int]],
        digest_of: Callable[[int], bytes],
    ) -> Rotation:
        """Open a rotation of ``records`` ((record id, epoch)); ``digest_of(id)`` its digest."""
        t = vault_rotations.c
        with write(self.engine, f"another {kind.value} rotation was opened meanwhile") as conn:
            open_ = conn.execute(select(t.id).where(t.kind == kind.value, t.state == OPEN)).scalar()
            if open_ is not None:
                raise VaultConflictError(
                    f"rotation {open_} of the {kind.value} records is still open: finish or "
                    "cancel it first"
                )
            rotation_id = int(
                conn.execute(
                    insert(vault_rotations)
                    .values(
                        kind=kind.value,
                        to_set_id=to_set_id,
                        coordinator_key_id=coordinator_key_id,
                        digest=bytes(32),
                        created_at=created_at,
                        state=OPEN,
                    )
                    .returning(t.id)
                ).scalar_one()
            )
            conn.execute(
                update(vault_rotations)
                .where(t.id == rotation_id)
                .values(digest=digest_of(rotation_id))
            )
            if records:
                conn.execute(
                    insert(vault_rotation_records),
                    [{"rotation_id": rotation_id, "record_id": r, "epoch": e} for r, e in records],
                )
        return self.rotation(rotation_id)

    def rotation(self, rotation_id: int) -> Rotation:
        with read(self.engine) as conn:
            row = conn.execute(
                select(vault_rotations).where(vault_rotations.c.id == rotation_id)
            ).first()
        if row is None:
            raise UnknownVaultItemError(f"no rotation {rotation_id}")
        return _rotation(row)

    def rotations(self) -> list[Rotation]:
        with read(self.engine) as conn:
            rows = conn.execute(select(vault_rotations).order_by(vault_rotations.c.id)).all()
        return [_rotation(r) for r in rows]

    def records(self, rotation_id: int) -> list[tuple[bytes, int]]:
        t = vault_rotation_records.c
        with read(self.engine) as conn:
            rows = conn.execute(
                select(t.record_id, t.epoch)
                .where(t.rotation_id == rotation_id)
                .order_by(t.record_id)
            ).all()
        return [(bytes(r[0]), int(r[1])) for r in rows]

    def contribute(self, rotation_id: int, items: Sequence[Contribution]) -> None:
        conflict = "some of these shares were already contributed to this rotation"
        with write(self.engine, conflict) as conn:
            state = conn.execute(
                select(vault_rotations.c.state)
                .where(vault_rotations.c.id == rotation_id)
                .with_for_update()
            ).scalar()
            if state != OPEN:
                raise VaultConflictError(f"rotation {rotation_id} is {state}, not open")
            conn.execute(
                insert(vault_rotation_shares),
                [
                    {
                        "rotation_id": rotation_id,
                        "record_id": c.record_id,
                        "share_index": c.share_index,
                        "custodian_key_id": c.custodian_key_id,
                        "resealed": c.resealed,
                    }
                    for c in items
                ],
            )

    def contributions(self, rotation_id: int) -> list[Contribution]:
        t = vault_rotation_shares.c
        with read(self.engine) as conn:
            rows = conn.execute(
                select(vault_rotation_shares)
                .where(t.rotation_id == rotation_id)
                .order_by(t.record_id, t.share_index)
            ).all()
        return [
            Contribution(
                record_id=bytes(r.record_id),
                share_index=int(r.share_index),
                custodian_key_id=str(r.custodian_key_id),
                resealed=bytes(r.resealed),
            )
            for r in rows
        ]

    def finish(
        self, rotation_id: int, new_records: Sequence[IdentityRecord], *, finished_at: int
    ) -> tuple[Rotation, int]:
        """Replace every listed record by its re-shared version; (rotation, requests voided).

        The caller checked each new record against the target set; this checks that the
        records are exactly the rotation's, each one epoch on from the epoch listed.
        """
        r = vault_rotations.c
        rec = vault_records.c
        with write(self.engine) as conn:
            row = conn.execute(
                select(vault_rotations).where(r.id == rotation_id).with_for_update()
            ).first()
            if row is None:
                raise UnknownVaultItemError(f"no rotation {rotation_id}")
            rotation = _rotation(row)
            if rotation.state != OPEN:
                raise VaultConflictError(f"rotation {rotation_id} is {rotation.state}, not open")
            listed = dict(
                conn.execute(
                    select(
                        vault_rotation_records.c.record_id, vault_rotation_records.c.epoch
                    ).where(vault_rotation_records.c.rotation_id == rotation_id)
                ).all()
            )
            given = {n.record_id: n for n in new_records}
            if set(given) != {bytes(k) for k in listed} or len(given) != len(new_records):
                raise VaultConflictError(
                    f"rotation {rotation_id} replaces exactly its {len(listed)} records, "
                    f"got {len(new_records)} (or ones it does not list)"
                )
            thresholds: dict[bytes, int] = {}
            for record_id_raw, epoch in listed.items():
                record_id = bytes(record_id_raw)
                new = given[record_id]
                current = conn.execute(
                    select(rec.epoch, rec.threshold).where(rec.record_id == record_id)
                ).first()
                if current is None or int(current[0]) != int(epoch):
                    raise VaultConflictError(
                        f"record {to_hex(record_id)} changed since rotation {rotation_id} began"
                    )
                if new.epoch != int(epoch) + 1 or new.kind != rotation.kind:
                    raise VaultConflictError(
                        f"the new record {to_hex(record_id)} must be a {rotation.kind.value} "
                        f"record at epoch {int(epoch) + 1}, got {new.kind.value} {new.epoch}"
                    )
                thresholds[record_id] = int(current[1])
                conn.execute(delete(vault_shares).where(vault_shares.c.record_id == record_id))
                conn.execute(
                    update(vault_records)
                    .where(rec.record_id == record_id)
                    .values(
                        epoch=new.epoch,
                        threshold=new.threshold,
                        set_id=rotation.to_set_id,
                        nonce=new.nonce,
                        ciphertext=new.ciphertext,
                    )
                )
                conn.execute(
                    insert(vault_shares), [share_row(record_id, s) for s in new.sealed_shares]
                )
            voided = supersede(conn, list(thresholds), thresholds)
            conn.execute(
                delete(vault_rotation_shares).where(
                    vault_rotation_shares.c.rotation_id == rotation_id
                )
            )
            conn.execute(
                update(vault_rotations)
                .where(r.id == rotation_id)
                .values(state=DONE, finished_at=finished_at)
            )
        return self.rotation(rotation_id), voided

    def cancel(self, rotation_id: int, *, at: int) -> Rotation:
        t = vault_rotations.c
        with write(self.engine) as conn:
            done = conn.execute(
                update(vault_rotations)
                .where(t.id == rotation_id, t.state == OPEN)
                .values(state=CANCELLED, finished_at=at)
            ).rowcount
            if done == 1:
                conn.execute(
                    delete(vault_rotation_shares).where(
                        vault_rotation_shares.c.rotation_id == rotation_id
                    )
                )
        rotation = self.rotation(rotation_id)
        if done != 1:
            raise VaultConflictError(f"rotation {rotation_id} is {rotation.state}, not open")
        return rotation
