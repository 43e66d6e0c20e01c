"""The chain edge: contract build (py-solc-x), the local Anvil devchain, deploy and the client.

Everything that talks to an Ethereum node lives here, and every web3 or transport exception is
wrapped into ``ledger.errors.ChainError`` (or a subclass) where it enters.
"""
