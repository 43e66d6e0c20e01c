"""Deploying TipLedger and remembering where it is (``<data dir>/deployment.json``)."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Self

from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from web3 import Web3

from ledger.chain.client import ErrorDecoder, chain_errors, send_transaction
from ledger.chain.contract import TipLedgerContract
from ledger.chain.evm import require_evm
from ledger.chain.reader import ChainReader
from ledger.chain.solc import load_artifact
from ledger.errors import DeploymentError

__all__ = ["Deployment", "deploy", "open_deployment"]

log = logging.getLogger("tipledger.chain")


@dataclass(frozen=True)
class Deployment:
    """Where a TipLedger lives. ``code_hash`` is keccak256 of its runtime code on chain;
    ``rpc_url`` optionally remembers the endpoint it was deployed through.
    ``deploy_block_hash`` tells this deployment from a redeploy at the same address with the
    same code on a reset chain (same key, same nonce); files written before it lack it."""

    chain_id: int
    address: ChecksumAddress
    deploy_block: int
    deploy_tx: str
    code_hash: str
    anchorer: ChecksumAddress
    deployed_at: int
    rpc_url: str | None = None
    deploy_block_hash: str | None = None

    def block_hash(self) -> bytes | None:
        """``deploy_block_hash`` as bytes (None if the file has none)."""
        return None if self.deploy_block_hash is None else bytes.fromhex(self.deploy_block_hash[2:])

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Self:
        try:
            raw: dict[str, Any] = json.loads(text)
            return cls(
                chain_id=int(raw["chain_id"]),
                address=Web3.to_checksum_address(raw["address"]),
                deploy_block=int(raw["deploy_block"]),
                deploy_tx=str(raw["deploy_tx"]),
                code_hash=str(raw["code_hash"]),
                anchorer=Web3.to_checksum_address(raw["anchorer"]),
                deployed_at=int(raw["deployed_at"]),
                rpc_url=str(raw["rpc_url"]) if raw.get("rpc_url") else None,
                deploy_block_hash=_block_hash_text(raw.get("deploy_block_hash")),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise DeploymentError(f"malformed deployment record: {exc}") from exc

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(self.to_json(), encoding="utf-8")
        tmp.replace(path)  # atomic: a crash never leaves half a deployment file

    @classmethod
    def load(cls, path: Path) -> Self:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError as exc:
            raise DeploymentError(
                f"no deployment file at {path}: deploy the contract first"
            ) from exc
        except OSError as exc:
            raise DeploymentError(f"cannot read deployment file {path}: {exc}") from exc
        return cls.from_json(text)


def deploy(
    w3: Web3,
    deployer: LocalAccount,
    *,
    anchorer: str,
    reviewers: Sequence[str] = (),
    custodians: Sequence[str] = (),
    max_merge_delay: int = 86_400,
    disclosure_threshold: int = 3,
    admin: str | None = None,
) -> Deployment:
    """Deploy TipLedger with its roles granted in the constructor (one transaction).

    ``admin`` (DEFAULT_ADMIN_ROLE) defaults to the deployer. A node without Shanghai is
    refused before anything is sent (UnsupportedNodeError); one without Cancun is warned about.
    """
    require_evm(w3)
    artifact = load_artifact()
    decoder = ErrorDecoder(artifact["abi"])
    factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    checksum = Web3.to_checksum_address
    with chain_errors("deploying TipLedger", decoder):
        data = factory.constructor(
            checksum(admin or deployer.address),
            checksum(anchorer),
            [checksum(a) for a in reviewers],
            [checksum(a) for a in custodians],
            max_merge_delay,
            disclosure_threshold,
        ).data_in_transaction
    receipt = send_transaction(
        w3, deployer, {"data": data}, what="deploying TipLedger", decoder=decoder
    )
    address = receipt["contractAddress"]
    if address is None:
        tx_hash = bytes(receipt["transactionHash"]).hex()
        raise DeploymentError(f"deploy transaction 0x{tx_hash} created no contract")
    contract = TipLedgerContract(w3, address, artifact["abi"])
    with chain_errors("reading the deploy block"):
        block = w3.eth.get_block(receipt["blockNumber"])
        chain_id = w3.eth.chain_id
    return Deployment(
        chain_id=chain_id,
        address=contract.address,
        deploy_block=int(receipt["blockNumber"]),
        deploy_tx="0x" + bytes(receipt["transactionHash"]).hex(),
        code_hash="0x" + contract.code_hash.hex(),
        anchorer=checksum(anchorer),
        deployed_at=int(block["timestamp"]),
        deploy_block_hash="0x" + bytes(block["hash"]).hex(),
    )


def open_deployment(w3: Web3, deployment: Deployment) -> TipLedgerContract:
    """The contract of a saved deployment, after checking it is on this chain, unchanged."""
    with chain_errors("checking the deployment"):
        chain_id = w3.eth.chain_id
    if chain_id != deployment.chain_id:
        raise DeploymentError(
            f"deployment is on chain {deployment.chain_id}, but the node is on chain {chain_id}"
        )
    contract = TipLedgerContract(w3, deployment.address)
    if "0x" + contract.code_hash.hex() != deployment.code_hash.lower():
        raise DeploymentError(
            f"code at {deployment.address} is not the deployed TipLedger (code hash differs); "
            "was the chain reset?"
        )
    _check_deploy_block(ChainReader(w3), deployment)
    return contract


def _check_deploy_block(reader: ChainReader, deployment: Deployment) -> None:
    """The deploy block is still the one the contract was deployed in: after a reset, the same
    key redeploys at the same address with the same code, but in another block."""
    number = deployment.deploy_block
    found = reader.block_hash(number, "checking the deployment's block")
    if found is None:
        head = reader.head_block("checking the deployment's block")
        raise DeploymentError(
            f"the chain does not contain block {number} (its head is {head}), where TipLedger "
            f"{deployment.address} was deployed: the chain was reset or lost history"
        )
    if deployment.deploy_block_hash is None:
        log.warning(
            "the deployment file records no deploy block hash: checked the chain id, the code "
            "hash and that block %d exists, but a redeploy at the same address on a reset chain "
            "cannot be told apart (deploy again to record it)",
            number,
        )
        return
    if "0x" + found.hex() != deployment.deploy_block_hash.lower():
        raise DeploymentError(
            f"block {number} on chain {deployment.chain_id} has hash 0x{found.hex()}, but "
            f"TipLedger {deployment.address} was deployed in block {number} with hash "
            f"{deployment.deploy_block_hash}: the chain was reset (or lost history) and the "
            "contract deployed again at the same address; this is not the deployment in the "
            "deployment file"
        )


def _block_hash_text(value: object) -> str | None:
    """A recorded block hash as 0x-prefixed lowercase hex (None if absent)."""
    if value is None or value == "":
        return None
    text = str(value).lower()
    if not text.startswith("0x") or len(text) != 66:
        raise ValueError(f"deploy_block_hash must be 32 bytes of 0x-hex, got {value!r}")
    bytes.fromhex(text[2:])
    return text
