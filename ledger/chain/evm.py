"""What the node's EVM can run: probed before deploying, so an old node is refused in one line.

The contract artifact targets Cancun (see ledger/chain/solc.py). Its code uses PUSH0 (Shanghai)
throughout, so a pre-Shanghai node cannot run it at all (deploying fails with a bare "invalid
opcode"); MCOPY (Cancun) appears only in ``eip712Domain()``, so a Shanghai node runs everything
else. Each probe is an ``eth_call`` without ``to``: the node runs the bytes as init code, which
succeeds iff it knows the opcode.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from eth_typing import HexStr
from web3 import Web3
from web3.exceptions import ContractLogicError, Web3RPCError

from ledger.chain.client import chain_errors
from ledger.errors import UnsupportedNodeError

__all__ = ["EvmSupport", "probe_evm", "require_evm"]

log = logging.getLogger("tipledger.chain")

PUSH0_PROBE = bytes.fromhex("5f5ff3")  # PUSH0 PUSH0 RETURN
MCOPY_PROBE = bytes.fromhex("6001600060005e00")  # PUSH1 1 PUSH1 0 PUSH1 0 MCOPY STOP


@dataclass(frozen=True)
class EvmSupport:
    """The node's answers: ``*_error`` is its message when the probe failed, else None."""

    push0_error: str | None
    mcopy_error: str | None

    @property
    def shanghai(self) -> bool:
        return self.push0_error is None

    @property
    def cancun(self) -> bool:
        return self.mcopy_error is None


def _runs(w3: Web3, code: bytes, what: str) -> str | None:
    """None if the node runs ``code`` as init code, else the node's reason."""
    with chain_errors(what):
        try:
            w3.eth.call({"data": HexStr("0x" + code.hex())})
        except (ContractLogicError, Web3RPCError) as exc:  # an execution error: opcode unknown
            return _reason(exc)
    return None


def _reason(exc: ContractLogicError | Web3RPCError) -> str:
    """The node's own message (not web3's repr of the whole error object, stack and all)."""
    response = getattr(exc, "rpc_response", None) or {}
    error = response.get("error") if isinstance(response, dict) else None
    if isinstance(error, dict) and error.get("message"):
        return str(error["message"])
    return str(exc.message or exc)


def probe_evm(w3: Web3) -> EvmSupport:
    """Ask the node whether it runs PUSH0 (Shanghai) and MCOPY (Cancun)."""
    return EvmSupport(
        push0_error=_runs(w3, PUSH0_PROBE, "probing the node for PUSH0"),
        mcopy_error=_runs(w3, MCOPY_PROBE, "probing the node for MCOPY"),
    )


def require_evm(w3: Web3) -> EvmSupport:
    """Refuse a node without Shanghai (UnsupportedNodeError); warn on one without Cancun."""
    support = probe_evm(w3)
    if not support.shanghai:
        raise UnsupportedNodeError(
            "the node's EVM predates Shanghai (it cannot run PUSH0: "
            f"{support.push0_error}); TipLedger needs the Shanghai upgrade at least, Cancun "
            "for everything: upgrade the node or set its hardfork to shanghai or later"
        )
    if not support.cancun:
        log.warning(
            "the node's EVM has Shanghai but not Cancun (no MCOPY): everything works except the "
            "contract's eip712Domain(), which will revert"
        )
    return support
