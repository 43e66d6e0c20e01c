"""The identity vault's tables over an ``Engine``: custodians, custodian sets, identity records.

Disclosure requests live in ``ledger.store.disclosures`` and rotations in
``ledger.store.rotations``; all three share the transaction helpers here. What is stored
is public-key material, ciphertexts and sealed shares: never K, never an identity.

A custodian set is immutable: configuring a kind again adds a new version, which seals every
record from then on; records sealed to an older version move to the new one by a rotation. A
member's ``share_index`` is its share index in every record sealed to that set.

The disclosure request digest custodians sign (``ledger.vault.digests``, where it is defined
byte for byte)::

    request_digest = SHA-256("tipledger/v1/disclosure-request" || record_id (32)
                             || requester (20) || investigator X25519 key (32)
                             || SHA-256(purpose, UTF-8) (32) || filed_at (8, big-endian))
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
from sqlalchemy import Connection, Engine, Row, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.schema import Table

from ledger.core.encoding import checksum_address, to_hex
from ledger.errors import StoreError
from ledger.store.database import connection, transaction
from ledger.store.schema import (
    submissions,
    vault_custodian_sets,
    vault_custodians,
    vault_records,
    vault_set_members,
    vault_shares,
)
from ledger.vault.custodian_keys import CustodianPublicInfo
from ledger.vault.errors import UnknownVaultItemError, VaultConflictError
from ledger.vault.records import (
    CustodianPublicKey,
    IdentityRecord,
    RecordKind,
    SealedShare,
)

__all__ = [
    "Custodian",
    "CustodianSet",
    "StoredRecord",
    "VaultStore",
    "read",
    "record_rows",
    "write",
]

Rows = list[tuple[Table, Mapping[str, Any]]]


@contextlib.contextmanager
def write(engine: Engine, conflict: str | None = None) -> Iterator[Connection]:
    """One write transaction; a constraint violation is ``VaultConflictError(conflict)``."""
    try:
        with transaction(engine, "the vault store") as conn:
            yield conn
    except StoreError as exc:
        if conflict is not None and isinstance(exc.__cause__, IntegrityError):
            raise VaultConflictError(conflict) from exc.__cause__
        raise


def read(engine: Engine) -> AbstractContextManager[Connection]:
    return connection(engine, "reading the vault store")


@dataclass(frozen=True)
class Custodian:
    """A registered custodian: its share key, approval address, and registration proof."""

    key_id: str
    x25519_public: bytes
    address: str
    name: str
    registered_at: int
    active: bool
    registration_signature: bytes

    def public_info(self) -> CustodianPublicInfo:
        return CustodianPublicInfo(
            self.key_id, X25519PublicKey.from_public_bytes(self.x25519_public), self.address
        )

    @property
    def share_key(self) -> CustodianPublicKey:
        return CustodianPublicKey(
            self.key_id, X25519PublicKey.from_public_bytes(self.x25519_public)
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "key_id": self.key_id,
            "x25519_public": to_hex(self.x25519_public),
            "address": self.address,
            "name": self.name,
            "registered_at": self.registered_at,
            "active": self.active,
            "registration_signature": to_hex(self.registration_signature),
        }


@dataclass(frozen=True)
class CustodianSet:
    """One version of a kind's custodian set; ``members[i]`` holds share index ``i + 1``."""

    id: int
    kind: RecordKind
    version: int
    threshold: int
    created_at: int
    created_by: str
    members: tuple[Custodian, ...]

    @property
    def share_keys(self) -> list[CustodianPublicKey]:
        return [m.share_key for m in self.members]

    def index_of(self, key_id: str) -> int | None:
        for i, m in enumerate(self.members, start=1):
            if m.key_id == key_id:
                return i
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind.value,
            "version": self.version,
            "threshold": self.threshold,
            "created_at": self.created_at,
            "created_by": self.created_by,
            "custodians": [
                {"index": i, "key_id": m.key_id, "address": m.address, "name": m.name}
                for i, m in enumerate(self.members, start=1)
            ],
        }


@dataclass(frozen=True)
class StoredRecord:
    record: IdentityRecord
    set_id: int
    commitment: bytes | None


def record_rows(record: IdentityRecord, set_id: int, commitment: bytes | None) -> Rows:
    """The rows that store ``record``: the record first, then its sealed shares."""
    rows: Rows = [
        (
            vault_records,
            {
                "record_id": record.record_id,
                "kind": record.kind.value,
                "epoch": record.epoch,
                "threshold": record.threshold,
                "set_id": set_id,
                "nonce": record.nonce,
                "ciphertext": record.ciphertext,
                "commitment": commitment,
            },
        )
    ]
    rows.extend((vault_shares, share_row(record.record_id, s)) for s in record.sealed_shares)
    return rows


