"""Shared fixtures for the identity vault: custodian X25519 keys (no key files, no scrypt), and a
vault store holding one record (on each database)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from sqlalchemy import Engine
from vault_store_support import StoredVault, stored

from ledger.vault.records import CustodianPublicKey

Custodians = tuple[list[X25519PrivateKey], list[CustodianPublicKey]]


def _make_custodians(n: int) -> Custodians:
    keys = [X25519PrivateKey.generate() for _ in range(n)]
    return keys, [CustodianPublicKey.from_public_key(k.public_key()) for k in keys]


@pytest.fixture(scope="session")
def make_custodians() -> Callable[[int], Custodians]:
    """``make_custodians(n)``: n fresh custodians, private keys and public keys in share order."""
    return _make_custodians


@pytest.fixture(scope="module")
def five() -> Custodians:
    """Five custodians, shared by a module's tests."""
    return _make_custodians(5)


@pytest.fixture
def identity() -> dict[str, Any]:
    return {
        "name": "สมชาย ใจดี",  # a non-ASCII name: the JSON is UTF-8
        "national_id": "1-2345-67890-12-3",
        "phone": "+66 81 234 5678",
        "role": "procurement clerk",
    }


@pytest.fixture
def stored_vault(engine: Engine) -> StoredVault:
    """Five registered custodians, a 3-of-5 reporter set and one record, on each database."""
    return stored(engine)
