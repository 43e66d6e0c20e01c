"""Desk sign-in: Sign-In with Ethereum (EIP-4361) and bearer sessions with roles read from chain."""
