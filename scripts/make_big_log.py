"""Build a large anchored TipLedger log fast, for the tile benchmarks (PROTOCOL.md 18).

``make_big_log(home, rpc_url, entries)`` deploys a TipLedger on the Anvil at ``rpc_url`` (dev
accounts: 0 admin, 1 anchorer, 2 the intake desk's member), writes ``deployment.json`` and the
SQLite log ``ledger.sqlite3`` into ``home`` and anchors it: ``entries - tail`` synthetic
commitments written in bulk (entries, subtree hashes and sequenced submission rows, one
transaction each 200,000), then ``tail`` real tips whose receipts it returns (with their
documents), in a second checkpoint. ``tipledger serve`` (or ``api.main.create_app``) on that
home then serves the log's tiles. As a script it starts its own Anvil unless given --rpc,
prints the figures and, with --keep, waits (Ctrl-C) so the chain stays up:

    .venv/bin/python scripts/make_big_log.py --home /tmp/big [--entries 1000000] [--rpc URL]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

from ledger.chain.anvil import Devchain, dev_accounts
from ledger.chain.client import connect
from ledger.chain.deploy import Deployment, deploy, open_deployment
from ledger.core.agency import INTAKE, agency_id
from ledger.core.commitment import ZERO_AUTHOR, commitment, content_digest, new_salt
from ledger.core.eip712 import Signer
from ledger.core.hpke import public_bytes
from ledger.core.receipt import Receipt
from ledger.log.anchoring import Anchorer
from ledger.log.intake import INTAKE_ID
from ledger.log.receipts import inclusion_for, make_promise
from ledger.ops.devnet import INTAKE_NAME_EN, INTAKE_NAME_TH
from ledger.store import LogStore, open_database
from ledger.store.database import positional
from ledger.store.submissions import SOURCE_API, NewSubmission, SubmissionStore

CHUNK = 200_000
_BULK_SQL = (
    "INSERT INTO submissions (commitment, received_at, source, agency, routing_salt, "
    "leaf_index) VALUES (?, ?, ?, ?, ?, ?)"
)


@dataclass(frozen=True)
class BigLog:
    home: Path
    database_url: str
    deployment: Deployment
    size: int
    receipts: list[tuple[Receipt, bytes]]  # the tail's receipts and their documents


def make_big_log(home: Path, rpc_url: str, entries: int = 1_000_000, tail: int = 4) -> BigLog:
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    home.mkdir(parents=True, exist_ok=True)
    w3 = connect(rpc_url)
    admin, anchorer, member = dev_accounts(3)
    deployment = deploy(w3, admin, anchorer=anchorer.address, max_merge_delay=3600)
    deployment = replace(deployment, rpc_url=rpc_url)
    (home / "deployment.json").write_text(deployment.to_json(), encoding="utf-8")
    contract = open_deployment(w3, deployment)
    contract.add_agency(admin, INTAKE_ID, INTAKE_NAME_TH, INTAKE_NAME_EN)
    key = public_bytes(X25519PrivateKey.generate().public_key())
    contract.add_member(admin, INTAKE_ID, member.address, key)
    database = f"sqlite:///{home / 'ledger.sqlite3'}"
    store = LogStore(open_database(database))
    store.bind_deployment(deployment.chain_id, deployment.address)
    submissions = SubmissionStore(store)
    now = int(time.time())
    bulk = max(0, entries - tail)
    done = 0
    intake = agency_id(INTAKE)
    while done < bulk:
        n = min(CHUNK, bulk - done)
        # In bulk, as the sequencer would leave them: entries and subtree hashes through the
        # store's own append, each with its sequenced submission row (the anchor's routing
        # reads them). Random commitments are distinct, so the append skips its look-up.
        batch = [os.urandom(32) for _ in range(n)]
        with store.transaction() as conn:
            appended = store.append_in(conn, batch, distinct_new=True)
            conn.exec_driver_sql(
                positional(conn, _BULK_SQL),
                [
                    (a.commitment, now, SOURCE_API, intake, os.urandom(32), a.leaf_index)
                    for a in appended
                ],
            )
        done += n
    anchoring = Anchorer(store, contract, anchorer)
    anchoring.anchor()
    documents = [f"big-log tip {k}".encode() for k in range(tail)]
    made = []
    for doc in documents:
        salt = new_salt()
        made.append((salt, content_digest(doc), commitment(salt, content_digest(doc), ZERO_AUTHOR)))
    submissions.accept([NewSubmission(c, now) for _, _, c in made])
    submissions.sequence(len(made))
    outcome = anchoring.anchor()
    assert outcome is not None
    receipts = []
    for (salt, digest, entry), doc in zip(made, documents, strict=True):
        receipt = Receipt.create(
            chain_id=deployment.chain_id,
            contract=deployment.address,
            commitment=entry,
            salt=salt,
            content_digest=digest,
            author=ZERO_AUTHOR,
            promise=make_promise(
                Signer(anchorer.key), deployment.chain_id, deployment.address, entry, now
            ),
            inclusion=inclusion_for(store, entry, outcome.checkpoint),
        )
        receipts.append((receipt, doc))
    return BigLog(home, database, deployment, store.size(), receipts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--home", type=Path, required=True)
    ap.add_argument("--entries", type=int, default=1_000_000)
    ap.add_argument("--rpc", help="an Anvil with the default dev accounts (default: start one)")
    ap.add_argument("--keep", action="store_true", help="keep the started Anvil up until Ctrl-C")
    args = ap.parse_args()
    # SIGTERM (a timeout, a supervisor) unwinds like Ctrl-C, so the started Anvil stops too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with contextlib.ExitStack() as stack:
        rpc = args.rpc or stack.enter_context(Devchain()).rpc_url
        started = time.perf_counter()
        log = make_big_log(args.home, rpc, args.entries)
        took = time.perf_counter() - started
        print(f"{log.size:,} entries anchored in {took:.1f} s: {log.database_url}, chain {rpc}")
        for k, (receipt, _) in enumerate(log.receipts):
            path = args.home / f"receipt-{k}.json"
            path.write_text(receipt.to_json(), encoding="utf-8")
            print(f"  {path} (document: 'big-log tip {k}')")
        if args.keep and not args.rpc:
            print("Anvil stays up; Ctrl-C to stop", flush=True)
            with contextlib.suppress(KeyboardInterrupt):
                while True:
                    time.sleep(3600)
    sys.exit(0)


if __name__ == "__main__":
    main()
