"""TipLedger's error hierarchy, core and edges together.

Import errors from here. The core's protocol errors are re-exported; the edges add theirs. The
API maps these to HTTP statuses and the CLI to one line and an exit code; nothing else does.
"""

from __future__ import annotations

from ledger.core.errors import (
    AgencyError,
    ConfigError,
    EnvelopeError,
    LedgerError,
    ProofError,
    ProtocolError,
    ReceiptError,
    SignatureError,
    UnusableKeyError,
)

__all__ = [
    "AgencyError",
    "AgencyRefusedError",
    "AuthenticationError",
    "ChainError",
    "ChainMismatchError",
    "ChainUnavailableError",
    "CompileError",
    "ConfigError",
    "ConflictError",
    "ContractRevertedError",
    "DeploymentError",
    "EnvelopeError",
    "LeaseLostError",
    "LedgerError",
    "LogStateError",
    "MissingBlockError",
    "NoTileSourceError",
    "NotAnchoredError",
    "NotFoundError",
    "PermissionDeniedError",
    "ProofError",
    "ProtocolError",
    "RateLimitedError",
    "ReceiptError",
    "SignatureError",
    "StoreError",
    "TilesUnavailableError",
    "UnsupportedNodeError",
    "UnusableKeyError",
]


class CompileError(LedgerError):
    """The Solidity compiler is missing or reported errors."""


class ChainError(LedgerError):
    """Anything that went wrong talking to the chain."""


class ChainUnavailableError(ChainError):
    """The JSON-RPC endpoint cannot be reached or does not answer."""


class ContractRevertedError(ChainError):
    """A call or transaction reverted; ``error_name`` is the contract's custom error, if known."""

    def __init__(self, message: str, error_name: str | None = None, args: tuple[object, ...] = ()):
        super().__init__(message)
        self.error_name = error_name
        self.error_args = args


class DeploymentError(ChainError):
    """No usable deployment: missing file, no code at the address, wrong chain."""


class ChainMismatchError(ChainError):
    """The chain's anchored history does not match the local log: refusing to anchor."""


class MissingBlockError(ChainError):
    """A block asked for is beyond the chain's head (a reset chain, or a chain that lost
    history)."""


class UnsupportedNodeError(ChainError):
    """The node's EVM lacks what the contract needs (e.g. PUSH0 on a pre-Shanghai node)."""


class NotAnchoredError(ProofError):
    """Asked for a tree size or entries beyond the latest checkpoint anchored on chain."""


class AgencyRefusedError(ProtocolError):
    """A tip or referral for an agency that is unknown, inactive or has no members (422)."""


class StoreError(LedgerError):
    """The local store failed or holds inconsistent data."""


class LogStateError(StoreError):
    """The stored log's subtree hashes do not agree with its entries."""


class LeaseLostError(StoreError):
    """This instance no longer holds the sequencer lease: another instance may be active."""


class AuthenticationError(LedgerError):
    """No session, or one that is unknown or expired: the caller must sign in (401)."""


class PermissionDeniedError(LedgerError):
    """The signed-in address does not hold the role this needs on chain (403)."""


class ConflictError(LedgerError):
    """What was sent takes something another tip already holds (409): a code's locator. Nothing
    of it was stored; the sender makes a new one and sends again."""


class TilesUnavailableError(LedgerError):
    """The log's tiles could not be fetched (unreachable, refused, or the wrong shape)."""


class NoTileSourceError(ConfigError):
    """No log to read tiles from is known: a receipt then verifies from the chain alone."""


class NotFoundError(LedgerError):
    """What was asked for does not exist here (404): a tip without a follow-up, a message."""


class RateLimitedError(LedgerError):
    """Too many attempts in a short time; try again in ``retry_after`` seconds (429)."""

    def __init__(self, message: str, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = max(1, int(retry_after))
