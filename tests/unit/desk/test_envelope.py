"""The review desk's envelope: HPKE sealing bound to the commitment, and the desk's key files."""

from __future__ import annotations

import base64
import hashlib
import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from ledger.config import Settings
from ledger.core.commitment import ZERO_AUTHOR, commitment, content_digest, new_salt
from ledger.desk.envelope import (
    ENVELOPE_VERSION,
    INFO_TAG,
    SUITE,
    OpenedTip,
    envelope_key_id,
    key_id,
    open_tip,
    seal_tip,
)
from ledger.desk.keys import (
    PUBLIC_KEY_PREFIX,
    configured_public_key,
    generate_desk_keypair,
    load_private_key,
    public_key_from_text,
    public_key_to_text,
    save_private_key,
    save_public_key,
)
from ledger.errors import ConfigError, EnvelopeError, ProtocolError

AUTHOR = bytes.fromhex("5aaeb6053f3e94c9b9a09f33669435e7ef1beaed")
THAI = "ผู้แจ้งเบาะแส: การจัดซื้อจัดจ้างทุจริตที่สำนักงาน X ใบแจ้งหนี้ 4711".encode()


@pytest.fixture(scope="module")
def desk() -> X25519PrivateKey:
    return generate_desk_keypair()


def make_tip(document: bytes, author: bytes = AUTHOR) -> tuple[bytes, bytes, bytes, bytes]:
    salt = new_salt()
    return commitment(salt, content_digest(document), author), document, salt, author


def seal(desk: X25519PrivateKey, document: bytes, author: bytes = AUTHOR) -> tuple[bytes, bytes]:
    c, document, salt, author = make_tip(document, author)
    envelope = seal_tip(
        desk.public_key(), commitment=c, document=document, salt=salt, author=author
    )
    return c, envelope


# --- sealing and opening ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "document",
    [b"", b"x", THAI, os.urandom(1 << 20)],
    ids=["empty", "one-byte", "thai-utf8", "1MiB"],
)
@pytest.mark.parametrize("author", [AUTHOR, ZERO_AUTHOR], ids=["author", "no-author"])
def test_a_sealed_tip_opens_to_exactly_what_was_sealed(
    desk: X25519PrivateKey, document: bytes, author: bytes
) -> None:
    c, document, salt, author = make_tip(document, author)
    envelope = seal_tip(
        desk.public_key(), commitment=c, document=document, salt=salt, author=author
    )
    assert len(envelope) == 1 + 8 + 32 + 32 + 20 + len(document) + 16
    assert document not in envelope or document in (b"", b"x")
    assert open_tip(desk, envelope, c) == OpenedTip(document=document, salt=salt, author=author)


def test_sealing_twice_gives_different_envelopes(desk: X25519PrivateKey) -> None:
    c, document, salt, author = make_tip(b"same tip")
    pub = desk.public_key()
    first = seal_tip(pub, commitment=c, document=document, salt=salt, author=author)
    second = seal_tip(pub, commitment=c, document=document, salt=salt, author=author)
    assert first != second
    assert open_tip(desk, first, c) == open_tip(desk, second, c)


def test_the_author_may_be_given_as_an_address(desk: X25519PrivateKey) -> None:
    c, document, salt, author = make_tip(b"tip")
    envelope = seal_tip(
        desk.public_key(), commitment=c, document=document, salt=salt, author="0x" + author.hex()
    )
    assert open_tip(desk, envelope, c).author == author


def test_the_wire_format_is_the_documented_one(desk: X25519PrivateKey) -> None:
    """Anyone with RFC 9180 and the module docstring can open an envelope."""
    c, document, salt, author = make_tip(THAI)
    envelope = seal_tip(
        desk.public_key(), commitment=c, document=document, salt=salt, author=author
    )
    header = envelope[:9]
    assert header[0] == ENVELOPE_VERSION == 1
    assert header[1:].hex() == key_id(desk.public_key()) == envelope_key_id(envelope)
    raw = desk.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert header[1:] == hashlib.sha256(raw).digest()[:8]
    plaintext = SUITE.decrypt(envelope[9:], desk, info=INFO_TAG + header + c)
    assert plaintext == salt + author + document


def test_an_envelope_for_another_desk_key_is_refused_naming_that_key(
    desk: X25519PrivateKey,
) -> None:
    other = generate_desk_keypair()
    c, envelope = seal(other, b"tip for the other desk")
    with pytest.raises(EnvelopeError) as info:
        open_tip(desk, envelope, c)
    message = str(info.value)
    assert f"sealed to the review desk key {key_id(other.public_key())}" in message
    assert f"not to this key ({key_id(desk.public_key())})" in message


def test_every_flipped_byte_is_refused(desk: X25519PrivateKey) -> None:
    c, envelope = seal(desk, b"fraud at office X")
    for i in range(len(envelope)):
        for mask in (0x01, 0x80):
            altered = bytearray(envelope)
            altered[i] ^= mask
            with pytest.raises(EnvelopeError):
                open_tip(desk, bytes(altered), c)


