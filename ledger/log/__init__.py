"""The append lifecycle: intake (group commit), sequencer, anchoring, the read side (reader) and
the one receipt builder (receipts). Storage is ``ledger.store``; the chain is ``ledger.chain``."""
