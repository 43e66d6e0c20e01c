"""The identity record format v2 (ledger.core.identity_v2): the pinned record opens from first
principles (HPKE, GF(2^8) Lagrange interpolation written out here, HKDF, AES-GCM), the info
layouts are pinned, and nothing of version 2 passes as version 1 or the reverse."""

from __future__ import annotations

import copy
import json

import pytest
from core_vectors import (
    CUSTODIAN_PRIVATE_KEYS,
    IDENTITY,
    IDENTITY_JSON,
    IDENTITY_RECORD,
    INVESTIGATOR_PRIVATE_KEY,
    REQUEST_DIGEST,
)
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from hypothesis import given
from hypothesis import strategies as st

from ledger.core import hpke, identity, identity_v2
from ledger.core.errors import RecordError, ShareError

CUSTODIANS = [X25519PrivateKey.from_private_bytes(k) for k in CUSTODIAN_PRIVATE_KEYS]
INVESTIGATOR = X25519PrivateKey.from_private_bytes(INVESTIGATOR_PRIVATE_KEY)

# IDENTITY sealed for the three core_vectors custodians, 2 of 3, as version 2.
IDENTITY_RECORD_V2 = {
    "format": "tipledger-identity-record/2",
    "record_id": "0x32f2292d81ac4021eb74e4b156d4d6084f43761887c0018cd798fbce556c99ea",
    "kind": "reporter",
    "epoch": 0,
    "threshold": 2,
    "nonce": "0x757714a77536a8930cabcedc",
    "ciphertext": "0x6ec9fb31aba66bbf3163bf08272b13990ae2f1a156e7478aa338a9403e1e7c5d4245f0cc1cd6"
    "776bf4cefa7280164fb0b062d33051731babfb3b8a63d978",
    "sealed_shares": [
        {
            "index": 1,
            "custodian_key_id": "070f60e8613c8308",
            "epoch": 0,
            "sealed": "0x5f59d3f2fbc1eefcd8ae6d13e1ac81233a4163d2f6976cf8c66e424ce685df74b18b446d"
            "95b04e283ec2576541726689e26d706e0e756673a5f6842e046145f50f",
        },
        {
            "index": 2,
            "custodian_key_id": "584c31be5d38b580",
            "epoch": 0,
            "sealed": "0x3c0106d57ee47b2a4ea3ace252382f47ec87446135d094ee17459b97ec69b9655c9f1cd1"
            "3c53bce2c68632ff8731464515725de84f6ccfff65cffe9a0fd20273ad",
        },
        {
            "index": 3,
            "custodian_key_id": "a10daef77250fff0",
            "epoch": 0,
            "sealed": "0x9a761cc648ecf7ae992162ce18e043cd4a28a8b22a170184639151e0f0487f14e49e9c95"
            "8806f5c753c020bf07cb0730ca838bc37f801849890730fa2063976edb",
        },
    ],
}
# Share 1 of IDENTITY_RECORD_V2 re-sealed to the investigator for REQUEST_DIGEST.
RESEALED_SHARE_1_V2 = bytes.fromhex(
    "020100000000ef7a53a0a75e42a52b7367d46a81362ae2452e273306151fd1cfa8f7191ca86ee2f52863a0260c"
    "6df13289a9007351c20654c0fd3511da51cf3ce5f1cc4185155b"
)
SHARE_INFO_V2 = bytes.fromhex(
    "7469706c65646765722f76322f7368617265000102030405060708090a0b0c0d0e0f101112131415161718191a"
    "1b1c1d1e1f00000007030001020304050607"
)
RESEAL_INFO_V2 = bytes.fromhex(
    "7469706c65646765722f76322f72657365616c000102030405060708090a0b0c0d0e0f10111213141516171819"
    "1a1b1c1d1e1f00000007036465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f808182830001"
    "020304050607"
)
DATA_KEY_V2 = bytes.fromhex("0ef5ce86c2192806e8eb7a38992327c458738a7ea801b096cf699602c2e1a161")
RECORD = identity.IdentityRecord.from_dict(IDENTITY_RECORD_V2)


# --- GF(2^8) with x^8 + x^4 + x^3 + x + 1, written out: the test's own arithmetic ------------


def gf_mul(a: int, b: int) -> int:
    out = 0
    while b:
        if b & 1:
            out ^= a
        a = (a << 1) ^ (0x11B if a & 0x80 else 0)
        b >>= 1
    return out


def gf_inv(a: int) -> int:
    return next(b for b in range(1, 256) if gf_mul(a, b) == 1)