@pytest.mark.parametrize(
    "cut", [lambda e: e[:-1], lambda e: e + b"\x00", lambda e: e[:56], lambda e: b""]
)
def test_a_truncated_or_extended_envelope_is_refused(desk: X25519PrivateKey, cut) -> None:  # type: ignore[no-untyped-def]
    c, envelope = seal(desk, b"tip")
    with pytest.raises(EnvelopeError):
        open_tip(desk, cut(envelope), c)


def test_an_unknown_version_is_refused_by_name(desk: X25519PrivateKey) -> None:
    c, envelope = seal(desk, b"tip")
    with pytest.raises(EnvelopeError, match="unknown sealed-tip version 2"):
        open_tip(desk, b"\x02" + envelope[1:], c)


def test_an_envelope_does_not_open_for_another_commitment(desk: X25519PrivateKey) -> None:
    _c1, envelope1 = seal(desk, b"first tip")
    c2, _ = seal(desk, b"second tip")
    with pytest.raises(EnvelopeError, match=f"does not open for commitment 0x{c2.hex()}"):
        open_tip(desk, envelope1, c2)


def test_an_opened_tip_whose_commitment_differs_is_refused(desk: X25519PrivateKey) -> None:
    """An envelope made properly for commitment c, but holding a different tip, is refused."""
    c, _document, salt, author = make_tip(b"the tip that was committed")
    header = bytes([ENVELOPE_VERSION]) + bytes.fromhex(key_id(desk.public_key()))
    forged = header + SUITE.encrypt(
        salt + author + b"another tip", desk.public_key(), info=INFO_TAG + header + c
    )
    with pytest.raises(EnvelopeError, match=f"does not match commitment 0x{c.hex()}"):
        open_tip(desk, forged, c)


def test_an_envelope_too_short_to_hold_salt_and_author_is_refused(
    desk: X25519PrivateKey,
) -> None:
    c, _ = seal(desk, b"tip")
    header = bytes([ENVELOPE_VERSION]) + bytes.fromhex(key_id(desk.public_key()))
    short = header + SUITE.encrypt(b"\x00" * 51, desk.public_key(), info=INFO_TAG + header + c)
    with pytest.raises(EnvelopeError, match="a sealed tip is at least 109 bytes, this one is 108"):
        open_tip(desk, short, c)


def test_sealing_refuses_a_commitment_that_does_not_match(desk: X25519PrivateKey) -> None:
    c, _document, salt, author = make_tip(b"tip")
    with pytest.raises(ProtocolError, match="refusing to seal"):
        seal_tip(desk.public_key(), commitment=c, document=b"tip!", salt=salt, author=author)


@pytest.mark.parametrize(
    ("field", "value"),
    [("commitment", b"\x00" * 31), ("salt", b"\x00" * 16), ("author", b"\x00" * 19)],
)
def test_sealing_refuses_wrong_sizes(desk: X25519PrivateKey, field: str, value: bytes) -> None:
    c, document, salt, author = make_tip(b"tip")
    args = {"commitment": c, "document": document, "salt": salt, "author": author, field: value}
    with pytest.raises(ProtocolError):
        seal_tip(desk.public_key(), **args)  # type: ignore[arg-type]


def test_opening_refuses_a_commitment_of_the_wrong_size(desk: X25519PrivateKey) -> None:
    c, envelope = seal(desk, b"tip")
    with pytest.raises(ProtocolError, match="a commitment is 32 bytes"):
        open_tip(desk, envelope, c[:31])


# --- key files -------------------------------------------------------------------------------


def raw_public(key: X25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def test_a_private_key_file_round_trips(tmp_path: Path, desk: X25519PrivateKey) -> None:
    path = tmp_path / "keys" / "desk.pem"
    save_private_key(path, desk, "correct horse ผู้แจ้ง")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----\n")
    assert sorted(p.name for p in path.parent.iterdir()) == ["desk.pem"]  # no temporary left
    loaded = load_private_key(path, "correct horse ผู้แจ้ง")
    assert raw_public(loaded) == raw_public(desk)
    c, envelope = seal(desk, b"tip")
    assert open_tip(loaded, envelope, c).document == b"tip"


def test_a_private_key_file_is_not_overwritten_unless_asked(
    tmp_path: Path, desk: X25519PrivateKey
) -> None:
    path = tmp_path / "desk.pem"
    save_private_key(path, desk, "one")
    before = path.read_bytes()
    other = generate_desk_keypair()
    with pytest.raises(ConfigError, match="already exists"):
        save_private_key(path, other, "two")
    assert path.read_bytes() == before
    save_private_key(path, other, "two", overwrite=True)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert raw_public(load_private_key(path, "two")) == raw_public(other)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["desk.pem"]


def test_a_wrong_passphrase_is_a_config_error(tmp_path: Path, desk: X25519PrivateKey) -> None:
    path = tmp_path / "desk.pem"
    save_private_key(path, desk, "right")
    with pytest.raises(ConfigError, match=f"wrong passphrase for the review desk key {path}"):
        load_private_key(path, "wrong")


def test_an_empty_passphrase_is_refused(tmp_path: Path, desk: X25519PrivateKey) -> None:
    with pytest.raises(ConfigError, match="non-empty passphrase"):
        save_private_key(tmp_path / "desk.pem", desk, "")
    assert not (tmp_path / "desk.pem").exists()


def test_unusable_private_key_files_are_config_errors(
    tmp_path: Path, desk: X25519PrivateKey
) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_private_key(tmp_path / "missing.pem", "pw")
    plain = tmp_path / "plain.pem"
    plain.write_bytes(
        desk.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(ConfigError, match="not passphrase-protected"):
        load_private_key(plain, "pw")
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a key\n")
    with pytest.raises(ConfigError, match="no readable private key"):
        load_private_key(garbage, "pw")
    ed = tmp_path / "ed25519.pem"
    ed.write_bytes(
        ed25519.Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"pw"),
        )
    )
    with pytest.raises(ConfigError, match="not an X25519 review desk key"):
        load_private_key(ed, "pw")


