"""The contract's role names and the review statuses, one spelling each (PROTOCOL.md section 4).

Frozen: role ids are the contract's (``keccak256(name)``, the admin's all zero), and status
numbers are what ``recordReview`` stores on chain and what the API and the audit answer with.
Changing one misreads every review already recorded, so it is a new contract, never an edit.

A status has one name, ``under_review``, ``substantiated``, ...; reports for people show the
label derived from it (``under review``), never a second spelling.
"""

from __future__ import annotations

from ledger.core.errors import ProtocolError
from ledger.core.keccak import keccak

__all__ = [
    "ANCHORER_ROLE",
    "CLOSED",
    "CUSTODIAN_ROLE",
    "DEFAULT_ADMIN_ROLE",
    "NOT_REVIEWED",
    "OUTCOME_STATUSES",
    "REFERRED",
    "REVIEWER_ROLE",
    "ROLES",
    "ROLE_NAMES",
    "STATUS_IDS",
    "STATUS_LABELS",
    "STATUS_NAMES",
    "SUBSTANTIATED",
    "UNDER_REVIEW",
    "UNSUBSTANTIATED",
    "role_id",
    "status_id",
    "status_label",
]

# --- roles ------------------------------------------------------------------------------------

DEFAULT_ADMIN_ROLE = "DEFAULT_ADMIN_ROLE"
ANCHORER_ROLE = "ANCHORER_ROLE"
REVIEWER_ROLE = "REVIEWER_ROLE"
CUSTODIAN_ROLE = "CUSTODIAN_ROLE"
ROLE_NAMES = (DEFAULT_ADMIN_ROLE, ANCHORER_ROLE, REVIEWER_ROLE, CUSTODIAN_ROLE)

# Name -> bytes32 id, as OpenZeppelin AccessControl and the contract define them.
ROLES: dict[str, bytes] = {
    DEFAULT_ADMIN_ROLE: bytes(32),
    **{
        name: keccak(name.encode("ascii"))
        for name in (ANCHORER_ROLE, REVIEWER_ROLE, CUSTODIAN_ROLE)
    },
}


def role_id(role: str | bytes) -> bytes:
    """A role's bytes32 id from its name (``"ANCHORER_ROLE"``) or the id itself."""
    if isinstance(role, bytes):
        if len(role) != 32:
            raise ProtocolError("role must be 32 bytes")
        return bytes(role)
    try:
        return ROLES[role]
    except KeyError:
        raise ProtocolError(f"unknown role {role!r}; expected one of {sorted(ROLES)}") from None


# --- review statuses --------------------------------------------------------------------------

NOT_REVIEWED = 0  # what ``reviewOf`` answers for a tip nobody reviewed; it cannot be recorded
UNDER_REVIEW = 1
SUBSTANTIATED = 2
UNSUBSTANTIATED = 3
REFERRED = 4
CLOSED = 5

STATUS_NAMES: dict[int, str] = {
    UNDER_REVIEW: "under_review",
    SUBSTANTIATED: "substantiated",
    UNSUBSTANTIATED: "unsubstantiated",
    REFERRED: "referred",
    CLOSED: "closed",
}
STATUS_IDS: dict[str, int] = {name: status for status, name in STATUS_NAMES.items()}
# The final statuses: a tip's first one of these is its outcome.
OUTCOME_STATUSES = frozenset({SUBSTANTIATED, UNSUBSTANTIATED, REFERRED, CLOSED})
# For people (the audit report): the name with spaces.
STATUS_LABELS: dict[int, str] = {s: name.replace("_", " ") for s, name in STATUS_NAMES.items()}


def status_id(name: str) -> int:
    """The status for a name (``"substantiated"``); ``-``, ``_`` and a space alike, any case."""
    key = name.strip().lower().replace("-", "_")
    if key == "under review":
        key = "under_review"
    try:
        return STATUS_IDS[key]
    except KeyError:
        raise ProtocolError(
            f"unknown review status {name!r}: expected one of {', '.join(STATUS_IDS)}"
        ) from None


def status_label(status: int) -> str:
    """The label a report shows a person (``"under review"``); the number for unknown ones."""
    return STATUS_LABELS.get(status, str(status))
