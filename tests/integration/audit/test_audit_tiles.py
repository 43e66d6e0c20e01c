"""``tipledger audit --tiles URL``: the whole audit from the log's entry bundles alone (no /v1
API), and an entry the tiles serve that differs from the anchored one still fails it."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest

from ..chain_support import DeployedLedger
from .conftest import audit_args, build_healthy, run_audit_cli, serve_api, violation_lines

pytestmark = pytest.mark.chain


def tiles_args(args: list[str], url: str) -> list[str]:
    i = args.index("--database")
    args[i : i + 2] = ["--tiles", url]
    return args


def test_a_healthy_ledger_passes_from_tiles(
    deployed: DeployedLedger, tmp_path: Path, home: Path
) -> None:
    healthy = build_healthy(deployed, tmp_path)
    api = serve_api(healthy.ledger, tmp_path)
    try:
        done = run_audit_cli(
            home, *tiles_args(audit_args(healthy.ledger, tmp_path), api.url + "/log")
        )
    finally:
        api.stop()
    assert done.returncode == 0, done.stdout + done.stderr
    r = json.loads((tmp_path / "audit.json").read_text())
    assert r["source"] == f"tiles {api.url}/log"
    assert r["summary"]["served"] == 21


def test_an_entry_the_tiles_serve_that_differs_fails(
    deployed: DeployedLedger, tmp_path: Path, home: Path
) -> None:
    healthy = build_healthy(deployed, tmp_path)
    ledger = healthy.ledger
    with sqlite3.connect(ledger.database_url.removeprefix("sqlite:///")) as db:
        db.execute("UPDATE log_entries SET commitment = ? WHERE leaf_index = 5", (os.urandom(32),))
    api = serve_api(ledger, tmp_path)
    try:
        done = run_audit_cli(home, *tiles_args(audit_args(ledger, tmp_path), api.url + "/log"))
    finally:
        api.stop()
    assert done.returncode == 1, done.stdout + done.stderr
    lines = violation_lines(done.stderr)
    assert len(lines) == 1, lines
    assert lines[0].startswith("VIOLATION entry-differs at entry 5")


def test_tiles_and_api_together_are_refused(deployed: DeployedLedger, home: Path) -> None:
    chain = ["--rpc", deployed.devchain.rpc_url, "--contract", deployed.deployment.address]
    done = run_audit_cli(home, *chain, "--tiles", "http://127.0.0.1:9/log", "--api", "http://x")
    assert done.returncode == 2
    assert "not two" in done.stderr
