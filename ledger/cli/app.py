"""The ``tipledger`` application: registers the command groups."""

from __future__ import annotations

import typer

from ledger.cli import (
    agency_commands,
    audit_commands,
    chain_commands,
    disclosure_commands,
    follow_up_commands,
    key_commands,
    migrate_commands,
    pages_commands,
    review_commands,
    role_commands,
    serve_commands,
    tip_commands,
    vault_commands,
)

app = typer.Typer(
    name="tipledger",
    help="Whistleblower tips that no one can quietly lose, alter or deny.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
chain_commands.register(app)
tip_commands.register(app)
key_commands.register(app)
serve_commands.register(app)
audit_commands.register(app)
review_commands.register(app)
follow_up_commands.register(app)
vault_commands.register(app)
disclosure_commands.register(app)
role_commands.register(app)
agency_commands.register(app)
migrate_commands.register(app)
pages_commands.register(app)


def main() -> None:
    app()
