"""EIP-712 messages (PROTOCOL.md section 5).

Each digest is checked against two independent computations: one by hand here (eth_abi encoding,
pycryptodome's Keccak-256), one through eth_account's ``encode_typed_data``. Each signature is
checked to be byte-identical to ``eth_account.Account.sign_typed_data``.
"""

from __future__ import annotations

import re

import pytest
from Crypto.Hash import keccak as pycryptodome_keccak
from eth_abi import encode as abi_encode
from eth_account import Account
from eth_account.messages import _hash_eip191_message, encode_typed_data
from eth_keys import keys
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.core import eip712
from ledger.core.encoding import checksum_address
from ledger.core.errors import ProtocolError, SignatureError

CHAIN_ID = 31337
CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
KEY = bytes.fromhex("ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")
KEY_ADDRESS = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"  # Anvil's first dev account
COMMITMENT = bytes.fromhex("11" * 32)
CHALLENGE = bytes.fromhex("22" * 32)
RECORD_ID = bytes.fromhex("33" * 32)
REQUEST_DIGEST = bytes.fromhex("44" * 32)
REQUESTER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
RECEIVED_AT = 1764200000
N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def kec(data: bytes) -> bytes:
    return pycryptodome_keccak.new(digest_bits=256, data=data).digest()


def hand_domain_separator(chain_id: int, contract: str) -> bytes:
    typehash = kec(
        b"EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
    )
    return kec(
        abi_encode(
            ["bytes32", "bytes32", "bytes32", "uint256", "address"],
            [typehash, kec(b"TipLedger"), kec(b"1"), chain_id, contract],
        )
    )


def hand_digest(chain_id: int, contract: str, struct_hash: bytes) -> bytes:
    return kec(b"\x19\x01" + hand_domain_separator(chain_id, contract) + struct_hash)


def hand_promise(chain_id: int, contract: str, commitment: bytes, received_at: int) -> bytes:
    typehash = kec(b"Promise(bytes32 commitment,uint64 receivedAt)")
    struct = kec(abi_encode(["bytes32", "bytes32", "uint64"], [typehash, commitment, received_at]))
    return hand_digest(chain_id, contract, struct)


def hand_claim(chain_id: int, contract: str, commitment: bytes, challenge: bytes) -> bytes:
    typehash = kec(b"Claim(bytes32 commitment,bytes32 challenge)")
    struct = kec(abi_encode(["bytes32"] * 3, [typehash, commitment, challenge]))
    return hand_digest(chain_id, contract, struct)


def hand_disclosure(
    chain_id: int, contract: str, record_id: bytes, request_digest: bytes, requester: str
) -> bytes:
    typehash = kec(b"Disclosure(bytes32 recordId,bytes32 requestDigest,address requester)")
    struct = kec(
        abi_encode(
            ["bytes32", "bytes32", "bytes32", "address"],
            [typehash, record_id, request_digest, requester],
        )
    )
    return hand_digest(chain_id, contract, struct)


def library_digest(typed: dict[str, object]) -> bytes:
    return bytes(_hash_eip191_message(encode_typed_data(full_message=typed)))


def library_sign(key: bytes, primary: str, message: dict[str, object], chain_id: int) -> bytes:
    signed = Account.sign_typed_data(
        key,
        {"name": "TipLedger", "version": "1", "chainId": chain_id, "verifyingContract": CONTRACT},
        {primary: eip712.TYPES[primary]},
        message,
    )
    return bytes(signed.signature)


# --- types and domain ----------------------------------------------------------------------------


def test_type_strings() -> None:
    assert eip712.PROMISE_TYPE == "Promise(bytes32 commitment,uint64 receivedAt)"
    assert eip712.CLAIM_TYPE == "Claim(bytes32 commitment,bytes32 challenge)"
    assert eip712.DISCLOSURE_TYPE == (
        "Disclosure(bytes32 recordId,bytes32 requestDigest,address requester)"
    )
    for name, fields in eip712.TYPES.items():
        if name == "EIP712Domain":
            continue
        encoded = f"{name}({','.join(f['type'] + ' ' + f['name'] for f in fields)})"
        assert encoded == getattr(eip712, f"{name.upper()}_TYPE")


def test_domain() -> None:
    assert eip712.domain(CHAIN_ID, CONTRACT.lower()) == {
        "name": "TipLedger",
        "version": "1",
        "chainId": 31337,
        "verifyingContract": CONTRACT,
    }
    assert eip712.domain_separator(CHAIN_ID, CONTRACT) == hand_domain_separator(CHAIN_ID, CONTRACT)


