"""TipLedger's frozen protocol core (PROTOCOL.md, version 1).

Pure code only: hashing, RFC 9162 log maths, EIP-712 encoding and the receipt model. No I/O,
no web3, no database. Everything here is part of the wire protocol: a change to what these
functions compute breaks every receipt already issued, so such a change is a new protocol
version, never an edit. Adding code is fine; changing outputs is not.
"""
