"""Sign-In with Ethereum (EIP-4361): the message, its strict parser, and the relying party's checks.

The reviewer desk signs in with an EIP-4361 message signed by the reviewer's Ethereum key
(EIP-191 ``personal_sign``). This module implements the message format from the EIP's ABNF and
the checks a relying party must make; it does not decide who may sign in (the API checks
``REVIEWER_ROLE`` on chain after :func:`verify` returns).

The ``siwe`` package on PyPI is not used: it pins ``web3<8`` and ``eth-account<0.14``.

Message text, exactly as the EIP's ABNF has it (``LF`` is ``\\n``; no ``CR``; no newline after the
last field)::

    [ scheme "://" ] domain " wants you to sign in with your Ethereum account:" LF
    address LF
    LF
    [ statement LF ]
    LF
    "URI: " uri LF
    "Version: " version LF
    "Chain ID: " chain-id LF
    "Nonce: " nonce LF
    "Issued At: " issued-at
    [ LF "Expiration Time: " expiration-time ]
    [ LF "Not Before: " not-before ]
    [ LF "Request ID: " request-id ]
    [ LF "Resources:" *( LF "- " URI ) ]

Choices where the EIP leaves room, or where this module is stricter than the ABNF:

- ``address`` must be exactly its EIP-55 form: a mixed-case address with a wrong checksum, an
  all-lowercase or all-uppercase address, and a ``0X`` prefix are refused.
- ``domain`` must name a host: an empty host (which RFC 3986's ``reg-name`` allows) is refused.
- ``chain-id`` is an integer written without leading zeros, at most 78 digits (a uint256), so
  that it reads back as the same text.
- Timestamps are RFC 3339 ``date-time`` values; they are kept as the exact text (so a message
  reads back byte for byte) and read as aware datetimes. A leap second (``:60``) is refused, since
  Python's datetime cannot hold one.
- A message longer than :data:`MAX_MESSAGE_LENGTH` characters is refused (the EIP asks
  implementers to choose maximum lengths).
- The ABNF's optional parts are kept apart from empty ones: a missing statement (two blank lines
  after the address) is ``None`` and an empty one (three) is ``""``; likewise ``Request ID:`` with
  an empty value, and ``Resources:`` with no entries (``()``, versus ``None`` for no line).

Signatures: only EIP-191 signatures by externally owned accounts, recovered with eth-account.
EIP-1271 contract-account signatures (smart-contract wallets, multisigs) are out of scope: they
need an ``isValidSignature`` call on chain, and reviewers sign with their own keys.
"""

from __future__ import annotations

import ipaddress
import re
import secrets
import string
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_keys.exceptions import BadSignature
from eth_utils.exceptions import ValidationError as EthValidationError

from ledger.core.encoding import checksum_address, from_hex
from ledger.core.errors import LedgerError, ProtocolError

__all__ = [
    "CLOCK_SKEW",
    "HEADER_SUFFIX",
    "MAX_MESSAGE_LENGTH",
    "NONCE_LENGTH",
    "VERSION",
    "MessageFormatError",
    "NonceBook",
    "SignInError",
    "SiweMessage",
    "format_timestamp",
    "new_nonce",
    "parse",
    "parse_timestamp",
    "verify",
]

HEADER_SUFFIX = " wants you to sign in with your Ethereum account:"
VERSION = "1"
MAX_MESSAGE_LENGTH = 16_384
NONCE_LENGTH = 22  # 62**22 > 2**130
CLOCK_SKEW = timedelta(seconds=60)
SIGNATURE_SIZE = 65

_DEFAULT_PORTS = {"https": "443", "http": "80"}


class SignInError(LedgerError):
    """A sign-in refused: ``reason`` is a short fixed phrase, ``detail`` says more.

    Verification reasons: ``"domain mismatch"``, ``"scheme mismatch"``, ``"uri mismatch"``,
    ``"chain id mismatch"``, ``"issued in the future"``, ``"message too old"``, ``"expired"``,
    ``"not yet valid"``, ``"malformed signature"``, ``"signature does not match address"``,
    ``"nonce unknown or already used"``. A message that does not follow the EIP raises the
    subclass :class:`MessageFormatError`.
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class MessageFormatError(SignInError):
    """Text (or field values) that do not follow EIP-4361's ABNF; ``reason`` names the rule."""


