"""Agency ids (PROTOCOL.md section 16.1): a slug, and its ``bytes32`` form on chain.

Frozen: the contract, the routing tree and every grant name agencies by these 32 bytes, so
changing the encoding orphans every case already routed.
"""

from __future__ import annotations

import re

from ledger.core.errors import AgencyError

__all__ = ["AGENCY_ID_SIZE", "INTAKE", "agency_id", "agency_slug", "check_slug"]

AGENCY_ID_SIZE = 32
INTAKE = "intake"  # the national intake desk: the destination of a tip that names none

_SLUG = re.compile(r"[a-z][a-z0-9-]{1,30}")


def check_slug(slug: str) -> str:
    """``slug`` if it is 2 to 31 of ``a-z``, ``0-9`` and ``-``, starting with a letter."""
    if not isinstance(slug, str) or _SLUG.fullmatch(slug) is None:
        shown = slug if isinstance(slug, str) else type(slug).__name__
        raise AgencyError(
            f"an agency id is 2 to 31 characters of a-z, 0-9 and '-', starting with a letter; "
            f"got {shown[:40]!r}"
        )
    return slug


def agency_id(slug: str) -> bytes:
    """The ``bytes32`` of ``slug``: its ASCII bytes, left-aligned, zero-padded."""
    return check_slug(slug).encode("ascii").ljust(AGENCY_ID_SIZE, b"\x00")


def agency_slug(raw: bytes) -> str:
    """The slug in ``raw``; ``AgencyError`` unless ``raw`` is exactly ``agency_id(slug)``."""
    if not isinstance(raw, bytes | bytearray) or len(raw) != AGENCY_ID_SIZE:
        raise AgencyError(f"an agency id on chain is {AGENCY_ID_SIZE} bytes")
    text = bytes(raw).rstrip(b"\x00")
    try:
        slug = text.decode("ascii")
    except UnicodeDecodeError:
        raise AgencyError(f"agency id 0x{bytes(raw).hex()} is not ASCII") from None
    if _SLUG.fullmatch(slug) is None or agency_id(slug) != raw:  # no zero byte inside either
        raise AgencyError(f"agency id 0x{bytes(raw).hex()} is not a padded slug")
    return slug
