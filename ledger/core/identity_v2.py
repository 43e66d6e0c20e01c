"""The identity record format, version 2: made on the reporter's device, K split over GF(2^8).

Frozen: records of this version are sealed in the browser (``api/web/static/js/identity-seal.js``)
and by the CLI (``ledger.vault.client.seal_identity_on_device``), and opened on custodians'
machines. A change to the layout, a size, an ``info`` or the split makes every such record
unreadable, so it is a new version, never an edit. Version 1 (``ledger.core.identity``) is
unchanged and still opens; the two never mix: every size and every ``info`` tag differs.

Why a new version: version 1 splits K with PyCryptodome's Shamir over GF(2^128), which has no
audited browser twin. Version 2 uses the byte-wise Shamir of HashiCorp Vault, as the audited npm
``shamir-secret-sharing`` 0.0.4 (browser) and PyPI ``pyshamir`` 1.1.0 (Python) implement it; the
two are byte-compatible (``tests/e2e/test_js_identity_seal.py`` splits in each and combines in
the other, every k-subset).

Wire format, version 2. Sizes in bytes, integers unsigned big-endian, ``||`` concatenation.
Where a line is not given it is version 1's::

    K             = 16 bytes from the CSPRNG (the device's: crypto.getRandomValues, os.urandom)
    data key      = HKDF-SHA256(IKM = K, salt = none, info = "tipledger/v2/identity", L = 32)
    nonce         = 12 random bytes, stored in the record
    ciphertext    = AES-256-GCM(data key, nonce, identity JSON, aad = record_id)   (len + 16)
    shares        = split(K, n, threshold): Shamir over GF(2^8) with the AES polynomial
                    x^8 + x^4 + x^3 + x + 1, each byte of K the constant term of its own random
                    polynomial of degree threshold - 1; 2 <= threshold <= n <= 255
    share value   = y (16) || x (1)                                               = 17 bytes
                    x is the evaluation point, distinct per share, from 1..255 as the splitter
                    draws it (random, not the index); y[j] is byte j's polynomial at x
    share index   = i for the i-th value split returns, 1..n in the custodians' order
    sealed share  = enc (32) || ct (17 + 16)                                       = 65 bytes
                    HPKE seal of the 17-byte share value to custodian i's X25519 key, with
    share info    = "tipledger/v2/share" (18) || record_id (32) || epoch (4) || index (1)
                    || custodian key_id (8)                                        = 63 bytes

    resealed share = version 0x02 (1) || index (1) || epoch (4) || enc (32) || ct (33) = 71 bytes
                    HPKE seal of the same 17-byte share value to the investigator's X25519 key,
    reseal info   = "tipledger/v2/reseal" (19) || record_id (32) || epoch (4) || index (1)
                    || request_digest (32) || investigator key_id (8)               = 96 bytes

    record (JSON) = version 1's object with "format": "tipledger-identity-record/2"

- ``combine`` interpolates at 0 through every share given (x from each value's last byte); a
  duplicate x is refused, and as in version 1 the AES-GCM tag is the final check.
- The identity JSON is what ``identity_bytes`` makes: for an object, ``json.dumps(sort_keys=True,
  separators=(",", ":"), ensure_ascii=False)`` as UTF-8 (keys sorted by code point). The browser
  writes the same bytes.
- A reporter's device seals at epoch 0 to the kind's current custodian set, in the set's order,
  with the set's threshold; the service checks all of that before it stores a record
  (``ledger.vault.service.VaultService.accept_sealed_identity``). A rotation keeps the version.
"""

from __future__ import annotations

from ledger.core import hpke

__all__ = [
    "DATA_KEY_INFO_V2",
    "MIN_THRESHOLD_V2",
    "RECORD_FORMAT_V2",
    "RECORD_VERSION_V2",
    "RESEALED_SHARE_SIZE_V2",
    "RESEAL_INFO_TAG_V2",
    "SEALED_SHARE_SIZE_V2",
    "SHARE_INFO_TAG_V2",
    "SHARE_VALUE_SIZE_V2",
]

RECORD_VERSION_V2 = 2
RECORD_FORMAT_V2 = "tipledger-identity-record/2"
DATA_KEY_INFO_V2 = b"tipledger/v2/identity"
SHARE_INFO_TAG_V2 = b"tipledger/v2/share"
RESEAL_INFO_TAG_V2 = b"tipledger/v2/reseal"

SHARE_VALUE_SIZE_V2 = 16 + 1  # y for each byte of K, then x
SEALED_SHARE_SIZE_V2 = hpke.ENC_SIZE + SHARE_VALUE_SIZE_V2 + hpke.TAG_SIZE
RESEALED_SHARE_SIZE_V2 = 1 + 1 + 4 + SEALED_SHARE_SIZE_V2
MIN_THRESHOLD_V2 = 2  # both libraries refuse a 1-of-n split: one share would be K itself
