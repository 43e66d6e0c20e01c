"""The Anvil devchain: start, stop, ports, accounts, and an unreachable endpoint."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from ledger.chain.anvil import DEFAULT_CHAIN_ID, Devchain, dev_accounts, find_anvil, rpc_request
from ledger.chain.client import connect
from ledger.errors import ChainUnavailableError, ConfigError

pytestmark = pytest.mark.chain

# Anvil's first default account, as every Foundry user knows it.
ANVIL_ACCOUNT_0 = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"


def port_is_free(port: int) -> bool:
    """Can a server listen here? SO_REUSEADDR as servers (Anvil included) set it, so closed
    client connections lingering in TIME_WAIT do not count as busy."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def unused_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_start_answer_stop_frees_port() -> None:
    chain = Devchain(block_time=None)
    with chain:
        assert chain.is_running()
        assert not port_is_free(chain.port)
        w3 = connect(chain.rpc_url)
        assert w3.eth.chain_id == DEFAULT_CHAIN_ID
        assert w3.eth.get_balance(chain.accounts[0].address) > 0
        log_file = chain.log_file
        assert log_file is not None
        assert log_file.exists()
    assert not chain.is_running()
    assert chain.pid is None
    assert not log_file.exists()  # our own temp log goes with the process
    deadline = time.monotonic() + 5
    while not port_is_free(chain.port) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert port_is_free(chain.port)
    with pytest.raises(ChainUnavailableError):
        connect(chain.rpc_url, timeout=1.0, retries=0)
    chain.stop()  # stopping twice is harmless
    with Devchain(port=chain.port) as again:  # and the port can be listened on again
        assert connect(again.rpc_url).eth.chain_id == DEFAULT_CHAIN_ID


def test_dev_accounts_are_anvils() -> None:
    accounts = dev_accounts()
    assert accounts[0].address == ANVIL_ACCOUNT_0
    assert len({a.address for a in accounts}) == 10


def test_two_devchains_side_by_side(tmp_path) -> None:  # type: ignore[no-untyped-def]
    log = tmp_path / "anvil.log"
    with Devchain(log_file=log) as a, Devchain(chain_id=4242) as b:
        assert a.port != b.port
        assert connect(b.rpc_url).eth.chain_id == 4242
        assert rpc_request(a.rpc_url, "eth_blockNumber") == "0x0"
    assert log.exists()  # a caller's log file is kept


def test_busy_port_fails_clearly() -> None:
    with Devchain() as first:
        clash = Devchain(port=first.port, startup_timeout=5)
        with pytest.raises(ChainUnavailableError):
            clash.start()
        assert not clash.is_running()


def test_state_file_survives_restart(tmp_path) -> None:  # type: ignore[no-untyped-def]
    state = tmp_path / "state.json"
    with Devchain(state=state) as chain:
        w3 = connect(chain.rpc_url)
        sender, receiver = chain.accounts[0], chain.accounts[1]
        tx = sender.sign_transaction(
            {
                "to": receiver.address,
                "value": 12345,
                "gas": 21000,
                "maxFeePerGas": 10**10,
                "maxPriorityFeePerGas": 1,
                "nonce": 0,
                "chainId": chain.chain_id,
            }
        )
        w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(tx.raw_transaction))
        balance = w3.eth.get_balance(receiver.address)
    assert state.exists()
    with Devchain(state=state) as again:
        assert connect(again.rpc_url).eth.get_balance(receiver.address) == balance


def test_block_time_mines_on_interval() -> None:
    with Devchain(block_time=0.5) as chain:
        w3 = connect(chain.rpc_url)
        start = w3.eth.block_number
        time.sleep(1.6)
        assert w3.eth.block_number >= start + 2


def test_snapshot_and_revert(devchain: Devchain) -> None:
    w3 = connect(devchain.rpc_url)
    snap = devchain.snapshot()
    before = w3.eth.block_number
    rpc_request(devchain.rpc_url, "evm_mine")
    assert w3.eth.block_number == before + 1
    assert devchain.revert(snap)
    assert w3.eth.block_number == before


def test_unreachable_rpc_raises_chain_unavailable() -> None:
    with pytest.raises(ChainUnavailableError):
        connect(f"http://127.0.0.1:{unused_port()}", timeout=1.0, retries=0)
    with pytest.raises(ConfigError):
        connect("ftp://example.invalid")


def test_find_anvil_missing_gives_npm_advice(tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert find_anvil().is_file()
    with pytest.raises(ConfigError, match="npm ci"):
        find_anvil(tmp_path)
    with pytest.raises(ConfigError, match="npm ci"):
        Devchain(anvil=find_anvil(tmp_path))


def test_foreground_wait_returns_when_anvil_exits() -> None:
    chain = Devchain().start()
    pid = chain.pid
    assert pid is not None
    stopper = threading.Timer(0.3, chain.stop)
    stopper.start()
    code = chain.wait()  # blocks like `tipledger devchain` does, until Anvil ends
    stopper.join()
    assert code != 0 or not chain.is_running()
    assert not chain.is_running()
