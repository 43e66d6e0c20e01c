"""Hex and address encoding for the wire format (PROTOCOL.md notation).

In JSON, bytes are ``0x``-prefixed lowercase hex and addresses EIP-55 checksummed. Parsing is
slightly liberal where nothing can go wrong: hex digits may be upper or lower case (the bytes are
the same), and an address may be all lowercase or all uppercase. A mixed-case address must carry
a valid EIP-55 checksum, since a wrong one is how a mistyped address shows itself.
"""

from __future__ import annotations

import re

from eth_utils.address import to_checksum_address

from ledger.core.errors import ProtocolError

ADDRESS_SIZE = 20

_HEX = re.compile(r"0x[0-9a-fA-F]*")


def to_hex(data: bytes) -> str:
    """``0x`` + lowercase hex of ``data``."""
    return "0x" + bytes(data).hex()


def from_hex(text: str, length: int | None = None) -> bytes:
    """Bytes from ``0x``-prefixed hex (digits in either case), exactly ``length`` bytes if given.

    Raises ``ProtocolError`` naming what was expected.
    """
    want = "0x + hex digits" if length is None else f"0x + {2 * length} hex digits"
    if not isinstance(text, str):
        raise ProtocolError(f"expected {want}, got {type(text).__name__}")
    if _HEX.fullmatch(text) is None:
        raise ProtocolError(f"expected {want}, got {_preview(text)}")
    digits = len(text) - 2
    if length is not None and digits != 2 * length:
        raise ProtocolError(f"expected {want}, got {digits} hex digits")
    if digits % 2:
        raise ProtocolError(f"expected {want}, got an odd number of hex digits ({digits})")
    return bytes.fromhex(text[2:])


def address_bytes(address: bytes | str) -> bytes:
    """The 20 bytes of an address given as 20 raw bytes or as a hex string (see module doc)."""
    if isinstance(address, bytes | bytearray):
        if len(address) != ADDRESS_SIZE:
            raise ProtocolError(f"an address is 20 bytes, got {len(address)}")
        return bytes(address)
    if not isinstance(address, str):
        raise ProtocolError(f"expected an address, got {type(address).__name__}")
    try:
        raw = from_hex(address, ADDRESS_SIZE)
    except ProtocolError as exc:
        raise ProtocolError(f"invalid address: {exc}") from None
    digits = address[2:]
    mixed_case = digits not in (digits.lower(), digits.upper())
    if mixed_case and to_checksum_address(raw) != address:
        raise ProtocolError(f"address {address} has an invalid EIP-55 checksum")
    return raw


def checksum_address(address: bytes | str) -> str:
    """The EIP-55 form of an address given as 20 bytes or a hex string (see module doc)."""
    return str(to_checksum_address(address_bytes(address)))


def _preview(text: str) -> str:
    return repr(text if len(text) <= 20 else text[:17] + "...")
