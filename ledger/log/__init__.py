"""The append lifecycle: intake (group commit), sequencer, anchoring, lease, receipts."""
