"""scripts/agency_demo.py runs every step on a real Anvil and exits 0 (the issue's proof)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_agency_demo_shows_every_step() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "agency_demo.py")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-3000:]
    for line in (
        "on chain: Referred(",
        "from=nacc, to=pacc, keepAccess=False",
        "holds(A)=False, holds(B)=True",
        "routed to nacc; held by pacc",
        "refused: a2 signs in no more",
        "refused: a2's key opens nothing of the new tip",
        "on chain: ReviewRecorded(",
        "agency=pacc, status=2",
        "TipLedger audit: PASS",
        "nacc         NACC",
        "pacc         PACC",
    ):
        assert line in out, line
    assert out.count("VALID: the document existed") >= 3  # A, then B, then A's new tip