def share_row(record_id: bytes, share: SealedShare) -> dict[str, Any]:
    return {
        "record_id": record_id,
        "share_index": share.index,
        "custodian_key_id": share.custodian_key_id,
        "epoch": share.epoch,
        "sealed": share.sealed,
    }


def _custodian(row: Row[Any]) -> Custodian:
    r = row._mapping
    return Custodian(
        key_id=str(r["key_id"]),
        x25519_public=bytes(r["x25519_public"]),
        address=str(r["address"]),
        name=str(r["name"]),
        registered_at=int(r["registered_at"]),
        active=bool(r["active"]),
        registration_signature=bytes(r["registration_signature"]),
    )


class VaultStore:
    """Custodians, custodian sets and identity records."""

    def __init__(self, engine: Engine, clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self._clock = clock

    def now(self) -> int:
        return int(self._clock())

    # -- custodians --------------------------------------------------------------------------

    def add_custodian(self, info: CustodianPublicInfo, name: str, signature: bytes) -> Custodian:
        custodian = Custodian(
            key_id=info.key_id,
            x25519_public=info.share_key.raw,
            address=info.address,
            name=name,
            registered_at=self.now(),
            active=True,
            registration_signature=bytes(signature),
        )
        message = (
            f"custodian {info.address} or key {info.key_id} is already registered: "
            "a custodian registers once"
        )
        with write(self.engine, message) as conn:
            conn.execute(
                insert(vault_custodians).values(
                    key_id=custodian.key_id,
                    x25519_public=custodian.x25519_public,
                    address=custodian.address,
                    name=custodian.name,
                    registration_signature=custodian.registration_signature,
                    registered_at=custodian.registered_at,
                    active=True,
                )
            )
        return custodian

    def custodians(self) -> list[Custodian]:
        with read(self.engine) as conn:
            rows = conn.execute(
                select(vault_custodians).order_by(vault_custodians.c.registered_at)
            ).all()
        return [_custodian(r) for r in rows]

    def custodian(self, key_id: str) -> Custodian:
        with read(self.engine) as conn:
            row = conn.execute(
                select(vault_custodians).where(vault_custodians.c.key_id == key_id)
            ).first()
        if row is None:
            raise UnknownVaultItemError(f"no custodian with key id {key_id!r} is registered")
        return _custodian(row)

    def custodian_by_address(self, address: str) -> Custodian | None:
        with read(self.engine) as conn:
            row = conn.execute(
                select(vault_custodians).where(
                    vault_custodians.c.address == checksum_address(address)
                )
            ).first()
        return None if row is None else _custodian(row)

    def set_custodian_active(self, key_id: str, active: bool) -> Custodian:
        with write(self.engine) as conn:
            done = conn.execute(
                update(vault_custodians)
                .where(vault_custodians.c.key_id == key_id)
                .values(active=active)
            ).rowcount
        if done != 1:
            raise UnknownVaultItemError(f"no custodian with key id {key_id!r} is registered")
        return self.custodian(key_id)

    # -- custodian sets ----------------------------------------------------------------------

    def add_set(
        self, kind: RecordKind, threshold: int, key_ids: Sequence[str], created_by: str
    ) -> CustodianSet:
        """A new version of ``kind``'s set, members in share order. The caller validated them."""
        t = vault_custodian_sets.c
        with write(self.engine, f"the {kind.value} custodian set changed meanwhile") as conn:
            latest = conn.execute(select(func.max(t.version)).where(t.kind == kind.value))
            version = int(latest.scalar() or 0) + 1
            set_id = conn.execute(
                insert(vault_custodian_sets)
                .values(
                    kind=kind.value,
                    version=version,
                    threshold=threshold,
                    created_at=self.now(),
                    created_by=checksum_address(created_by),
                )
                .returning(t.id)
            ).scalar_one()
            conn.execute(
                insert(vault_set_members),
                [
                    {"set_id": set_id, "share_index": i, "custodian_key_id": k}
                    for i, k in enumerate(key_ids, start=1)
                ],
            )
            return self._load_set(conn, int(set_id))

    def current_set(self, kind: RecordKind) -> CustodianSet | None:
        t = vault_custodian_sets.c
        with read(self.engine) as conn:
            set_id = conn.execute(
                select(t.id).where(t.kind == kind.value).order_by(t.version.desc()).limit(1)
            ).scalar()
            return None if set_id is None else self._load_set(conn, int(set_id))

    def custodian_set(self, set_id: int) -> CustodianSet:
        with read(self.engine) as conn:
            return self._load_set(conn, set_id)

    def sets(self, kind: RecordKind | None = None) -> list[CustodianSet]:
        t = vault_custodian_sets.c
        query = select(t.id).order_by(t.kind, t.version)
        if kind is not None:
            query = query.where(t.kind == kind.value)
        with read(self.engine) as conn:
            return [self._load_set(conn, int(i)) for i in conn.execute(query).scalars()]

    def _load_set(self, conn: Connection, set_id: int) -> CustodianSet:
        row = conn.execute(
            select(vault_custodian_sets).where(vault_custodian_sets.c.id == set_id)
        ).first()
        if row is None:
            raise UnknownVaultItemError(f"no custodian set {set_id}")
        m = vault_set_members.c
        members = conn.execute(
            select(vault_custodians)
            .join(vault_set_members, m.custodian_key_id == vault_custodians.c.key_id)
            .where(m.set_id == set_id)
            .order_by(m.share_index)
        ).all()
        r = row._mapping
        return CustodianSet(
            id=int(r["id"]),
            kind=RecordKind(r["kind"]),
            version=int(r["version"]),
            threshold=int(r["threshold"]),
            created_at=int(r["created_at"]),
            created_by=str(r["created_by"]),
            members=tuple(_custodian(c) for c in members),
        )

    # -- identity records --------------------------------------------------------------------

    def add_record(self, record: IdentityRecord, set_id: int, commitment: bytes | None) -> None:
        """Store a record and its sealed shares in one transaction."""
        conflict = (
            f"this tip already has a {record.kind.value} identity"
            if commitment is not None
            else f"record {to_hex(record.record_id)} exists"
        )
        with write(self.engine, conflict) as conn:
            if commitment is not None:
                known = conn.execute(
                    select(submissions.c.commitment).where(submissions.c.commitment == commitment)
                ).first()
                if known is None:
                    raise UnknownVaultItemError(f"no tip has commitment {to_hex(commitment)}")
                t = vault_records.c
                earlier = conn.execute(
                    select(t.record_id).where(
                        t.commitment == commitment, t.kind == record.kind.value
                    )
                ).first()
                if earlier is not None:
                    raise VaultConflictError(conflict)
            for table, values in record_rows(record, set_id, commitment):
                conn.execute(insert(table).values(**values))

    def record(self, record_id: bytes) -> StoredRecord:
        with read(self.engine) as conn:
            found = self._load_records(conn, vault_records.c.record_id == record_id)
        if not found:
            raise UnknownVaultItemError(f"no identity record {to_hex(record_id)}")
        return found[0]

    def records_of(self, commitment: bytes) -> list[StoredRecord]:
        with read(self.engine) as conn:
            return self._load_records(conn, vault_records.c.commitment == commitment)

    def records_off_set(self, kind: RecordKind, set_id: int) -> list[tuple[bytes, int]]:
        """(record id, epoch) of every ``kind`` record not sealed to ``set_id``."""
        t = vault_records.c
        with read(self.engine) as conn:
            rows = conn.execute(
                select(t.record_id, t.epoch)
                .where(t.kind == kind.value, t.set_id != set_id)
                .order_by(t.record_id)
            ).all()
        return [(bytes(r[0]), int(r[1])) for r in rows]

    def count_records(self) -> dict[tuple[str, int], int]:
        """How many records each (kind, set id) holds."""
        t = vault_records.c
        with read(self.engine) as conn:
            rows = conn.execute(select(t.kind, t.set_id, func.count()).group_by(t.kind, t.set_id))
            return {(str(k), int(s)): int(n) for k, s, n in rows}

    @staticmethod
    def _load_records(conn: Connection, where: Any) -> list[StoredRecord]:
        rows = conn.execute(select(vault_records).where(where).order_by(vault_records.c.kind))
        out = []
        for row in rows.all():
            r = row._mapping
            shares = conn.execute(
                select(vault_shares)
                .where(vault_shares.c.record_id == r["record_id"])
                .order_by(vault_shares.c.share_index)
            ).all()
            record = IdentityRecord(
                record_id=bytes(r["record_id"]),
                kind=RecordKind(r["kind"]),
                epoch=int(r["epoch"]),
                threshold=int(r["threshold"]),
                nonce=bytes(r["nonce"]),
                ciphertext=bytes(r["ciphertext"]),
                sealed_shares=tuple(
                    SealedShare(
                        index=int(s.share_index),
                        custodian_key_id=str(s.custodian_key_id),
                        epoch=int(s.epoch),
                        sealed=bytes(s.sealed),
                    )
                    for s in shares
                ),
            )
            commitment = r["commitment"]
            out.append(
                StoredRecord(
                    record, int(r["set_id"]), None if commitment is None else bytes(commitment)
                )
            )
        return out
