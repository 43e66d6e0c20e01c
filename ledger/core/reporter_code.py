"""The reporter's one code (PROTOCOL.md 17.8): sixteen symbols that stand for the receipt file,
the follow-up secret and the commitment.

Frozen: a reporter writes the code on paper, and everything they can do later is derived from
it: the tip's salt (so the commitment), the follow-up secret, the pin on the case key. A change
to any constant or step here makes every code already given out open nothing, so it is a new
version, never an edit.

Format::

    alphabet      = Crockford base32: 0-9 A-Z without I, L, O, U (32 symbols, 5 bits each)
    code          = 16 symbols, written "XXXX-XXXX-XXXX-XXXX"; read case-insensitively, with
                    spaces and hyphens ignored, "O" as 0 and "I", "L" as 1
    locator       = symbols 1-6 (30 bits): finds the tip; the service stores it, it is no secret
    secret part   = symbols 7-15 (45 bits): never leaves the device
    check         = symbol 16: the top 5 bits of SHA-256("tipledger/v3/code/check" || symbols 1-15),
                    so a mistyped code is refused on the device before any request
    stretched S   = Argon2id(password = symbols 1-15 as ASCII (15 bytes),
                             salt = SHA-256("tipledger/v3/code/kdf-salt" || locator)[:16],
                             t = 3, m = 65,536 KiB, p = 1, version 0x13, length 32)
    follow-up     = HKDF-SHA256(IKM = S, salt = none, info = "tipledger/v3/code/follow-up", L = 32):
                    the raw bytes of a version 2 follow-up secret (17.4): reporter key, token T and
                    verifier follow from it exactly as there
    tip salt      = HKDF-SHA256(IKM = S, info = "tipledger/v3/code/salt", L = 32): the commitment's
                    salt (section 2), so the code and the tip document give back the commitment
    pin key       = HKDF-SHA256(IKM = S, info = "tipledger/v3/code/case-key-pin", L = 32)
    case key tag  = first 16 bytes of HMAC-SHA256(pin key, "tipledger/v3/case-key"
                    || commitment (32) || case key (32)): lets the device check, from the code
                    alone, that the key the service says to seal answers to is the tip's own
    enrolment     = {"version": 3, "locator": 6 symbols, "reporter_key": "0x" + hex (32),
                     "verifier": "0x" + hex (32), "case_key_tag": "0x" + hex (16)}

The salt of the KDF differs for every tip (the locator is unique), so one guess tests one tip:
someone holding the service's database guesses the 45-bit secret part of one code at the cost
of one Argon2id per guess, and no work is shared between tips.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from argon2.exceptions import HashingError
from argon2.low_level import Type, hash_secret_raw
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ledger.core.errors import ProtocolError
from ledger.core.followup import (
    DeviceEnrolment,
    FollowUpSecret,
    device_enrolment,
    enrolment_from_json,
)

__all__ = [
    "ALPHABET",
    "ARGON2_MEMORY_KIB",
    "ARGON2_PARALLELISM",
    "ARGON2_TIME_COST",
    "CODE_ENROLMENT_VERSION",
    "CODE_SYMBOLS",
    "LOCATOR_SYMBOLS",
    "SECRET_BITS",
    "CodeEnrolment",
    "CodeKeys",
    "ReporterCode",
    "case_key_tag",
    "check_case_key",
    "code_enrolment",
    "code_enrolment_from_json",
    "code_keys",
    "locator_from_text",
    "new_code",
    "parse_code",
]

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_SYMBOLS = 16
LOCATOR_SYMBOLS = 6
_DATA_SYMBOLS = CODE_SYMBOLS - 1
SECRET_BITS = 5 * (_DATA_SYMBOLS - LOCATOR_SYMBOLS)  # 45
ARGON2_TIME_COST = 3
ARGON2_MEMORY_KIB = 65_536
ARGON2_PARALLELISM = 1
CODE_ENROLMENT_VERSION = 3
CASE_KEY_TAG_SIZE = 16

_CHECK_TAG = b"tipledger/v3/code/check"
_KDF_SALT_TAG = b"tipledger/v3/code/kdf-salt"
_FOLLOW_UP_INFO = b"tipledger/v3/code/follow-up"
_SALT_INFO = b"tipledger/v3/code/salt"
_PIN_INFO = b"tipledger/v3/code/case-key-pin"
_CASE_KEY_TAG = b"tipledger/v3/case-key"
_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})
_IGNORED = re.compile(r"[\s\-]+")
_LOCATOR = re.compile(f"[{ALPHABET}]{{{LOCATOR_SYMBOLS}}}")
_ENROLMENT_FIELDS = frozenset({"version", "locator", "reporter_key", "verifier", "case_key_tag"})


@dataclass(frozen=True)
class ReporterCode:
    """A well-formed code: 16 canonical symbols whose last one checks the first 15."""

    symbols: str

    @property
    def locator(self) -> str:
        return self.symbols[:LOCATOR_SYMBOLS]

    @property
    def text(self) -> str:
        """As written for the reporter: four groups of four, e.g. ``7KQM-4T9X-J2RB-8HCD``."""
        return "-".join(self.symbols[i : i + 4] for i in range(0, CODE_SYMBOLS, 4))

    def __repr__(self) -> str:  # never in a log by accident
        return f"ReporterCode({self.locator}…)"


def _check_symbol(data: str) -> str:
    return ALPHABET[hashlib.sha256(_CHECK_TAG + data.encode("ascii")).digest()[0] >> 3]


def new_code() -> ReporterCode:
    """A fresh code from the OS CSPRNG (made on the reporter's device)."""
    data = "".join(secrets.choice(ALPHABET) for _ in range(_DATA_SYMBOLS))
    return ReporterCode(data + _check_symbol(data))


def parse_code(text: object) -> ReporterCode:
    """The code written in ``text``; ``ProtocolError`` with one line a reporter can act on."""
    if not isinstance(text, str):
        raise ProtocolError("the code is text: 16 letters and digits")
    symbols = _IGNORED.sub("", text).upper().translate(_READ_AS)
    if len(symbols) != CODE_SYMBOLS:
        raise ProtocolError(
            f"the code has {CODE_SYMBOLS} letters and digits, this has {len(symbols)}"
        )
    for position, symbol in enumerate(symbols, 1):
        if symbol not in ALPHABET:
            shown = symbol if symbol.isprintable() else repr(symbol)
            raise ProtocolError(
                f"symbol {position} of the code, {shown!r}, is not used in codes "
                "(they use 0-9 and A-Z without I, L, O and U)"
            )
    if _check_symbol(symbols[:_DATA_SYMBOLS]) != symbols[-1]:
        raise ProtocolError(
            "this code does not check out: a letter or digit is probably mistyped; "
            "compare it with what you wrote down"
        )
    return ReporterCode(symbols)


def locator_from_text(text: object) -> str:
    """A locator as the service receives it (6 canonical symbols); ``ProtocolError`` otherwise."""
    if not isinstance(text, str) or _LOCATOR.fullmatch(text) is None:
        raise ProtocolError(
            f"a code's locator is its first {LOCATOR_SYMBOLS} symbols, in capitals "
            "(0-9 and A-Z without I, L, O and U)"
        )
    return text


@dataclass(frozen=True)
class CodeKeys:
    """What the code stretches to (slow to make: one Argon2id)."""

    code: ReporterCode
    follow_up: FollowUpSecret  # version 2
    salt: bytes  # the commitment's salt (32)
    pin_key: bytes  # keys the case key tag (32)

    def __repr__(self) -> str:
        return f"CodeKeys({self.code.locator}…)"


def _hkdf(ikm: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(ikm)


def code_keys(code: ReporterCode) -> CodeKeys:
    """Stretch ``code`` with Argon2id and derive the follow-up secret, the salt and the pin key."""
    password = code.symbols[:_DATA_SYMBOLS].encode("ascii")
    kdf_salt = hashlib.sha256(_KDF_SALT_TAG + code.locator.encode("ascii")).digest()[:16]
    try:
        stretched = hash_secret_raw(
            password,
            kdf_salt,
            time_cost=ARGON2_TIME_COST,
            memory_cost=ARGON2_MEMORY_KIB,
            parallelism=ARGON2_PARALLELISM,
            hash_len=32,
            type=Type.ID,
            version=0x13,
        )
    except HashingError as exc:  # pragma: no cover - only when 64 MiB cannot be had
        raise ProtocolError(f"cannot stretch the code (Argon2id): {exc}") from exc
    return CodeKeys(
        code=code,
        follow_up=FollowUpSecret(_hkdf(stretched, _FOLLOW_UP_INFO), 2),
        salt=_hkdf(stretched, _SALT_INFO),
        pin_key=_hkdf(stretched, _PIN_INFO),
    )


def case_key_tag(keys: CodeKeys, commitment: bytes, case_key: bytes) -> bytes:
    """The 16-byte tag that pins ``case_key`` (raw X25519 public key) to this code and tip."""
    if len(commitment) != 32 or len(case_key) != 32:
        raise ProtocolError("a case key tag binds a 32-byte commitment and a 32-byte case key")
    mac = hmac.new(keys.pin_key, _CASE_KEY_TAG + commitment + case_key, hashlib.sha256)
    return mac.digest()[:CASE_KEY_TAG_SIZE]


def check_case_key(keys: CodeKeys, commitment: bytes, case_key: bytes, tag: bytes) -> bool:
    """Whether ``case_key`` is the key this code's tip was sealed to (constant time)."""
    return hmac.compare_digest(case_key_tag(keys, commitment, case_key), bytes(tag))


@dataclass(frozen=True)
class CodeEnrolment:
    """What a device sends with a tip whose reporter keeps a code (the sealed tip's follow_up)."""

    locator: str
    device: DeviceEnrolment  # reporter key and verifier, as version 2
    case_key_tag: bytes  # 16

    def to_json(self) -> dict[str, object]:
        return {
            "version": CODE_ENROLMENT_VERSION,
            "locator": self.locator,
            "reporter_key": "0x" + self.device.reporter_key.hex(),
            "verifier": "0x" + self.device.verifier.hex(),
            "case_key_tag": "0x" + self.case_key_tag.hex(),
        }


def code_enrolment(keys: CodeKeys, commitment: bytes, case_key: bytes) -> CodeEnrolment:
    """The enrolment of ``keys`` for the tip ``commitment`` sealed to ``case_key``."""
    return CodeEnrolment(
        keys.code.locator,
        device_enrolment(keys.follow_up, commitment),
        case_key_tag(keys, commitment, case_key),
    )


def code_enrolment_from_json(data: object) -> CodeEnrolment:
    """A version 3 enrolment as a device sends it; ``ProtocolError`` naming the wrong field."""
    if not isinstance(data, Mapping):
        raise ProtocolError(f"field 'follow_up': expected a JSON object, got {type(data).__name__}")
    unknown = sorted(set(data) - _ENROLMENT_FIELDS)
    if unknown:
        raise ProtocolError(
            f"field 'follow_up': unknown field {unknown[0]!r} (fields: "
            + ", ".join(sorted(_ENROLMENT_FIELDS))
            + ")"
        )
    version = data.get("version")
    if version != CODE_ENROLMENT_VERSION or isinstance(version, bool):
        raise ProtocolError(
            f"field 'follow_up.version': expected {CODE_ENROLMENT_VERSION}, "
            f"got {str(version)[:20]!r}"
        )
    try:
        locator = locator_from_text(data.get("locator"))
    except ProtocolError as exc:
        raise ProtocolError(f"field 'follow_up.locator': {exc}") from None
    device = enrolment_from_json(
        {
            "version": 2,
            "reporter_key": data.get("reporter_key"),
            "verifier": data.get("verifier"),
        }
    )
    tag = data.get("case_key_tag")
    if not isinstance(tag, str) or re.fullmatch(r"0x[0-9a-fA-F]{32}", tag) is None:
        raise ProtocolError(
            "field 'follow_up.case_key_tag': expected 0x and 32 hex digits (16 bytes)"
        )
    return CodeEnrolment(locator, device, bytes.fromhex(tag[2:]))
