"""The whole flow on a second node implementation: Ganache (npm ``ganache``, pinned).

As a person runs it, through the CLI: ``deploy`` to a Ganache, ``serve``, tips over HTTP, their
receipts anchored, ``verify`` VALID and ``audit`` PASS; once with Ganache mining each transaction
at once and once with a one-second block time (where its pending nonce count ignores its pool).
Also the EVM probe before deploying (a pre-Shanghai node refused in one line) and nonces of
back-to-back transactions by one key.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from eth_account.signers.local import LocalAccount
from web3.types import Wei

from ledger.chain.client import connect, send_transaction
from ledger.chain.deploy import deploy
from ledger.chain.evm import probe_evm
from ledger.chain.ganache import GanacheDevchain
from ledger.core.encoding import checksum_address, to_hex
from ledger.core.receipt import Receipt
from ledger.errors import UnsupportedNodeError

from .. import sealing
from ..cli.test_serve import Proc, wait_healthy
from ..cli.test_tip_to_receipt import run

pytestmark = pytest.mark.chain

TIPS = [f"Ganache tip {i}: invoice {4700 + i} paid twice ผู้แจ้งเบาะแส" for i in range(3)]


def _fund(ganache: GanacheDevchain, address: str) -> None:
    w3 = connect(ganache.rpc_url)
    send_transaction(
        w3, ganache.accounts[1], {"to": address, "value": 10**18}, what="funding the member"
    )


def _key_file(path: Path, account: LocalAccount) -> Path:
    path.write_text("0x" + bytes(account.key).hex())
    path.chmod(0o600)
    return path


@pytest.fixture(params=[None, 1], ids=["instamine", "blocktime1"])
def ganache(request: pytest.FixtureRequest) -> Iterator[GanacheDevchain]:
    with GanacheDevchain(block_time=request.param) as chain:
        yield chain


def test_the_whole_flow_runs_on_ganache(ganache: GanacheDevchain, tmp_path: Path) -> None:
    home = tmp_path / "home"
    key = _key_file(tmp_path / "deployer.key", ganache.accounts[0])
    started = time.monotonic()
    # No --anchorer: the deployer anchors, so the CLI's and the service's nonces share one key.
    deployed = run(home, "deploy", "--rpc", ganache.rpc_url, "--key-file", str(key))
    assert deployed.returncode == 0, deployed.stderr
    assert "not Cancun" in deployed.stderr  # Ganache 7.9 stops at Shanghai: warned, not refused
    # The intake desk and its member, through the CLI, as an operator on this node would.
    secret = tmp_path / "member.passphrase"
    secret.write_text("member passphrase\n")
    member = ["--key-file", str(tmp_path / "member.json"), "--passphrase-file", str(secret)]
    made = run(home, "member", "keygen", *member, "--scrypt-n", "16384")
    assert made.returncode == 0, made.stderr
    added = run(home, "agency", "add", "intake", "--name-th", "ศูนย์รับเรื่อง", "--name-en",
                "Intake", "--key-file", str(key))  # fmt: skip
    assert added.returncode == 0, added.stderr
    joined = run(home, "agency", "add-member", "intake", "--member-key-file",
                 str(tmp_path / "member.json"), "--key-file", str(key))  # fmt: skip
    assert joined.returncode == 0, joined.stderr
    address = json.loads((tmp_path / "member.json").read_text())["address"]
    _fund(ganache, address)
    serve = Proc(home, "serve", "--port", "0")
    try:
        url = serve.wait_for(r"API\s+(http://\S+)").group(1)
        wait_healthy(url)
        receipts = []
        with httpx.Client(base_url=url, timeout=30) as client:
            accepted, sealed = [], []
            contract = json.loads((home / "deployment.json").read_text())["address"]
            for tip in TIPS:
                # sealed as a device seals it, to the member key read from this node
                device_tip = sealing.seal(connect(ganache.rpc_url), contract, tip.encode())
                answer = sealing.post(client, device_tip)
                assert answer.status_code == 202, answer.text
                accepted.append(answer.json())
                sealed.append(device_tip)
            sent = time.monotonic()
            for answer, device_tip in zip(accepted, sealed, strict=True):
                deadline = time.monotonic() + 60
                path = f"/v1/tips/{answer['commitment']}/receipt"
                while (fetched := client.get(path)).status_code == 202:
                    assert time.monotonic() < deadline, "not anchored within 60 s"
                    time.sleep(0.2)
                assert fetched.status_code == 200, fetched.text
                receipts.append(
                    Receipt.from_dict(
                        {
                            **answer["receipt"],
                            "salt": to_hex(device_tip.salt),
                            "content_digest": to_hex(device_tip.content_digest),
                            "author": checksum_address(device_tip.author),
                            "inclusion": fetched.json()["inclusion"],
                        }
                    )
                )
            anchored_after = time.monotonic() - sent
        for i, (tip, receipt) in enumerate(zip(TIPS, receipts, strict=True)):
            receipt_file = home / f"receipt-{i}.json"
            receipt_file.write_text(receipt.to_json())
            checked = run(
                home, "verify", str(receipt_file), "--text", tip, "--rpc", ganache.rpc_url
            )
            assert checked.returncode == 0, checked.stdout + checked.stderr
            assert checked.stdout.startswith("VALID")
        # The member opens the first tip on this node and records a review (its routing proof
        # checked by the contract here).
        commitment = receipts[0].commitment
        shown = run(home, "review", "show", commitment, *member, "--api", url)
        assert shown.returncode == 0, shown.stdout + shown.stderr
        assert TIPS[0] in shown.stdout
        note = tmp_path / "note.txt"
        note.write_text("checked\n")
        decided = run(home, "review", "decide", commitment, "--status", "under_review",
                      "--note-file", str(note), *member, "--api", url)  # fmt: skip
        assert decided.returncode == 0, decided.stdout + decided.stderr
        audited = run(home, "audit", "--lang", "en", "--rpc", ganache.rpc_url, "--api", url)
        assert audited.returncode == 0, audited.stdout + audited.stderr
        assert audited.stdout.startswith("TipLedger audit: PASS"), audited.stdout
    finally:
        assert serve.stop() == 0, serve.output
    print(
        f"ganache block_time={ganache.block_time}: {len(TIPS)} tips anchored "
        f"{anchored_after:.1f} s after sending, verify VALID, audit PASS, "
        f"{time.monotonic() - started:.1f} s in all"
    )


@pytest.mark.parametrize(
    ("hardfork", "shanghai", "cancun"), [("london", False, False), ("shanghai", True, False)]
)
def test_the_probe_tells_the_node_s_evm(hardfork: str, shanghai: bool, cancun: bool) -> None:
    with GanacheDevchain(hardfork=hardfork) as chain:
        support = probe_evm(connect(chain.rpc_url))
    assert (support.shanghai, support.cancun) == (shanghai, cancun)
    assert support.mcopy_error == "VM Exception while processing transaction: invalid opcode"


def test_a_pre_shanghai_node_is_refused_in_one_line_before_anything_is_sent(
    tmp_path: Path,
) -> None:
    with GanacheDevchain(hardfork="london") as chain:
        w3 = connect(chain.rpc_url)
        admin = chain.accounts[0]
        with pytest.raises(UnsupportedNodeError, match="predates Shanghai"):
            deploy(w3, admin, anchorer=admin.address)
        key = _key_file(tmp_path / "deployer.key", admin)
        done = run(tmp_path / "home", "deploy", "--rpc", chain.rpc_url, "--key-file", str(key))
        assert w3.eth.get_transaction_count(admin.address) == 0  # nothing was sent
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "predates Shanghai" in lines[0]
    assert "invalid opcode" in lines[0]
    assert "Traceback" not in done.stderr


def test_a_shanghai_node_deploys_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with GanacheDevchain(hardfork="shanghai") as chain:
        deployment = deploy(
            connect(chain.rpc_url), chain.accounts[0], anchorer=chain.accounts[1].address
        )
    assert deployment.code_hash.startswith("0x")
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("eip712Domain()" in w for w in warnings), warnings


def test_back_to_back_transactions_by_one_key_never_share_a_nonce() -> None:
    # With a block time, Ganache's "pending" count ignores its pool: four sends at once by one
    # key all read the same count (and Ganache 7.9 even mines all four at that one nonce).
    with GanacheDevchain(block_time=1) as chain:
        w3 = connect(chain.rpc_url)
        sender, payee = chain.accounts[0], chain.accounts[1].address
        start = threading.Barrier(4)
        nonces: dict[int, int] = {}
        failures: list[BaseException] = []

        def send(i: int) -> None:
            start.wait()
            try:
                receipt = send_transaction(
                    w3, sender, {"to": payee, "value": Wei(i + 1)}, what=f"transfer {i}"
                )
                assert receipt["status"] == 1
                nonces[i] = int(w3.eth.get_transaction(receipt["transactionHash"])["nonce"])
            except BaseException as exc:  # reported by the main thread
                failures.append(exc)

        threads = [threading.Thread(target=send, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not failures, failures
        assert sorted(nonces.values()) == [0, 1, 2, 3], nonces
        # and one after another, as separate commands do
        for i in range(2):
            send_transaction(w3, sender, {"to": payee, "value": Wei(1)}, what=f"then {i}")
        assert w3.eth.get_transaction_count(sender.address) == 6
