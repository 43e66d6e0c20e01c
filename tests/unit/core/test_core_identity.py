"""The identity record format v1 (ledger.core.identity): the pinned record opens from first
principles (HPKE, Shamir, AES-GCM), and the info layouts and the JSON form are pinned."""

from __future__ import annotations

import copy
import json

import pytest
from core_vectors import (
    CUSTODIAN_PRIVATE_KEYS,
    DATA_KEY,
    IDENTITY,
    IDENTITY_JSON,
    IDENTITY_RECORD,
    INVESTIGATOR_PRIVATE_KEY,
    REQUEST_DIGEST,
    RESEAL_INFO,
    RESEALED_SHARE_1,
    SHARE_INFO,
)
from Crypto.Protocol.SecretSharing import Shamir
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ledger.core import hpke, identity
from ledger.core.errors import ProtocolError, RecordError, ShareError, VaultError
from ledger.vault import errors as vault_errors
from ledger.vault import records

CUSTODIANS = [X25519PrivateKey.from_private_bytes(k) for k in CUSTODIAN_PRIVATE_KEYS]
INVESTIGATOR = X25519PrivateKey.from_private_bytes(INVESTIGATOR_PRIVATE_KEY)
RECORD = identity.IdentityRecord.from_dict(IDENTITY_RECORD)


def _share_value(index: int) -> bytes:
    sealed = RECORD.sealed_shares[index - 1]
    key = CUSTODIANS[index - 1]
    assert sealed.custodian_key_id == hpke.key_id(key.public_key())
    kid = hpke.key_id_bytes(key.public_key())
    info = identity.share_info(RECORD.record_id, RECORD.epoch, index, kid)
    value = hpke.open_sealed(key, sealed.sealed, info=info)
    assert value is not None
    return value


def test_the_info_layouts_and_data_key_known_answers() -> None:
    assert identity.share_info(bytes(range(32)), 7, 3, bytes(range(8))) == SHARE_INFO
    assert len(SHARE_INFO) == 63
    assert (
        identity.reseal_info(bytes(range(32)), 7, 3, bytes(range(100, 132)), bytes(range(8)))
        == RESEAL_INFO
    )
    assert len(RESEAL_INFO) == 96
    assert identity.data_key(bytes(range(16))) == DATA_KEY


def test_the_pinned_record_opens_from_first_principles() -> None:
    assert RECORD.to_dict() == IDENTITY_RECORD
    assert (RECORD.kind, RECORD.epoch, RECORD.threshold) == (identity.RecordKind.REPORTER, 0, 2)
    for pair in ((1, 2), (1, 3), (2, 3)):
        secret = Shamir.combine([(i, _share_value(i)) for i in pair], ssss=False)
        key = AESGCM(identity.data_key(secret))
        assert key.decrypt(RECORD.nonce, RECORD.ciphertext, RECORD.record_id) == IDENTITY_JSON
    assert identity.identity_bytes(IDENTITY) == IDENTITY_JSON


def test_the_pinned_record_opens_with_the_vault_too() -> None:
    shares = [
        records.open_share(RECORD.sealed_shares[i], RECORD.record_id, CUSTODIANS[i]) for i in (0, 2)
    ]
    assert records.combine(shares, RECORD) == IDENTITY_JSON


def test_the_pinned_resealed_share_opens_for_its_request() -> None:
    assert RESEALED_SHARE_1[:6] == identity.reseal_header(1, 0) == b"\x01\x01\x00\x00\x00\x00"
    assert identity.resealed_share_header(RESEALED_SHARE_1) == (1, 0)
    assert len(RESEALED_SHARE_1) == identity.RESEALED_SHARE_SIZE == 70
    share = records.open_resealed(
        RESEALED_SHARE_1,
        record_id=RECORD.record_id,
        request_digest=REQUEST_DIGEST,
        investigator_private_key=INVESTIGATOR,
    )
    assert share.value == _share_value(1)
    with pytest.raises(ShareError, match="does not open"):
        records.open_resealed(
            RESEALED_SHARE_1,
            record_id=RECORD.record_id,
            request_digest=bytes(32),
            investigator_private_key=INVESTIGATOR,
        )


def test_the_json_form_field_names() -> None:
    assert tuple(IDENTITY_RECORD) == identity.RECORD_FIELDS
    assert tuple(IDENTITY_RECORD["sealed_shares"][0]) == identity.SEALED_SHARE_FIELDS
    assert identity.RECORD_FORMAT == IDENTITY_RECORD["format"] == "tipledger-identity-record/1"
    changed = copy.deepcopy(IDENTITY_RECORD)
    changed["format"] = "tipledger-identity-record/2"
    with pytest.raises(RecordError, match="not an identity record"):
        identity.IdentityRecord.from_dict(changed)


def test_the_size_limit_is_one_constant() -> None:
    from api import parsing

    assert identity.MAX_IDENTITY_SIZE == records.MAX_IDENTITY_SIZE == 64 * 1024
    just = {"x": "a" * (identity.MAX_IDENTITY_SIZE - 8)}
    assert len(json.dumps(just, separators=(",", ":"))) == identity.MAX_IDENTITY_SIZE
    assert parsing.identity_field(just) is not None
    too_big = {"x": "a" * (identity.MAX_IDENTITY_SIZE - 7)}
    with pytest.raises(ProtocolError, match="larger than 65536 bytes"):
        parsing.identity_field(too_big)
    with pytest.raises(RecordError, match="at most 65536"):
        identity.identity_bytes(too_big)


def test_the_vault_errors_are_the_core_classes() -> None:
    assert vault_errors.VaultError is VaultError
    assert vault_errors.RecordError is RecordError
    assert vault_errors.ShareError is ShareError
    assert records.IdentityRecord is identity.IdentityRecord
