"""`tipledger devchain` + `tipledger serve` as separate processes, as a person runs them; tips over
HTTP and through `submit --api`, receipts accepted by `tipledger verify`. And `tipledger up`, the
README's run command, serving the API on its own."""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ledger.chain.client import connect
from ledger.core.encoding import checksum_address, to_hex
from ledger.core.receipt import Receipt
from ledger.desk.envelope import open_tip
from ledger.desk.member_keys import load_member_key, read_member_public
from ledger.device import DeviceTip
from ledger.errors import EnvelopeError
from ledger.ops.devnet import INTAKE_MEMBER_KEY, INTAKE_MEMBER_PASSPHRASE

from .. import sealing
from .test_tip_to_receipt import run, start_devchain, stop

pytestmark = pytest.mark.chain

TIP = "Road works paid for twice, contract 2024/118 ผู้แจ้งเบาะแส"


class Proc:
    """A long-running CLI process whose output is read by a thread (so it never blocks)."""

    def __init__(self, home: Path, *args: str) -> None:
        env = {**os.environ, "TIPLEDGER_HOME": str(home), "NO_COLOR": "1", "COLUMNS": "200"}
        env.pop("TIPLEDGER_RPC_URL", None)
        env.pop("TIPLEDGER_DESK_PASSPHRASE", None)
        env.pop("TIPLEDGER_MEMBER_PASSPHRASE", None)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ledger.cli", *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for(self, pattern: str, timeout: float = 90) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = re.search(pattern, self.output)
            if match:
                return match
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise AssertionError(f"no {pattern!r} in the output:\n{self.output}")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(5)
        return self.proc.returncode


def wait_healthy(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} did not become healthy")


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str, Proc]]:
    home = tmp_path_factory.mktemp("serve-home")
    chain = start_devchain(home)
    serve = Proc(home, "serve", "--port", "0")
    try:
        url = serve.wait_for(r"API\s+(http://\S+)").group(1)
        wait_healthy(url)
        yield home, url, serve
    finally:
        serve.stop()
        stop(chain)


