"""Two agencies on one channel: a tip routed, opened, referred, opened again, reviewed, audited.

    .venv/bin/python scripts/agency_demo.py

Runs on its own: it starts a devchain (Anvil), deploys TipLedger and serves the API (uvicorn in
this process) in a temporary TIPLEDGER_HOME. Then the admin and four members, each with a key
file and passphrase of their own, do their parts with the `tipledger` commands (run in this
process; each command's own output is shown as it runs):

 1. the admin registers two agencies on chain (`agency add`); each member makes a key file on
    their own machine (`member keygen`) and the admin registers it (`agency add-member`)
 2. a reporter submits a tip to agency A (`submit --api … --agency nacc`)
 3. a member of A opens it with their grant of the case key and checks it against the chain
    (`review show`)
 4. that member refers it to agency B (`review refer --to pacc`): the case key is granted on
    their machine to B's members as the chain lists them; the chain's Referred event is printed
 5. a member of B opens the tip and its follow-up thread (`review show`, `review messages`)
 6. the admin removes a member of A (`agency remove-member`), and a new tip goes to A: the
    removed member is refused, and why
 7. B records the review (`review decide`): the chain's ReviewRecorded event is printed
 8. the audit of the whole ledger, per agency (`audit`)

Exits 0 when every step did what it says. Key files use the lowest scrypt cost here (2^14) to
keep the run short; real ones default to 2^17.
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

import uvicorn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from demo_support import free_port, step, tipledger  # noqa: E402

from api.main import create_app, uvicorn_config  # noqa: E402
from ledger.chain.anvil import Devchain  # noqa: E402
from ledger.chain.client import connect, send_transaction  # noqa: E402
from ledger.chain.contract import TipLedgerContract  # noqa: E402
from ledger.chain.deploy import deploy  # noqa: E402
from ledger.cli.api_client import DeskClient, ServiceError  # noqa: E402
from ledger.config import Settings  # noqa: E402
from ledger.core.agency import agency_id, agency_slug  # noqa: E402
from ledger.core.encoding import from_hex  # noqa: E402
from ledger.desk.member import case_key  # noqa: E402
from ledger.desk.member_keys import load_member_key  # noqa: E402
from ledger.errors import EnvelopeError  # noqa: E402
from ledger.service import LedgerService  # noqa: E402

A, B = "nacc", "pacc"
NAMES = {
    A: ("สำนักงานคณะกรรมการป้องกันและปราบปรามการทุจริตแห่งชาติ", "NACC"),
    B: ("สำนักงานคณะกรรมการป้องกันและปราบปรามการทุจริตในภาครัฐ", "PACC"),
}
MEMBERS = {"a1": A, "a2": A, "b1": B, "b2": B}
TIP = "ใบแจ้งหนี้ 4711 ถูกจ่ายซ้ำสองครั้ง / Invoice 4711 was paid twice."


def main() -> int:
    started = time.monotonic()
    with (
        tempfile.TemporaryDirectory(prefix="tipledger-agency-demo-") as tmp,
        Devchain(accounts=2) as chain,
    ):
        home = Path(tmp) / "home"
        home.mkdir(mode=0o700)
        step("A devchain, TipLedger deployed, the service started")
        w3 = connect(chain.rpc_url)
        admin, anchorer = chain.accounts[0], chain.accounts[1]
        deployment = replace(deploy(w3, admin, anchorer=anchorer.address), rpc_url=chain.rpc_url)
        deployment.save(home / "deployment.json")
        sock = free_port()
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        settings = Settings(home=home, public_url=url, rpc_url=chain.rpc_url, batch_interval=0.3)
        service = LedgerService(settings=settings, deployment=deployment, w3=w3, anchorer=anchorer)
        server = uvicorn.Server(uvicorn_config(create_app(service), settings, log_level="warning"))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        logging.getLogger("tipledger").setLevel(logging.WARNING)
        print(f"    chain {deployment.chain_id} at {chain.rpc_url}, contract {deployment.address}")
        print(f"    service at {url}, data directory {home}")
        os.environ.update({"TIPLEDGER_HOME": str(home), "TIPLEDGER_API_URL": url, "COLUMNS": "150"})
        admin_key = home / "admin.key"
        admin_key.write_text("0x" + bytes(admin.key).hex() + "\n")
        admin_key.chmod(0o600)
        contract = TipLedgerContract(w3, deployment.address)
        cwd = Path.cwd()
        os.chdir(home)  # key files named relative to it, as each person's own directory
        try:
            walk(home, admin, contract, url)
        finally:
            os.chdir(cwd)
            server.should_exit = True
            thread.join(30)
    print(f"\n(ran in {time.monotonic() - started:.1f} s)")
    return 0


def walk(home: Path, admin: object, contract: TipLedgerContract, url: str) -> None:
    admin_args = ["--key-file", "admin.key"]
    step("1. Two agencies on chain; each member makes a key file, the admin registers it")
    for slug, (name_th, name_en) in NAMES.items():
        tipledger("agency", "add", slug, "--name-th", name_th, "--name-en", name_en, *admin_args)
    people: dict[str, list[str]] = {}
    addresses: dict[str, str] = {}
    for name, slug in MEMBERS.items():
        secret = Path(f"{name}.passphrase")
        secret.write_text(f"the passphrase of member {name}\n")
        secret.chmod(0o600)
        people[name] = ["--key-file", f"{name}.key.json", "--passphrase-file", str(secret)]
        tipledger("member", "keygen", *people[name], "--scrypt-n", "16384")
        addresses[name] = json.loads(Path(f"{name}.key.json").read_text())["address"]
        tipledger(
            "agency", "add-member", slug, "--member-key-file", f"{name}.key.json", *admin_args
        )
        # a member pays for the reviews and referrals they record
        send_transaction(
            contract.w3, admin, {"to": addresses[name], "value": 10**18}, what="funding a member"
        )
    tipledger("agency", "list")

    step("2. A reporter submits a tip to agency A (nacc)")
    Path("tip.txt").write_text(TIP)
    tipledger("submit", "--api", url, "tip.txt", "--agency", A, "--out", "receipt-1.json")
    first = json.loads(Path("receipt-1.json").read_text())["commitment"]

    step("3. A member of A opens it with their grant of its case key, and checks it on chain")
    tipledger("review", "show", first, *people["a1"])

    step("4. A refers it to B: the case key granted on a1's machine to B's members (from chain)")
    tipledger("review", "refer", first, "--to", B, *people["a1"])
    for e in contract.referred_events():
        print(
            f"    on chain: Referred(commitment={e.commitment.hex()[:16]}…, "
            f"from={agency_slug(e.from_agency)}, to={agency_slug(e.to_agency)}, "
            f"keepAccess={e.keep_access}, by={e.by}, timestamp={e.timestamp}) "
            f"in block {e.block_number}"
        )
    print(
        f"    holds(A)={contract.holds(from_hex(first, 32), agency_id(A))}, "
        f"holds(B)={contract.holds(from_hex(first, 32), agency_id(B))}"
    )

    step("5. A member of B opens the tip; the reporter's follow-up reaches B")
    tipledger("review", "show", first, *people["b1"])
    tipledger(
        "follow-up", "reply", "receipt-1.json", "--text", "ผู้รับเงินคือบริษัท X / The payee is company X"
    )
    tipledger("review", "messages", first, *people["b1"])
    print("    and A, which handed the case over, no longer reads it:")
    tipledger("review", "show", first, *people["a1"], expect=2)

    step("6. The admin removes a2 from A; a new tip to A: a2 is refused")
    tipledger("agency", "remove-member", A, addresses["a2"], *admin_args)
    time.sleep(1.2)  # the service reads members from chain at most a second old
    Path("tip2.txt").write_text("เบาะแสที่สอง / a second tip")
    tipledger("submit", "--api", url, "tip2.txt", "--agency", A, "--out", "receipt-2.json")
    second = json.loads(Path("receipt-2.json").read_text())["commitment"]
    a2 = load_member_key(Path("a2.key.json"), "the passphrase of member a2")
    try:
        with DeskClient(url, a2.eth_account) as desk:
            desk.call("GET", f"/v1/review/tips/{second}")
        raise SystemExit("demo failed: the removed member signed in")
    except ServiceError as exc:
        print(f"    refused: a2 signs in no more: {exc}")
    a1 = load_member_key(Path("a1.key.json"), "the passphrase of member a1")
    with DeskClient(url, a1.eth_account) as desk:
        served = desk.call("GET", f"/v1/review/tips/{second}")
    try:
        case_key(served, from_hex(second, 32), a2.x25519_private)
        raise SystemExit("demo failed: a2's key opened the new tip")
    except EnvelopeError as exc:
        print(f"    refused: a2's key opens nothing of the new tip: {exc}")
    tipledger("review", "show", second, *people["a1"])

    step("7. B records its review on chain")
    Path("note.txt").write_text("หลักฐานครบ: ส่งดำเนินคดี / evidence complete: prosecution\n")
    tipledger(
        "review",
        "decide",
        first,
        "--status",
        "substantiated",
        "--note-file",
        "note.txt",
        *people["b1"],
    )
    for e in contract.review_events():
        print(
            f"    on chain: ReviewRecorded(commitment={e.commitment.hex()[:16]}…, "
            f"agency={agency_slug(e.agency)}, status={e.status}, noteDigest="
            f"{e.note_digest.hex()[:16]}…, reviewer={e.reviewer}, timestamp={e.timestamp}) "
            f"in block {e.block_number}"
        )

    step("8. The audit, from the chain and the published log, per agency")
    tipledger("audit", "--lang", "en", "--api", url)


if __name__ == "__main__":
    sys.exit(main())
