"""A local Anvil devchain, started by the project itself on a free loopback port.

The binary comes from the pinned npm package ``@foundry-rs/anvil``. Accounts are Anvil's defaults,
derived from the well-known test mnemonic, so dev keys are the same on every machine (and worth
nothing anywhere else).
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import weakref
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

from eth_account import Account
from eth_account.signers.local import LocalAccount

from ledger.errors import ChainUnavailableError, ConfigError

__all__ = ["DEFAULT_CHAIN_ID", "DEFAULT_MNEMONIC", "Devchain", "dev_accounts", "find_anvil"]

PROJECT_ROOT = Path(__file__).resolve().parents[2]
NODE_MODULES = PROJECT_ROOT / "node_modules"

DEFAULT_MNEMONIC = "test test test test test test test test test test test junk"
DEFAULT_CHAIN_ID = 31337
HOST = "127.0.0.1"

_OS = {"linux": "linux", "darwin": "darwin", "win32": "win32"}
_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


def find_anvil(node_modules: Path = NODE_MODULES) -> Path:
    """The Anvil binary of the pinned npm package (the platform package, else the JS shim)."""
    exe = "anvil.exe" if sys.platform == "win32" else "anvil"
    candidates = []
    os_name, arch = _OS.get(sys.platform), _ARCH.get(platform.machine().lower())
    if os_name and arch:
        candidates.append(node_modules / "@foundry-rs" / f"anvil-{os_name}-{arch}" / "bin" / exe)
    # The shim starts the same binary through node; slower, but works on any platform npm knows.
    candidates.append(node_modules / ".bin" / "anvil")
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return path
    raise ConfigError(
        f"Anvil not found under {node_modules} (looked for {', '.join(map(str, candidates))}); "
        "run `npm ci` in the project root"
    )


@cache
def dev_accounts(count: int = 10, mnemonic: str = DEFAULT_MNEMONIC) -> tuple[LocalAccount, ...]:
    """Anvil's default accounts: BIP-44 ``m/44'/60'/0'/0/i`` of the mnemonic."""
    Account.enable_unaudited_hdwallet_features()
    return tuple(
        Account.from_mnemonic(mnemonic, account_path=f"m/44'/60'/0'/0/{i}") for i in range(count)
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _port_in_use(port: int) -> bool:
    """Is something listening on ``port``? (SO_REUSEADDR, as servers bind, so TIME_WAIT leftovers
    of closed connections do not count.)"""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((HOST, port))
        except OSError:
            return True
        return False


def rpc_request(
    url: str, method: str, params: list[Any] | None = None, timeout: float = 2.0
) -> Any:
    """One bare JSON-RPC call (no web3): used to probe readiness and for dev-only methods."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []})
    req = urllib.request.Request(  # noqa: S310 - the URL is our own loopback http endpoint
        url, data=body.encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310
        reply = json.loads(resp.read())
    if "error" in reply:
        raise ChainUnavailableError(f"{method} failed: {reply['error']}")
    return reply["result"]


def _terminate(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()


class Devchain:
    """An Anvil process. Use as a context manager, or ``start()`` then ``wait()``/``stop()``.

    ``port=None`` picks a free port (and retries on the rare race with another process).
    ``block_time=None`` mines a block per transaction; a number mines on that interval.
    ``state`` is a file Anvil loads at start (if it exists) and dumps to on exit.
    Output goes to ``log_file`` (a temp file by default), or to our stdout with ``echo=True``.
    ``extra_args`` are passed to Anvil as they are (e.g. ``["--steps-tracing"]``).
    """

    def __init__(
        self,
        *,
        port: int | None = None,
        block_time: float | None = None,
        state: Path | None = None,
        chain_id: int = DEFAULT_CHAIN_ID,
        accounts: int = 10,
        mnemonic: str = DEFAULT_MNEMONIC,
        log_file: Path | None = None,
        echo: bool = False,
        startup_timeout: float = 20.0,
        anvil: Path | None = None,
        extra_args: Sequence[str] = (),
    ) -> None:
        self._requested_port = port
        self.port: int = port or 0
        self.block_time = block_time
        self.state = state
        self.chain_id = chain_id
        self.account_count = accounts
        self.mnemonic = mnemonic
        self.log_file = log_file
        self.echo = echo
        self.startup_timeout = startup_timeout
        self._anvil = anvil
        self.extra_args = tuple(extra_args)
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._own_log = False
        self._finalizer: weakref.finalize[[subprocess.Popen[bytes]], Devchain] | None = None

    # ------------------------------------------------------------------ properties

    @property
    def rpc_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def accounts(self) -> tuple[LocalAccount, ...]:
        return dev_accounts(self.account_count, self.mnemonic)

    @property
    def private_keys(self) -> list[str]:
        return ["0x" + bytes(acct.key).hex() for acct in self.accounts]

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    # ------------------------------------------------------------------ lifecycle

    def _command(self, anvil: Path) -> list[str]:
        cmd = [
            str(anvil),
            "--host", HOST,
            "--port", str(self.port),
            "--chain-id", str(self.chain_id),
            "--accounts", str(self.account_count),
            "--mnemonic", self.mnemonic,
        ]  # fmt: skip
        if self.block_time is not None:
            cmd += ["--block-time", str(self.block_time)]
        if self.state is not None:
            cmd += ["--state", str(self.state)]
        return cmd + list(self.extra_args)

    def start(self) -> Self:
        """Start Anvil and wait until it answers ``eth_chainId``."""
        if self.is_running():
            return self
        anvil = self._anvil or find_anvil()
        attempts = 1 if self._requested_port else 3
        for attempt in range(attempts):
            if not self._requested_port:
                self.port = _free_port()
            elif _port_in_use(self.port):
                # Else the readiness probe would be answered by whoever holds the port.
                raise ChainUnavailableError(f"cannot start anvil: port {self.port} is in use")
            self._spawn(anvil)
            try:
                self._wait_ready()
                return self
            except ChainUnavailableError:
                in_use = "in use" in self.log_tail().lower()
                self.stop()
                if not (in_use and attempt + 1 < attempts):
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _spawn(self, anvil: Path) -> None:
        if self.echo:
            out: IO[bytes] | None = None
        else:
            if self.log_file is None:
                fd, name = tempfile.mkstemp(prefix="tipledger-anvil-", suffix=".log")
                os.close(fd)
                self.log_file, self._own_log = Path(name), True
            self._log = open(self.log_file, "ab")  # noqa: SIM115 - lives as long as the process
            out = self._log
        # A session of its own: Ctrl-C in a foreground CLI reaches us, and we stop Anvil cleanly
        # (so --state gets dumped) instead of both getting the signal at once.
        self._proc = subprocess.Popen(
            self._command(anvil),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        # In its own session Anvil would outlive a crashed or careless caller: end it at the
        # latest when this object is collected or the interpreter exits.
        self._finalizer = weakref.finalize(self, _terminate, self._proc)

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while True:
            assert self._proc is not None
            if self._proc.poll() is not None:
                raise ChainUnavailableError(
                    f"anvil exited with code {self._proc.returncode} at startup: {self.log_tail()}"
                )
            try:
                chain_id = int(rpc_request(self.rpc_url, "eth_chainId", timeout=1.0), 16)
            except (OSError, ValueError):
                chain_id = None
            if chain_id is not None:
                if chain_id != self.chain_id:
                    raise ChainUnavailableError(
                        f"{self.rpc_url} answered chain id {chain_id}, expected {self.chain_id}"
                    )
                return
            if time.monotonic() > deadline:
                raise ChainUnavailableError(
                    f"anvil did not answer on {self.rpc_url} within {self.startup_timeout:g} s: "
                    f"{self.log_tail()}"
                )
            time.sleep(0.05)

    def log_tail(self, limit: int = 2000) -> str:
        if self.log_file is None or not self.log_file.exists():
            return ""
        return self.log_file.read_bytes()[-limit:].decode(errors="replace").strip()

    def wait(self) -> int:
        """Block until Anvil exits (foreground use); stops it if we are interrupted."""
        if self._proc is None:
            raise ChainUnavailableError("devchain was not started")
        try:
            return self._proc.wait()
        finally:
            self.stop()

    def stop(self, timeout: float = 10.0) -> None:
        """Terminate Anvil (it dumps ``state`` on SIGTERM), killing it if it does not exit."""
        proc, self._proc = self._proc, None
        if self._finalizer is not None:
            self._finalizer.detach()
            self._finalizer = None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._log is not None:
            with contextlib.suppress(OSError):
                self._log.close()
            self._log = None
        if self._own_log and self.log_file is not None:
            # Our temp log goes with the process; a caller's log file is theirs to keep.
            self.log_file.unlink(missing_ok=True)
            self.log_file, self._own_log = None, False

    # ------------------------------------------------------------------ dev-only RPC

    def snapshot(self) -> str:
        """``evm_snapshot``: an id to ``revert`` to."""
        return str(rpc_request(self.rpc_url, "evm_snapshot"))

    def revert(self, snapshot_id: str) -> bool:
        return bool(rpc_request(self.rpc_url, "evm_revert", [snapshot_id]))

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.is_running() else "stopped"
        return f"Devchain({self.rpc_url}, chain_id={self.chain_id}, {state})"
