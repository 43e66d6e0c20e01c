"""Custodian keys: generation, the passphrase-encrypted key file, and the registration JSON."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from eth_account import Account

from ledger.core.eip712 import recover_disclosure_signer
from ledger.vault.custodian_keys import (
    DEFAULT_SCRYPT_N,
    KEY_FILE_FORMAT,
    PUBLIC_FORMAT,
    CustodianKey,
    CustodianPublicInfo,
    decrypt_key_file,
    encrypt_key_file,
    generate_custodian_key,
    load_custodian_key,
    save_custodian_key,
)
from ledger.vault.errors import CustodianKeyError, VaultError, WrongPassphraseError
from ledger.vault.records import combine, key_id, seal_identity

FAST = 2**14  # the smallest scrypt cost the file accepts, to keep the tests quick
PASSPHRASE = "correct horse battery staple ม้า"
CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3"


@pytest.fixture(scope="module")
def key() -> CustodianKey:
    return generate_custodian_key()


def test_generate(key: CustodianKey) -> None:
    raw = key.x25519_public.public_bytes_raw()
    assert key.key_id == hashlib.sha256(raw).digest()[:8].hex()
    assert len(key.key_id) == 16
    assert key.address == Account.from_key(key.eth_account.key).address
    other = generate_custodian_key()
    assert other.key_id != key.key_id
    assert other.address != key.address
    assert repr(key) == f"CustodianKey(key_id={key.key_id}, address={key.address})"
    assert key.eth_account.key.hex() not in repr(key)


def test_key_file_round_trip(tmp_path: Path, key: CustodianKey) -> None:
    path = tmp_path / "custodian" / "key.json"
    save_custodian_key(path, key, PASSPHRASE, scrypt_n=FAST)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in path.parent.iterdir()) == ["key.json"]  # no temporary left
    loaded = load_custodian_key(path, PASSPHRASE)
    assert loaded.key_id == key.key_id
    assert loaded.address == key.address
    assert loaded.eth_account.key == key.eth_account.key
    assert loaded.x25519_private.private_bytes_raw() == key.x25519_private.private_bytes_raw()

    data = json.loads(path.read_text())
    assert data["format"] == KEY_FILE_FORMAT
    assert data["key_id"] == key.key_id
    assert data["address"] == key.address
    assert data["x25519_public"] == "0x" + key.x25519_public.public_bytes_raw().hex()
    assert data["kdf"]["name"] == "scrypt"
    assert (data["kdf"]["n"], data["kdf"]["r"], data["kdf"]["p"]) == (FAST, 8, 1)
    assert data["cipher"]["name"] == "aes-256-gcm"
    text = path.read_text()
    assert key.eth_account.key.hex()[2:] not in text.replace("0x", "")
    assert key.x25519_private.private_bytes_raw().hex() not in text


def test_default_scrypt_cost(tmp_path: Path, key: CustodianKey) -> None:
    path = tmp_path / "key.json"
    save_custodian_key(path, key, PASSPHRASE)
    assert json.loads(path.read_text())["kdf"]["n"] == DEFAULT_SCRYPT_N == 2**17
    assert load_custodian_key(path, PASSPHRASE).key_id == key.key_id


def test_wrong_passphrase(tmp_path: Path, key: CustodianKey) -> None:
    path = tmp_path / "key.json"
    save_custodian_key(path, key, PASSPHRASE, scrypt_n=FAST)
    for wrong in ("correct horse battery staple", PASSPHRASE + " ", "x"):
        with pytest.raises(WrongPassphraseError, match="wrong passphrase for custodian key file"):
            load_custodian_key(path, wrong)
    assert issubclass(WrongPassphraseError, CustodianKeyError)
    assert issubclass(CustodianKeyError, VaultError)


def test_empty_passphrase_refused(tmp_path: Path, key: CustodianKey) -> None:
    with pytest.raises(CustodianKeyError, match="non-empty passphrase"):
        save_custodian_key(tmp_path / "key.json", key, "", scrypt_n=FAST)
    assert not (tmp_path / "key.json").exists()
    save_custodian_key(tmp_path / "key.json", key, PASSPHRASE, scrypt_n=FAST)
    with pytest.raises(CustodianKeyError, match="non-empty passphrase"):
        load_custodian_key(tmp_path / "key.json", "")


def test_no_overwrite_unless_asked(tmp_path: Path, key: CustodianKey) -> None:
    path = tmp_path / "key.json"
    save_custodian_key(path, key, PASSPHRASE, scrypt_n=FAST)
    other = generate_custodian_key()
    with pytest.raises(CustodianKeyError, match="already exists"):
        save_custodian_key(path, other, PASSPHRASE, scrypt_n=FAST)
    assert load_custodian_key(path, PASSPHRASE).key_id == key.key_id
    save_custodian_key(path, other, "new passphrase", scrypt_n=FAST, overwrite=True)
    assert load_custodian_key(path, "new passphrase").key_id == other.key_id
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(os.listdir(tmp_path)) == ["key.json"]


@pytest.mark.parametrize(
    ("field", "value", "error", "message"),
    [
        ("address", "0x" + "11" * 20, WrongPassphraseError, "or the file was altered"),
        ("x25519_public", None, WrongPassphraseError, "or the file was altered"),
        ("ciphertext", None, WrongPassphraseError, "or the file was altered"),
        ("key_id", "00" * 8, CustodianKeyError, "key_id '0000000000000000' is not"),
        ("format", "tipledger-custodian-key/0", CustodianKeyError, "not a custodian key file"),
        ("ciphertext", "0x00", CustodianKeyError, "ciphertext: expected 0x"),
        ("address", "0xnot-an-address", CustodianKeyError, "address"),
    ],
)
def test_altered_key_file(tmp_path: Path, key: CustodianKey, field, value, error, message) -> None:
    data = encrypt_key_file(key, PASSPHRASE, scrypt_n=FAST)
    if value is None:  # flip the last byte of a hex field
        text = data[field]
        value = text[:-1] + ("0" if text[-1] != "0" else "1")
    data[field] = value
    with pytest.raises(error, match=message):
        decrypt_key_file(data, PASSPHRASE)


@pytest.mark.parametrize(
    ("kdf", "message"),
    [
        ({"n": 2**21}, "power of two from 2\\^14 to 2\\^20"),
        ({"n": 2**13}, "power of two from 2\\^14 to 2\\^20"),
        ({"n": 3 * 2**14}, "power of two"),
        ({"n": "16384"}, "n must be an integer"),
        ({"r": 0}, "scrypt r must be 1 to 16"),
        ({"p": 9}, "p 1 to 4"),
        ({"n": 2**20, "r": 16}, "more than 1 GiB"),
        ({"name": "pbkdf2"}, "unsupported kdf"),
        ({"salt": "0x00"}, "salt: expected 0x \\+ 32 hex digits"),
    ],
)
def test_key_file_kdf_parameters_bounded(key: CustodianKey, kdf, message: str) -> None:
    data = encrypt_key_file(key, PASSPHRASE, scrypt_n=FAST)
    data["kdf"].update(kdf)
    with pytest.raises(CustodianKeyError, match=message):
        decrypt_key_file(data, PASSPHRASE)


def test_altered_kdf_salt_looks_like_wrong_passphrase(key: CustodianKey) -> None:
    data = encrypt_key_file(key, PASSPHRASE, scrypt_n=FAST)
    data["kdf"]["salt"] = "0x" + "00" * 16
    with pytest.raises(WrongPassphraseError):
        decrypt_key_file(data, PASSPHRASE)


def test_save_refuses_bad_cost(tmp_path: Path, key: CustodianKey) -> None:
    with pytest.raises(CustodianKeyError, match="power of two"):
        save_custodian_key(tmp_path / "k.json", key, PASSPHRASE, scrypt_n=1000)


def test_unreadable_or_garbage_files(tmp_path: Path) -> None:
    with pytest.raises(CustodianKeyError, match="cannot read the custodian key file"):
        load_custodian_key(tmp_path / "missing.json", PASSPHRASE)
    garbage = tmp_path / "garbage.json"
    garbage.write_bytes(b"\x00\xffnot json")
    with pytest.raises(CustodianKeyError, match="not a custodian key file \\(not JSON\\)"):
        load_custodian_key(garbage, PASSPHRASE)
    listed = tmp_path / "list.json"
    listed.write_text("[]")
    with pytest.raises(CustodianKeyError, match="is not a JSON object"):
        load_custodian_key(listed, PASSPHRASE)
    keystore = tmp_path / "keystore.json"
    keystore.write_text(json.dumps(Account.encrypt(Account.create().key, PASSPHRASE, iterations=2)))
    with pytest.raises(CustodianKeyError, match="not a custodian key file: format None"):
        load_custodian_key(keystore, PASSPHRASE)


def test_loaded_key_opens_its_shares(tmp_path: Path) -> None:
    keys = [generate_custodian_key() for _ in range(3)]
    paths = []
    for i, k in enumerate(keys):
        paths.append(tmp_path / f"custodian-{i}.json")
        save_custodian_key(paths[-1], k, f"passphrase {i}", scrypt_n=FAST)
    record = seal_identity(
        {"name": "W. Itness"},
        kind="witness",
        custodians=[k.public().share_key for k in keys],
        threshold=2,
    )
    loaded = [load_custodian_key(p, f"passphrase {i}") for i, p in enumerate(paths)]
    shares = [k.open_share(record.sealed_share_for(k.key_id), record.record_id) for k in loaded[1:]]
    assert json.loads(combine(shares, record)) == {"name": "W. Itness"}


def test_sign_disclosure(key: CustodianKey) -> None:
    record_id = bytes(range(32))
    request_digest = hashlib.sha256(b"request").digest()
    requester = Account.create().address
    signature = key.sign_disclosure(
        chain_id=31337,
        contract=CONTRACT,
        record_id=record_id,
        request_digest=request_digest,
        requester=requester,
    )
    assert len(signature) == 65
    signer = recover_disclosure_signer(
        31337, CONTRACT, record_id, request_digest, requester, signature
    )
    assert signer == key.address


# --- registration JSON -------------------------------------------------------------------------


def test_public_export_round_trip(key: CustodianKey) -> None:
    info = key.public()
    text = info.to_json()
    data = json.loads(text)
    assert data == {
        "format": PUBLIC_FORMAT,
        "key_id": key.key_id,
        "x25519_public": "0x" + key.x25519_public.public_bytes_raw().hex(),
        "address": key.address,
    }
    assert "private" not in text
    parsed = CustodianPublicInfo.from_json(text)
    assert parsed.key_id == key.key_id
    assert parsed.address == key.address
    assert parsed.share_key == key.share_key
    lower = dict(data, address=data["address"].lower())
    assert CustodianPublicInfo.from_dict(lower).address == key.address  # normalised to EIP-55


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"key_id": "00" * 8}, "does not match its public key"),
        ({"format": "tipledger-custodian-key/1"}, "not a custodian registration"),
        ({"x25519_public": "0x" + "00" * 32}, "not a usable X25519 key"),
        ({"x25519_public": "0x" + "00" * 31}, "x25519_public: expected 0x \\+ 64 hex digits"),
        ({"address": None}, "needs key_id and address strings"),
        ({"key_id": None}, "needs key_id and address strings"),
    ],
)
def test_public_import_refuses(key: CustodianKey, change, message: str) -> None:
    data = dict(key.public().to_dict(), **change)
    with pytest.raises(CustodianKeyError, match=message):
        CustodianPublicInfo.from_dict(data)


def test_public_import_refuses_bad_checksum(key: CustodianKey) -> None:
    data = key.public().to_dict()
    address = data["address"]
    # swap the case of one letter: a mixed-case address with a wrong EIP-55 checksum
    i = next(i for i, c in enumerate(address[2:], start=2) if c.isalpha())
    data["address"] = address[:i] + address[i].swapcase() + address[i + 1 :]
    with pytest.raises(CustodianKeyError, match="invalid EIP-55 checksum"):
        CustodianPublicInfo.from_dict(data)
    with pytest.raises(CustodianKeyError, match="not JSON"):
        CustodianPublicInfo.from_json("{")
    with pytest.raises(CustodianKeyError, match="is a JSON object"):
        CustodianPublicInfo.from_json("[]")


def test_constructor_checks() -> None:
    with pytest.raises(CustodianKeyError, match="X25519 private key"):
        CustodianKey(X25519PrivateKey.generate().public_key(), Account.create())  # type: ignore[arg-type]
    with pytest.raises(CustodianKeyError, match="LocalAccount"):
        CustodianKey(X25519PrivateKey.generate(), b"\x01" * 32)  # type: ignore[arg-type]
    pub = X25519PrivateKey.generate().public_key()
    with pytest.raises(CustodianKeyError, match="not in EIP-55 form"):
        CustodianPublicInfo(key_id(pub), pub, "0x" + "ab" * 20)