# --- the public key as text ------------------------------------------------------------------


def test_the_public_key_text_round_trips(desk: X25519PrivateKey) -> None:
    text = public_key_to_text(desk.public_key())
    assert text.startswith(PUBLIC_KEY_PREFIX)
    assert len(text) == len(PUBLIC_KEY_PREFIX) + 43
    assert "=" not in text
    for given in (text, f"  {text}\n"):
        assert raw_public_of(public_key_from_text(given)) == raw_public(desk)


def raw_public_of(public_key) -> bytes:  # type: ignore[no-untyped-def]
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _raw_of(text: str) -> bytes:
    return base64.urlsafe_b64decode(text.removeprefix(PUBLIC_KEY_PREFIX) + "=")


def _text_of(raw: bytes) -> str:
    return PUBLIC_KEY_PREFIX + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _flip_last_char(encoded: str) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return encoded[:-1] + alphabet[alphabet.index(encoded[-1]) ^ 1]


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t.removeprefix(PUBLIC_KEY_PREFIX),
        lambda t: t.replace("x25519", "ed25519"),
        lambda t: t + "=",
        lambda t: t[:-1],
        lambda t: t + "A",
        lambda t: t[:-2] + "+/",
        lambda t: t[:-2] + "!!",
        lambda t: t[:30] + " " + t[31:],
        lambda t: _flip_last_char(t),
        lambda t: PUBLIC_KEY_PREFIX + base64.urlsafe_b64encode(bytes(32)).decode().rstrip("="),
        lambda t: _text_of(_raw_of(t)[:31] + bytes([_raw_of(t)[31] | 0x80])),
        lambda t: _text_of((2**255 - 19 + 9).to_bytes(32, "little")),
        lambda t: "",
    ],
    ids=[
        "no-prefix",
        "wrong-prefix",
        "padding",
        "short",
        "long",
        "standard-base64",
        "bad-chars",
        "inner-space",
        "non-canonical",
        "low-order-point",
        "high-bit-set",
        "u-not-below-p",
        "empty",
    ],
)
def test_malformed_public_key_text_is_refused(desk: X25519PrivateKey, mangle) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError):
        public_key_from_text(mangle(public_key_to_text(desk.public_key())))


def test_the_configured_public_key_comes_from_the_environment_then_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TIPLEDGER_DESK_PUBLIC_KEY", raising=False)
    monkeypatch.setenv("TIPLEDGER_HOME", str(tmp_path))
    assert configured_public_key(Settings()) is None

    from_file, from_env = generate_desk_keypair(), generate_desk_keypair()
    save_public_key(Settings().desk_public_file, from_file.public_key())
    assert (tmp_path / "desk-public.txt").read_text() == (
        public_key_to_text(from_file.public_key()) + "\n"
    )
    found = configured_public_key(Settings())
    assert found is not None
    assert raw_public_of(found) == raw_public(from_file)

    monkeypatch.setenv("TIPLEDGER_DESK_PUBLIC_KEY", public_key_to_text(from_env.public_key()))
    found = configured_public_key(Settings())
    assert found is not None
    assert raw_public_of(found) == raw_public(from_env)


def test_a_bad_configured_public_key_names_its_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIPLEDGER_HOME", str(tmp_path))
    monkeypatch.setenv("TIPLEDGER_DESK_PUBLIC_KEY", "tipledger-desk-x25519:short")
    with pytest.raises(ConfigError, match=r"^TIPLEDGER_DESK_PUBLIC_KEY: "):
        configured_public_key(Settings())
    monkeypatch.delenv("TIPLEDGER_DESK_PUBLIC_KEY")
    (tmp_path / "desk-public.txt").write_text("garbage\n")
    with pytest.raises(ConfigError, match=r"desk-public\.txt: "):
        configured_public_key(Settings())


@pytest.mark.parametrize("attempt", range(12))
def test_every_wrong_passphrase_is_named_as_such(
    tmp_path: Path, desk: X25519PrivateKey, attempt: int
) -> None:
    # cryptography's error text for a wrong passphrase depends on what the wrong key decrypts
    # to; the answer must not.
    path = tmp_path / "desk.pem"
    save_private_key(path, desk, "right")
    with pytest.raises(ConfigError, match="wrong passphrase"):
        load_private_key(path, f"wrong-{attempt}")