def interpolate_at_zero(points: list[tuple[int, int]]) -> int:
    result = 0
    for i, (xi, yi) in enumerate(points):
        basis = 1
        for j, (xj, _) in enumerate(points):
            if i != j:  # (0 - xj) / (xi - xj); minus is xor
                basis = gf_mul(basis, gf_mul(xj, gf_inv(xi ^ xj)))
        result ^= gf_mul(yi, basis)
    return result


def combine_by_hand(values: list[bytes]) -> bytes:
    xs = [v[-1] for v in values]
    return bytes(
        interpolate_at_zero([(x, v[j]) for x, v in zip(xs, values, strict=True)])
        for j in range(len(values[0]) - 1)
    )


# PROTOCOL.md's version 2 Shamir vector: K = 00..0f, k = 2, every byte's a1 = 0x11, x = 1, 2, 3.
SHAMIR_K = bytes(range(16))
SHAMIR_SHARES = [
    bytes.fromhex("111013121514171619181b1a1d1c1f1e01"),
    bytes.fromhex("22232021262724252a2b28292e2f2c2d02"),
    bytes.fromhex("33323130373635343b3a39383f3e3d3c03"),
]


def test_the_shamir_vector() -> None:
    for x, share in enumerate(SHAMIR_SHARES, start=1):
        assert share == bytes(k ^ gf_mul(0x11, x) for k in SHAMIR_K) + bytes((x,))
    for a, b in ((0, 1), (0, 2), (1, 2)):
        assert combine_by_hand([SHAMIR_SHARES[a], SHAMIR_SHARES[b]]) == SHAMIR_K
    assert combine_by_hand(SHAMIR_SHARES) == SHAMIR_K
    assert gf_mul(0x57, 0x83) == 0xC1  # FIPS 197 section 4.2: the AES field


def _share_value(index: int) -> bytes:
    sealed = RECORD.sealed_shares[index - 1]
    key = CUSTODIANS[index - 1]
    assert sealed.custodian_key_id == hpke.key_id(key.public_key())
    info = identity.share_info(
        RECORD.record_id, 0, index, hpke.key_id_bytes(key.public_key()), version=2
    )
    value = hpke.open_sealed(key, sealed.sealed, info=info)
    assert value is not None
    return value


# --- known answers ---------------------------------------------------------------------------


def test_the_v2_constants() -> None:
    assert identity_v2.RECORD_FORMAT_V2 == "tipledger-identity-record/2"
    assert identity_v2.SHARE_VALUE_SIZE_V2 == 17
    assert identity_v2.SEALED_SHARE_SIZE_V2 == identity.sealed_share_size(2) == 65
    assert identity_v2.RESEALED_SHARE_SIZE_V2 == identity.resealed_share_size(2) == 71
    assert identity.sealed_share_size(1) == identity.SEALED_SHARE_SIZE == 64
    assert identity.resealed_share_size(1) == identity.RESEALED_SHARE_SIZE == 70
    assert identity.RECORD_VERSIONS == (1, 2)
    assert identity.record_format(1) == "tipledger-identity-record/1"
    assert identity.record_format(2) == identity_v2.RECORD_FORMAT_V2
    tags_v1 = {identity.DATA_KEY_INFO, identity.SHARE_INFO_TAG, identity.RESEAL_INFO_TAG}
    tags_v2 = {
        identity_v2.DATA_KEY_INFO_V2,
        identity_v2.SHARE_INFO_TAG_V2,
        identity_v2.RESEAL_INFO_TAG_V2,
    }
    assert len(tags_v1 | tags_v2) == 6  # every v2 tag is new
    with pytest.raises(RecordError, match="unknown identity record version 3"):
        identity.record_format(3)
    with pytest.raises(RecordError, match="unknown identity record version True"):
        identity.sealed_share_size(True)


