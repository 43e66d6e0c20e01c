"""Known-answer vectors for the frozen v1 formats in ``ledger.core`` (quoted in docs/PROTOCOL.md).

Made once with the code as it was before the formats moved into ``ledger.core`` (issue 10) and
pinned here: a change to any of them is a change to the wire format. HPKE sealing is randomised
(a fresh ephemeral key each time), so the sealed vectors are fixed outputs that must keep
opening, not outputs to reproduce. Every private key is SHA-256 of a label, so anyone can
rebuild them: ``X25519PrivateKey.from_private_bytes(sha256(label))``.
"""

from __future__ import annotations

import hashlib


def label_key(label: str) -> bytes:
    """The 32 private-key bytes of a vector key: SHA-256 over its label."""
    return hashlib.sha256(label.encode("utf-8")).digest()


# --- HPKE key id (ledger.core.hpke) ------------------------------------------------------------

DESK_PRIVATE_KEY = label_key("tipledger test vector: desk key")
DESK_PUBLIC_KEY = bytes.fromhex("a2bc9c03c78965fdf0da8cdc2c127cfd7de3744adbd02a05d2cf72b776a98d40")
DESK_KEY_ID = "c9ac16f15df2633f"  # first 8 bytes of SHA-256(DESK_PUBLIC_KEY)


# --- the tip document, "tipledger-tip/1" (ledger.core.tip) ------------------------------------

TIP_TEXT = 'Invoice 4711 was paid twice.\nผู้แจ้ง "quoted"'
# (file name, media type or None, the attachment's bytes)
TIP_ATTACHMENTS = (
    ("ใบแจ้งหนี้ 4711.pdf", "application/pdf", b"%PDF-1.7 fake"),
    ("notes.bin", None, b""),
)
TIP_DOCUMENT = (
    '{"attachments":['
    '{"name":"ใบแจ้งหนี้ 4711.pdf",'
    '"sha256":"0xc8ca01b35f9c00d56a3aff3de70c26d022b3add765b923eec0ad7d783d9cc033",'
    '"size":13,"type":"application/pdf"},'
    '{"name":"notes.bin",'
    '"sha256":"0xe3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",'
    '"size":0,"type":"application/octet-stream"}],'
    '"format":"tipledger-tip/1",'
    '"text":"Invoice 4711 was paid twice.\\nผู้แจ้ง \\"quoted\\""}'
).encode()


# --- the desk envelope, version 1 (ledger.core.envelope) --------------------------------------

TIP_SALT = bytes.fromhex("103895ac121ad362e69f23ff3b9cc6e56248b687cefed04f17c3864ba2ec5919")
TIP_AUTHOR = bytes.fromhex("5aaeb6053f3e94c9b9a09f33669435e7ef1beaed")
TIP_COMMITMENT = bytes.fromhex("f75b311010567e42abf5e8d7e846ba32ebbe01aeabe51a7e625f928c65b4219f")
# TIP_DOCUMENT, TIP_SALT and TIP_AUTHOR sealed to DESK_PUBLIC_KEY for TIP_COMMITMENT.
ENVELOPE = bytes.fromhex(
    "01c9ac16f15df2633f4f8e140db1301fe16f2dee9d3d8fb70770999356cc130dabbe5bcd6e4ec5c867b666a8"
    "2edb091f806b0f930afa2172d8b31b6724fd16846d002f81b095f70c39c108375ba1cc41788e5cc4f71624a8"
    "54a4bfe03a6f967a62fb4f875e6c4bbee2c1b5aee1c83ab434c7e619eeab95ce590a7cda6ff4a73beac4e7ea"
    "d9d557f5fe4ac30c6f2ccd1b2a155d49eb1b3a238651c9b43727e57933bd9172adad6a838123a0031a379df3"
    "44c40cf74cd81ec52b562ab917a2a66d2afc2e7d20c6f0e8695b6773913a2c4642f80330ed67added4f8bc63"
    "6db243f9d71116476913875bec0ad1af2f175e69e21dd65bd721659dbef5eaea2ee38583343778afcc2a4708"
    "352952dcf11398c603bed75d009477a9191c0018cbd87a88511cf91e17da16670d24df378bb740fc63af8d73"
    "a4324981e1fb50efd561010985a74aeb7d9ac10e51d195c3de920fc635dfa6ce16ea93ae33a050009ab254cc"
    "2a75e63193612d96487767fa057ee190461216bce8f66489a9644914b534818ed5ea5e85cba8f6e145641651"
    "959c2f1f5526822655c3d5f4f4877cf4e17834b47063382040e4163b9c742207fed168cc58f6b773e71b68fe"
    "870071f68d55a7741ff28a03cfe363f1550049740114f2bec6846738b9d379708c66e36380588c6fa33d9524"
    "59ba0168e758c8f0914e6a800a044c6bb59c554d4ec7d372b9da1439d898704c0ab2c0fccc510c3e79f8bf98"
    "b38cb8"
)