# --- digests: by hand and through eth_account ---------------------------------------------------


def test_promise_digest() -> None:
    got = eip712.promise_digest(CHAIN_ID, CONTRACT, COMMITMENT, RECEIVED_AT)
    assert got == hand_promise(CHAIN_ID, CONTRACT, COMMITMENT, RECEIVED_AT)
    typed = eip712.promise_typed_data(CHAIN_ID, CONTRACT, COMMITMENT, RECEIVED_AT)
    assert got == library_digest(typed)
    assert len(got) == 32


def test_claim_digest() -> None:
    got = eip712.claim_digest(CHAIN_ID, CONTRACT, COMMITMENT, CHALLENGE)
    assert got == hand_claim(CHAIN_ID, CONTRACT, COMMITMENT, CHALLENGE)
    assert got == library_digest(eip712.claim_typed_data(CHAIN_ID, CONTRACT, COMMITMENT, CHALLENGE))


def test_disclosure_digest() -> None:
    got = eip712.disclosure_digest(CHAIN_ID, CONTRACT, RECORD_ID, REQUEST_DIGEST, REQUESTER)
    assert got == hand_disclosure(CHAIN_ID, CONTRACT, RECORD_ID, REQUEST_DIGEST, REQUESTER)
    typed = eip712.disclosure_typed_data(CHAIN_ID, CONTRACT, RECORD_ID, REQUEST_DIGEST, REQUESTER)
    assert got == library_digest(typed)


def test_digests_depend_on_domain() -> None:
    base = eip712.promise_digest(CHAIN_ID, CONTRACT, COMMITMENT, RECEIVED_AT)
    assert eip712.promise_digest(1, CONTRACT, COMMITMENT, RECEIVED_AT) != base
    assert eip712.promise_digest(CHAIN_ID, REQUESTER, COMMITMENT, RECEIVED_AT) != base
    assert eip712.promise_digest(CHAIN_ID, CONTRACT, COMMITMENT, RECEIVED_AT + 1) != base
    # The three types never collide on the same words.
    assert eip712.claim_digest(CHAIN_ID, CONTRACT, COMMITMENT, bytes(32)) != eip712.promise_digest(
        CHAIN_ID, CONTRACT, COMMITMENT, 0
    )


addresses = st.binary(min_size=20, max_size=20).map(checksum_address)
words = st.binary(min_size=32, max_size=32)
uint64s = st.integers(0, 2**64 - 1)
chain_ids = st.one_of(st.integers(1, 2**64), st.sampled_from([1, 31337, 11155111]))
keys_ = st.integers(1, N - 1).map(lambda k: k.to_bytes(32, "big"))


@settings(max_examples=60, deadline=None)
@given(chain_id=chain_ids, contract=addresses, commitment=words, received_at=uint64s, key=keys_)
def test_promise_matches_eth_account(
    chain_id: int, contract: str, commitment: bytes, received_at: int, key: bytes
) -> None:
    digest = eip712.promise_digest(chain_id, contract, commitment, received_at)
    assert digest == hand_promise(chain_id, contract, commitment, received_at)
    sig = eip712.sign_promise(key, chain_id, contract, commitment, received_at)
    expected = Account.sign_typed_data(
        key,
        eip712.domain(chain_id, contract),
        {"Promise": eip712.TYPES["Promise"]},
        {"commitment": commitment, "receivedAt": received_at},
    )
    assert sig == bytes(expected.signature)
    address = Account.from_key(key).address
    assert (
        eip712.recover_promise_signer(chain_id, contract, commitment, received_at, sig) == address
    )


@settings(max_examples=60, deadline=None)
@given(
    chain_id=chain_ids,
    contract=addresses,
    record_id=words,
    request_digest=words,
    requester=addresses,
    key=keys_,
)
def test_disclosure_matches_by_hand(
    chain_id: int,
    contract: str,
    record_id: bytes,
    request_digest: bytes,
    requester: str,
    key: bytes,
) -> None:
    digest = eip712.disclosure_digest(chain_id, contract, record_id, request_digest, requester)
    assert digest == hand_disclosure(chain_id, contract, record_id, request_digest, requester)
    sig = eip712.sign_disclosure(key, chain_id, contract, record_id, request_digest, requester)
    signer = eip712.recover_disclosure_signer(
        chain_id, contract, record_id, request_digest, requester, sig
    )
    assert signer == Account.from_key(key).address


# --- signatures ----------------------------------------------------------------------------------


