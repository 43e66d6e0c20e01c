"""Time to anchor from each tip's signed arrival, end to end on SQLite and PostgreSQL: a real
service (uvicorn, its sequencer anchoring every 0.2 s on Anvil), ``GET /v1/log/arrivals`` for
signed-in oversight only, and ``tipledger audit --key-file`` run as a person runs it."""

from __future__ import annotations

import base64
import json
import os
import re
import time
from pathlib import Path

import httpx
import pytest

from ledger.audit import HttpEntrySource, run_audit
from ledger.audit.arrivals import HttpArrivalSource
from ledger.audit.report import anchor_times
from ledger.chain.contract import TipLedgerContract
from ledger.cli.api_client import DeskClient, sign_in

from ..api.conftest import Server, module_database_url, server, server_sealing  # noqa: F401
from .conftest import home, run_audit_cli  # noqa: F401

pytestmark = pytest.mark.chain

TIPS = 6


def _anchored_tips(server: Server, n: int) -> list[str]:  # noqa: F811
    with server.client() as client:
        commitments = []
        for _ in range(n):
            document = base64.b64encode(os.urandom(64)).decode()
            response = client.post("/v1/tips", json={"document": document})
            assert response.status_code == 202, response.text
            commitments.append(response.json()["commitment"])
        deadline = time.monotonic() + 60
        for c in commitments:
            while client.get(f"/v1/tips/{c}/receipt").status_code != 200:
                assert time.monotonic() < deadline, "not anchored in time"
                time.sleep(0.1)
    return commitments


@pytest.fixture(scope="module")
def tips(server: Server) -> list[str]:  # noqa: F811
    return _anchored_tips(server, TIPS)


def test_arrivals_are_for_signed_in_oversight_only(server: Server, tips: list[str]) -> None:  # noqa: F811
    size = server.service.checkpoint().tree_size  # type: ignore[union-attr]
    with httpx.Client(base_url=server.url, timeout=30) as http:
        anonymous = http.get("/v1/log/arrivals", params={"start": 0, "end": size})
        assert anonymous.status_code == 401
        # accounts[2] is the intake desk's member: it may read its cases, not everyone's arrivals
        member = sign_in(http, server.accounts[2])
        refused = http.get(
            "/v1/log/arrivals",
            params={"start": 0, "end": size},
            headers={"Authorization": f"Bearer {member}"},
        )
        assert refused.status_code == 403
        assert "REVIEWER_ROLE" in refused.json()["detail"]
    with DeskClient(server.url, server.admin) as desk:
        page = desk.call("GET", "/v1/log/arrivals", params={"start": 0, "end": size + 50})
        assert page["next"] == size
        assert [a["leaf_index"] for a in page["arrivals"]] == list(range(size))
        assert all(a["signer"] == server.accounts[1].address for a in page["arrivals"])
        part = desk.call("GET", "/v1/log/arrivals", params={"start": 2, "end": 4})
        assert [a["leaf_index"] for a in part["arrivals"]] == [2, 3]
        assert part["next"] == 4


def test_tips_anchored_within_seconds_show_seconds(
    server: Server,  # noqa: F811
    tips: list[str],
    tmp_path: Path,
    home: Path,  # noqa: F811
) -> None:
    contract = TipLedgerContract(server.w3, server.deployment.address)
    with DeskClient(server.url, server.admin) as desk:
        token = str(desk.http.headers["Authorization"]).removeprefix("Bearer ")
        result = run_audit(
            contract,
            HttpEntrySource(server.url),
            from_block=server.deployment.deploy_block,
            arrivals=HttpArrivalSource(server.url, token),
        )
    assert result.ok, [v.line() for v in result.violations]
    times = anchor_times(result)
    assert times.measured
    assert times.tips == result.history.anchored_size >= TIPS
    assert times.worst is not None, times
    assert times.worst <= 10, times

    # The command, as oversight runs it: signed in with the admin's key, Thai by default.
    key = tmp_path / "admin.key"
    key.write_text("0x" + bytes(server.admin.key).hex())
    args = [
        "--rpc", server.rpc_url, "--contract", server.deployment.address, "--api", server.url,
        "--from-block", str(server.deployment.deploy_block),
        "--json", str(tmp_path / "audit.json"), "--html", str(tmp_path / "audit.html"),
    ]  # fmt: skip
    done = run_audit_cli(home, *args, "--key-file", str(key))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("ผลการตรวจสอบ TipLedger: ผ่าน")
    assert "วัดจากเวลาที่ได้รับตามคำรับรองที่ลงนาม" in done.stdout
    report = json.loads((tmp_path / "audit.json").read_text())
    assert report["time_to_anchor"]["basis"] == "signed arrival times"
    assert report["time_to_anchor"]["worst"] <= 10
    fast = sum(n for label, n in report["charts"]["time_to_anchor"] if label in FAST)
    assert fast == report["time_to_anchor"]["tips"]
    html = (tmp_path / "audit.html").read_text(encoding="utf-8")
    assert '<html lang="th">' in html
    text = re.sub(r"<[^>]+>", "", html)
    assert "ระยะเวลาจนบันทึกลงบล็อกเชน (วัดจากเวลาที่ได้รับ)" in text
    assert re.search(r"\d+ วินาทีมัธยฐานเวลาจนบันทึกลงบล็อกเชน", text)  # the key figure
    assert "≤ 10 นาที" not in text.split("แผนภูมิ", 1)[0]

    # Without a sign-in: the bound, labelled as such; in English with --lang en.
    done = run_audit_cli(home, *args, "--lang", "en")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "upper bound, from the previous checkpoint" in done.stdout
    html = (tmp_path / "audit.html").read_text(encoding="utf-8")
    assert '<html lang="en">' in html
    assert "Time to anchor (upper bound)" in html

    # A key without an oversight role: refused in one line, before the chain is read.
    member = tmp_path / "member.key"
    member.write_text("0x" + bytes(server.accounts[2].key).hex())
    refused = run_audit_cli(home, *args, "--key-file", str(member))
    assert refused.returncode == 2
    [line] = refused.stderr.strip().splitlines()
    assert "answered 403" in line
    assert "holds none of REVIEWER_ROLE" in line

    bad = run_audit_cli(home, *args, "--lang", "fr")
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [
        "error: --lang: unknown report language 'fr': expected th or en"
    ]


FAST = {"≤ 1 s", "≤ 2 s", "≤ 5 s", "≤ 30 s"}