# --- RFC 3986 pieces, ASCII only -------------------------------------------------------------

_UNRESERVED = r"A-Za-z0-9\-._~"
_SUB_DELIMS = r"!$&'()*+,;="
_PCT = r"%[0-9A-Fa-f]{2}"
_PCHAR = rf"(?:[{_UNRESERVED}{_SUB_DELIMS}:@]|{_PCT})"
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+\-.]*")
_AUTHORITY = re.compile(
    rf"(?:(?P<userinfo>(?:[{_UNRESERVED}{_SUB_DELIMS}:]|{_PCT})*)@)?"
    rf"(?P<host>\[[^\[\]]*\]|(?:[{_UNRESERVED}{_SUB_DELIMS}]|{_PCT})*)"
    r"(?::(?P<port>[0-9]*))?"
)
_IPV_FUTURE = re.compile(rf"[vV][0-9A-Fa-f]+\.[{_UNRESERVED}{_SUB_DELIMS}:]+")
_PATH = re.compile(rf"(?:{_PCHAR}|/)*")
_QUERY = re.compile(rf"(?:{_PCHAR}|[/?])*")
# RFC 3986 appendix B: splits any string into the five components; each is then checked.
_URI_PARTS = re.compile(r"(?:([^:/?#]+):)?(?://([^/?#]*))?([^?#]*)(?:\?([^#]*))?(?:#(.*))?", re.S)
_STATEMENT = re.compile(rf"[{_UNRESERVED}:/?#\[\]@{_SUB_DELIMS} ]*")
_REQUEST_ID = re.compile(rf"{_PCHAR}*")
_NONCE = re.compile(r"[A-Za-z0-9]+")
_CHAIN_ID = re.compile(r"0|[1-9][0-9]{0,77}")
_ADDRESS = re.compile(r"0[xX][0-9A-Fa-f]{40}")
_TIMESTAMP = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]+)?"
    r"(?:([Zz])|([+-])([0-9]{2}):([0-9]{2}))"
)


def _authority_parts(text: str) -> tuple[str | None, str, str | None] | None:
    """``(userinfo, host, port)`` of an RFC 3986 authority, or None if it is not one."""
    match = _AUTHORITY.fullmatch(text)
    if match is None:
        return None
    host = match["host"]
    if host.startswith("["):
        inner = host[1:-1]
        if _IPV_FUTURE.fullmatch(inner) is None:
            if "%" in inner:  # ipaddress accepts zone ids; RFC 3986 does not
                return None
            try:
                ipaddress.IPv6Address(inner)
            except ValueError:
                return None
    return match["userinfo"], host, match["port"]


def _is_uri(text: str) -> bool:
    """True if ``text`` is an RFC 3986 ``URI`` (absolute, with a scheme)."""
    match = _URI_PARTS.fullmatch(text)
    if match is None:  # pragma: no cover - the pattern matches every string
        return False
    scheme, authority, path, query, fragment = match.groups()
    if scheme is None or _SCHEME.fullmatch(scheme) is None:
        return False
    if authority is not None and _authority_parts(authority) is None:
        return False
    if _PATH.fullmatch(path) is None:
        return False
    return all(part is None or _QUERY.fullmatch(part) for part in (query, fragment))


# --- timestamps -------------------------------------------------------------------------------