def test_the_v2_info_layouts_and_data_key_known_answers() -> None:
    rid, kid, digest = bytes(range(32)), bytes(range(8)), bytes(range(100, 132))
    info = identity.share_info(rid, 7, 3, kid, version=2)
    assert info == SHARE_INFO_V2
    assert info == b"tipledger/v2/share" + rid + (7).to_bytes(4, "big") + b"\x03" + kid
    assert len(info) == 63
    assert info != identity.share_info(rid, 7, 3, kid)  # version 1's
    reseal = identity.reseal_info(rid, 7, 3, digest, kid, version=2)
    assert reseal == RESEAL_INFO_V2
    assert reseal == b"tipledger/v2/reseal" + rid + (7).to_bytes(4, "big") + b"\x03" + digest + kid
    assert len(reseal) == 96
    hkdf = HKDF(hashes.SHA256(), 32, salt=None, info=b"tipledger/v2/identity")
    assert identity.data_key(bytes(range(16)), 2) == hkdf.derive(bytes(range(16))) == DATA_KEY_V2
    assert identity.data_key(bytes(range(16)), 2) != identity.data_key(bytes(range(16)))
    assert identity.reseal_header(3, 7, 2) == b"\x02\x03\x00\x00\x00\x07"


def test_the_pinned_v2_record_opens_from_first_principles() -> None:
    assert RECORD.to_dict() == IDENTITY_RECORD_V2
    assert RECORD.version == 2
    assert RECORD.format == "tipledger-identity-record/2"
    assert (RECORD.kind, RECORD.epoch, RECORD.threshold) == (identity.RecordKind.REPORTER, 0, 2)
    values = [_share_value(i) for i in (1, 2, 3)]
    assert all(len(v) == 17 for v in values)
    assert len({v[-1] for v in values}) == 3  # three distinct x, each from 1..255
    assert all(v[-1] != 0 for v in values)
    secrets = {combine_by_hand([values[a], values[b]]) for a, b in ((0, 1), (0, 2), (1, 2))}
    assert len(secrets) == 1  # every pair gives the same K
    (secret,) = secrets
    key = identity.data_key(secret, 2)
    plaintext = AESGCM(key).decrypt(RECORD.nonce, RECORD.ciphertext, RECORD.record_id)
    assert plaintext == IDENTITY_JSON == identity.identity_bytes(IDENTITY)
    # one share alone is not K
    assert all(v[:16] != secret for v in values)


def test_the_pinned_v2_resealed_share_opens() -> None:
    index, epoch = identity.resealed_share_header(RESEALED_SHARE_1_V2)
    assert (index, epoch) == (1, 0)
    assert identity.resealed_share_version(RESEALED_SHARE_1_V2) == 2
    assert len(RESEALED_SHARE_1_V2) == 71
    info = identity.reseal_info(
        RECORD.record_id,
        0,
        1,
        REQUEST_DIGEST,
        hpke.key_id_bytes(INVESTIGATOR.public_key()),
        version=2,
    )
    value = hpke.open_sealed(INVESTIGATOR, RESEALED_SHARE_1_V2[6:], info=info)
    assert value == _share_value(1)
    v1_info = identity.reseal_info(
        RECORD.record_id, 0, 1, REQUEST_DIGEST, hpke.key_id_bytes(INVESTIGATOR.public_key())
    )
    assert hpke.open_sealed(INVESTIGATOR, RESEALED_SHARE_1_V2[6:], info=v1_info) is None


# --- versions never mix ----------------------------------------------------------------------


def test_a_v2_sealed_share_does_not_open_under_version_1s_info() -> None:
    sealed = RECORD.sealed_shares[0]
    kid = hpke.key_id_bytes(CUSTODIANS[0].public_key())
    v1_info = identity.share_info(RECORD.record_id, 0, 1, kid)
    assert hpke.open_sealed(CUSTODIANS[0], sealed.sealed, info=v1_info) is None


def test_format_and_share_size_must_agree() -> None:
    as_v1 = copy.deepcopy(IDENTITY_RECORD_V2)
    as_v1["format"] = "tipledger-identity-record/1"
    with pytest.raises(RecordError, match=r"not an identity record: format .*/1' has 64-byte"):
        identity.IdentityRecord.from_dict(as_v1)
    as_v2 = copy.deepcopy(IDENTITY_RECORD)
    as_v2["format"] = "tipledger-identity-record/2"
    with pytest.raises(RecordError, match=r"not an identity record: format .*/2' has 65-byte"):
        identity.IdentityRecord.from_dict(as_v2)
    unknown = dict(IDENTITY_RECORD_V2, format="tipledger-identity-record/3")
    with pytest.raises(RecordError, match="expected one of"):
        identity.IdentityRecord.from_dict(unknown)


def test_a_record_is_of_one_version() -> None:
    v1 = identity.IdentityRecord.from_dict(IDENTITY_RECORD)
    assert v1.version == 1
    assert v1.to_dict()["format"] == "tipledger-identity-record/1"
    mixed = (RECORD.sealed_shares[0], v1.sealed_shares[1], RECORD.sealed_shares[2])
    with pytest.raises(RecordError, match="all of one version"):
        identity.IdentityRecord(
            RECORD.record_id, RECORD.kind, 0, 2, RECORD.nonce, RECORD.ciphertext, mixed
        )


