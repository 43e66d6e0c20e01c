"""The embedded default: one Anvil devchain in the data directory with TipLedger deployed on it.

``provision`` reuses the deployment in ``$TIPLEDGER_HOME`` when the chain still holds it (Anvil
keeps its state in the data directory between runs) and deploys afresh otherwise. A fresh
deployment cannot continue an old log, so the old SQLite database is moved aside, never mixed.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, replace
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from ledger.chain.anvil import Devchain, dev_accounts
from ledger.chain.client import send_transaction
from ledger.chain.deploy import Deployment, deploy, open_deployment
from ledger.chain.reader import ChainReader
from ledger.config import Settings
from ledger.core.agency import INTAKE, agency_id
from ledger.desk.member_keys import MemberKey, load_member_key, save_member_key
from ledger.errors import ConfigError, DeploymentError
from ledger.ops.files import write_private
from ledger.ops.keyfiles import load_key, save_dev_key
from ledger.store import LogStore, open_database

ANCHORER_FUNDING = Web3.to_wei(1000, "ether")
MEMBER_FUNDING = Web3.to_wei(10, "ether")  # a member pays for its reviews and referrals
INTAKE_NAME_TH = "ศูนย์รับเรื่องร้องเรียนกลาง"
INTAKE_NAME_EN = "National intake desk"
INTAKE_MEMBER_KEY = "intake-member-key.json"
INTAKE_MEMBER_PASSPHRASE = "intake-member-passphrase.txt"  # noqa: S105 - a file name


@dataclass(frozen=True)
class IntakeDesk:
    """The embedded default's intake desk and its one member, made on first use."""

    key_file: Path
    passphrase_file: Path
    address: str
    key_id: str
    created: bool


def start_devchain(settings: Settings, port: int | None = None) -> Devchain:
    """Anvil with its state kept in ``<home>/devchain`` so a restart resumes the same chain."""
    settings.devchain_dir.mkdir(parents=True, exist_ok=True)
    chain = Devchain(
        port=port,
        state=settings.devchain_dir / "state.json",
        log_file=settings.devchain_dir / "anvil.log",
        # Dump the state now and then too, so even a killed devchain loses little.
        extra_args=["--state-interval", "5"],
    )
    return chain.start()


def _dev_anchorer(settings: Settings) -> LocalAccount:
    path = settings.anchorer_key_file
    if path.exists():
        try:
            return load_key(path)
        except ConfigError:
            raise ConfigError(
                f"{path} is not a devchain key; use another TIPLEDGER_HOME for the devchain"
            ) from None
    account: LocalAccount = Account.create()
    save_dev_key(path, account)
    return account


def provision(settings: Settings, w3: Web3, rpc_url: str) -> tuple[Deployment, bool]:
    """The deployment on this devchain: reused if still there, else a new one. (dep, is_new)."""
    settings.ensure_home()
    path = settings.deployment_file
    if path.exists():
        try:
            existing = Deployment.load(path)
            open_deployment(w3, existing)
        except DeploymentError:
            existing = None
        if existing is not None:
            current = replace(existing, rpc_url=rpc_url)
            current.save(path)
            return current, False
    admin = dev_accounts(1)[0]
    anchorer = _dev_anchorer(settings)
    if ChainReader(w3).balance(anchorer.address) < ANCHORER_FUNDING // 2:
        send_transaction(
            w3,
            admin,
            {"to": anchorer.address, "value": ANCHORER_FUNDING},
            what="funding the anchorer",
        )
    deployment = replace(deploy(w3, admin, anchorer=anchorer.address), rpc_url=rpc_url)
    _set_aside_old_log(settings, deployment)
    deployment.save(path)
    return deployment, True


def ensure_intake_desk(settings: Settings, w3: Web3, deployment: Deployment) -> IntakeDesk:
    """The intake desk on the devchain, with one member whose key file is made here on first
    use (as the desk key was before agencies), so the two README commands still give a system
    whose tips someone can open. Its passphrase sits beside it: move both to the member's
    machine for anything but trying TipLedger out."""
    admin = dev_accounts(1)[0]
    contract = open_deployment(w3, deployment)
    intake = agency_id(INTAKE)
    if contract.agency_info(intake) is None:
        contract.add_agency(admin, intake, INTAKE_NAME_TH, INTAKE_NAME_EN)
    key_path = settings.home / INTAKE_MEMBER_KEY
    passphrase_path = settings.home / INTAKE_MEMBER_PASSPHRASE
    created = False
    if key_path.exists():
        if not passphrase_path.exists():
            raise ConfigError(
                f"{key_path} exists but its passphrase file {passphrase_path} does not: restore "
                "it, or move the key file away to make a new member"
            )
        passphrase = passphrase_path.read_text(encoding="utf-8").strip()
        member = load_member_key(key_path, passphrase)
    else:
        passphrase = secrets.token_urlsafe(32)
        member = MemberKey.generate()
        write_private(
            passphrase_path, (passphrase + "\n").encode(), what="the member key's passphrase"
        )
        save_member_key(key_path, member, passphrase)
        created = True
    if not contract.is_member(intake, member.address):
        if ChainReader(w3).balance(Web3.to_checksum_address(member.address)) < MEMBER_FUNDING // 2:
            send_transaction(
                w3,
                admin,
                {"to": member.address, "value": MEMBER_FUNDING},
                what="funding the intake desk's member",
            )
        contract.add_member(admin, intake, member.address, member.encryption_key)
    return IntakeDesk(key_path, passphrase_path, member.address, member.key_id, created)


def _set_aside_old_log(settings: Settings, deployment: Deployment) -> None:
    if settings.database_url is not None:
        return  # a configured database is the operator's; ChainMismatchError will say so
    db = settings.home / "ledger.sqlite3"
    if not db.exists():
        return
    engine = open_database(f"sqlite:///{db}")
    try:
        bound = LogStore(engine).deployment()
    finally:
        engine.dispose()
    if bound is None or bound == (deployment.chain_id, deployment.address.lower()):
        return
    stamp = time.strftime("%Y%m%dT%H%M%S")
    for suffix in ("", "-wal", "-shm"):
        old = Path(f"{db}{suffix}")
        if old.exists():
            old.rename(db.with_name(f"ledger.{bound[1][:10]}.{stamp}.sqlite3{suffix}"))