def parse_timestamp(text: str) -> datetime:
    """An RFC 3339 ``date-time`` as an aware datetime (fractions beyond microseconds dropped).

    Raises :class:`MessageFormatError` (reason ``"invalid timestamp"``) for anything else,
    including a leap second, which datetime cannot represent.
    """
    match = _TIMESTAMP.fullmatch(text)
    if match is None:
        raise MessageFormatError("invalid timestamp", f"{text!r} is not an RFC 3339 date-time")
    year, month, day, hour, minute, second = (int(match[i]) for i in range(1, 7))
    fraction, zulu, sign, off_h, off_m = match[7], match[8], match[9], match[10], match[11]
    if second == 60:
        raise MessageFormatError("invalid timestamp", f"{text!r}: leap seconds are not supported")
    offset = timedelta(0)
    if zulu is None:
        if int(off_h) > 23 or int(off_m) > 59:
            raise MessageFormatError("invalid timestamp", f"{text!r}: bad UTC offset")
        offset = timedelta(hours=int(off_h), minutes=int(off_m))
        if sign == "-":
            offset = -offset
    micro = int((fraction[1:] + "000000")[:6]) if fraction else 0
    try:
        local = datetime(year, month, day, hour, minute, second, micro, timezone(offset))
        local.astimezone(UTC)  # out of range once moved to UTC?
    except (ValueError, OverflowError) as exc:
        raise MessageFormatError("invalid timestamp", f"{text!r}: {exc}") from None
    return local


