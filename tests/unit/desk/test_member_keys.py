"""A member's key file: X25519 and Ethereum keys under one passphrase (PROTOCOL.md 16.2)."""

from __future__ import annotations

import hashlib
import json
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from eth_account import Account

from ledger.core.hpke import open_sealed, public_bytes, seal
from ledger.desk.member_keys import (
    KEY_FILE_FORMAT,
    MemberKey,
    MemberKeyError,
    WrongMemberPassphraseError,
    load_member_key,
    read_member_public,
    save_member_key,
)
from ledger.errors import ConfigError, LedgerError
from ledger.vault.custodian_keys import CustodianKey, load_custodian_key, save_custodian_key
from ledger.vault.errors import WrongPassphraseError

FAST = 2**14  # the smallest scrypt cost the file accepts, to keep the tests quick
PASSPHRASE = "รหัสผ่านของเจ้าหน้าที่ correct horse"


@pytest.fixture(scope="module")
def key() -> MemberKey:
    return MemberKey.generate()


def saved(tmp_path: Path, key: MemberKey, name: str = "member-key.json") -> Path:
    path = tmp_path / name
    save_member_key(path, key, PASSPHRASE, scrypt_n=FAST)
    return path


def test_generate(key: MemberKey) -> None:
    raw = public_bytes(key.x25519_public)
    assert key.encryption_key == raw
    assert key.key_id == hashlib.sha256(raw).digest()[:8].hex()
    assert key.address == Account.from_key(key.eth_account.key).address
    other = MemberKey.generate()
    assert (other.key_id, other.address) != (key.key_id, key.address)
    assert repr(key) == f"MemberKey(key_id={key.key_id}, address={key.address})"
    assert key.eth_account.key.hex() not in repr(key)


def test_round_trip(tmp_path: Path, key: MemberKey) -> None:
    path = saved(tmp_path / "desk", key)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in path.parent.iterdir()) == ["member-key.json"]
    data = json.loads(path.read_text())
    assert data["format"] == KEY_FILE_FORMAT == "tipledger-member-key/1"
    assert data["key_id"] == key.key_id
    assert data["address"] == key.address
    assert data["x25519_public"] == "0x" + key.encryption_key.hex()
    assert data["kdf"]["n"] == FAST
    assert key.eth_account.key.hex()[2:] not in path.read_text()

    loaded = load_member_key(path, PASSPHRASE)
    assert (loaded.key_id, loaded.address) == (key.key_id, key.address)
    assert bytes(loaded.eth_account.key) == bytes(key.eth_account.key)
    # The loaded X25519 key opens what was sealed to the original's public key.
    sealed = seal(key.x25519_public, b"case key", info=b"test")
    assert open_sealed(loaded.x25519_private, sealed, info=b"test") == b"case key"


def test_public_fields_need_no_passphrase(tmp_path: Path, key: MemberKey) -> None:
    public = read_member_public(saved(tmp_path, key))
    assert public.key_id == key.key_id
    assert public.address == key.address
    assert public.x25519_public_raw == key.encryption_key


def test_wrong_passphrase(tmp_path: Path, key: MemberKey) -> None:
    path = saved(tmp_path, key)
    with pytest.raises(WrongMemberPassphraseError, match="wrong passphrase for member key file"):
        load_member_key(path, PASSPHRASE + "x")
    # One hierarchy: a member key failure is a ConfigError, a LedgerError.
    assert issubclass(WrongMemberPassphraseError, MemberKeyError)
    assert issubclass(MemberKeyError, ConfigError)
    assert issubclass(MemberKeyError, LedgerError)


def test_empty_passphrase_and_overwrite_refused(tmp_path: Path, key: MemberKey) -> None:
    with pytest.raises(MemberKeyError, match="non-empty passphrase"):
        save_member_key(tmp_path / "k.json", key, "", scrypt_n=FAST)
    path = saved(tmp_path, key)
    before = path.read_bytes()
    with pytest.raises(MemberKeyError, match="already exists"):
        save_member_key(path, MemberKey.generate(), PASSPHRASE, scrypt_n=FAST)
    assert path.read_bytes() == before
    save_member_key(path, MemberKey.generate(), PASSPHRASE, scrypt_n=FAST, overwrite=True)
    assert read_member_public(path).key_id != key.key_id


def test_altered_public_field_does_not_open(tmp_path: Path, key: MemberKey) -> None:
    """The AAD binds the clear fields: another address, or another X25519 key, is refused."""
    path = saved(tmp_path, key)
    data = json.loads(path.read_text())
    other = MemberKey.generate()
    for field, value in (
        ("address", other.address),
        ("x25519_public", "0x" + other.encryption_key.hex()),
    ):
        changed = tmp_path / f"{field}.json"
        changed.write_text(json.dumps({**data, field: value}))
        with pytest.raises(WrongMemberPassphraseError):
            load_member_key(changed, PASSPHRASE)


def test_altered_key_id_refused_with_and_without_passphrase(tmp_path: Path, key: MemberKey) -> None:
    path = saved(tmp_path, key)
    data = json.loads(path.read_text())
    data["key_id"] = "00" * 8
    path.write_text(json.dumps(data))
    with pytest.raises(MemberKeyError, match="key_id '0000000000000000' is not"):
        read_member_public(path)
    with pytest.raises(MemberKeyError, match="key_id '0000000000000000' is not"):
        load_member_key(path, PASSPHRASE)


def test_member_and_custodian_files_do_not_pass_for_each_other(
    tmp_path: Path, key: MemberKey
) -> None:
    """Same layout, different format and AAD tag: neither file opens as the other, even with
    its format field rewritten."""
    member = saved(tmp_path, key)
    custodian = tmp_path / "custodian.json"
    save_custodian_key(
        custodian, CustodianKey(key.x25519_private, key.eth_account), PASSPHRASE, scrypt_n=FAST
    )
    with pytest.raises(MemberKeyError, match="is not a member key file: format"):
        load_member_key(custodian, PASSPHRASE)
    with pytest.raises(MemberKeyError, match="is not a member key file: format"):
        read_member_public(custodian)

    relabelled = json.loads(member.read_text()) | {"format": "tipledger-custodian-key/1"}
    member.write_text(json.dumps(relabelled))
    with pytest.raises(WrongPassphraseError):
        load_custodian_key(member, PASSPHRASE)
    relabelled = json.loads(custodian.read_text()) | {"format": KEY_FILE_FORMAT}
    custodian.write_text(json.dumps(relabelled))
    with pytest.raises(WrongMemberPassphraseError):
        load_member_key(custodian, PASSPHRASE)


def test_unreadable_or_garbage_files(tmp_path: Path) -> None:
    with pytest.raises(MemberKeyError, match="cannot read the member key file"):
        read_member_public(tmp_path / "missing.json")
    garbage = tmp_path / "garbage.json"
    garbage.write_text("not json")
    with pytest.raises(MemberKeyError, match="not a member key file \\(not JSON\\)"):
        load_member_key(garbage, PASSPHRASE)
    garbage.write_text("[1, 2]")
    with pytest.raises(MemberKeyError, match="is not a JSON object"):
        read_member_public(garbage)


def test_constructor_checks(key: MemberKey) -> None:
    with pytest.raises(MemberKeyError, match="X25519 private key"):
        MemberKey(key.eth_account, key.eth_account)  # type: ignore[arg-type]
    with pytest.raises(MemberKeyError, match="LocalAccount"):
        MemberKey(X25519PrivateKey.generate(), "0x00")  # type: ignore[arg-type]