def test_a_v2_record_needs_a_threshold_of_two() -> None:
    data = copy.deepcopy(IDENTITY_RECORD_V2)
    data["threshold"] = 1
    with pytest.raises(RecordError, match="version 2 record has a threshold of at least 2"):
        identity.IdentityRecord.from_dict(data)


def test_sealed_share_sizes() -> None:
    entry = dict(IDENTITY_RECORD_V2["sealed_shares"][0])  # type: ignore[index]
    assert identity.SealedShare.from_dict(entry).version == 2
    entry["sealed"] = entry["sealed"][:-2]  # 64 bytes: read as version 1
    assert identity.SealedShare.from_dict(entry).version == 1
    entry["sealed"] = entry["sealed"] + "0000"  # 66 bytes
    with pytest.raises(RecordError, match="sealed: expected 0x \\+ 128 hex digits"):
        identity.SealedShare.from_dict(entry)
    with pytest.raises(RecordError, match="64 bytes \\(version 1\\) or 65 \\(version 2\\), got 63"):
        identity.SealedShare(1, "070f60e8613c8308", 0, bytes(63))


def test_share_values() -> None:
    rid = bytes(32)
    assert identity.Share(rid, 0, 1, bytes(16)).version == 1
    assert identity.Share(rid, 0, 1, bytes(16) + b"\x07").version == 2
    with pytest.raises(ShareError, match="x is 1 to 255"):
        identity.Share(rid, 0, 1, bytes(17))
    with pytest.raises(ShareError, match="16 bytes \\(version 1\\) or 17 \\(version 2\\), got 18"):
        identity.Share(rid, 0, 1, bytes(18))


def test_resealed_share_header_and_size_must_agree() -> None:
    with pytest.raises(ShareError, match="unknown resealed-share version 1 for 71 bytes"):
        identity.resealed_share_header(b"\x01" + RESEALED_SHARE_1_V2[1:])
    with pytest.raises(ShareError, match="unknown resealed-share version 3 for 71 bytes"):
        identity.resealed_share_version(b"\x03" + RESEALED_SHARE_1_V2[1:])
    with pytest.raises(ShareError, match="70 bytes \\(version 1\\) or 71 \\(version 2\\), got 72"):
        identity.resealed_share_header(RESEALED_SHARE_1_V2 + b"\x00")
    with pytest.raises(ShareError, match="unknown identity record version 0"):
        identity.reseal_header(1, 0, 0)


# --- round trips -----------------------------------------------------------------------------

_hex_key_id = st.binary(min_size=8, max_size=8).map(bytes.hex)


@st.composite
def v2_records(draw: st.DrawFn) -> identity.IdentityRecord:
    n = draw(st.integers(2, 8))
    epoch = draw(st.integers(0, identity.MAX_EPOCH))
    key_ids = draw(st.lists(_hex_key_id, min_size=n, max_size=n, unique=True))
    indices = draw(st.permutations(range(1, n + 1)))
    shares = tuple(
        identity.SealedShare(i, k, epoch, draw(st.binary(min_size=65, max_size=65)))
        for i, k in zip(indices, key_ids, strict=True)
    )
    return identity.IdentityRecord(
        record_id=draw(st.binary(min_size=32, max_size=32)),
        kind=draw(st.sampled_from(list(identity.RecordKind))),
        epoch=epoch,
        threshold=draw(st.integers(2, n)),
        nonce=draw(st.binary(min_size=12, max_size=12)),
        ciphertext=draw(st.binary(min_size=18, max_size=300)),
        sealed_shares=shares,
    )


@given(v2_records())
def test_v2_records_round_trip_through_json(record: identity.IdentityRecord) -> None:
    data = json.loads(json.dumps(record.to_dict()))
    assert data["format"] == "tipledger-identity-record/2"
    assert list(data) == list(identity.RECORD_FIELDS)
    assert identity.IdentityRecord.from_dict(data) == record


@given(st.integers(1, 255), st.integers(0, identity.MAX_EPOCH))
def test_v2_resealed_header_round_trip(index: int, epoch: int) -> None:
    blob = identity.reseal_header(index, epoch, 2) + bytes(65)
    assert identity.resealed_share_header(blob) == (index, epoch)
    assert identity.resealed_share_version(blob) == 2
