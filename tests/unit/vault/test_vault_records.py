"""Identity records: sealing, opening, re-sealing, combining and rotating (ledger.vault.records)."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
from typing import Any

import pytest
from Crypto.Protocol.SecretSharing import Shamir
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hpke import AEAD, KDF, KEM, Suite
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ledger.errors import LedgerError
from ledger.vault.errors import RecordError, ShareError, VaultError
from ledger.vault.records import (
    MAX_IDENTITY_SIZE,
    RECORD_FORMAT,
    RESEALED_SHARE_SIZE,
    SEALED_SHARE_SIZE,
    CustodianPublicKey,
    IdentityRecord,
    RecordKind,
    SealedShare,
    Share,
    combine,
    identity_bytes,
    key_id,
    key_id_bytes,
    open_resealed,
    open_share,
    reseal_info,
    reseal_share,
    resealed_share_index,
    reshare,
    seal_identity,
    share_info,
)

DIGEST = hashlib.sha256(b"disclosure request 17").digest()
OTHER_DIGEST = hashlib.sha256(b"disclosure request 18").digest()


def seal(custodians: list[CustodianPublicKey], threshold: int, identity: Any = None, **kw: Any):
    return seal_identity(
        identity if identity is not None else {"name": "A. Reporter"},
        kind=kw.get("kind", RecordKind.REPORTER),
        custodians=custodians,
        threshold=threshold,
        version=1,  # this file pins record version 1; version 2 is test_vault_records_v2.py
    )


def open_all(record: IdentityRecord, keys: list[X25519PrivateKey]) -> list[Share]:
    return [
        open_share(s, record.record_id, k) for s, k in zip(record.sealed_shares, keys, strict=True)
    ]


def flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes((data[at] ^ 0x01,)) + data[at + 1 :]


# --- round trips -----------------------------------------------------------------------------


@pytest.mark.parametrize(("threshold", "n"), [(3, 5), (1, 1), (5, 5), (1, 3), (2, 2)])
@pytest.mark.parametrize("kind", list(RecordKind))
def test_round_trip(make_custodians, identity, threshold: int, n: int, kind: RecordKind) -> None:
    keys, custodians = make_custodians(n)
    record = seal_identity(
        identity, kind=kind, custodians=custodians, threshold=threshold, version=1
    )
    assert record.kind is kind
    assert record.threshold == threshold
    assert record.epoch == 0
    assert len(record.record_id) == 32
    assert [s.index for s in record.sealed_shares] == list(range(1, n + 1))
    assert record.custodian_key_ids == tuple(c.key_id for c in custodians)
    shares = open_all(record, keys)
    plaintext = combine(shares[:threshold], record)
    assert json.loads(plaintext) == identity
    assert plaintext == identity_bytes(identity)
    assert combine(shares, record) == plaintext  # all n shares at once also work


def test_identity_bytes_are_kept_exactly(five) -> None:
    keys, custodians = five
    raw = b'{ "name" : "B. Witness",\n  "z": 1, "a": 2 }'
    record = seal(custodians, 3, raw, kind="witness")
    assert record.kind is RecordKind.WITNESS
    assert combine(open_all(record, keys)[1:4], record) == raw


def test_every_three_of_five_recover(five, identity) -> None:
    keys, custodians = five
    record = seal(custodians, 3, identity)
    shares = open_all(record, keys)
    expected = identity_bytes(identity)
    for size in (3, 4, 5):
        for subset in itertools.combinations(shares, size):
            assert combine(subset, record) == expected
    # order does not matter
    assert combine([shares[4], shares[0], shares[2]], record) == expected


def test_records_are_independent(five) -> None:
    _, custodians = five
    a = seal(custodians, 3)
    b = seal(custodians, 3)
    assert a.record_id != b.record_id
    assert a.nonce != b.nonce
    assert a.ciphertext != b.ciphertext
    assert {s.sealed for s in a.sealed_shares}.isdisjoint(s.sealed for s in b.sealed_shares)


def test_255_custodians(make_custodians) -> None:
    keys, custodians = make_custodians(255)
    record = seal(custodians, 2)
    assert record.sealed_shares[-1].index == 255
    chosen = [0, 254]
    shares = [open_share(record.sealed_shares[i], record.record_id, keys[i]) for i in chosen]
    assert json.loads(combine(shares, record)) == {"name": "A. Reporter"}


# --- the wire format, recomputed by hand -------------------------------------------------------


def test_wire_format_by_hand(five, identity) -> None:
    """Open a record with the raw primitives and the byte layouts in the module doc."""
    keys, custodians = five
    record = seal(custodians, 3, identity)
    suite = Suite(KEM.X25519, KDF.HKDF_SHA256, AEAD.AES_256_GCM)
    points = []
    for s, k in list(zip(record.sealed_shares, keys, strict=True))[:3]:
        raw_pub = k.public_key().public_bytes_raw()
        kid = hashlib.sha256(raw_pub).digest()[:8]
        assert s.custodian_key_id == kid.hex()
        info = b"tipledger/v1/share" + record.record_id + (0).to_bytes(4, "big")
        info += bytes([s.index]) + kid
        assert len(info) == 63
        assert share_info(record.record_id, 0, s.index, kid) == info
        assert len(s.sealed) == SEALED_SHARE_SIZE == 64
        points.append((s.index, suite.decrypt(s.sealed, k, info=info)))
    secret = Shamir.combine(points, ssss=False)
    assert len(secret) == 16
    data_key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"", info=b"tipledger/v1/identity"
    ).derive(secret)
    plaintext = AESGCM(data_key).decrypt(record.nonce, record.ciphertext, record.record_id)
    assert plaintext == identity_bytes(identity)


def test_reseal_wire_format_by_hand(five) -> None:
    keys, custodians = five
    record = seal(custodians, 3)
    share = open_share(record.sealed_shares[1], record.record_id, keys[1])
    investigator = X25519PrivateKey.generate()
    resealed = reseal_share(
        share,
        record_id=record.record_id,
        investigator_public_key=investigator.public_key(),
        request_digest=DIGEST,
    )
    assert len(resealed) == RESEALED_SHARE_SIZE == 70
    assert resealed[:6] == b"\x01\x02\x00\x00\x00\x00"  # version 1, index 2, epoch 0
    assert resealed_share_index(resealed) == 2
    inv_kid = hashlib.sha256(investigator.public_key().public_bytes_raw()).digest()[:8]
    info = b"tipledger/v1/reseal" + record.record_id + b"\x00\x00\x00\x00" + b"\x02"
    info += DIGEST + inv_kid
    assert len(info) == 96
    assert reseal_info(record.record_id, 0, 2, DIGEST, inv_kid) == info
    suite = Suite(KEM.X25519, KDF.HKDF_SHA256, AEAD.AES_256_GCM)
    assert suite.decrypt(resealed[6:], investigator, info=info) == share.value


def test_key_id() -> None:
    key = X25519PrivateKey.generate().public_key()
    expected = hashlib.sha256(key.public_bytes_raw()).digest()[:8]
    assert key_id_bytes(key) == expected
    assert key_id(key) == expected.hex()
    assert CustodianPublicKey.from_public_key(key) == CustodianPublicKey(expected.hex(), key)


# --- k-1 shares ------------------------------------------------------------------------------


def test_fewer_than_threshold_refused(five) -> None:
    keys, custodians = five
    record = seal(custodians, 3)
    shares = open_all(record, keys)
    for subset in itertools.combinations(shares, 2):
        with pytest.raises(ShareError, match="needs 3 shares, got 2"):
            combine(subset, record)
    with pytest.raises(ShareError, match="needs 3 shares, got 0"):
        combine([], record)


def test_lying_threshold_does_not_help(five) -> None:
    """A record whose threshold was lowered to 2 still needs 3 genuine shares: the tag says no."""
    keys, custodians = five
    record = seal(custodians, 3)
    lowered = dataclasses.replace(record, threshold=2)
    shares = open_all(record, keys)
    for subset in itertools.combinations(shares, 2):
        with pytest.raises(ShareError, match="do not decrypt"):
            combine(subset, lowered)
    lowest = dataclasses.replace(record, threshold=1)
    for share in shares:
        with pytest.raises(ShareError, match="do not decrypt"):
            combine([share], lowest)


# --- sealed shares: tampering and misdirection -----------------------------------------------


@pytest.mark.parametrize("at", [0, 31, 32, 47, 48, 63])  # enc, ciphertext, tag
def test_flipped_byte_in_sealed_share(five, at: int) -> None:
    keys, custodians = five
    record = seal(custodians, 3)
    s = record.sealed_shares[0]
    bad = dataclasses.replace(s, sealed=flip(s.sealed, at))
    with pytest.raises(ShareError, match="does not open"):
        open_share(bad, record.record_id, keys[0])


def test_share_opened_with_wrong_custodian_key(five) -> None:
    keys, custodians = five
    record = seal(custodians, 3)
    with pytest.raises(ShareError, match=f"sealed to custodian key {custodians[0].key_id}"):
        open_share(record.sealed_shares[0], record.record_id, keys[1])
    # relabelled to the other key's id: HPKE itself refuses
    relabelled = dataclasses.replace(record.sealed_shares[0], custodian_key_id=custodians[1].key_id)
    with pytest.raises(ShareError, match="does not open"):
        open_share(relabelled, record.record_id, keys[1])
    outsider = X25519PrivateKey.generate()
    with pytest.raises(ShareError, match="not to this key"):
        open_share(record.sealed_shares[0], record.record_id, outsider)


def test_share_moved_to_another_record(five) -> None:
    keys, custodians = five
    a = seal(custodians, 3)
    b = seal(custodians, 3)
    with pytest.raises(ShareError, match="does not open for record"):
        open_share(a.sealed_shares[0], b.record_id, keys[0])
    # slotted into record b's list in place of b's own share: still refused
    forged = dataclasses.replace(b, sealed_shares=(a.sealed_shares[0], *b.sealed_shares[1:]))
    with pytest.raises(ShareError, match="does not open"):
        open_share(forged.sealed_shares[0], forged.record_id, keys[0])


def test_share_moved_to_another_index_or_epoch(five) -> None:
    keys, custodians = five
    record = seal(custodians, 3)
    s = record.sealed_shares[2]
    for moved in (dataclasses.replace(s, index=4), dataclasses.replace(s, epoch=1)):
        with pytest.raises(ShareError, match="does not open"):
            open_share(moved, record.record_id, keys[2])


# --- opened shares: tampering, duplicates, foreign shares, ciphertext -------------------------


@pytest.mark.parametrize("position", [0, 1, 2])
def test_tampered_share_value(five, position: int) -> None:
    keys, custodians = five
    record = seal(custodians, 3)
    shares = open_all(record, keys)[:3]
    shares[position] = dataclasses.replace(shares[position], value=flip(shares[position].value, 15))
    with pytest.raises(ShareError, match="at least one share is wrong or tampered"):
        combine(shares, record)


def test_one_bad_share_among_more_than_k(five) -> None:
    keys, custodians = five
    record = seal(custodians, 3)
    shares = open_all(record, keys)
    shares[4] = dataclasses.replace(shares[4], value=bytes(16))
    assert combine(shares[:3], record)  # the good ones alone work
    with pytest.raises(ShareError, match="do not decrypt"):
        combine(shares, record)  # every share given is used


def test_share_with_wrong_index(five) -> None:
    keys, custodians = five
    record = seal(custodians, 3)
    shares = open_all(record, keys)[:3]
    shares[0] = dataclasses.replace(shares[0], index=5)  # index 5 is not in the set: consistent
    with pytest.raises(ShareError, match="do not decrypt"):
        combine(shares, record)


def test_duplicate_share_indices(five) -> None:
    keys, custodians = five
    record = seal(custodians, 3)
    shares = open_all(record, keys)
    with pytest.raises(ShareError, match="duplicate share index 1"):
        combine([shares[0], shares[1], shares[0]], record)
    twin = dataclasses.replace(shares[2], index=2)
    with pytest.raises(ShareError, match="duplicate share index 2"):
        combine([shares[0], shares[1], twin], record)


def test_shares_from_another_record(five) -> None:
    keys, custodians = five
    a = seal(custodians, 3)
    b = seal(custodians, 3)
    shares_a = open_all(a, keys)
    shares_b = open_all(b, keys)
    with pytest.raises(ShareError, match="belongs to record"):
        combine(shares_b[:3], a)
    with pytest.raises(ShareError, match="belongs to record"):
        combine([*shares_a[:2], shares_b[2]], a)
    # relabelled as record a's shares: the GCM tag catches them
    relabelled = [dataclasses.replace(s, record_id=a.record_id) for s in shares_b]
    with pytest.raises(ShareError, match="do not decrypt"):
        combine(relabelled[:3], a)
    with pytest.raises(ShareError, match="do not decrypt"):
        combine([*shares_a[:2], relabelled[2]], a)


@pytest.mark.parametrize("field", ["ciphertext", "nonce", "record_id"])
def test_tampered_record(five, field: str) -> None:
    keys, custodians = five
    record = seal(custodians, 3)
    shares = open_all(record, keys)[:3]
    tampered = dataclasses.replace(record, **{field: flip(getattr(record, field), 0)})
    if field == "record_id":
        shares = [dataclasses.replace(s, record_id=tampered.record_id) for s in shares]
    with pytest.raises(ShareError, match="do not decrypt"):
        combine(shares, tampered)


def test_truncated_or_extended_ciphertext(five) -> None:
    keys, custodians = five
    record = seal(custodians, 3)
    shares = open_all(record, keys)[:3]
    for ct in (record.ciphertext[:-1], record.ciphertext + b"\x00"):
        with pytest.raises(ShareError, match="do not decrypt"):
            combine(shares, dataclasses.replace(record, ciphertext=ct))


def test_share_errors_are_ledger_errors() -> None:
    assert issubclass(ShareError, VaultError)
    assert issubclass(RecordError, VaultError)
    assert issubclass(VaultError, LedgerError)


def test_share_repr_hides_the_value(five) -> None:
    keys, custodians = five
    record = seal(custodians, 3)
    share = open_share(record.sealed_shares[0], record.record_id, keys[0])
    assert share.value.hex() not in repr(share)
    assert repr(share.value) not in repr(share)


# --- disclosure: re-sealing to the investigator ----------------------------------------------


def _resealed(record, keys, investigator, digest=DIGEST, which=(0, 2, 4)) -> list[bytes]:
    return [
        reseal_share(
            open_share(record.sealed_shares[i], record.record_id, keys[i]),
            record_id=record.record_id,
            investigator_public_key=investigator.public_key(),
            request_digest=digest,
        )
        for i in which
    ]


def test_reseal_round_trip(five, identity) -> None:
    keys, custodians = five
    record = seal(custodians, 3, identity)
    investigator = X25519PrivateKey.generate()
    resealed = _resealed(record, keys, investigator)
    assert [resealed_share_index(r) for r in resealed] == [1, 3, 5]
    shares = [
        open_resealed(
            r,
            record_id=record.record_id,
            request_digest=DIGEST,
            investigator_private_key=investigator,
        )
        for r in resealed
    ]
    assert json.loads(combine(shares, record)) == identity


def test_resealed_share_bound_to_request_digest(five) -> None:
    keys, custodians = five
    record = seal(custodians, 3)
    investigator = X25519PrivateKey.generate()
    for r in _resealed(record, keys, investigator):
        with pytest.raises(ShareError, match="does not open for record"):
            open_resealed(
                r,
                record_id=record.record_id,
                request_digest=OTHER_DIGEST,
                investigator_private_key=investigator,
            )


def test_resealed_share_bound_to_investigator_and_record(five) -> None:
    keys, custodians = five
    record = seal(custodians, 3)
    other = seal(custodians, 3)
    investigator = X25519PrivateKey.generate()
    resealed = _resealed(record, keys, investigator)[0]
    with pytest.raises(ShareError, match="does not open"):
        open_resealed(
            resealed,
            record_id=record.record_id,
            request_digest=DIGEST,
            investigator_private_key=X25519PrivateKey.generate(),
        )
    with pytest.raises(ShareError, match="does not open"):
        open_resealed(
            resealed,
            record_id=other.record_id,
            request_digest=DIGEST,
            investigator_private_key=investigator,
        )


@pytest.mark.parametrize("at", [1, 2, 5, 6, 40, 69])  # index, epoch, enc, ct, tag
def test_tampered_resealed_share(five, at: int) -> None:
    keys, custodians = five
    record = seal(custodians, 3)
    investigator = X25519PrivateKey.generate()
    resealed = flip(_resealed(record, keys, investigator)[0], at)
    with pytest.raises(ShareError):
        open_resealed(
            resealed,
            record_id=record.record_id,
            request_digest=DIGEST,
            investigator_private_key=investigator,
        )


def test_malformed_resealed_share(five) -> None:
    keys, custodians = five
    record = seal(custodians, 3)
    investigator = X25519PrivateKey.generate()
    good = _resealed(record, keys, investigator)[0]
    cases = {
        good[:-1]: "a resealed share is 70 bytes",
        b"\x02" + good[1:]: "unknown resealed-share version 2",
        good[:1] + b"\x00" + good[2:]: "a share index is an integer from 1 to 255",
    }
    for blob, message in cases.items():
        with pytest.raises(ShareError, match=message):
            open_resealed(
                blob,
                record_id=record.record_id,
                request_digest=DIGEST,
                investigator_private_key=investigator,
            )


def test_reseal_refuses_mismatched_record_and_bad_digest(five) -> None:
    keys, custodians = five
    record = seal(custodians, 3)
    other = seal(custodians, 3)
    share = open_share(record.sealed_shares[0], record.record_id, keys[0])
    investigator = X25519PrivateKey.generate().public_key()
    with pytest.raises(ShareError, match="belongs to record"):
        reseal_share(
            share,
            record_id=other.record_id,
            investigator_public_key=investigator,
            request_digest=DIGEST,
        )
    with pytest.raises(ShareError, match="request digest is 32 bytes, got 31"):
        reseal_share(
            share,
            record_id=record.record_id,
            investigator_public_key=investigator,
            request_digest=DIGEST[:31],
        )
    low_order = X25519PublicKey.from_public_bytes(bytes(32))
    with pytest.raises(ShareError, match="not a usable X25519 key"):
        reseal_share(
            share,
            record_id=record.record_id,
            investigator_public_key=low_order,
            request_digest=DIGEST,
        )


# --- rotation --------------------------------------------------------------------------------


def test_reshare_to_new_two_of_three(five, make_custodians, identity) -> None:
    keys, custodians = five
    record = seal(custodians, 3, identity)
    old_shares = open_all(record, keys)
    new_keys, new_custodians = make_custodians(3)
    rotated = reshare(old_shares[1:4], record, custodians=new_custodians, threshold=2)
    assert rotated.record_id == record.record_id
    assert rotated.kind is record.kind
    assert rotated.epoch == 1
    assert rotated.threshold == 2
    assert rotated.custodian_key_ids == tuple(c.key_id for c in new_custodians)
    assert rotated.nonce != record.nonce
    assert rotated.ciphertext != record.ciphertext
    new_shares = open_all(rotated, new_keys)
    for pair in itertools.combinations(new_shares, 2):
        assert json.loads(combine(pair, rotated)) == identity

    # old custodians hold nothing in the new record
    for k in keys:
        with pytest.raises(ShareError, match="holds no share"):
            rotated.sealed_share_for(key_id(k.public_key()))
    # old shares are refused by epoch, and relabelled they fail the tag (a fresh K)
    with pytest.raises(ShareError, match="is of epoch 0, but record"):
        combine(old_shares, rotated)
    relabelled = [dataclasses.replace(s, epoch=1) for s in old_shares]
    with pytest.raises(ShareError, match="do not decrypt"):
        combine(relabelled[:3], rotated)
    with pytest.raises(ShareError, match="do not decrypt"):
        combine([relabelled[3], *new_shares[:2]], rotated)
    # old sealed shares do not open as shares of the new epoch
    moved = dataclasses.replace(record.sealed_shares[0], epoch=1)
    with pytest.raises(ShareError, match="does not open"):
        open_share(moved, rotated.record_id, keys[0])
    # and new shares do not open the old record
    with pytest.raises(ShareError, match="is of epoch 1, but record"):
        combine(new_shares, record)


def test_reshare_keeps_custodian_overlap_apart(five, identity) -> None:
    """Same custodians, same indices: an old sealed share cannot stand in for the new one."""
    keys, custodians = five
    record = seal(custodians, 3, identity)
    rotated = reshare(open_all(record, keys)[:3], record, custodians=custodians, threshold=3)
    assert rotated.epoch == 1
    stale = record.sealed_shares[0]
    with pytest.raises(ShareError, match="does not open"):
        open_share(dataclasses.replace(stale, epoch=1), rotated.record_id, keys[0])
    # an old share opened under its own epoch is refused by the new record
    with pytest.raises(ShareError, match="epoch 0"):
        combine([open_share(stale, record.record_id, keys[0])], rotated)
    again = reshare(open_all(rotated, keys)[2:], rotated, custodians=custodians[:1], threshold=1)
    assert again.epoch == 2
    assert (
        json.loads(combine([open_share(again.sealed_shares[0], again.record_id, keys[0])], again))
        == identity
    )


def test_reshare_needs_threshold_shares(five, make_custodians) -> None:
    keys, custodians = five
    record = seal(custodians, 3)
    _, new_custodians = make_custodians(3)
    with pytest.raises(ShareError, match="needs 3 shares, got 2"):
        reshare(open_all(record, keys)[:2], record, custodians=new_custodians, threshold=2)
    with pytest.raises(RecordError, match="threshold must be between 1 and 3"):
        reshare(open_all(record, keys)[:3], record, custodians=new_custodians, threshold=4)


# --- sealing parameters ----------------------------------------------------------------------


def test_threshold_and_custodian_validation(five, make_custodians) -> None:
    _, custodians = five
    for bad in (0, 6, -1):
        with pytest.raises(RecordError, match="threshold must be between 1 and 5"):
            seal(custodians, bad)
    with pytest.raises(RecordError, match="threshold is an integer"):
        seal(custodians, True)
    with pytest.raises(RecordError, match="threshold is an integer"):
        seal(custodians, 2.0)  # type: ignore[arg-type]
    with pytest.raises(RecordError, match="1 to 255 custodians, got 0"):
        seal([], 1)
    with pytest.raises(RecordError, match="duplicate custodian key"):
        seal([*custodians[:3], custodians[0]], 2)
    same_key = CustodianPublicKey(custodians[1].key_id, custodians[1].x25519_public)
    with pytest.raises(RecordError, match="duplicate custodian key"):
        seal([*custodians[:3], same_key], 2)
    _, many = make_custodians(256)
    with pytest.raises(RecordError, match="1 to 255 custodians, got 256"):
        seal(many, 2)
    with pytest.raises(RecordError, match="sequence of CustodianPublicKey"):
        seal(custodians[0], 1)  # type: ignore[arg-type]
    with pytest.raises(RecordError, match="must be CustodianPublicKey"):
        seal([custodians[0].x25519_public], 1)  # type: ignore[list-item]


def test_custodian_public_key_validation() -> None:
    key = X25519PrivateKey.generate().public_key()
    with pytest.raises(RecordError, match="does not match its public key"):
        CustodianPublicKey("00" * 8, key)
    with pytest.raises(RecordError, match="X25519 public key"):
        CustodianPublicKey.from_public_key(X25519PrivateKey.generate())  # type: ignore[arg-type]
    low_order = X25519PublicKey.from_public_bytes(bytes(32))
    with pytest.raises(RecordError, match="not a usable X25519 key"):
        CustodianPublicKey.from_public_key(low_order)


def test_kind_validation(five) -> None:
    _, custodians = five
    with pytest.raises(RecordError, match="unknown record kind 'informant'"):
        seal(custodians, 2, kind="informant")
    with pytest.raises(RecordError, match="a record kind is one of"):
        seal(custodians, 2, kind=1)
    assert seal(custodians, 2, kind="reporter").kind is RecordKind.REPORTER


@pytest.mark.parametrize(
    ("identity", "message"),
    [
        (b"\xff\xfe", "not UTF-8 JSON"),
        (b"not json", "not UTF-8 JSON"),
        (b"[1, 2]", "must be a JSON object, got list"),
        (b'"name"', "must be a JSON object, got str"),
        ({"when": object()}, "cannot be written as JSON"),
        (["a"], "JSON object or its bytes"),
        ({"x": "a" * MAX_IDENTITY_SIZE}, "at most 65536"),
    ],
)
def test_identity_validation(five, identity: Any, message: str) -> None:
    _, custodians = five
    with pytest.raises(RecordError, match=message):
        seal(custodians, 2, identity)


def test_largest_identity(five) -> None:
    keys, custodians = five
    raw = json.dumps({"x": "a" * (MAX_IDENTITY_SIZE - 9)}).encode()
    assert len(raw) == MAX_IDENTITY_SIZE
    record = seal(custodians, 2, raw)
    assert combine(open_all(record, keys)[:2], record) == raw


def test_argument_types_refused(five) -> None:
    keys, custodians = five
    record = seal(custodians, 2)
    with pytest.raises(ShareError, match="record id is 32 bytes, got 31"):
        open_share(record.sealed_shares[0], record.record_id[:31], keys[0])
    with pytest.raises(ShareError, match="X25519 private key"):
        open_share(record.sealed_shares[0], record.record_id, keys[0].public_key())  # type: ignore[arg-type]
    with pytest.raises(ShareError, match="expected a SealedShare"):
        open_share(record.sealed_shares[0].to_dict(), record.record_id, keys[0])  # type: ignore[arg-type]
    with pytest.raises(ShareError, match="expected Share objects"):
        combine([(1, b"\x00" * 16)], record)  # type: ignore[list-item]
    with pytest.raises(ShareError, match="a share value is 16 bytes"):
        Share(record.record_id, 0, 1, b"\x00" * 15)
    with pytest.raises(ShareError, match="a share index is an integer from 1 to 255"):
        Share(record.record_id, 0, 0, b"\x00" * 16)


# --- serialisation ---------------------------------------------------------------------------


def test_record_dict_round_trip(five, identity) -> None:
    keys, custodians = five
    record = seal(custodians, 3, identity, kind=RecordKind.WITNESS)
    data = json.loads(json.dumps(record.to_dict()))
    assert data["format"] == RECORD_FORMAT
    assert data["kind"] == "witness"
    assert data["record_id"] == "0x" + record.record_id.hex()
    assert data["sealed_shares"][0] == {
        "index": 1,
        "custodian_key_id": custodians[0].key_id,
        "epoch": 0,
        "sealed": "0x" + record.sealed_shares[0].sealed.hex(),
    }
    parsed = IdentityRecord.from_dict(data)
    assert parsed == record
    assert json.loads(combine(open_all(parsed, keys)[2:], parsed)) == identity
    share = SealedShare.from_dict(json.loads(json.dumps(record.sealed_shares[3].to_dict())))
    assert share == record.sealed_shares[3]
    assert open_share(share, record.record_id, keys[3]).index == 4


def _mutated(data: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    copy = json.loads(json.dumps(data))
    target = copy
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return copy


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("format",), "tipledger-identity-record/2", "not an identity record"),
        (("record_id",), "0x" + "00" * 31, "record_id: expected 0x \\+ 64 hex digits"),
        (("record_id",), "ab" * 32, "record_id: expected 0x"),
        (("record_id",), 5, "record_id must be 0x-prefixed hex"),
        (("kind",), "suspect", "unknown record kind"),
        (("epoch",), -1, "an epoch is an integer"),
        (("epoch",), "0", "epoch must be an integer"),
        (("threshold",), 6, "threshold must be between 1 and 5"),
        (("threshold",), True, "threshold must be an integer"),
        (("nonce",), "0x00", "nonce: expected 0x \\+ 24 hex digits"),
        (("ciphertext",), "0x00", "ciphertext is 18 to"),
        (("ciphertext",), "0x0g", "ciphertext: expected"),
        (("sealed_shares",), {}, "sealed_shares must be a list"),
        (("sealed_shares",), [], "1 to 255 custodians, got 0"),
        (("sealed_shares", 1, "index"), 1, "duplicate share index 1"),
        (("sealed_shares", 1, "index"), 256, "a share index is an integer from 1 to 255"),
        (("sealed_shares", 1, "custodian_key_id"), "ABCDEF0123456789", "custodian_key_id is 16"),
        (("sealed_shares", 1, "epoch"), 1, "sealed share 2 is of epoch 1"),
        (("sealed_shares", 1, "sealed"), "0x00", "sealed: expected 0x \\+ 128 hex digits"),
        (("sealed_shares", 1, "sealed"), KeyError, "a sealed share lacks sealed"),
        (("nonce",), KeyError, "an identity record lacks nonce"),
    ],
)
def test_record_from_dict_refuses(five, path, value, message: str) -> None:
    _, custodians = five
    data = seal(custodians, 3).to_dict()
    with pytest.raises(RecordError, match=message):
        IdentityRecord.from_dict(_mutated(data, path, value))


def test_duplicate_custodian_in_record_refused(five) -> None:
    _, custodians = five
    data = seal(custodians, 3).to_dict()
    data["sealed_shares"][1]["custodian_key_id"] = data["sealed_shares"][0]["custodian_key_id"]
    with pytest.raises(RecordError, match="duplicate custodian key id"):
        IdentityRecord.from_dict(data)
    with pytest.raises(RecordError, match="is a JSON object"):
        IdentityRecord.from_dict([])  # type: ignore[arg-type]
