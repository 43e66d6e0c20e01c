"""Connecting to a node, sending signed transactions, and turning failures into LedgerErrors.

Every web3 and transport exception is caught here, at the boundary, and re-raised as a
``ChainError`` subclass with ``raise ... from``: callers handle one family. Reverts are decoded
against the contract ABI, so a refusal surfaces as its custom error's name and arguments.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from eth_abi.abi import decode as abi_decode
from eth_abi.exceptions import DecodingError
from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from eth_utils.crypto import keccak
from hexbytes import HexBytes
from web3 import HTTPProvider, Web3
from web3.exceptions import (
    ContractLogicError,
    ContractPanicError,
    TimeExhausted,
    Web3Exception,
)
from web3.middleware import ExtraDataToPOAMiddleware
from web3.providers.rpc.utils import ExceptionRetryConfiguration
from web3.types import TxParams, TxReceipt

from ledger.errors import ChainError, ChainUnavailableError, ConfigError, ContractRevertedError

__all__ = [
    "ErrorDecoder",
    "TxResult",
    "chain_errors",
    "connect",
    "send_transaction",
]

# Headroom over eth_estimateGas: state can move between estimate and inclusion.
GAS_MARGIN = 1.2
RECEIPT_TIMEOUT = 120.0

_ERROR_SELECTOR = bytes.fromhex("08c379a0")  # Error(string)
_PANIC_SELECTOR = bytes.fromhex("4e487b71")  # Panic(uint256)


def connect(rpc_url: str, timeout: float = 10.0, retries: int = 3) -> Web3:
    """A Web3 for an HTTP(S) JSON-RPC endpoint, checked by asking its chain id.

    Read-only requests are retried ``retries`` times on connection errors, with backoff.

    Raises ChainUnavailableError if the endpoint does not answer, ConfigError for a bad URL.
    """
    if urlparse(rpc_url).scheme not in ("http", "https"):
        raise ConfigError(f"RPC URL must be http(s)://…, got {rpc_url!r}")
    provider = HTTPProvider(
        rpc_url,
        request_kwargs={"timeout": timeout},
        # web3 counts attempts, not retries (and returns None after zero attempts).
        exception_retry_configuration=ExceptionRetryConfiguration(
            errors=(OSError,), retries=max(0, retries) + 1, backoff_factor=0.1
        ),
    )
    w3 = Web3(provider)
    # PoA chains (e.g. Besu QBFT) put more than 32 bytes in extraData; harmless elsewhere.
    w3.middleware_onion.inject(ExtraDataToPOAMiddleware, layer=0)
    with chain_errors(f"connecting to {rpc_url}"):
        w3.eth.chain_id  # noqa: B018 - the probe itself
    return w3


@dataclass(frozen=True)
class TxResult:
    tx_hash: bytes
    block_number: int
    gas_used: int


class ErrorDecoder:
    """Maps revert data to (error name, args) using the custom errors in a contract ABI."""

    def __init__(self, abi: Sequence[Mapping[str, Any]]) -> None:
        self._errors: dict[bytes, tuple[str, list[str]]] = {}
        for item in abi:
            if item.get("type") == "error":
                types = [_abi_type(i) for i in item.get("inputs", [])]
                selector = keccak(text=f"{item['name']}({','.join(types)})")[:4]
                self._errors[selector] = (item["name"], types)

    def decode(self, data: bytes) -> tuple[str | None, tuple[Any, ...]]:
        selector, payload = bytes(data[:4]), bytes(data[4:])
        if selector == _ERROR_SELECTOR:
            return "Error", tuple(_try_decode(["string"], payload))
        if selector == _PANIC_SELECTOR:
            return "Panic", tuple(_try_decode(["uint256"], payload))
        if selector in self._errors:
            name, types = self._errors[selector]
            values = _try_decode(types, payload)
            return name, tuple(
                Web3.to_checksum_address(v) if t == "address" else v
                for t, v in zip(types, values, strict=False)
            )
        return None, ()

    def to_error(self, exc: ContractLogicError, what: str) -> ContractRevertedError:
        data = _revert_data(exc)
        name, args = self.decode(data) if data else (None, ())
        if name is None and isinstance(exc, ContractPanicError):
            name = "Panic"
        shown = f"{name}({', '.join(map(_show, args))})" if name else (exc.message or "reverted")
        return ContractRevertedError(f"{what} reverted: {shown}", name, args)


def _abi_type(param: Mapping[str, Any]) -> str:
    kind = str(param["type"])
    if kind.startswith("tuple"):
        inner = ",".join(_abi_type(c) for c in param["components"])
        return f"({inner}){kind[5:]}"
    return kind


def _try_decode(types: list[str], payload: bytes) -> Sequence[Any]:
    try:
        return abi_decode(types, payload)
    except (DecodingError, ValueError, TypeError):
        return ()


def _revert_data(exc: ContractLogicError) -> bytes:
    data = exc.data
    if isinstance(data, Mapping):  # some nodes nest it: {"data": "0x…"}
        data = data.get("data")
    if isinstance(data, str) and data.startswith("0x"):
        try:
            return bytes.fromhex(data[2:])
        except ValueError:
            return b""
    return b""


def _show(value: Any) -> str:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return str(value)


@contextmanager
def chain_errors(what: str, decoder: ErrorDecoder | None = None) -> Iterator[None]:
    """Wrap web3/transport exceptions raised inside into ChainError subclasses."""
    try:
        yield
    except ContractLogicError as exc:
        if decoder is None:
            raise ContractRevertedError(f"{what} reverted: {exc.message}") from exc
        raise decoder.to_error(exc, what) from exc
    except TimeExhausted as exc:
        raise ChainError(f"{what}: transaction not mined in time ({exc})") from exc
    except (OSError, TimeoutError) as exc:  # requests' exceptions are OSErrors
        raise ChainUnavailableError(f"{what}: chain unavailable ({exc})") from exc
    except Web3Exception as exc:
        raise ChainError(f"{what}: {exc}") from exc


def send_transaction(
    w3: Web3,
    account: LocalAccount,
    tx: TxParams,
    *,
    what: str,
    decoder: ErrorDecoder | None = None,
    receipt_timeout: float = RECEIPT_TIMEOUT,
) -> TxReceipt:
    """Fill, estimate, sign locally, send raw and wait for the receipt.

    A revert at estimation or in the mined transaction raises ContractRevertedError with the
    decoded custom error. ``tx`` holds at least ``to``/``data`` (or ``data`` alone to deploy).
    """
    with chain_errors(what, decoder):
        params: dict[str, Any] = dict(tx)
        params["from"] = account.address
        params.setdefault("value", 0)
        if "chainId" not in params:
            params["chainId"] = w3.eth.chain_id
        key = _sender_key(w3, int(params["chainId"]), account.address)
        with _sender_lock(key):  # from choosing the nonce until the node has the transaction
            if "nonce" not in params:
                params["nonce"] = _next_nonce(w3, account.address, key)
            if "gasPrice" not in params and "maxFeePerGas" not in params:
                _set_fees(w3, params)
            if "gas" not in params:
                # Estimation runs the call first, so a refusal is reported before anything is
                # sent.
                params["gas"] = int(w3.eth.estimate_gas(params) * GAS_MARGIN)  # type: ignore[arg-type]
            signed = account.sign_transaction(params)
            tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
            _IN_FLIGHT.setdefault(key, set()).add(int(params["nonce"]))
        try:
            receipt = w3.eth.wait_for_transaction_receipt(
                tx_hash, timeout=receipt_timeout, poll_latency=0.05
            )
        finally:
            with _sender_lock(key):
                awaited = _IN_FLIGHT[key]
                awaited.discard(int(params["nonce"]))
                if not awaited:
                    del _IN_FLIGHT[key]
    if receipt["status"] != 1:
        raise _replay_failure(w3, params, receipt, what, decoder)
    return receipt


# Nonces this process has sent and not yet seen mined, per (endpoint, chain, sender): some nodes
# (Ganache with a block time) leave their pool out of the "pending" count, so back-to-back or
# concurrent sends by one key would otherwise reuse a nonce. Only transactions still awaited
# count, so nothing stale survives a chain reset.
_SenderKey = tuple[str, int, str]
_IN_FLIGHT: dict[_SenderKey, set[int]] = {}
_LOCKS: dict[_SenderKey, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


def _sender_key(w3: Web3, chain_id: int, address: str) -> _SenderKey:
    endpoint = str(getattr(w3.provider, "endpoint_uri", None) or id(w3.provider))
    return (endpoint, chain_id, address.lower())


def _sender_lock(key: _SenderKey) -> threading.Lock:
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(key, threading.Lock())


def _next_nonce(w3: Web3, address: ChecksumAddress, key: _SenderKey) -> int:
    """max(the node's pending count, its mined count, one past our nonces still in flight)."""
    pending = int(w3.eth.get_transaction_count(address, "pending"))
    latest = int(w3.eth.get_transaction_count(address, "latest"))
    in_flight = _IN_FLIGHT.get(key)
    return max(pending, latest, max(in_flight) + 1 if in_flight else 0)


def _set_fees(w3: Web3, params: dict[str, Any]) -> None:
    """EIP-1559 fees where the chain has a base fee, else a legacy gas price (e.g. free-gas
    consortium chains)."""
    base_fee = w3.eth.get_block("latest").get("baseFeePerGas")
    if base_fee is None:
        params["gasPrice"] = int(w3.eth.gas_price)
        return
    tip = int(w3.eth.max_priority_fee)
    params["maxPriorityFeePerGas"] = tip
    params["maxFeePerGas"] = 2 * int(base_fee) + tip


def _replay_failure(
    w3: Web3,
    params: Mapping[str, Any],
    receipt: TxReceipt,
    what: str,
    decoder: ErrorDecoder | None,
) -> ChainError:
    """A mined transaction failed: replay it as a call on its parent block to learn why."""
    call = {k: params[k] for k in ("from", "to", "data", "value", "gas") if k in params}
    try:
        with chain_errors(what, decoder):
            w3.eth.call(call, block_identifier=receipt["blockNumber"] - 1)  # type: ignore[arg-type]
    except ContractRevertedError as exc:
        return exc
    except ChainError:
        pass
    tx_hash = HexBytes(receipt["transactionHash"]).to_0x_hex()
    return ContractRevertedError(f"{what} reverted in transaction {tx_hash}")


def tx_result(receipt: TxReceipt) -> TxResult:
    return TxResult(
        tx_hash=bytes(receipt["transactionHash"]),
        block_number=int(receipt["blockNumber"]),
        gas_used=int(receipt["gasUsed"]),
    )
