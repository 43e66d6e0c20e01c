"""``tipledger audit`` on real ledgers (real Anvil, real SQLite, the real anchorer and API):
a healthy ledger passes, and each ledger broken on purpose fails with a line naming what broke,
the entry and the block."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import sqlite3
import struct
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from ledger.chain.anvil import Devchain
from ledger.core.encoding import to_hex

from ..chain_support import DeployedLedger
from .conftest import (
    audit_args,
    build_healthy,
    deploy_on,
    open_ledger,
    run_audit_cli,
    serve_api,
    violation_lines,
    warp,
)

pytestmark = pytest.mark.chain

CHROMIUM = Path("/usr/bin/chromium")


def report(tmp_path: Path) -> Any:
    return json.loads((tmp_path / "audit.json").read_text())


# --- a healthy ledger ------------------------------------------------------------------------


def test_a_healthy_ledger_passes(deployed: DeployedLedger, tmp_path: Path, home: Path) -> None:
    healthy = build_healthy(deployed, tmp_path)
    done = run_audit_cli(home, *audit_args(healthy.ledger, tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("TipLedger audit: PASS")
    assert "5 of 5 checkpoint(s) match the entries" in done.stdout
    assert "1 commitment(s): 1 on time, 0 late, 0 missing, 0 pending" in done.stdout
    assert "1: 1 with a valid quorum" in done.stdout
    assert violation_lines(done.stderr) == []
    assert "entries" in done.stderr  # the progress bar's stages, on stderr
    r = report(tmp_path)
    assert r["ok"] is True
    assert r["source"] == f"database {healthy.ledger.database_url}"
    assert r["summary"] == {
        "anchored_size": 21,
        "served": 21,
        "checkpoints": 5,
        "direct_commitments": 1,
        "reviews": 5,
        "reviewed_tips": 4,
        "disclosures": 1,
        "violations": 0,
        "overdue_first_review": 0,
        "overdue_first_review_open": 0,
        "overdue_outcome": 0,
        "overdue_outcome_open": 0,
        "agencies": 1,
    }
    intake = r["agencies"][0]  # every tip was routed to intake, and four of them opened
    assert (intake["agency"], intake["received"], intake["opened"]) == ("intake", 21, 4)
    assert [c["tree_size"] for c in r["checkpoints"]] == [3, 5, 8, 20, 21]
    assert all(c["root_matches"] and c["stored_matches"] for c in r["checkpoints"])
    assert [c["consistent_with_previous"] for c in r["checkpoints"]] == [
        None,
        True,
        True,
        True,
        True,
    ]
    assert r["direct_commitments"][0]["status"] == "on-time"
    assert r["direct_commitments"][0]["index"] == 20
    assert r["disclosures"][0]["custodians"] == [a.address for a in deployed.custodians[1:4]]
    assert r["chain"]["disclosure_threshold"] == 3
    assert r["reviews"]["outcomes"] == {
        "never reviewed": 17,
        "under review": 1,
        "substantiated": 1,
        "unsubstantiated": 1,
        "referred": 1,
        "closed": 0,
    }
    html = (tmp_path / "audit.html").read_text()
    assert "PASS: no violation found" in html
    assert html.count("<svg") >= 6


def test_a_healthy_ledger_passes_through_the_http_api(
    deployed: DeployedLedger, tmp_path: Path, home: Path
) -> None:
    healthy = build_healthy(deployed, tmp_path)
    api = serve_api(healthy.ledger, tmp_path)
    try:
        args = audit_args(healthy.ledger, tmp_path)
        i = args.index("--database")
        args[i : i + 2] = ["--api", api.url]
        done = run_audit_cli(home, *args)
    finally:
        api.stop()
    assert done.returncode == 0, done.stdout + done.stderr
    r = report(tmp_path)
    assert r["source"] == f"API {api.url}"
    assert r["summary"]["served"] == 21


def test_defaults_come_from_the_deployment_in_tipledger_home(
    deployed: DeployedLedger, tmp_path: Path, home: Path
) -> None:
    healthy = build_healthy(deployed, tmp_path)
    replace(deployed.deployment, rpc_url=deployed.devchain.rpc_url).save(home / "deployment.json")
    done = run_audit_cli(home, "--database", healthy.ledger.database_url, "--lang", "en")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"from block {deployed.deployment.deploy_block}" in done.stdout
    assert deployed.deployment.address in done.stdout


# --- ledgers broken on purpose ---------------------------------------------------------------


def test_an_entry_served_that_differs_from_the_anchored_one_fails(
    deployed: DeployedLedger, tmp_path: Path, home: Path
) -> None:
    healthy = build_healthy(deployed, tmp_path)
    ledger = healthy.ledger
    forged = os.urandom(32)
    # The operator rewrites entry 5 in its database; the API then serves the forged entry.
    with sqlite3.connect(ledger.database_url.removeprefix("sqlite:///")) as db:
        db.execute("UPDATE log_entries SET commitment = ? WHERE leaf_index = 5", (forged,))
    api = serve_api(ledger, tmp_path)
    try:
        args = audit_args(ledger, tmp_path)
        i = args.index("--database")
        args[i : i + 2] = ["--api", api.url]
        done = run_audit_cli(home, *args)
    finally:
        api.stop()
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout.startswith("TipLedger audit: FAIL")
    lines = violation_lines(done.stderr)
    block = healthy.anchor_blocks[2]  # the checkpoint of size 8, covering entries 5-7
    assert len(lines) == 1, lines
    assert lines[0].startswith(
        f"VIOLATION entry-differs at entry 5, block {block}: entry 5 served differs from the "
        "one anchored: checkpoint of size 8 has root "
    )
    assert "(entries below 5 match checkpoint 5); 2 later checkpoint(s) differ with it" in lines[0]
    r = report(tmp_path)
    assert [c["root_matches"] for c in r["checkpoints"]] == [True, True, False, False, False]
    assert r["violations"][0]["index"] == 5


def test_a_direct_commitment_left_out_past_max_merge_delay_fails(
    warp_chain: Devchain, tmp_path: Path, home: Path
) -> None:
    chain = deploy_on(warp_chain)
    ledger = open_ledger(chain, tmp_path)
    ledger.append(ledger.new_tips(4))
    censored = os.urandom(32)
    committed = chain.contract.commit(chain.outsider, censored)
    warp(warp_chain, 3600 + 120)
    ledger.append(ledger.new_tips(3))  # the service keeps anchoring, without it
    pending = os.urandom(32)
    chain.contract.commit(chain.outsider, pending)  # still within the delay: not a violation
    done = run_audit_cli(home, *audit_args(ledger, tmp_path))
    assert done.returncode == 1, done.stdout + done.stderr
    lines = violation_lines(done.stderr)
    assert len(lines) == 1, lines
    assert re.fullmatch(
        rf"VIOLATION direct-commitment-missing at block {committed.block_number}: commitment "
        rf"{to_hex(censored)} committed directly by {chain.outsider.address} is not in the "
        r"anchored log 1\d\d s after its deadline \(maxMergeDelay 3,600 s\)",
        lines[0],
    ), lines[0]
    statuses = {d["commitment"]: d["status"] for d in report(tmp_path)["direct_commitments"]}
    assert statuses == {to_hex(censored): "missing", to_hex(pending): "pending"}


def test_a_direct_commitment_logged_after_max_merge_delay_fails(
    warp_chain: Devchain, tmp_path: Path, home: Path
) -> None:
    chain = deploy_on(warp_chain)
    ledger = open_ledger(chain, tmp_path)
    ledger.append(ledger.new_tips(2))
    late = os.urandom(32)
    committed = chain.contract.commit(chain.outsider, late)
    warp(warp_chain, 2 * 3600)
    anchor_block = ledger.append([late])
    done = run_audit_cli(home, *audit_args(ledger, tmp_path))
    assert done.returncode == 1, done.stdout + done.stderr
    lines = violation_lines(done.stderr)
    assert len(lines) == 1, lines
    assert lines[0].startswith(
        f"VIOLATION direct-commitment-late at entry 2, block {committed.block_number}: "
        f"commitment {to_hex(late)} committed directly in block {committed.block_number} was "
        f"first anchored in block {anchor_block}, "
    )


# Who may review is agency membership now: test_audit_agencies.py checks it.


def test_a_disclosure_below_the_threshold_fails(
    deployed: DeployedLedger, tmp_path: Path, home: Path
) -> None:
    # The contract refuses a short quorum; with its storage altered (threshold 1, no
    # DisclosureThresholdChanged event) it accepts one signature, and the audit catches it.
    healthy = build_healthy(deployed, tmp_path)
    ledger = healthy.ledger
    ledger.backdoor_threshold(1)
    block = ledger.disclose(deployed.custodians[:1], deployed.outsider)
    done = run_audit_cli(home, *audit_args(ledger, tmp_path))
    assert done.returncode == 1, done.stdout + done.stderr
    lines = violation_lines(done.stderr)
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"VIOLATION disclosure-quorum at block {block}: disclosure of ")
    assert lines[0].endswith(
        "lacks a valid quorum: 1 distinct custodian signature(s), the threshold then was 3"
    )
    verdicts = [d["ok"] for d in report(tmp_path)["disclosures"]]
    assert verdicts == [True, False]


# --- deadlines -------------------------------------------------------------------------------


def test_tips_past_the_review_deadlines_are_listed(
    warp_chain: Devchain, tmp_path: Path, home: Path
) -> None:
    chain = deploy_on(warp_chain)
    ledger = open_ledger(chain, tmp_path)
    ledger.append(ledger.new_tips(5))
    ledger.review(chain.reviewers[0], ledger.entries[0], 1, bytes(32))
    warp(warp_chain, 8 * 86_400)
    ledger.review(chain.reviewers[0], ledger.entries[1], 1, bytes(32))  # late
    done = run_audit_cli(home, *audit_args(ledger, tmp_path, "--deadlines", "eu"))
    assert done.returncode == 0, done.stdout + done.stderr  # overdue is reported, not a breach
    assert "first review (7 days): 4 late, 3 still open" in done.stdout
    overdue = report(tmp_path)["deadlines"]["first_review"]["overdue"]
    assert [(o["index"], o["done_at"] is None) for o in overdue] == [
        (1, False),
        (2, True),
        (3, True),
        (4, True),
    ]
    assert all(o["late_by"] >= 86_400 - 60 for o in overdue[1:])
    strict = run_audit_cli(
        home, *audit_args(ledger, tmp_path, "--deadlines", "eu"), "--strict-deadlines"
    )
    assert strict.returncode == 1
    assert violation_lines(strict.stderr) == []


# --- operational errors ----------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_chain_or_api_exits_2_with_one_line(
    deployed: DeployedLedger, tmp_path: Path, home: Path
) -> None:
    address = deployed.deployment.address
    no_chain = run_audit_cli(
        home, "--rpc", f"http://127.0.0.1:{_free_port()}", "--contract", address
    )
    assert no_chain.returncode == 2
    assert no_chain.stderr.strip().startswith("error: connecting to http://127.0.0.1:")
    assert len(no_chain.stderr.strip().splitlines()) == 1
    api = f"http://127.0.0.1:{_free_port()}"
    no_api = run_audit_cli(
        home, "--rpc", deployed.devchain.rpc_url, "--contract", address, "--api", api
    )  # refused before the chain is read, even with nothing anchored yet
    assert no_api.returncode == 2
    assert f"error: cannot reach the TipLedger API at {api}" in no_api.stderr
    no_deployment = run_audit_cli(home)
    assert no_deployment.returncode == 2
    assert "no deployment file" in no_deployment.stderr


# --- the HTML report in a browser ------------------------------------------------------------


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.mark.skipif(
    not CHROMIUM.exists() or shutil.which(str(CHROMIUM)) is None,
    reason="Chromium is not installed at /usr/bin/chromium (the browser tests' setup installs "
    "Debian's chromium): the HTML report's rendering is not checked",
)
def test_the_html_report_renders_its_charts_in_chromium(
    deployed: DeployedLedger, tmp_path: Path, home: Path
) -> None:
    healthy = build_healthy(deployed, tmp_path)
    done = run_audit_cli(home, *audit_args(healthy.ledger, tmp_path))
    assert done.returncode == 0, done.stderr
    page = (tmp_path / "audit.html").as_uri()
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--window-size=1280,2400"]
    dom = subprocess.run(
        [str(CHROMIUM), *flags, "--dump-dom", page], capture_output=True, text=True, timeout=90
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    rendered = dom.stdout
    svgs = re.findall(r"<svg\b[^>]*>", rendered)
    assert len(svgs) >= 6
    assert len(re.findall(r'<rect class="bar"', rendered)) >= 20
    for title in ("Tips anchored per day", "Time to anchor", "Review outcomes", "disclosures"):
        assert title in rendered
    shot = tmp_path / "audit.png"
    taken = subprocess.run(
        [str(CHROMIUM), *flags, f"--screenshot={shot}", page],
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert taken.returncode == 0, taken.stderr[-2000:]
    assert _png_size(shot) == (1280, 2400)
    assert shot.stat().st_size > 30_000  # charts and tables, not a blank page
