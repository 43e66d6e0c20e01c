"""What the vault commands share: key files and passphrases, signing in, the chain to check.

Custodian and investigator keys are the same kind of file (``ledger.vault.custodian_keys``: an
X25519 key and an Ethereum key, encrypted under a passphrase). The passphrase comes from
``--passphrase-file``, else the environment (``TIPLEDGER_CUSTODIAN_PASSPHRASE`` or
``TIPLEDGER_INVESTIGATOR_PASSPHRASE``), else a prompt.

The chain a custodian checks before re-sealing is its own choice: ``--rpc``/``--contract``,
else ``TIPLEDGER_RPC_URL`` and this machine's deployment file, else what the service announces
(``GET /v1/vault``); the contract must be the one the service works for, and the command says
which one it asked.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from eth_account.signers.local import LocalAccount

from ledger.chain.client import connect
from ledger.chain.contract import TipLedgerContract
from ledger.chain.deploy import Deployment
from ledger.chain.reader import ChainReader
from ledger.cli.api_client import DeskClient, ServiceError
from ledger.cli.common import err, settings
from ledger.core.encoding import checksum_address
from ledger.errors import ChainError, ConfigError, DeploymentError
from ledger.ops.keyfiles import load_key, read_passphrase
from ledger.vault.client import CheckedRequest, check_request
from ledger.vault.custodian_keys import (
    DEFAULT_SCRYPT_N,
    KEY_FILE_FORMAT,
    CustodianKey,
    load_custodian_key,
    save_custodian_key,
)
from ledger.vault.onchain import VaultChain

CUSTODIAN_ENV = "TIPLEDGER_CUSTODIAN_PASSPHRASE"
INVESTIGATOR_ENV = "TIPLEDGER_INVESTIGATOR_PASSPHRASE"
CUSTODIAN_KEY_NAME = "custodian-key.json"
INVESTIGATOR_KEY_NAME = "investigator-key.json"

Api = Annotated[
    str,
    typer.Option(
        "--api", envvar="TIPLEDGER_API_URL", help="The service's URL (TIPLEDGER_API_URL)."
    ),
]
Rpc = Annotated[
    str | None,
    typer.Option("--rpc", help="JSON-RPC URL to check the chain at (default: see the docs)."),
]
Contract = Annotated[
    str | None, typer.Option("--contract", help="The TipLedger contract to check (address).")
]
KeyFile = Annotated[
    Path | None, typer.Option("--key-file", dir_okay=False, help="The key file (default in home).")
]
PassphraseFile = Annotated[
    Path | None,
    typer.Option("--passphrase-file", dir_okay=False, help="Read the key's passphrase from here."),
]
ScryptN = Annotated[
    int, typer.Option("--scrypt-n", help="scrypt cost (a power of two, 2^14 to 2^20).")
]
AccountKey = Annotated[
    Path,
    typer.Option(
        "--key-file",
        exists=True,
        dir_okay=False,
        help="Ethereum key to sign in with: keystore (passphrase from TIPLEDGER_KEY_PASSPHRASE"
        "[_FILE]), dev key, or a custodian/investigator key file.",
    ),
]


def default_key(path: Path | None, name: str) -> Path:
    return path if path is not None else settings().home / name


def passphrase(env: str, file: Path | None, *, what: str, confirm: bool = False) -> str:
    if file is not None:
        try:
            text = file.read_text(encoding="utf-8").rstrip("\n")
        except OSError as exc:
            raise ConfigError(f"cannot read the passphrase file {file}: {exc.strerror}") from exc
    elif env in os.environ:
        text = os.environ[env]
    else:
        text = typer.prompt(
            f"Passphrase for the {what} key file",
            hide_input=True,
            confirmation_prompt=confirm,
            err=True,
        )
    if not text:
        raise ConfigError(f"the {what} key file needs a non-empty passphrase")
    return text


def new_key(
    path: Path,
    env: str,
    file: Path | None,
    *,
    what: str,
    scrypt_n: int = DEFAULT_SCRYPT_N,
    force: bool = False,
) -> CustodianKey:
    if path.exists() and not force:
        raise ConfigError(
            f"{path} already exists; pass --force to replace it (its key is then lost)"
        )
    secret = passphrase(env, file, what=what, confirm=True)
    key = CustodianKey.generate()
    save_custodian_key(path, key, secret, overwrite=force, scrypt_n=scrypt_n)
    return key


def open_key(path: Path, env: str, file: Path | None, *, what: str) -> CustodianKey:
    if not path.exists():
        group = "disclosure" if what == "investigator" else "custodian"
        raise ConfigError(f"no {what} key file at {path}: run `tipledger {group} keygen` first")
    return load_custodian_key(path, passphrase(env, file, what=what))


def sign_in_account(path: Path, file: Path | None = None) -> LocalAccount:
    """The Ethereum key of any key file: a vault key file (its approval key), or what
    ``ledger.ops.keyfiles.load_key`` reads."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the key file {path}: {exc.strerror}") from exc
    if KEY_FILE_FORMAT in text:
        env = INVESTIGATOR_ENV if INVESTIGATOR_ENV in os.environ else CUSTODIAN_ENV
        return open_key(path, env, file, what="vault").eth_account
    s = settings()
    return load_key(path, read_passphrase(s.key_passphrase, s.key_passphrase_file))


