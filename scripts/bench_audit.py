"""Benchmark the full oversight audit of a 1,000,000-entry log (DESIGN.md target: under 30 s).

Builds, on its own Anvil devchain, a TipLedger whose log (a temporary SQLite store) holds
``--entries`` commitments anchored in ``--checkpoints`` checkpoints spread over ``--days`` of
chain time, with reviews, direct commitments and 3-of-5 disclosures; then runs ``tipledger
audit`` on it as a person would (a subprocess, JSON and HTML reports written) and prints the
wall-clock time: once reading the entries from the database, once through the HTTP API
(``GET /v1/log/entries``, the project's own FastAPI app in a separate process).

    .venv/bin/python scripts/bench_audit.py [--entries 1000000] [--checkpoints 200]
        [--days 50] [--reviews 1000] [--no-http]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from ledger.chain.anvil import Devchain, rpc_request
from ledger.chain.client import connect
from ledger.chain.deploy import deploy, open_deployment
from ledger.core.eip712 import sign_disclosure
from ledger.core.hpke import public_bytes
from ledger.desk.cases import CaseDesk
from ledger.log.anchoring import Anchorer
from ledger.log.intake import INTAKE_ID
from ledger.ops.devnet import INTAKE_NAME_EN, INTAKE_NAME_TH
from ledger.store import LogStore, open_database
from ledger.store.cases import CaseStore
from ledger.store.submissions import SOURCE_API, SOURCE_DIRECT, NewSubmission, SubmissionStore

TARGET_SECONDS = 30.0

SERVE = """
import sys, uvicorn
from eth_account import Account
from api.main import create_app, uvicorn_config
from ledger.chain.client import connect
from ledger.chain.deploy import Deployment
from ledger.config import Settings
from ledger.service import LedgerService
database, deployment_file, rpc, key, port = sys.argv[1:6]
settings = Settings(home=deployment_file.rsplit("/", 1)[0], database_url=database)
service = LedgerService(
    settings=settings,
    deployment=Deployment.load(__import__("pathlib").Path(deployment_file)),
    w3=connect(rpc),
    anchorer=Account.from_key(key),
    run_sequencer=False,
)
app = create_app(service, manage_lifecycle=False)
uvicorn.Server(uvicorn_config(app, settings, host="127.0.0.1", port=int(port),
                              log_level="warning")).run()
