"""The chain edge: contract build (solc), the local Anvil devchain, deploy, the client
(sending) and the reader (every read of the node's own state: ``reader.ChainReader``).

Everything that talks to an Ethereum node lives here, and every web3 or transport exception is
wrapped into ``ledger.errors.ChainError`` (or a subclass) where it enters.
"""
