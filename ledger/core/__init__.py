"""TipLedger's frozen protocol core (PROTOCOL.md, version 1).

Pure code only: hashing, RFC 9162 log maths, EIP-712 encoding, the receipt model, and every
frozen format: the tip document (``tip``), the desk envelope (``envelope``), the follow-up
formats (``followup``, secrets v1 and v2), the identity record (``identity``, ``identity_v2``),
the one HPKE suite and key id (``hpke``), agencies, routing and case-key grants (``agency``,
``routing``, ``casekey``), the tip sealed on the device and its attachment streams (``sealed``,
``attachment``), and the role and review-status names (``names``). No I/O, no web3, no database.
Everything here is part of the wire protocol: a change to what these functions compute breaks
every receipt, envelope and record already issued, so such a change is a new protocol version,
never an edit. Adding code is fine; changing outputs is not.
"""
