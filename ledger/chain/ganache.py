"""A local Ganache devchain: the same interface as the Anvil ``Devchain``, on another node.

The node comes from the pinned npm package ``ganache`` (7.9.x, which supports hardforks up to
"shanghai": no Cancun, so ``eip712Domain()`` of the Cancun-compiled contract fails there; see
``ledger.chain.deploy.probe_evm``). It is used by the test suite to run the whole flow on a
second node implementation. Accounts are derived from the same test mnemonic as Anvil's.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ledger.chain.anvil import HOST, NODE_MODULES, Devchain
from ledger.errors import ConfigError

__all__ = ["GANACHE_HARDFORKS", "GanacheDevchain", "find_ganache"]

# What ganache 7.9 accepts for --chain.hardfork, oldest first (its default is the last).
GANACHE_HARDFORKS = (
    "constantinople",
    "byzantium",
    "petersburg",
    "istanbul",
    "muirGlacier",
    "berlin",
    "london",
    "arrowGlacier",
    "grayGlacier",
    "merge",
    "shanghai",
)


def find_ganache(node_modules: Path = NODE_MODULES) -> Path:
    """The ``ganache`` launcher of the pinned npm package (a node script)."""
    path = node_modules / ".bin" / "ganache"
    if path.is_file() and os.access(path, os.X_OK):
        return path
    raise ConfigError(f"Ganache not found at {path}; run `npm ci` in the project root")


class GanacheDevchain(Devchain):
    """A Ganache process on a free loopback port (see ``Devchain`` for the lifecycle).

    ``hardfork`` is Ganache's EVM rule set (one of ``GANACHE_HARDFORKS``); ``block_time=None``
    mines each transaction at once, a number (whole seconds) mines on that interval.
    """

    def __init__(self, *, hardfork: str = "shanghai", **kwargs: Any) -> None:
        if hardfork not in GANACHE_HARDFORKS:
            raise ConfigError(
                f"ganache hardfork must be one of {', '.join(GANACHE_HARDFORKS)}, got {hardfork!r}"
            )
        kwargs.setdefault("startup_timeout", 60.0)  # node starts slower than Anvil
        if kwargs.get("state") is not None:
            raise ConfigError("GanacheDevchain does not support a state file")
        super().__init__(anvil=kwargs.pop("ganache", None) or find_ganache(), **kwargs)
        self.hardfork = hardfork

    def _command(self, anvil: Path) -> list[str]:
        cmd = [
            str(anvil),
            "--server.host", HOST,
            "--server.port", str(self.port),
            "--chain.chainId", str(self.chain_id),
            "--chain.hardfork", self.hardfork,
            "--wallet.totalAccounts", str(self.account_count),
            "--wallet.mnemonic", self.mnemonic,
            "--logging.quiet",
        ]  # fmt: skip
        if self.block_time is not None:
            cmd += ["--miner.blockTime", f"{self.block_time:g}"]
        return cmd + list(self.extra_args)

    def __repr__(self) -> str:
        state = "running" if self.is_running() else "stopped"
        return f"GanacheDevchain({self.rpc_url}, {self.hardfork}, {state})"