def format_timestamp(moment: datetime) -> str:
    """RFC 3339 text for an aware datetime, in UTC with ``Z`` (milliseconds if it has any)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("format_timestamp needs an aware datetime")
    utc = moment.astimezone(UTC)
    spec = "seconds" if utc.microsecond == 0 else "milliseconds"
    return utc.replace(tzinfo=None).isoformat(timespec=spec) + "Z"


# --- the message ------------------------------------------------------------------------------


def _check_address(address: str) -> None:
    if not isinstance(address, str) or _ADDRESS.fullmatch(address) is None:
        raise MessageFormatError("invalid address", f"expected 0x + 40 hex digits, got {address!r}")
    if not address.startswith("0x"):
        raise MessageFormatError("address not checksummed", f"{address} must start with '0x'")
    try:
        expected = checksum_address(address)
    except ProtocolError:
        raise MessageFormatError(
            "address checksum mismatch", f"{address} has an invalid EIP-55 checksum"
        ) from None
    if address != expected:
        raise MessageFormatError(
            "address not checksummed", f"{address} is not in its EIP-55 form {expected}"
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class SiweMessage:
    """One EIP-4361 message. Every field is checked on construction (``MessageFormatError``).

    Timestamps are kept as their RFC 3339 text (see the module doc); ``issued_at_time`` and the
    like give them as aware datetimes, and :meth:`create` builds a message from datetimes.
    """

    scheme: str | None = None
    domain: str
    address: str
    statement: str | None = None
    uri: str
    version: str = VERSION
    chain_id: int
    nonce: str
    issued_at: str
    expiration_time: str | None = None
    not_before: str | None = None
    request_id: str | None = None
    resources: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.scheme is not None and (
            not isinstance(self.scheme, str) or _SCHEME.fullmatch(self.scheme) is None
        ):
            raise MessageFormatError("invalid scheme", f"{self.scheme!r} is not a URI scheme")
        parts = _authority_parts(self.domain) if isinstance(self.domain, str) else None
        if parts is None or not parts[1]:
            raise MessageFormatError(
                "invalid domain", f"{self.domain!r} is not an RFC 3986 authority with a host"
            )
        _check_address(self.address)
        if self.statement is not None and (
            not isinstance(self.statement, str) or _STATEMENT.fullmatch(self.statement) is None
        ):
            raise MessageFormatError(
                "invalid statement",
                "a statement is one line of RFC 3986 reserved/unreserved characters and spaces",
            )
        if not isinstance(self.uri, str) or not _is_uri(self.uri):
            raise MessageFormatError("invalid uri", f"{self.uri!r} is not an RFC 3986 URI")
        if self.version != VERSION:
            raise MessageFormatError(
                "unsupported version", f"version must be {VERSION!r}, got {self.version!r}"
            )
        if (
            not isinstance(self.chain_id, int)
            or isinstance(self.chain_id, bool)
            or _CHAIN_ID.fullmatch(str(self.chain_id)) is None
        ):
            raise MessageFormatError("invalid chain id", f"{self.chain_id!r}")
        if not isinstance(self.nonce, str) or _NONCE.fullmatch(self.nonce) is None:
            raise MessageFormatError(
                "invalid nonce", f"a nonce is ASCII letters and digits, got {self.nonce!r}"
            )
        if len(self.nonce) < 8:
            raise MessageFormatError(
                "nonce too short", f"at least 8 characters, got {len(self.nonce)}"
            )
        for value in (self.issued_at, self.expiration_time, self.not_before):
            if value is not None:
                if not isinstance(value, str):
                    raise MessageFormatError("invalid timestamp", f"{value!r} is not text")
                parse_timestamp(value)
        if self.request_id is not None and (
            not isinstance(self.request_id, str) or _REQUEST_ID.fullmatch(self.request_id) is None
        ):
            raise MessageFormatError(
                "invalid request id", f"{self.request_id!r} is not RFC 3986 pchars"
            )
        if self.resources is not None:
            if not isinstance(self.resources, tuple):
                raise MessageFormatError("invalid resources", "resources must be a tuple of URIs")
            for resource in self.resources:
                if not isinstance(resource, str) or not _is_uri(resource):
                    raise MessageFormatError(
                        "invalid resource", f"{resource!r} is not an RFC 3986 URI"
                    )

    @classmethod
    def create(
        cls,
        *,
        domain: str,
        address: str,
        uri: str,
        chain_id: int,
        nonce: str,
        issued_at: datetime | None = None,
        scheme: str | None = None,
        statement: str | None = None,
        expiration_time: datetime | None = None,
        not_before: datetime | None = None,
        request_id: str | None = None,
        resources: tuple[str, ...] | None = None,
    ) -> SiweMessage:
        """A message with its times given as aware datetimes (``issued_at`` defaults to now)."""
        return cls(
            scheme=scheme,
            domain=domain,
            address=address,
            statement=statement,
            uri=uri,
            chain_id=chain_id,
            nonce=nonce,
            issued_at=format_timestamp(issued_at or datetime.now(UTC)),
            expiration_time=None if expiration_time is None else format_timestamp(expiration_time),
            not_before=None if not_before is None else format_timestamp(not_before),
            request_id=request_id,
            resources=resources,
        )

    @property
    def issued_at_time(self) -> datetime:
        return parse_timestamp(self.issued_at)

    @property
    def expiration_time_value(self) -> datetime | None:
        return None if self.expiration_time is None else parse_timestamp(self.expiration_time)

    @property
    def not_before_time(self) -> datetime | None:
        return None if self.not_before is None else parse_timestamp(self.not_before)

    def to_text(self) -> str:
        """The exact EIP-4361 text of this message: what the wallet signs."""
        origin = self.domain if self.scheme is None else f"{self.scheme}://{self.domain}"
        lines = [origin + HEADER_SUFFIX, self.address, ""]
        if self.statement is not None:
            lines.append(self.statement)
        lines += [
            "",
            f"URI: {self.uri}",
            f"Version: {self.version}",
            f"Chain ID: {self.chain_id}",
            f"Nonce: {self.nonce}",
            f"Issued At: {self.issued_at}",
        ]
        if self.expiration_time is not None:
            lines.append(f"Expiration Time: {self.expiration_time}")
        if self.not_before is not None:
            lines.append(f"Not Before: {self.not_before}")
        if self.request_id is not None:
            lines.append(f"Request ID: {self.request_id}")
        if self.resources is not None:
            lines.append("Resources:")
            lines += [f"- {resource}" for resource in self.resources]
        return "\n".join(lines)


# --- parsing ----------------------------------------------------------------------------------

_REQUIRED = (
    ("uri", "URI: "),
    ("version", "Version: "),
    ("chain_id", "Chain ID: "),
    ("nonce", "Nonce: "),
    ("issued_at", "Issued At: "),
)
_OPTIONAL = (
    ("expiration_time", "Expiration Time: "),
    ("not_before", "Not Before: "),
    ("request_id", "Request ID: "),
)
_RESOURCES = "Resources:"
_ALL_TAGS = (*(tag for _, tag in (*_REQUIRED, *_OPTIONAL)), _RESOURCES)


def _describe(line: str) -> str:
    for tag in _ALL_TAGS:
        if line.startswith(tag.rstrip()):
            return f"the {tag.rstrip(': ')!r} line"
    if line == "":
        return "a blank line"
    return repr(line if len(line) <= 40 else line[:37] + "...")


def parse(text: str) -> SiweMessage:
    """Parse EIP-4361 message text, strictly (see the module doc for the exact form).

    Raises :class:`MessageFormatError` whose ``reason`` names the broken rule.
    """
    if not isinstance(text, str):
        raise MessageFormatError("not text", f"expected str, got {type(text).__name__}")
    if len(text) > MAX_MESSAGE_LENGTH:
        raise MessageFormatError("message too long", f"more than {MAX_MESSAGE_LENGTH} characters")
    if "\r" in text:
        raise MessageFormatError("carriage return", "lines end with LF alone")
    if text.endswith("\n"):
        raise MessageFormatError("trailing newline", "nothing follows the last field")
    lines = text.split("\n")

    # Header: [ scheme "://" ] domain " wants you to sign in with your Ethereum account:"
    header = lines[0]
    if not header.endswith(HEADER_SUFFIX):
        raise MessageFormatError(
            "bad header", f"the first line must end with {HEADER_SUFFIX.strip()!r}"
        )
    origin = header[: -len(HEADER_SUFFIX)]
    scheme: str | None = None
    domain = origin
    if "://" in origin:
        scheme, domain = origin.split("://", 1)
        if _SCHEME.fullmatch(scheme) is None:
            raise MessageFormatError("invalid scheme", f"{scheme!r} is not a URI scheme")
    parts = _authority_parts(domain)
    if parts is None or not parts[1]:
        raise MessageFormatError(
            "invalid domain", f"{domain!r} is not an RFC 3986 authority with a host"
        )

    if len(lines) < 2:
        raise MessageFormatError("missing address", "the message ends after the header")
    address = lines[1]
    _check_address(address)

    # LF [ statement LF ] LF: a blank line, then either a statement and a blank line, or
    # another blank line (no statement), or two more (an empty statement).
    def line(index: int, expecting: str) -> str:
        if index >= len(lines):
            raise MessageFormatError(f"missing {expecting}", "the message ends too early")
        return lines[index]

    if line(2, "blank line after the address") != "":
        raise MessageFormatError("missing blank line", "a blank line must follow the address")
    statement: str | None
    third = line(3, "statement or blank line")
    if third != "":
        statement, cursor = third, 5
        if line(4, "blank line after the statement") != "":
            if third.startswith("URI: "):
                raise MessageFormatError(
                    "missing blank line",
                    "without a statement, two blank lines separate the address from 'URI:'",
                )
            raise MessageFormatError(
                "missing blank line", "a statement is one line followed by a blank line"
            )
    elif line(4, "'URI:' line") == "":
        statement, cursor = "", 5
    else:
        statement, cursor = None, 4

    values: dict[str, str] = {}
    for name, tag in _REQUIRED:
        current = line(cursor, f"{tag.strip()!r} line")
        if not current.startswith(tag):
            raise MessageFormatError(
                f"missing {tag.strip()!r} line",
                f"expected {tag.strip()!r} here, found {_describe(current)}"
                " (fields are required in the EIP's order)",
            )
        values[name] = current[len(tag) :]
        cursor += 1

    optional: dict[str, str] = {}
    resources: tuple[str, ...] | None = None
    position = 0  # index into _OPTIONAL of the next field allowed
    while cursor < len(lines):
        current = lines[cursor]
        cursor += 1
        if current == _RESOURCES:
            items = lines[cursor:]
            for item in items:
                if not item.startswith("- "):
                    raise MessageFormatError(
                        "invalid resource",
                        f"after 'Resources:' only '- <URI>' lines may follow, found "
                        f"{_describe(item)}",
                    )
            resources = tuple(item[2:] for item in items)
            break
        for index, (name, tag) in enumerate(_OPTIONAL):
            if current.startswith(tag):
                if index < position:
                    raise MessageFormatError(
                        "field out of order", f"{_describe(current)} is out of place or repeated"
                    )
                optional[name] = current[len(tag) :]
                position = index + 1
                break
        else:
            raise MessageFormatError("unexpected line", f"found {_describe(current)}")

    chain_text = values["chain_id"]
    if _CHAIN_ID.fullmatch(chain_text) is None:
        raise MessageFormatError(
            "invalid chain id", f"{chain_text!r} is not decimal digits without leading zeros"
        )
    return SiweMessage(
        scheme=scheme,
        domain=domain,
        address=address,
        statement=statement,
        uri=values["uri"],
        version=values["version"],
        chain_id=int(chain_text),
        nonce=values["nonce"],
        issued_at=values["issued_at"],
        expiration_time=optional.get("expiration_time"),
        not_before=optional.get("not_before"),
        request_id=optional.get("request_id"),
        resources=resources,
    )


# --- nonces -----------------------------------------------------------------------------------

_NONCE_ALPHABET = string.ascii_letters + string.digits


def new_nonce() -> str:
    """A fresh random nonce: :data:`NONCE_LENGTH` ASCII letters and digits (over 128 bits)."""
    return "".join(secrets.choice(_NONCE_ALPHABET) for _ in range(NONCE_LENGTH))


class NonceBook:
    """Issued, unused nonces in memory, each valid for ``ttl``: for one process and for tests.

    The service keeps its nonces in its database instead (so several API instances share them
    and a restart forgets none); anything with the same ``consume`` contract fits :func:`verify`.
    At most ``capacity`` nonces are outstanding; issuing past that forgets the oldest.
    """

    def __init__(
        self,
        ttl: timedelta = timedelta(minutes=10),
        *,
        capacity: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl <= timedelta(0) or capacity < 1:
            raise ValueError("NonceBook needs a positive ttl and capacity")
        self._ttl = ttl.total_seconds()
        self._capacity = capacity
        self._clock = clock
        self._expiry: dict[str, float] = {}  # insertion order is expiry order
        self._lock = threading.Lock()

    def issue(self) -> str:
        """A new nonce, valid until consumed or until ``ttl`` has passed."""
        nonce = new_nonce()
        with self._lock:
            now = self._clock()
            self._purge(now)
            while len(self._expiry) >= self._capacity:
                del self._expiry[next(iter(self._expiry))]
            self._expiry[nonce] = now + self._ttl
        return nonce

    def consume(self, nonce: str) -> bool:
        """True exactly once for a nonce this book issued that has not expired; else False."""
        with self._lock:
            expiry = self._expiry.pop(nonce, None)
            return expiry is not None and self._clock() < expiry

    def __len__(self) -> int:
        with self._lock:
            self._purge(self._clock())
            return len(self._expiry)

    def _purge(self, now: float) -> None:
        for nonce, expiry in list(self._expiry.items()):
            if expiry > now:
                break
            del self._expiry[nonce]


# --- verification -----------------------------------------------------------------------------


def _origin_key(scheme: str, authority: str) -> tuple[str | None, str, str | None]:
    parts = _authority_parts(authority)
    if parts is None:
        raise ValueError(f"{authority!r} is not an RFC 3986 authority")
    userinfo, host, port = parts
    return userinfo, host.lower(), port or _DEFAULT_PORTS.get(scheme)


def _uri_allowed(uri: str, exact: str | None, prefix: str | None) -> bool:
    if exact is not None:
        return uri == exact
    assert prefix is not None
    if not uri.startswith(prefix):
        return False
    # "https://a.example/x" must not admit "https://a.example/xy" nor "https://a.example.evil".
    rest = uri[len(prefix) :]
    return not rest or prefix.endswith("/") or rest[0] in "/?#"


def _signature_bytes(signature: str | bytes) -> bytes:
    if isinstance(signature, bytes | bytearray):
        raw = bytes(signature)
    elif isinstance(signature, str):
        try:
            raw = from_hex(signature)
        except ProtocolError as exc:
            raise SignInError("malformed signature", str(exc)) from None
    else:
        raise SignInError("malformed signature", f"got {type(signature).__name__}")
    if len(raw) != SIGNATURE_SIZE:
        raise SignInError(
            "malformed signature", f"expected {SIGNATURE_SIZE} bytes (r, s, v), got {len(raw)}"
        )
    if raw[-1] not in (0, 1, 27, 28):
        raise SignInError("malformed signature", f"v must be 27 or 28 (or 0 or 1), got {raw[-1]}")
    return raw


def verify(
    message_text: str,
    signature: str | bytes,
    *,
    domain: str,
    chain_id: int,
    nonce_consumer: Callable[[str], bool],
    uri: str | None = None,
    uri_prefix: str | None = None,
    scheme: str = "https",
    now: datetime | None = None,
    max_age: timedelta | None = None,
    clock_skew: timedelta = CLOCK_SKEW,
) -> SiweMessage:
    """Check a signed sign-in message as the relying party; return it if every check passes.

    - The text must parse strictly (:func:`parse`; version ``1`` included).
    - ``domain`` is this service's authority (``host[:port]``); the message's domain must name the
      same host (case-insensitive) and port (the scheme's default when absent). Its scheme, or
      ``https`` when it has none (as the EIP says), must equal ``scheme``.
    - The message URI must equal ``uri``, or start with ``uri_prefix`` at a path boundary; give
      exactly one of the two.
    - ``chain_id`` must match.
    - Times, against ``now`` (default: the current time): issued-at not later than
      ``now + clock_skew``; not-before, if any, not later than ``now + clock_skew``; expiration,
      if any, later than ``now`` (no skew: validity is never stretched); with ``max_age``, issued
      at most that long ago.
    - The EIP-191 (``personal_sign``) signature, 65 bytes ``r || s || v`` as bytes or 0x-hex,
      must recover to the message's address. EIP-1271 (contract account) signatures are out of
      scope and refused like any other non-matching signature.
    - Last, once everything else has passed, ``nonce_consumer(nonce)`` must return True: it
      answers True exactly once for a nonce the server issued and has not seen used, so a
      refused attempt never spends a nonce and a replay is refused.

    Every refusal raises :class:`SignInError` (see its doc for the reasons).
    """
    if (uri is None) == (uri_prefix is None):
        raise ValueError("give exactly one of uri and uri_prefix")
    if now is None:
        now = datetime.now(UTC)
    elif now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be an aware datetime")

    message = parse(message_text)

    expected_scheme = scheme.lower()
    if (message.scheme or "https").lower() != expected_scheme:
        raise SignInError(
            "scheme mismatch", f"expected {expected_scheme!r}, got {message.scheme or 'https'!r}"
        )
    if _origin_key(expected_scheme, message.domain) != _origin_key(expected_scheme, domain):
        raise SignInError("domain mismatch", f"expected {domain!r}, got {message.domain!r}")
    if not _uri_allowed(message.uri, uri, uri_prefix):
        raise SignInError("uri mismatch", f"got {message.uri!r}")
    if message.chain_id != chain_id:
        raise SignInError("chain id mismatch", f"expected {chain_id}, got {message.chain_id}")

    issued_at = message.issued_at_time
    if issued_at > now + clock_skew:
        raise SignInError("issued in the future", f"issued at {message.issued_at}")
    if max_age is not None and now - issued_at > max_age:
        raise SignInError("message too old", f"issued at {message.issued_at}, max age {max_age}")
    expires = message.expiration_time_value
    if expires is not None and now >= expires:
        raise SignInError("expired", f"expired at {message.expiration_time}")
    not_before = message.not_before_time
    if not_before is not None and now + clock_skew < not_before:
        raise SignInError("not yet valid", f"valid from {message.not_before}")

    raw = _signature_bytes(signature)
    try:
        recovered = Account.recover_message(encode_defunct(text=message_text), signature=raw)
    except (BadSignature, EthValidationError, ValueError) as exc:
        raise SignInError("malformed signature", str(exc)) from None
    if recovered != message.address:
        raise SignInError(
            "signature does not match address", f"signed by {recovered}, not {message.address}"
        )

    if not nonce_consumer(message.nonce):
        raise SignInError("nonce unknown or already used", f"nonce {message.nonce}")
    return message
