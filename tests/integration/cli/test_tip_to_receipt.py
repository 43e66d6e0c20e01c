"""The CLI end to end, as a person runs it: `devchain` in one process, `submit`/`verify`/`log`
in others, all against a real Anvil and a real SQLite store in a temporary TIPLEDGER_HOME."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

TIP = "Procurement fraud at office X: invoice 4711 paid twice ผู้แจ้งเบาะแส"


def run(home: Path, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TIPLEDGER_HOME": str(home), "NO_COLOR": "1", "COLUMNS": "200"}
    env.pop("TIPLEDGER_RPC_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "ledger.cli", *args],
        env=env,
        input=stdin.decode() if stdin is not None else None,
        capture_output=True,
        text=True,
        timeout=120,
    )


def start_devchain(home: Path, *, ignore_sigint: bool = False) -> subprocess.Popen[str]:
    """``tipledger devchain``, returned once its contract is deployed.

    ``ignore_sigint`` starts it the way ``tipledger devchain &`` in a script does.
    """
    env = {**os.environ, "TIPLEDGER_HOME": str(home), "NO_COLOR": "1"}
    env.pop("TIPLEDGER_RPC_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "ledger.cli", "devchain"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=(lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
        if ignore_sigint
        else None,
    )
    lines = []
    deadline = time.monotonic() + 60
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.strip().startswith("contract"):
            return proc
    proc.kill()
    raise AssertionError("devchain did not come up:\n" + "".join(lines))


def stop(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("tipledger-home")
    proc = start_devchain(home)
    yield home
    stop(proc)


@pytest.fixture(scope="module")
def receipt_file(home: Path) -> Path:
    path = home / "receipt.json"
    done = run(home, "submit", "--text", TIP, "--out", str(path))
    assert done.returncode == 0, done.stderr
    assert "anchored" in done.stderr
    return path


def test_submit_then_verify_proves_the_tip_with_its_block_time(home: Path, receipt_file: Path):
    receipt = json.loads(receipt_file.read_text())
    assert receipt["format"] == "tipledger-receipt/1"
    assert receipt["inclusion"]["block_timestamp"] > 0
    done = run(home, "verify", str(receipt_file), "--text", TIP)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("VALID")
    stamp = time.strftime(
        "%Y-%m-%dT%H:%M:%SZ", time.gmtime(receipt["inclusion"]["block_timestamp"])
    )
    assert stamp in done.stdout


def test_a_receipt_is_verified_from_a_document_file_and_as_json(home: Path, receipt_file: Path):
    doc = home / "tip.txt"
    doc.write_bytes(TIP.encode())
    done = run(home, "verify", str(receipt_file), "--document", str(doc), "--json")
    assert done.returncode == 0, done.stderr
    verdict = json.loads(done.stdout)
    assert verdict["valid"] is True
    assert (
        verdict["proven_time"]
        == json.loads(receipt_file.read_text())["inclusion"]["block_timestamp"]
    )


def test_a_wrong_document_fails(home: Path, receipt_file: Path):
    done = run(home, "verify", str(receipt_file), "--text", TIP.replace("4711", "4712"))
    assert done.returncode == 1
    assert done.stdout.startswith("INVALID")
    assert "content_digest" in done.stderr


@pytest.mark.parametrize(
    ("field", "mutate"),
    [
        ("salt", lambda r: r.__setitem__("salt", "0x" + "11" * 32)),
        ("content_digest", lambda r: r.__setitem__("content_digest", "0x" + "22" * 32)),
        ("proof", lambda r: r["inclusion"].__setitem__("root_hash", "0x" + "33" * 32)),
        ("leaf_index", lambda r: r["inclusion"].__setitem__("leaf_index", 5)),
        ("tree_size", lambda r: r["inclusion"].__setitem__("tree_size", 999)),
        ("block_timestamp", lambda r: r["inclusion"].__setitem__("block_timestamp", 12345)),
    ],
)
def test_an_altered_receipt_fails(home: Path, receipt_file: Path, field: str, mutate) -> None:  # type: ignore[no-untyped-def]
    receipt = json.loads(receipt_file.read_text())
    mutate(receipt)
    altered = home / f"altered-{field}.json"
    altered.write_text(json.dumps(receipt))
    done = run(home, "verify", str(altered), "--text", TIP)
    assert done.returncode == 1, (field, done.stdout, done.stderr)
    assert done.stdout.startswith("INVALID")


def test_a_flipped_proof_byte_fails(home: Path) -> None:
    path = home / "second.json"
    assert run(home, "submit", "--text", "second tip", "--out", str(path)).returncode == 0
    receipt = json.loads(path.read_text())
    assert receipt["inclusion"]["proof"], "a tree of two or more entries has a proof"
    node = receipt["inclusion"]["proof"][0]
    receipt["inclusion"]["proof"][0] = node[:-1] + ("0" if node[-1] != "0" else "1")
    path.write_text(json.dumps(receipt))
    done = run(home, "verify", str(path), "--text", "second tip")
    assert done.returncode == 1
    assert "inclusion" in done.stderr


def test_bad_inputs_give_one_line_and_no_traceback(home: Path, receipt_file: Path) -> None:
    garbage = home / "garbage.json"
    garbage.write_text('{"format": "tipledger-receipt/1", "salt": "0x12"}')
    cases = [
        (run(home, "verify", str(garbage), "--text", TIP), "not a valid receipt"),
        (
            run(home, "verify", str(receipt_file), "--text", TIP, "--rpc", "http://127.0.0.1:9"),
            "unavailable",
        ),
        (run(home, "verify", str(receipt_file), "--rpc", "ftp://x"), "RPC URL"),
        (run(home, "submit"), "nothing to submit"),
        (run(home, "verify", str(home / "missing.json")), "cannot read"),
    ]
    for done, expected in cases:
        assert done.returncode == 2, done
        assert "Traceback" not in done.stderr
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        assert len(lines) == 1, done.stderr
        assert expected in lines[0], lines[0]


def test_submit_from_stdin_with_a_one_time_author_key(home: Path) -> None:
    key = home / "author.key"
    done = run(home, "submit", "-", "--author-key", str(key), stdin=b"tip from stdin")
    assert done.returncode == 0, done.stderr
    receipt = json.loads(done.stdout)
    assert key.exists()
    address = json.loads(key.read_text())["address"]
    assert receipt["author"] == address
    path = home / "stdin.json"
    path.write_text(done.stdout)
    assert run(home, "verify", str(path), "--text", "tip from stdin").returncode == 0


def test_log_lists_every_anchored_checkpoint(home: Path, receipt_file: Path) -> None:
    done = run(home, "log")
    assert done.returncode == 0, done.stderr
    size = json.loads(receipt_file.read_text())["inclusion"]["tree_size"]
    assert f"│ {size} " in done.stdout or f" {size} " in done.stdout


def test_a_restarted_devchain_resumes_the_same_deployment(tmp_path: Path) -> None:
    proc = start_devchain(tmp_path)
    try:
        first = tmp_path / "one.json"
        assert (
            run(tmp_path, "submit", "--text", "before restart", "--out", str(first)).returncode == 0
        )
    finally:
        stop(proc)
    address = json.loads((tmp_path / "deployment.json").read_text())["address"]
    proc = start_devchain(tmp_path)
    try:
        assert json.loads((tmp_path / "deployment.json").read_text())["address"] == address
        assert run(tmp_path, "verify", str(first), "--text", "before restart").returncode == 0
        second = tmp_path / "two.json"
        done = run(tmp_path, "submit", "--text", "after restart", "--out", str(second))
        assert done.returncode == 0, done.stderr
        assert json.loads(second.read_text())["inclusion"]["tree_size"] == 2
    finally:
        stop(proc)


def test_a_stored_tip_that_cannot_be_anchored_keeps_its_receipt(tmp_path: Path) -> None:
    """The intake has stored the tip: its receipt (the salt exists nowhere else) is written even
    when the anchor fails, and the tip is anchored by the next step once the chain allows it."""
    from ledger.chain.anvil import dev_accounts

    proc = start_devchain(tmp_path)
    try:
        anchorer = json.loads((tmp_path / "anchorer-key.json").read_text())["address"]
        admin_key = tmp_path / "admin.key"
        admin_key.write_text(dev_accounts(1)[0].key.hex())
        revoke = ("roles", "revoke", "ANCHORER_ROLE", anchorer, "--key-file", str(admin_key))
        assert run(tmp_path, *revoke).returncode == 0
        pending = tmp_path / "pending.json"
        done = run(tmp_path, "submit", "--text", "stored, not anchored", "--out", str(pending))
        assert done.returncode == 2, done.stderr
        assert "stored but not anchored" in done.stderr
        assert "AccessControlUnauthorizedAccount" in done.stderr
        receipt = json.loads(pending.read_text())
        assert receipt["inclusion"] is None
        assert len(receipt["salt"]) == 66
        grant = ("roles", "grant", *revoke[2:])
        assert run(tmp_path, *grant).returncode == 0
        later = tmp_path / "later.json"
        done = run(tmp_path, "submit", "--text", "after the grant", "--out", str(later))
        assert done.returncode == 0, done.stderr
        assert json.loads(later.read_text())["inclusion"]["tree_size"] == 2  # both anchored
    finally:
        stop(proc)