"""


def step(what: str, started: float) -> None:
    print(f"  {what:<52}{time.perf_counter() - started:>8.1f} s", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_audit(args: list[str], home: Path) -> tuple[float, dict]:  # type: ignore[type-arg]
    env = {**os.environ, "TIPLEDGER_HOME": str(home), "NO_COLOR": "1"}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "ledger.cli", "audit", *args],
        env=env,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"audit failed (exit {done.returncode}):\n{done.stdout}\n{done.stderr[-3000:]}")
    report = json.loads(Path(args[args.index("--json") + 1]).read_text())
    return wall, report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--entries", type=int, default=1_000_000)
    ap.add_argument("--checkpoints", type=int, default=200)
    ap.add_argument("--days", type=float, default=50.0, help="chain time the checkpoints span")
    ap.add_argument("--reviews", type=int, default=1_000)
    ap.add_argument("--directs", type=int, default=20)
    ap.add_argument("--disclosures", type=int, default=5)
    ap.add_argument("--no-http", action="store_true", help="skip the HTTP API run")
    args = ap.parse_args()
    rng = random.Random(7)
    n, k = args.entries, args.checkpoints
    gap = int(args.days * 86_400 / k)

    with tempfile.TemporaryDirectory() as tmp, Devchain(accounts=12) as chain:
        home = Path(tmp)
        print(f"building a {n:,}-entry log with {k} checkpoints over {args.days:g} days")
        w3 = connect(chain.rpc_url)
        acc = chain.accounts
        deployment = deploy(
            w3,
            acc[0],
            anchorer=acc[1].address,
            reviewers=[a.address for a in acc[2:4]],
            custodians=[a.address for a in acc[4:9]],
            max_merge_delay=3600,
            disclosure_threshold=3,
        )
        contract = open_deployment(w3, deployment)
        # Every tip goes to the intake desk; the two reviewers are its members (fresh keys).
        contract.add_agency(acc[0], INTAKE_ID, INTAKE_NAME_TH, INTAKE_NAME_EN)
        for member in acc[2:4]:
            key = public_bytes(X25519PrivateKey.generate().public_key())
            contract.add_member(acc[0], INTAKE_ID, member.address, key)
        database = f"sqlite:///{home / 'ledger.sqlite3'}"
        store = LogStore(open_database(database))
        store.bind_deployment(deployment.chain_id, deployment.address)
        submissions = SubmissionStore(store)
        anchorer = Anchorer(store, contract, acc[1])
        desk = CaseDesk(CaseStore(store.engine), store, lambda: contract)

        started = time.perf_counter()
        directs = {rng.randrange(k): os.urandom(32) for _ in range(args.directs)}
        size, tips = 0, []
        for c in range(k):
            rpc_request(chain.rpc_url, "evm_increaseTime", [gap])
            batch = [os.urandom(32) for _ in range((n * (c + 1)) // k - size)]
            if c in directs:  # committed on chain, then merged into the next batch
                contract.commit(acc[9], directs[c])
                batch[-1] = directs[c]
            # As the service does: each entry with its submission (and routing salt) row.
            now, direct = int(time.time()), directs.get(c)
            submissions.accept(
                [
                    NewSubmission(t, now, source=SOURCE_DIRECT if t == direct else SOURCE_API)
                    for t in batch
                ]
            )
            submissions.sequence(len(batch))
            size += len(batch)
            tips.extend(rng.sample(batch, max(1, args.reviews // k)))
            anchorer.anchor()
        step(f"{n:,} entries appended, {k} checkpoints anchored", started)

        started = time.perf_counter()
        for i, tip in enumerate(tips[: args.reviews]):
            reviewer = acc[2 + i % 2]
            row = submissions.get(tip)
            assert row is not None
            status = 1 if i % 3 else rng.choice([2, 3, 4, 5])
            # each tip's first review: the routing proof opens its case on chain
            proof = desk.routing_proof(row)
            contract.record_review(reviewer, tip, INTAKE_ID, status, bytes(32), proof)
        for _ in range(args.disclosures):
            record, request = os.urandom(32), os.urandom(32)
            signers = rng.sample(list(acc[4:9]), 3)
            sigs = [
                sign_disclosure(
                    s, deployment.chain_id, deployment.address, record, request, acc[10].address
                )
                for s in signers
            ]
            contract.record_disclosure(acc[10], record, request, acc[10].address, sigs)
        step(f"{min(args.reviews, len(tips)):,} reviews, {args.disclosures} disclosures", started)

        common = ["--rpc", chain.rpc_url, "--contract", deployment.address]
        print("auditing (tipledger audit, JSON and HTML reports):", flush=True)
        wall, report = run_audit(
            [
                *common,
                "--database",
                database,
                "--json",
                str(home / "db.json"),
                "--html",
                str(home / "db.html"),
            ],
            home,
        )
        t = report["timings"]
        s = report["summary"]
        print(
            f"  {'from the database (StoreEntrySource)':<52}{wall:>8.1f} s   "
            f"[chain {t['chain']:.1f} s, entries {t['entries']:.1f} s, checks {t['checks']:.1f} s]"
        )
        results = [("database", wall)]

        if not args.no_http:
            deployment_file = home / "deployment.json"
            deployment.save(deployment_file)
            port = free_port()
            server = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    SERVE,
                    database,
                    str(deployment_file),
                    chain.rpc_url,
                    acc[1].key.hex(),
                    str(port),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            try:
                url = f"http://127.0.0.1:{port}"
                deadline = time.monotonic() + 60
                while True:
                    try:
                        httpx.get(f"{url}/v1/log/checkpoint", timeout=2).raise_for_status()
                        break
                    except httpx.HTTPError:
                        if time.monotonic() > deadline or server.poll() is not None:
                            err = server.stderr.read().decode() if server.stderr else ""
                            sys.exit(f"the API did not start:\n{err[-3000:]}")
                        time.sleep(0.2)
                wall_http, report = run_audit(
                    [
                        *common,
                        "--api",
                        url,
                        "--json",
                        str(home / "api.json"),
                        "--html",
                        str(home / "api.html"),
                    ],
                    home,
                )
                t = report["timings"]
                print(
                    f"  {'through the HTTP API (HttpEntrySource)':<52}{wall_http:>8.1f} s   "
                    f"[chain {t['chain']:.1f} s, entries {t['entries']:.1f} s, "
                    f"checks {t['checks']:.1f} s]"
                )
                results.append(("HTTP API", wall_http))
            finally:
                server.terminate()
                server.wait(10)

        print()
        print(
            f"log {s['anchored_size']:,} entries, {s['checkpoints']} checkpoints, "
            f"{s['reviews']:,} reviews, {s['direct_commitments']} direct commitments, "
            f"{s['disclosures']} disclosures; {s['overdue_first_review']:,} tips past the "
            f"first-review deadline listed; violations {s['violations']}"
        )
        for name, seconds in results:
            verdict = "within" if seconds < TARGET_SECONDS else "OVER"
            print(
                f"full audit of a {n:,}-entry log ({name}): {seconds:.1f} s "
                f"({verdict} the {TARGET_SECONDS:.0f} s target)"
            )


if __name__ == "__main__":
    main()
