"""TipLedger: an append-only, chain-anchored log of whistleblower tips."""
