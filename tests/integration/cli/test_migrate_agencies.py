"""`tipledger migrate agencies`: a deployment from before agencies (the contract as it was, from
tests/fixtures, on a real Anvil, with a log anchored on it and tips sealed to the desk key)
moves to the contract with agencies; its tips still open with the desk key, the log is anchored
whole on the new contract, the old checkpoints stay verifiable on the old one."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
from eth_utils.crypto import keccak
from typer.testing import CliRunner
from web3 import Web3

from api.main import create_app, uvicorn_config
from ledger.chain.anvil import Devchain
from ledger.chain.client import send_transaction
from ledger.chain.contract import TipLedgerContract
from ledger.chain.deploy import Deployment
from ledger.cli.app import app
from ledger.config import Settings
from ledger.core.commitment import ZERO_AUTHOR, commitment, content_digest, new_salt
from ledger.core.envelope import seal_tip
from ledger.desk.keys import generate_desk_keypair, save_private_key, save_public_key
from ledger.log.intake import INTAKE_ID
from ledger.ops.keyfiles import save_dev_key
from ledger.service import LedgerService
from ledger.store import LogStore, StoredCheckpoint, open_database
from ledger.store.submissions import NewSubmission, SubmissionStore

from .. import sealing
from ..api.conftest import free_socket, serving

OLD_ARTIFACT = Path(__file__).resolve().parents[2] / "fixtures" / "TipLedger-before-agencies.json"
TIPS = [b"before agencies: one", b"before agencies: two", b"before agencies: three"]


def _deploy_old(w3: Web3, admin, anchorer, reviewer) -> Deployment:  # type: ignore[no-untyped-def]
    artifact = json.loads(OLD_ARTIFACT.read_text())
    factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    data = factory.constructor(
        admin.address, anchorer.address, [reviewer.address], [], 3600, 2
    ).data_in_transaction
    receipt = send_transaction(w3, admin, {"data": data}, what="deploying the old TipLedger")
    address = Web3.to_checksum_address(receipt["contractAddress"])
    block = w3.eth.get_block(receipt["blockNumber"])
    return Deployment(
        chain_id=w3.eth.chain_id,
        address=address,
        deploy_block=int(receipt["blockNumber"]),
        deploy_tx="0x" + bytes(receipt["transactionHash"]).hex(),
        code_hash="0x" + keccak(bytes(w3.eth.get_code(address))).hex(),
        anchorer=anchorer.address,
        deployed_at=int(block["timestamp"]),
        deploy_block_hash="0x" + bytes(block["hash"]).hex(),
    )


def test_a_deployment_from_before_agencies_moves_and_loses_nothing(
    devchain: Devchain, w3: Web3, tmp_path: Path
) -> None:
    admin, anchorer, reviewer = devchain.accounts[0], devchain.accounts[1], devchain.accounts[8]
    home = tmp_path / "home"
    home.mkdir()
    old = _deploy_old(w3, admin, anchorer, reviewer)
    old = Deployment(**{**old.__dict__, "rpc_url": devchain.rpc_url})
    old.save(home / "deployment.json")
    settings = Settings(home=home, rpc_url=devchain.rpc_url)
    save_dev_key(settings.anchorer_key_file, anchorer)
    desk = generate_desk_keypair()
    save_public_key(settings.desk_public_file, desk.public_key())
    save_private_key(home / "review-desk-private.pem", desk, "desk passphrase")
    (home / "admin.key").write_text("0x" + bytes(admin.key).hex() + "\n")
    (home / "reviewer.key").write_text("0x" + bytes(reviewer.key).hex() + "\n")

    # The old service's log: tips sealed straight to the desk key, anchored on the old contract.
    engine = open_database(settings.database)
    log = LogStore(engine)
    log.bind_deployment(old.chain_id, old.address)
    submissions = SubmissionStore(log)
    commitments = []
    for i, document in enumerate(TIPS):
        salt = new_salt()
        c = commitment(salt, content_digest(document), ZERO_AUTHOR)
        envelope = seal_tip(
            desk.public_key(), commitment=c, document=document, salt=salt, author=ZERO_AUTHOR
        )
        submissions.accept([NewSubmission(c, 1_764_000_000 + i, envelope=envelope)])
        commitments.append(c)
    submissions.sequence(10)
    root = log.tree().root(len(TIPS))
    old_abi = json.loads(OLD_ARTIFACT.read_text())["abi"]
    old_contract = w3.eth.contract(address=old.address, abi=old_abi)
    data = old_contract.encode_abi("anchor", args=[len(TIPS), root, []])
    mined = send_transaction(w3, anchorer, {"to": old.address, "data": data}, what="old anchor")
    block = w3.eth.get_block(mined["blockNumber"])
    log.record_checkpoint(
        StoredCheckpoint(
            len(TIPS), root, bytes(mined["transactionHash"]), block["number"], block["timestamp"]
        )
    )
    engine.dispose()

    runner = CliRunner()
    env = {
        "TIPLEDGER_HOME": str(home),
        "TIPLEDGER_RPC_URL": devchain.rpc_url,
        "TIPLEDGER_DESK_PASSPHRASE": "desk passphrase",
        "TIPLEDGER_MEMBER_PASSPHRASE": "member passphrase",
        "NO_COLOR": "1",
        "COLUMNS": "200",
    }
    moved = runner.invoke(
        app,
        [
            "migrate",
            "agencies",
            "--key-file",
            str(home / "admin.key"),
            "--member",
            reviewer.address,
        ],
        env=env,
    )
    assert moved.exit_code == 0, moved.output
    assert "roles copied  1 REVIEWER_ROLE, 0 CUSTODIAN_ROLE" in moved.output
    new = Deployment.load(home / "deployment.json")
    assert new.address != old.address
    assert list(home.glob("deployment-before-agencies-*.json"))
    again = runner.invoke(
        app, ["migrate", "agencies", "--key-file", str(home / "admin.key")], env=env
    )
    assert again.exit_code == 2
    assert "already has agencies: nothing to migrate" in again.output

    # The old contract keeps its checkpoint: receipts issued before verify there.
    assert TipLedgerContract(w3, old.address).checkpoint(len(TIPS)).root_hash == root

    # The service anchors the whole log on the new contract, routed to the intake desk.
    sock = free_socket()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings = Settings(home=home, rpc_url=devchain.rpc_url, public_url=url, batch_interval=0.2)
    service = LedgerService(
        settings=settings,
        deployment=new,
        w3=w3,
        anchorer=anchorer,
        desk_key=desk.public_key(),
    )
    contract = TipLedgerContract(w3, new.address)
    with serving(uvicorn_config(create_app(service), settings, log_level="warning"), sock):
        deadline = time.monotonic() + 30
        while contract.latest().tree_size < len(TIPS):
            assert time.monotonic() < deadline, "the log was not anchored on the new contract"
            time.sleep(0.1)
        assert contract.latest().root_hash == root  # the same log, whole
        routed = contract.routed_events()
        assert [(e.agencies, e.counts) for e in routed] == [((INTAKE_ID,), (len(TIPS),))]
        assert contract.review_of(commitments[0]).status == 0
        # the reviewer's member key file holds the old desk key: old tips open as before
        keygen = runner.invoke(
            app,
            [
                "member", "keygen", "--key-file", str(home / "member.json"),
                "--from-desk-key", str(home / "review-desk-private.pem"),
                "--eth-key-file", str(home / "reviewer.key"), "--scrypt-n", "16384",
            ],
            env=env,
        )  # fmt: skip
        assert keygen.exit_code == 0, keygen.output
        assert reviewer.address in keygen.output
        member_args = ["--key-file", str(home / "member.json"), "--api", url]
        shown = runner.invoke(
            app, ["review", "show", "0x" + commitments[1].hex(), *member_args], env=env
        )
        assert shown.exit_code == 0, shown.output
        assert "VALID" in shown.output
        assert TIPS[1].decode() in shown.output
        # and a new tip, sealed on the device to the intake desk's member key the chain lists
        # now (the old desk key), goes to the intake desk
        with httpx.Client(base_url=url, timeout=30) as http:
            answer = sealing.post(http, sealing.seal(w3, new.address, b"after"))
        assert answer.status_code == 202, answer.text
        fresh = answer.json()["commitment"]
        decided_note = home / "note.txt"
        decided_note.write_text("looked into it\n")
        deadline = time.monotonic() + 30
        while contract.latest().tree_size < len(TIPS) + 1:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        shown = runner.invoke(app, ["review", "show", fresh, *member_args], env=env)
        assert shown.exit_code == 0, shown.output
        assert "after" in shown.output
        decided = runner.invoke(
            app,
            ["review", "decide", "0x" + commitments[0].hex(), "--status", "closed",
             "--note-file", str(decided_note), *member_args],
            env=env,
        )  # fmt: skip
        assert decided.exit_code == 0, decided.output
        assert contract.review_by(commitments[0], INTAKE_ID).status == 5
