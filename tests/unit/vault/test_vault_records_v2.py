"""Identity records version 2 (made on the device, K split over GF(2^8) with pyshamir): sealing,
opening, re-sealing, combining and rotating, and version 1 and 2 kept apart."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
from typing import Any

import pyshamir
import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.core.identity import data_key
from ledger.vault.client import seal_identity_on_device
from ledger.vault.errors import RecordError, ShareError
from ledger.vault.records import (
    RECORD_FORMAT_V2,
    RESEALED_SHARE_SIZE_V2,
    SEALED_SHARE_SIZE_V2,
    CustodianPublicKey,
    IdentityRecord,
    RecordKind,
    Share,
    combine,
    identity_bytes,
    open_resealed,
    open_share,
    reseal_share,
    reshare,
    seal_identity,
)

DIGEST = hashlib.sha256(b"disclosure request 17").digest()


def open_all(record: IdentityRecord, keys: list[X25519PrivateKey]) -> list[Share]:
    return [
        open_share(s, record.record_id, k) for s, k in zip(record.sealed_shares, keys, strict=True)
    ]


@pytest.mark.parametrize(("threshold", "n"), [(2, 2), (2, 3), (3, 5), (5, 5), (4, 7)])
def test_v2_round_trip_every_subset(make_custodians, identity, threshold: int, n: int) -> None:
    keys, custodians = make_custodians(n)
    record = seal_identity(identity, kind="witness", custodians=custodians, threshold=threshold)
    assert record.version == 2
    assert record.to_dict()["format"] == RECORD_FORMAT_V2
    assert [s.index for s in record.sealed_shares] == list(range(1, n + 1))
    assert all(len(s.sealed) == SEALED_SHARE_SIZE_V2 == 65 for s in record.sealed_shares)
    shares = open_all(record, keys)
    assert all(len(s.value) == 17 and s.version == 2 for s in shares)
    assert len({s.value[-1] for s in shares}) == n  # distinct x
    for k in range(threshold, n + 1):
        for subset in itertools.combinations(shares, k):
            assert combine(subset, record) == identity_bytes(identity)
    for subset in itertools.combinations(shares, threshold - 1):
        with pytest.raises(ShareError, match=f"needs {threshold} shares"):
            combine(subset, record)


def test_the_shares_are_pyshamirs_and_the_key_is_hkdf_of_k(five, identity) -> None:
    """Opened values combine with pyshamir itself to the K that decrypts the record."""
    keys, custodians = five
    record = seal_identity_on_device(identity, "reporter", custodians, 3)
    values = [bytearray(s.value) for s in open_all(record, keys)]
    secret = bytes(pyshamir.combine(values[1:4]))
    assert len(secret) == 16
    assert bytes(pyshamir.combine(values[:3])) == secret
    plain = AESGCM(data_key(secret, 2)).decrypt(record.nonce, record.ciphertext, record.record_id)
    assert json.loads(plain) == identity
    with pytest.raises(InvalidTag):  # version 1's data key does not decrypt it
        AESGCM(data_key(secret)).decrypt(record.nonce, record.ciphertext, record.record_id)


def test_pyshamir_combines_the_protocol_vector() -> None:
    shares = [
        "111013121514171619181b1a1d1c1f1e01",
        "22232021262724252a2b28292e2f2c2d02",
        "33323130373635343b3a39383f3e3d3c03",
    ]
    for pair in itertools.combinations(shares, 2):
        assert bytes(pyshamir.combine([bytearray.fromhex(h) for h in pair])) == bytes(range(16))


def test_reseal_and_open_v2(five, identity) -> None:
    keys, custodians = five
    record = seal_identity(identity, kind="reporter", custodians=custodians, threshold=3)
    investigator = X25519PrivateKey.generate()
    resealed = [
        reseal_share(
            s,
            record_id=record.record_id,
            investigator_public_key=investigator.public_key(),
            request_digest=DIGEST,
        )
        for s in open_all(record, keys)
    ]
    assert all(len(r) == RESEALED_SHARE_SIZE_V2 == 71 and r[0] == 2 for r in resealed)
    opened = [
        open_resealed(
            r,
            record_id=record.record_id,
            request_digest=DIGEST,
            investigator_private_key=investigator,
        )
        for r in resealed
    ]
    assert combine(opened[2:], record) == identity_bytes(identity)
    with pytest.raises(ShareError, match="does not open"):
        open_resealed(
            resealed[0],
            record_id=record.record_id,
            request_digest=hashlib.sha256(b"another request").digest(),
            investigator_private_key=investigator,
        )
    # relabelled as version 1 (header and size), it is refused or fails the tag
    with pytest.raises(ShareError):
        open_resealed(
            b"\x01" + resealed[0][1:-1],
            record_id=record.record_id,
            request_digest=DIGEST,
            investigator_private_key=investigator,
        )


def test_reshare_keeps_version_2_and_version_1(five, make_custodians, identity) -> None:
    keys, custodians = five
    new_keys, new_custodians = make_custodians(3)
    for version in (1, 2):
        record = seal_identity(
            identity, kind="reporter", custodians=custodians, threshold=3, version=version
        )
        rotated = reshare(
            open_all(record, keys)[1:4], record, custodians=new_custodians, threshold=2
        )
        assert (rotated.version, rotated.epoch, rotated.record_id) == (
            version,
            1,
            record.record_id,
        )
        assert combine(open_all(rotated, new_keys)[1:], rotated) == identity_bytes(identity)


def test_shares_of_one_version_do_not_combine_for_the_other(five, identity) -> None:
    keys, custodians = five
    v2 = seal_identity(identity, kind="reporter", custodians=custodians, threshold=2)
    v1 = seal_identity(identity, kind="reporter", custodians=custodians, threshold=2, version=1)
    v1_as_v2 = [dataclasses.replace(s, record_id=v2.record_id) for s in open_all(v1, keys)]
    with pytest.raises(ShareError, match=r"is of record version 1, but record .* version 2"):
        combine(v1_as_v2[:2], v2)
    v2_as_v1 = [dataclasses.replace(s, record_id=v1.record_id) for s in open_all(v2, keys)]
    with pytest.raises(ShareError, match=r"is of record version 2, but record .* version 1"):
        combine(v2_as_v1[:2], v1)


def test_a_tampered_or_duplicated_v2_share_is_refused(five, identity) -> None:
    keys, custodians = five
    record = seal_identity(identity, kind="reporter", custodians=custodians, threshold=3)
    shares = open_all(record, keys)
    value = bytearray(shares[0].value)
    value[3] ^= 0x40
    tampered = dataclasses.replace(shares[0], value=bytes(value))
    with pytest.raises(ShareError, match="do not decrypt"):
        combine([tampered, *shares[1:3]], record)
    with pytest.raises(ShareError, match="do not decrypt"):
        combine([tampered, *shares[1:]], record)  # one bad among more than k
    same_x = dataclasses.replace(shares[1], value=shares[1].value[:16] + shares[0].value[16:])
    with pytest.raises(ShareError, match="the same x twice"):
        combine([shares[0], same_x, shares[2]], record)
    moved = dataclasses.replace(record.sealed_shares[0], index=2)
    with pytest.raises(ShareError, match="does not open"):
        open_share(moved, record.record_id, keys[0])


def test_v2_sealing_refusals(make_custodians, identity) -> None:
    _, custodians = make_custodians(3)
    with pytest.raises(RecordError, match="version 2 record needs a threshold of at least 2"):
        seal_identity(identity, kind="reporter", custodians=custodians, threshold=1)
    with pytest.raises(RecordError, match="version 2 record needs a threshold of at least 2"):
        seal_identity(identity, kind="reporter", custodians=custodians[:1], threshold=1)
    with pytest.raises(RecordError, match="threshold must be between 1 and 3"):
        seal_identity(identity, kind="reporter", custodians=custodians, threshold=4)
    with pytest.raises(RecordError, match="unknown identity record version 3"):
        seal_identity(identity, kind="reporter", custodians=custodians, threshold=2, version=3)
    # version 1 keeps its 1-of-1 records
    assert (
        seal_identity(
            identity, kind="reporter", custodians=custodians[:1], threshold=1, version=1
        ).version
        == 1
    )


@settings(max_examples=25)
@given(
    identity=st.dictionaries(st.text(max_size=8), st.text(max_size=40), max_size=5),
    n=st.integers(2, 6),
    data=st.data(),
)
def test_v2_round_trips(identity: dict[str, Any], n: int, data: st.DataObject) -> None:
    keys = [X25519PrivateKey.generate() for _ in range(n)]
    custodians = [CustodianPublicKey.from_public_key(k.public_key()) for k in keys]
    threshold = data.draw(st.integers(2, n))
    kind = data.draw(st.sampled_from(list(RecordKind)))
    record = seal_identity_on_device(identity, kind, custodians, threshold)
    parsed = IdentityRecord.from_dict(json.loads(json.dumps(record.to_dict())))
    assert parsed == record
    chosen = data.draw(st.permutations(open_all(parsed, keys)))[:threshold]
    assert combine(chosen, parsed) == identity_bytes(identity)