def test_signatures_equal_eth_account_sign_typed_data() -> None:
    promise = eip712.sign_promise(KEY, CHAIN_ID, CONTRACT, COMMITMENT, RECEIVED_AT)
    assert promise == library_sign(
        KEY, "Promise", {"commitment": COMMITMENT, "receivedAt": RECEIVED_AT}, CHAIN_ID
    )
    claim = eip712.sign_claim(KEY, CHAIN_ID, CONTRACT, COMMITMENT, CHALLENGE)
    assert claim == library_sign(
        KEY, "Claim", {"commitment": COMMITMENT, "challenge": CHALLENGE}, CHAIN_ID
    )
    disclosure = eip712.sign_disclosure(
        KEY, CHAIN_ID, CONTRACT, RECORD_ID, REQUEST_DIGEST, REQUESTER
    )
    assert disclosure == library_sign(
        KEY,
        "Disclosure",
        {"recordId": RECORD_ID, "requestDigest": REQUEST_DIGEST, "requester": REQUESTER},
        CHAIN_ID,
    )
    for sig in (promise, claim, disclosure):
        assert len(sig) == 65
        assert sig[64] in (27, 28)
        assert int.from_bytes(sig[32:64], "big") <= N // 2


def test_recovery_round_trip_and_library_agreement() -> None:
    sig = eip712.sign_claim(KEY, CHAIN_ID, CONTRACT, COMMITMENT, CHALLENGE)
    assert eip712.recover_claim_signer(CHAIN_ID, CONTRACT, COMMITMENT, CHALLENGE, sig) == (
        KEY_ADDRESS
    )
    assert eip712.recover_claim_signer(CHAIN_ID, CONTRACT, COMMITMENT, CHALLENGE, "0x" + sig.hex())
    typed = eip712.claim_typed_data(CHAIN_ID, CONTRACT, COMMITMENT, CHALLENGE)
    assert Account.recover_message(encode_typed_data(full_message=typed), signature=sig) == (
        KEY_ADDRESS
    )
    # Another challenge recovers to someone else: the signature binds every field.
    other = eip712.recover_claim_signer(CHAIN_ID, CONTRACT, COMMITMENT, bytes(32), sig)
    assert other != KEY_ADDRESS


def test_signer_accepts_every_key_form_and_hides_the_key() -> None:
    forms: list[eip712.SigningKey] = [
        KEY,
        "0x" + KEY.hex(),
        keys.PrivateKey(KEY),
        Account.from_key(KEY),
        eip712.Signer(KEY),
    ]
    expected = eip712.sign_promise(KEY, CHAIN_ID, CONTRACT, COMMITMENT, RECEIVED_AT)
    for form in forms:
        assert eip712.sign_promise(form, CHAIN_ID, CONTRACT, COMMITMENT, RECEIVED_AT) == expected
    signer = eip712.Signer(KEY)
    assert signer.address == KEY_ADDRESS
    assert KEY.hex() not in repr(signer)
    assert eip712.as_signer(signer) is signer


@pytest.mark.parametrize(
    "key",
    [bytes(32), N.to_bytes(32, "big"), bytes(31), "0x1234", "ac" * 32, 12345],
    ids=["zero", "n", "short", "short-hex", "no-prefix", "int"],
)
def test_bad_keys(key: object) -> None:
    with pytest.raises(ProtocolError):
        eip712.Signer(key)  # type: ignore[arg-type]


# --- malformed signatures ------------------------------------------------------------------------


def _good() -> bytes:
    return eip712.sign_promise(KEY, CHAIN_ID, CONTRACT, COMMITMENT, RECEIVED_AT)


def _with(r: int | None = None, s: int | None = None, v: int | None = None) -> bytes:
    sig = _good()
    r_ = int.from_bytes(sig[:32], "big") if r is None else r
    s_ = int.from_bytes(sig[32:64], "big") if s is None else s
    v_ = sig[64] if v is None else v
    return r_.to_bytes(32, "big") + s_.to_bytes(32, "big") + bytes((v_,))


def _malleated() -> bytes:
    sig = _good()
    s = int.from_bytes(sig[32:64], "big")
    return _with(s=N - s, v=55 - sig[64])  # the high-s twin (27 <-> 28)