def test_the_devchain_makes_the_intake_member_whose_key_file_opens_a_tip(
    system: tuple[Path, str, Proc],
) -> None:
    home, url, _serve = system
    key_file = home / INTAKE_MEMBER_KEY
    passphrase_file = home / INTAKE_MEMBER_PASSPHRASE
    assert stat.S_IMODE(passphrase_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert not (home / "review-desk-private.pem").exists()  # no shared desk key any more
    # the member is on chain, and the service lists its key for the intake desk
    member = read_member_public(key_file)
    intake = httpx.get(f"{url}/v1/agencies/intake", timeout=30).json()
    assert [(m["address"], m["key_id"]) for m in intake["members"]] == [
        (member.address, member.key_id)
    ]
    # a tip sent now opens on the member's machine with that key file and passphrase
    document = "sealed to the intake desk's member " + os.urandom(4).hex()
    with httpx.Client(base_url=url, timeout=30) as client:
        accepted = sealing.post(client, _sealed(home, document.encode()))
    assert accepted.status_code == 202, accepted.text
    commitment = accepted.json()["commitment"]
    shown = run(
        home,
        "review",
        "show",
        commitment,
        "--api",
        url,
        "--key-file",
        str(key_file),
        "--passphrase-file",
        str(passphrase_file),
        "--json",
    )
    assert shown.returncode == 0, shown.stderr
    opened = json.loads(shown.stdout)
    assert opened["text"] == document
    assert opened["agency"] == "intake"
    # the envelope at rest is sealed to the case key, which the member's own key does not open
    from sqlalchemy import create_engine, select

    from ledger.store.schema import submissions

    engine = create_engine(f"sqlite:///{home / 'ledger.sqlite3'}")
    with engine.connect() as conn:
        envelope = conn.scalar(
            select(submissions.c.envelope).where(
                submissions.c.commitment == bytes.fromhex(commitment[2:])
            )
        )
    engine.dispose()
    assert document.encode() not in envelope
    own = load_member_key(key_file, passphrase_file.read_text().strip()).x25519_private
    with pytest.raises(EnvelopeError):
        open_tip(own, envelope, bytes.fromhex(commitment[2:]))


def test_a_tip_over_http_verifies_with_the_cli(system: tuple[Path, str, Proc]) -> None:
    home, url, _serve = system
    document = TIP.encode()
    with httpx.Client(base_url=url, timeout=30) as client:
        tip = _sealed(home, document)
        accepted = sealing.post(client, tip)
        assert accepted.status_code == 202, accepted.text
        commitment = accepted.json()["commitment"]
        deadline = time.monotonic() + 60
        while (fetched := client.get(f"/v1/tips/{commitment}/receipt")).status_code == 202:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert fetched.status_code == 200, fetched.text
    # The service never had the salt, digest or author: the device's own go into the receipt.
    receipt = Receipt.from_dict(
        {
            **accepted.json()["receipt"],
            "salt": to_hex(tip.salt),
            "content_digest": to_hex(tip.content_digest),
            "author": checksum_address(tip.author),
            "inclusion": fetched.json()["inclusion"],
        }
    )
    path = home / "http-receipt.json"
    path.write_text(receipt.to_json())
    done = run(home, "verify", str(path), "--text", TIP)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("VALID: the document existed")
    wrong = run(home, "verify", str(path), "--text", TIP + "!")
    assert wrong.returncode == 1


def test_submit_and_verify_with_api(system: tuple[Path, str, Proc]) -> None:
    home, url, _serve = system
    path = home / "api-receipt.json"
    key = home / "one-time.key"
    done = run(
        home, "submit", "--api", url, "--text", TIP, "--author-key", str(key), "--out", str(path)
    )
    assert done.returncode == 0, done.stderr
    assert "accepted" in done.stderr
    assert "anchored" in done.stderr
    receipt = Receipt.from_json(path.read_text())
    assert receipt.anchored
    assert receipt.author != "0x" + "00" * 20  # the one-time key's address
    checked = run(home, "verify", str(path), "--text", TIP)
    assert checked.returncode == 0, checked.stderr
    remote = run(home, "verify", str(path), "--text", TIP, "--api", url, "--json")
    assert remote.returncode == 0, remote.stderr
    assert '"valid": true' in remote.stdout
    remote_bad = run(home, "verify", str(path), "--text", "not it", "--api", url)
    assert remote_bad.returncode == 1
    assert remote_bad.stdout.startswith("INVALID")
    unreachable = run(home, "submit", "--api", "http://127.0.0.1:9", "--text", TIP)
    assert unreachable.returncode == 2
    assert "cannot reach the service" in unreachable.stderr


def test_sigterm_stops_up_and_its_devchain(tmp_path: Path) -> None:
    # How a service manager stops it: the devchain must not outlive the command.
    home = tmp_path / "term-home"
    up = Proc(home, "up", "--api-port", "0")
    url = up.wait_for(r"API\s+(http://\S+)", timeout=120).group(1)
    rpc = up.wait_for(r"RPC URL\s+(http://\S+)").group(1)
    wait_healthy(url)
    up.proc.send_signal(signal.SIGTERM)
    assert up.proc.wait(timeout=60) == 0, up.output
    up.stop()
    assert "stopped the API" in up.output
    assert "stopping the devchain" in up.output
    with pytest.raises(httpx.HTTPError):
        httpx.post(rpc, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"}, timeout=5)


def test_up_runs_chain_and_api_together(tmp_path: Path) -> None:
    home = tmp_path / "up-home"
    up = Proc(home, "up", "--api-port", "0")
    try:
        url = up.wait_for(r"API\s+(http://\S+)", timeout=120).group(1)
        wait_healthy(url)
        path = tmp_path / "receipt.json"
        done = run(home, "submit", "--api", url, "--text", TIP, "--out", str(path))
        assert done.returncode == 0, done.stderr
        assert run(home, "verify", str(path), "--text", TIP).returncode == 0
        # the served URL is kept in the data directory: audit finds this service without --api
        assert (home / "served-url.txt").read_text().strip() == url
        audited = run(home, "audit", "--lang", "en")
        assert audited.returncode == 0, audited.stdout + audited.stderr
        assert "1 checkpoint(s) match the entries" in audited.stdout + audited.stderr
    finally:
        code = up.stop()
    assert code == 0, up.output
    assert "stopping the devchain" in up.output
    # the first run made the intake desk's member and said where its key file is
    assert "made the intake desk's member key" in up.output
    assert str(home / INTAKE_MEMBER_KEY) in up.output
    assert str(home / INTAKE_MEMBER_PASSPHRASE) in up.output
    assert f"status       {url}/status" in up.output  # every reporter page is listed
    assert "Submit a tip:  tipledger submit --api" in up.output
    assert not (home / "served-url.txt").exists()  # a stopped service is not pointed at


def _sealed(home: Path, document: bytes) -> DeviceTip:
    """A tip sealed as a device seals it, for the deployment of ``home``."""
    deployment = json.loads((home / "deployment.json").read_text())
    w3 = connect(deployment["rpc_url"])
    return sealing.seal(w3, deployment["address"], document)


def _tip_anchored(client: httpx.Client, home: Path, text: str, timeout: float = 60) -> None:
    accepted = sealing.post(client, _sealed(home, text.encode()))
    assert accepted.status_code == 202, accepted.text
    commitment = accepted.json()["commitment"]
    deadline = time.monotonic() + timeout
    while client.get(f"/v1/tips/{commitment}/receipt").status_code != 200:
        assert time.monotonic() < deadline, "the tip was never anchored"
        time.sleep(0.2)


def test_workers_share_one_sequencer_process_that_is_restarted(tmp_path: Path) -> None:
    home = tmp_path / "workers-home"
    home.mkdir()
    chain = start_devchain(home)
    serve = Proc(home, "serve", "--port", "0", "--workers", "2")
    try:
        url = serve.wait_for(r"API\s+(http://\S+)").group(1)
        sequencer = int(serve.wait_for(r"sequencer (\d+)").group(1))
        wait_healthy(url)
        with httpx.Client(base_url=url, timeout=30) as client:
            _tip_anchored(client, home, TIP + " (workers)")
            health = client.get("/healthz").json()
            assert health["sequencer"]["detail"] == "run by another process"
            assert health["sequencer"]["running"] is True
            assert health["sequencer"]["halted"] is False
            os.kill(sequencer, signal.SIGKILL)
            serve.wait_for(rf"the sequencer {sequencer} exited \(-9\), restarting")
            _tip_anchored(client, home, TIP + " (after the restart)", timeout=90)
    finally:
        code = serve.stop()
        stop(chain)
    assert code == 0, serve.output


def test_ctrl_c_stops_a_devchain_started_in_a_shells_background(tmp_path: Path) -> None:
    # `tipledger devchain &` in a script starts it with SIGINT ignored; a supervisor's SIGINT
    # must still stop it and its Anvil (it used to be ignored, and a kill left Anvil running).
    home = tmp_path / "bg-home"
    proc = start_devchain(home, ignore_sigint=True)
    try:
        rpc = json.loads((home / "deployment.json").read_text())["rpc_url"]
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
        with pytest.raises(httpx.HTTPError):
            httpx.post(rpc, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"}, timeout=5)
    finally:
        if proc.poll() is None:  # failed: SIGTERM first, so its Anvil does not outlive the test
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
