"""The ``tipledger`` command (typer + rich)."""

from ledger.cli.app import app, main

__all__ = ["app", "main"]