@pytest.mark.parametrize(
    ("signature", "message"),
    [
        (b"", "65 bytes"),
        (bytes(64), "65 bytes"),
        (_good() + b"\x00", "65 bytes"),
        ("0x1234", "130 hex digits"),
        ("nothex", "130 hex digits"),
        (_with(v=0), "v must be 27 or 28"),
        (_with(v=1), "v must be 27 or 28"),
        (_with(v=29), "v must be 27 or 28"),
        (_with(v=37), "v must be 27 or 28"),
        (_with(r=0), "r is out of range"),
        (_with(r=N), "r is out of range"),
        (_with(s=0), "not canonical low-s"),
        (_with(s=N // 2 + 1), "not canonical low-s"),
        (_malleated(), "not canonical low-s"),
        (_with(r=5), "does not recover"),  # x = 5 is not on secp256k1
        (12345, "65 bytes"),
    ],
    ids=[
        "empty",
        "64-bytes",
        "66-bytes",
        "short-hex",
        "not-hex",
        "v0",
        "v1",
        "v29",
        "v37-eip155",
        "r-zero",
        "r-n",
        "s-zero",
        "s-high",
        "malleated",
        "r-not-on-curve",
        "int",
    ],
)
def test_malformed_signatures_raise(signature: object, message: str) -> None:
    with pytest.raises(SignatureError, match=re.escape(message)):
        eip712.recover_promise_signer(
            CHAIN_ID,
            CONTRACT,
            COMMITMENT,
            RECEIVED_AT,
            signature,  # type: ignore[arg-type]
        )


def test_malleated_signature_would_recover_the_same_key_in_a_lax_verifier() -> None:
    """The high-s twin is a valid ECDSA signature; refusing it is a choice (as OpenZeppelin)."""
    digest = eip712.promise_digest(CHAIN_ID, CONTRACT, COMMITMENT, RECEIVED_AT)
    assert Account._recover_hash(digest, signature=_malleated()) == KEY_ADDRESS


# --- argument checks -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((CHAIN_ID, CONTRACT, COMMITMENT[:31], RECEIVED_AT), "commitment must be 32 bytes"),
        ((CHAIN_ID, CONTRACT, COMMITMENT.hex(), RECEIVED_AT), "commitment must be 32 bytes"),
        ((CHAIN_ID, CONTRACT, COMMITMENT, -1), "receivedAt must be an integer in [0, 2^64)"),
        ((CHAIN_ID, CONTRACT, COMMITMENT, 2**64), "receivedAt must be an integer in [0, 2^64)"),
        ((CHAIN_ID, CONTRACT, COMMITMENT, True), "receivedAt must be an integer"),
        ((CHAIN_ID, CONTRACT, COMMITMENT, 1.0), "receivedAt must be an integer"),
        ((0, CONTRACT, COMMITMENT, RECEIVED_AT), "chain id must be a positive integer"),
        (("31337", CONTRACT, COMMITMENT, RECEIVED_AT), "chain id must be a positive integer"),
        ((CHAIN_ID, CONTRACT[:-2], COMMITMENT, RECEIVED_AT), "verifying contract"),
    ],
    ids=[
        "short-commitment",
        "hex-commitment",
        "negative-time",
        "huge-time",
        "bool-time",
        "float-time",
        "zero-chain",
        "str-chain",
        "short-contract",
    ],
)
def test_promise_digest_argument_checks(args: tuple[object, ...], message: str) -> None:
    with pytest.raises(ProtocolError, match=re.escape(message)):
        eip712.promise_digest(*args)  # type: ignore[arg-type]


def test_domain_cache_keeps_argument_checks() -> None:
    first = eip712.promise_digest(1, CONTRACT, COMMITMENT, RECEIVED_AT)  # cached for chain 1
    with pytest.raises(ProtocolError, match="chain id"):
        eip712.promise_digest(True, CONTRACT, COMMITMENT, RECEIVED_AT)
    raw = bytearray.fromhex(CONTRACT[2:])
    assert eip712.promise_digest(1, raw, COMMITMENT, RECEIVED_AT) == first  # type: ignore[arg-type]
    assert eip712.promise_digest(1, CONTRACT.lower(), COMMITMENT, RECEIVED_AT) == first
    for bad in ([1, 2], None, CONTRACT.replace("F", "f", 1)):
        with pytest.raises(ProtocolError, match="verifying contract"):
            eip712.promise_digest(1, bad, COMMITMENT, RECEIVED_AT)  # type: ignore[arg-type]


def test_disclosure_requester_checked() -> None:
    with pytest.raises(ProtocolError, match="requester"):
        eip712.disclosure_digest(CHAIN_ID, CONTRACT, RECORD_ID, REQUEST_DIGEST, "0x1234")
