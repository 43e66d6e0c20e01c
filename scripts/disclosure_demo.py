"""One reporter's identity, from submission to a 3-of-5 disclosure recorded on chain.

    .venv/bin/python scripts/disclosure_demo.py

Runs on its own: it starts a devchain (Anvil), deploys TipLedger (disclosure threshold 3), and
serves the API (uvicorn in this process) in a temporary TIPLEDGER_HOME. Then five custodians
and an investigator, each with a key file and passphrase of their own, do their parts with the
`tipledger` commands (run in this process; each command's own output is shown as it runs):

 1. keys: `custodian keygen` x5, `disclosure keygen`
 2. the admin grants CUSTODIAN_ROLE / REVIEWER_ROLE on chain (`roles grant`)
 3. the custodians register (`custodian register`), the admin makes a 3-of-5 reporter set
 4. a reporter submits a tip with an identity (POST /v1/tips with "identity": {...})
 5. the investigator files a request (`disclosure request`)
 6. custodians 1-3 approve (`custodian approve`: EIP-712 signed on their machines), 5 declines
 7. the investigator records it on chain (`disclosure record`): the DisclosureApproved event
 8. custodians 1-3 re-seal their shares to the investigator (`custodian reseal`, which checks the
    chain itself first)
 9. the investigator combines them on their machine (`disclosure open`), and oversight lists
    every request, approval and decline (`disclosure list`)

Exits 0 when the identity the investigator opened is the one the reporter gave. Key files use
the lowest scrypt cost here (2^14) to keep the run short; real ones default to 2^17.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

import httpx
import uvicorn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from demo_support import free_port, step, tipledger  # noqa: E402

from api.main import create_app, uvicorn_config  # noqa: E402
from ledger.chain.anvil import Devchain  # noqa: E402
from ledger.chain.client import connect  # noqa: E402
from ledger.chain.deploy import deploy  # noqa: E402
from ledger.cli.app import app  # noqa: E402
from ledger.config import Settings  # noqa: E402
from ledger.core.encoding import from_hex, to_hex  # noqa: E402
from ledger.device import member_keys, seal_on_device  # noqa: E402
from ledger.ops.devnet import ensure_intake_desk  # noqa: E402
from ledger.service import LedgerService  # noqa: E402
from ledger.vault.client import checked_custodian_set, seal_identity_on_device  # noqa: E402
from ledger.vault.onchain import VaultChain  # noqa: E402

IDENTITY = {
    "name": "สมชาย ใจดี (Somchai Jaidee)",
    "national_id": "1-2345-67890-12-3",
    "phone": "+66 81 234 5678",
    "position": "procurement clerk",
}
TIP = "Invoice 4711 was paid twice; the second payment went to a shell company."


def main() -> int:
    started = time.monotonic()
    with (
        tempfile.TemporaryDirectory(prefix="tipledger-demo-") as tmp,
        Devchain(accounts=2) as chain,
    ):
        home = Path(tmp) / "home"
        home.mkdir(mode=0o700)
        step("A devchain, TipLedger deployed (disclosure threshold 3), the service started")
        w3 = connect(chain.rpc_url)
        admin, anchorer = chain.accounts[0], chain.accounts[1]
        deployment = replace(
            deploy(w3, admin, anchorer=anchorer.address, disclosure_threshold=3),
            rpc_url=chain.rpc_url,
        )
        deployment.save(home / "deployment.json")
        sock = free_port()
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        settings = Settings(home=home, public_url=url, rpc_url=chain.rpc_url, batch_interval=0.3)
        # The intake desk and its one member (a key file in the home), as `tipledger devchain`
        # makes them: the service takes no tip for an agency without members.
        desk = ensure_intake_desk(settings, w3, deployment)
        service = LedgerService(
            settings=settings,
            deployment=deployment,
            w3=w3,
            anchorer=anchorer,
        )
        server = uvicorn.Server(uvicorn_config(create_app(service), settings, log_level="warning"))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        logging.getLogger("tipledger").setLevel(logging.WARNING)
        print(f"    chain {deployment.chain_id} at {chain.rpc_url}, contract {deployment.address}")
        print(f"    service at {url}, data directory {home}")
        print(f"    intake desk member {desk.address} (key {desk.key_id}, {desk.key_file.name})")
        os.environ.update({"TIPLEDGER_HOME": str(home), "TIPLEDGER_API_URL": url, "COLUMNS": "160"})
        admin_key = home / "admin.key"
        admin_key.write_text("0x" + bytes(admin.key).hex() + "\n")
        admin_key.chmod(0o600)
        cwd = Path.cwd()
        os.chdir(home)  # key files named relative to it, as each person's own directory
        try:
            code = walk(home, Path(admin_key.name), service, url)
        finally:
            os.chdir(cwd)
            server.should_exit = True
            thread.join(30)
    print(f"\n(ran in {time.monotonic() - started:.1f} s)")
    return code


def walk(home: Path, admin_key: Path, service: LedgerService, url: str) -> int:
    people: dict[str, list[str]] = {}
    step("1. Each custodian and the investigator make their keys, on their own machines")
    roles = [(f"custodian-{i}", "custodian") for i in range(1, 6)] + [
        ("investigator", "disclosure")
    ]
    for name, group in roles:
        key_file, secret = Path(f"{name}.key.json"), Path(f"{name}.passphrase")
        secret.write_text(f"the passphrase of {name}\n")
        secret.chmod(0o600)
        people[name] = ["--key-file", str(key_file), "--passphrase-file", str(secret)]
        tipledger(group, "keygen", *people[name], "--scrypt-n", "16384")
    custodians = [f"custodian-{i}" for i in range(1, 6)]
    investigator = people["investigator"]
    files = {n: json.loads(Path(f"{n}.key.json").read_text()) for n in people}

    step("2. The admin grants the roles on chain")
    admin = ["--key-file", str(admin_key)]
    for n in custodians:
        tipledger("roles", "grant", "CUSTODIAN_ROLE", files[n]["address"], *admin)
    tipledger("roles", "grant", "REVIEWER_ROLE", files["investigator"]["address"], *admin)

    step("3. The custodians register (proving they hold their keys); a 3-of-5 reporter set")
    for i, n in enumerate(custodians, start=1):
        tipledger("custodian", "register", "--name", f"Custodian {i}", *people[n])
    ids = [files[n]["key_id"] for n in custodians]
    tipledger("vault", "set-custodians", "--kind", "reporter", "--threshold", "3", *ids, *admin)

    step(
        "4. A reporter seals a tip and their identity on their own device and submits them",
        "the reporter only: the service receives the record sealed",
    )
    contract = service.contract()
    with httpx.Client(base_url=url, timeout=30) as client:
        # The custodians' keys from the service, each checked against the chain here (its
        # registration signature and CUSTODIAN_ROLE), then the identity split and sealed here.
        offered = client.get("/v1/vault/custodian-set/reporter").json()
        checked = checked_custodian_set(
            offered, VaultChain(lambda: contract), service.chain_id, "reporter"
        )
        record = seal_identity_on_device(
            IDENTITY, "reporter", checked.share_keys, checked.threshold
        )
        tip = seal_on_device(
            member_keys(contract, "intake"), agency="intake", document=TIP.encode()
        )
        body = {**tip.sealed.to_json(), "identity": record.to_dict()}
        print(f"    custodian keys checked on chain: {len(checked.share_keys)} of the set")
        print(
            f"    identity record version 2 made here, {checked.threshold} of "
            f"{len(checked.share_keys)}; tip sealed to the intake desk's member key"
        )
        answer = client.post("/v1/tips", json=body)
    if answer.status_code != 202:
        raise SystemExit(f"demo failed: POST /v1/tips answered {answer.status_code}: {answer.text}")
    accepted = answer.json()
    commitment, summary = accepted["commitment"], accepted["identity"]
    print(f"    POST /v1/tips -> 202, commitment {commitment}")
    print(f"    identity record {summary['record_id']}")
    print(f"    sealed to {summary['threshold']} of {summary['custodians']} custodians")
    record = service.vault.store.record(from_hex(summary["record_id"], 32)).record
    print(
        f"    stored: {len(record.ciphertext)} bytes of AES-256-GCM ciphertext and "
        f"{len(record.sealed_shares)} HPKE-sealed shares of K, nothing else"
    )

    step(
        "5. The investigator files a disclosure request",
        "no one: the service holds ciphertext and sealed shares only",
    )
    purpose = "Witness protection order 12/2026: the reporter must be contacted"
    request = tipledger(
        "disclosure", "request", "--tip", commitment, "--purpose", purpose, *investigator
    )

    step("6. Each custodian reads the request on their machine and decides")
    tipledger("custodian", "requests", *people["custodian-1"])
    for n in custodians[:3]:
        tipledger("custodian", "approve", request, "--yes", *people[n])
    reason = "A protection order does not need the name"
    tipledger("custodian", "decline", request, "--reason", reason, *people["custodian-5"])
    print("    (the custodian's CLI refuses to re-seal before the chain has the record:)")
    reseal = ["custodian", "reseal", request, *people["custodian-1"]]
    print("$ tipledger " + " ".join(reseal), flush=True)
    if app(reseal, standalone_mode=False, prog_name="tipledger") in (None, 0):
        raise SystemExit("demo failed: a share was re-sealed before the disclosure was recorded")

    step(
        "7. The disclosure is recorded on chain, with the three signatures",
        "still no one: the quorum has approved, nothing is opened yet",
    )
    tipledger("disclosure", "record", request, "--sender-key", str(admin_key), *investigator)
    for event in service.contract().disclosure_events(service.deployment.deploy_block):
        print(
            f"    on chain, block {event.block_number}, tx {to_hex(event.tx_hash)}:\n"
            f"      DisclosureApproved(recordId={to_hex(event.record_id)},\n"
            f"                         requestDigest={to_hex(event.request_digest)},\n"
            f"                         requester={event.requester}, timestamp={event.timestamp})"
        )

    step(
        "8. The approving custodians re-seal their shares to the investigator's key",
        "no one yet: each custodian opens only its own share (fewer than 3 reveal nothing), "
        "the service relays sealed bytes",
    )
    for n in custodians[:3]:
        tipledger("custodian", "reseal", request, *people[n])

    step("9. The investigator combines the shares on their machine", "the investigator alone")
    opened = tipledger("disclosure", "open", request, *investigator)
    step("Oversight: every request, approval and decline")
    tipledger("disclosure", "list", *admin)
    if json.loads(opened) != IDENTITY:
        print("demo failed: the opened identity is not the reporter's", file=sys.stderr)
        return 1
    print("\nThe identity the investigator opened is the one the reporter gave.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