# --- follow-up (ledger.core.followup) ---------------------------------------------------------

FOLLOW_UP_SECRET = label_key("tipledger test vector: follow-up secret")
FOLLOW_UP_SECRET_TEXT = "tlf1_JW7heEDJqnO70h1rWIgqgb0EHgxpBONPxKYqU9i0NHM"
# HKDF-SHA256(IKM = FOLLOW_UP_SECRET, salt = TIP_COMMITMENT, info = "tipledger/v1/follow-up/key")
REPORTER_PRIVATE_KEY = bytes.fromhex(
    "684a64f888288ee608111effc48153224b407236091968220eee5cba367c99c0"
)
REPORTER_PUBLIC_KEY = bytes.fromhex(
    "eae66fc50b6575b12fcc262d5e8d10e0538507b74adc228abbac90ea40e04a7a"
)
MESSAGE_ID = bytes(range(16))
MESSAGE_TEXT = "Which office sent invoice 4711?"
# MESSAGE_TEXT from the reviewer (sender 1) about TIP_COMMITMENT, id MESSAGE_ID: the desk's copy
# (sealed to DESK_PUBLIC_KEY) and the reporter's (sealed to REPORTER_PUBLIC_KEY).
MESSAGE_TO_DESK = bytes.fromhex(
    "01c9ac16f15df2633f08aea8224446647fb57d447a48157b033ea0d486508ee8e11bcb1c62e98d2f7ae23701"
    "1868cc92181f502138e489fb1af29c762df5312fb3a23b5a6a69bfadf02d23d3d2716a0a1617fdb2a980050d"
)
MESSAGE_TO_REPORTER = bytes.fromhex(
    "014f7a0da54d358ae9de0b9521a1b7eb984ca4b460303e39aea859fd5b13539f0a9498c512465f7e319fe2b4"
    "9fdba58d7b44c07a0e30e85fc272c05917fb81e2abeaecd53b11b7896dffddd1a89d00c03f1ac31f95ac1bf5"
)


# --- the identity record, version 1 (ledger.core.identity) ------------------------------------

CUSTODIAN_PRIVATE_KEYS = tuple(
    label_key(f"tipledger test vector: custodian {i}") for i in (1, 2, 3)
)
INVESTIGATOR_PRIVATE_KEY = label_key("tipledger test vector: investigator")
REQUEST_DIGEST = label_key("tipledger test vector: disclosure request")
IDENTITY = {"name": "A. Reporter", "email": "a@example.org"}
IDENTITY_JSON = b'{"email":"a@example.org","name":"A. Reporter"}'
# IDENTITY sealed for the three custodians, 2 of 3, as IdentityRecord.to_dict() writes it.
IDENTITY_RECORD = {
    "format": "tipledger-identity-record/1",
    "record_id": "0x776f220f29b5fccdc4ffa5cb6b130cd84f298db5543f3007974dcad7a223bb58",
    "kind": "reporter",
    "epoch": 0,
    "threshold": 2,
    "nonce": "0xb528a07ff4756b3a7754d0ef",
    "ciphertext": (
        "0x930f3a680907bec83fc425225f7690985f57898c52606bc09f796194a31665fcd973f77c44dbef31f4"
        "5e5bc5901300b5588d450b83e33786718dff370acc"
    ),
    "sealed_shares": [
        {
            "index": 1,
            "custodian_key_id": "070f60e8613c8308",
            "epoch": 0,
            "sealed": (
                "0x20842a1864a4a457663b9f7c1e7032c98ff0ec0ff5d6db9a701439d2db215f6d1b4634815d"
                "651d39602d0eeb6f957b51050485c33a1c93ae40f90cd1c777afe2"
            ),
        },
        {
            "index": 2,
            "custodian_key_id": "584c31be5d38b580",
            "epoch": 0,
            "sealed": (
                "0xa7754404f577fe875d61545eb72c5b215a0943013b5235e507b493e3ce76b144ab63979c62"
                "896a93c3cfe6546fc82bc385e780ff0b1c036ab884b906928e84ce"
            ),
        },
        {
            "index": 3,
            "custodian_key_id": "a10daef77250fff0",
            "epoch": 0,
            "sealed": (
                "0xa7f0f0cf888531beb8d23ad289834abcdbb57bb93d3f7807fe2371d0132cbc20726fad7746"
                "a619670609c5404f5271b822c9160764446a1f98db01e81ed88828"
            ),
        },
    ],
}
# Share 1 of IDENTITY_RECORD, opened by custodian 1 and re-sealed to the investigator for
# REQUEST_DIGEST.
RESEALED_SHARE_1 = bytes.fromhex(
    "010100000000c626ebcc9986b1ddba3c754168b78178dc8e6b817769417b7fe2d6694b03306c045b19c09d08"
    "0776e959c8fa3d04ebf1986e3e8f442489850766565c8447c768"
)
# share_info(bytes(range(32)), epoch 7, index 3, key id bytes(range(8))): 63 bytes.
SHARE_INFO = bytes.fromhex(
    "7469706c65646765722f76312f7368617265000102030405060708090a0b0c0d0e0f10111213141516171819"
    "1a1b1c1d1e1f00000007030001020304050607"
)
# reseal_info(bytes(range(32)), epoch 7, index 3, bytes(range(100, 132)), bytes(range(8))).
RESEAL_INFO = bytes.fromhex(
    "7469706c65646765722f76312f72657365616c000102030405060708090a0b0c0d0e0f101112131415161718"
    "191a1b1c1d1e1f00000007036465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f80818283"
    "0001020304050607"
)
# HKDF-SHA256(IKM = bytes(range(16)), no salt, info = "tipledger/v1/identity", L = 32).
DATA_KEY = bytes.fromhex("50f1173e37a0c8757816b4c13f81f123a73b29931542dae1cd8a6e3b43e3720f")


