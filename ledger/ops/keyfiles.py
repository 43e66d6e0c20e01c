"""Ethereum keys on disk: eth-account keystore files, and plain dev keys for the devchain only.

A keystore file (Web3 Secret Storage, scrypt) needs a passphrase, from ``TIPLEDGER_KEY_PASSPHRASE``
or the file named by ``TIPLEDGER_KEY_PASSPHRASE_FILE``. A devchain key is a throwaway: it is kept
in clear (mode 0600) and marked ``"dev": true`` so it is never mistaken for a real one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount

from ledger.errors import ConfigError
from ledger.ops.files import write_private


def _write_private(path: Path, data: dict[str, Any]) -> None:
    write_private(
        path, (json.dumps(data, indent=2) + "\n").encode(), what="key file", overwrite=True
    )


def save_dev_key(path: Path, account: LocalAccount) -> None:
    _write_private(
        path,
        {"dev": True, "address": account.address, "private_key": account.key.hex()},
    )


def save_keystore(path: Path, account: LocalAccount, passphrase: str) -> None:
    if not passphrase:
        raise ConfigError("a keystore needs a non-empty passphrase")
    _write_private(path, Account.encrypt(account.key, passphrase))


def read_passphrase(passphrase: str | None, passphrase_file: Path | None) -> str | None:
    if passphrase:
        return passphrase
    if passphrase_file:
        try:
            return passphrase_file.read_text().rstrip("\n")
        except OSError as exc:
            raise ConfigError(f"cannot read the passphrase file {passphrase_file}: {exc}") from exc
    return None


def load_key(path: Path, passphrase: str | None = None) -> LocalAccount:
    """Load a dev key, a keystore file or a file holding a bare 0x… private key."""
    try:
        text = path.read_text().strip()
    except OSError as exc:
        raise ConfigError(f"cannot read the key file {path}: {exc.strerror}") from exc
    try:
        if text.startswith("{"):
            data = json.loads(text)
            if data.get("dev"):
                account: LocalAccount = Account.from_key(data["private_key"])
                return account
            if passphrase is None:
                raise ConfigError(
                    f"{path} is an encrypted keystore: set TIPLEDGER_KEY_PASSPHRASE or "
                    "TIPLEDGER_KEY_PASSPHRASE_FILE"
                )
            account = Account.from_key(Account.decrypt(data, passphrase))
            return account
        account = Account.from_key(text)
        return account
    except ConfigError:
        raise
    except ValueError as exc:
        # eth-account says "MAC mismatch" for a wrong passphrase, other ValueErrors for garbage.
        if "MAC mismatch" in str(exc):
            raise ConfigError(f"wrong passphrase for the keystore {path}") from exc
        raise ConfigError(f"{path} holds no usable key: {exc}") from exc
    except (KeyError, TypeError) as exc:
        raise ConfigError(f"{path} holds no usable key") from exc