@contextmanager
def signed_in(api: str, account: LocalAccount) -> Iterator[DeskClient]:
    with DeskClient(api, account) as desk:
        yield desk


def desk_get(
    api: str,
    key_file: Path,
    passphrase_file: Path | None,
    path: str,
    params: dict[str, str] | None = None,
) -> Any:
    """Sign in with any desk key file, GET one thing, sign out: a listing's whole exchange."""
    with signed_in(api, sign_in_account(key_file, passphrase_file)) as desk:
        return desk.call("GET", path, params=params)


def vault_info(desk: DeskClient) -> dict[str, Any]:
    info: dict[str, Any] = desk.call("GET", "/v1/vault")
    return info


@dataclass(frozen=True)
class OpenRequest:
    """A disclosure request fetched by a signed-in desk, its digest recomputed here."""

    desk: DeskClient
    view: dict[str, Any]
    checked: CheckedRequest

    @property
    def path(self) -> str:
        return f"/v1/vault/requests/{self.checked.id}"

    def info(self) -> dict[str, Any]:
        """What the service announces: the chain and contract approvals are signed for."""
        return vault_info(self.desk)

    def get(self, part: str) -> dict[str, Any]:
        found: dict[str, Any] = self.desk.call("GET", f"{self.path}/{part}")
        return found

    def post(self, part: str, body: dict[str, Any]) -> dict[str, Any]:
        after: dict[str, Any] = self.desk.call("POST", f"{self.path}/{part}", json=body)
        return after


@contextmanager
def open_request(api: str, account: LocalAccount, request: int) -> Iterator[OpenRequest]:
    """Sign in, fetch request ``request`` and check its digest: how every decision starts, so
    nothing is signed or sent for a request whose fields do not give its digest."""
    with signed_in(api, account) as desk:
        view: dict[str, Any] = desk.call("GET", f"/v1/vault/requests/{request}")
        yield OpenRequest(desk, view, check_request(view))


def chain_for(
    info: dict[str, Any], rpc: str | None, contract: str | None
) -> tuple[VaultChain, int]:
    """The chain this machine checks, and its chain id (module doc)."""
    s = settings()
    deployment: Deployment | None = None
    if s.deployment_file.exists():
        try:
            deployment = Deployment.load(s.deployment_file)
        except DeploymentError:
            deployment = None
    address = checksum_address(
        contract or (deployment.address if deployment else None) or info["contract"]
    )
    if address != checksum_address(info["contract"]):
        raise ConfigError(
            f"the service works for contract {info['contract']}, this machine checks {address}: "
            "pass --contract to choose"
        )
    local = deployment if deployment is not None and deployment.address == address else None
    url = rpc or s.rpc_url or (local.rpc_url if local else None) or info.get("rpc_url")
    if not url:
        raise ConfigError("no chain to check: pass --rpc URL or set TIPLEDGER_RPC_URL")
    w3 = connect(url, timeout=s.rpc_timeout)
    try:
        chain_id = ChainReader(w3).chain_id()
    except ChainError as exc:  # the node's own words, as this message always gave them
        raise ServiceError(f"cannot reach the chain at {url}: {exc.__cause__ or exc}") from exc
    if chain_id != int(info["chain_id"]):
        raise ConfigError(
            f"the chain at {url} is chain {chain_id}, the service's is {info['chain_id']}"
        )
    tip_ledger = TipLedgerContract(w3, address)
    err.print(f"checking the chain itself: contract {address} on chain {chain_id} at {url}")
    return VaultChain(lambda: tip_ledger, deploy_block=local.deploy_block if local else 0), chain_id