# --- role ids and review statuses (ledger.core.names) -------------------------------------------

# keccak256(name) for each role; OpenZeppelin's DEFAULT_ADMIN_ROLE is all zero.
ROLE_IDS = {
    "DEFAULT_ADMIN_ROLE": bytes(32),
    "ANCHORER_ROLE": bytes.fromhex(
        "4b3e6527f1b0d33beb6c20e3c362af276f03c4526b5f8b6d118672f0d75a60eb"
    ),
    "REVIEWER_ROLE": bytes.fromhex(
        "c10c77be35aff266144ed64c26a1fa104bae2f284ae99ac4a34203454704a185"
    ),
    "CUSTODIAN_ROLE": bytes.fromhex(
        "e28434228950b641dbbc0178de89daa359a87c6ee0d8399aeace52a98fe902b9"
    ),
}
# What recordReview stores, and the one name of each (0, never reviewed, cannot be recorded).
STATUSES = {
    1: "under_review",
    2: "substantiated",
    3: "unsubstantiated",
    4: "referred",
    5: "closed",
}


# --- agencies, routing and case-key grants (PROTOCOL.md section 16) ----------------------------

INTAKE_ID = bytes.fromhex("696e74616b650000000000000000000000000000000000000000000000000000")
# A batch of five: commitment i = SHA-256("commitment i"), salt i = SHA-256("routing salt i").
ROUTING_AGENCIES = ("intake", "nacc", "intake", "oag", "nacc")
ROUTING_ROOT = bytes.fromhex("cf66547db6858ada96a876693a372b50f9615b19d8228dedd31477657394feb6")
ROUTING_PATH_3 = tuple(
    bytes.fromhex(h)
    for h in (
        "c48549e1b83dfe0354879e6edbb3b8362daef643b7885aa0c6c706d6cd5d4988",
        "f6a7dd196519ff37895085b7e34458c405e3dc75ec3108d38d89a356876c32cd",
        "bc252692a66ec87b6222f4fed2ba615c8dfe8b1c2d2a96e7b63cffab887d8cb8",
    )
)
MEMBER_PRIVATE_KEY = label_key("tipledger test vector: member key")
MEMBER_KEY_ID = "c4a4a16ea1a81d29"
CASE_PRIVATE_KEY = label_key("tipledger test vector: case key")
CASE_KEY_ID = "fa9b37b490a3e197"
# The case key granted to the member for commitment SHA-256("commitment 0").
GRANT = bytes.fromhex(
    "01c4a4a16ea1a81d29a13b473959f83e0831c82b7f60140a624e31cd410eb32930f2b44c141679531cbc6ddb"
    "418e4e48884e2eea0dce81752828bebcae478102f404ccb6912d09aa28cfa434a15c4284b368f83d28844cbcb4"
)
