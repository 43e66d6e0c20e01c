"""Key commands: ``keys init`` makes the review desk key pair, ``keys show`` prints its public half.

The private half is for the review desk's machines only: a passphrase-protected PKCS#8 file. The
service needs only the public half, ``<home>/desk-public.txt`` or ``TIPLEDGER_DESK_PUBLIC_KEY``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from ledger.cli.common import err, one_line_errors, out, settings
from ledger.desk.envelope import key_id
from ledger.desk.keys import (
    configured_public_key,
    generate_desk_keypair,
    public_key_to_text,
    save_private_key,
    save_public_key,
)
from ledger.errors import ConfigError

PASSPHRASE_ENV = "TIPLEDGER_DESK_PASSPHRASE"  # noqa: S105 - a variable name
PRIVATE_KEY_NAME = "review-desk-private.pem"


def _passphrase() -> str:
    passphrase = os.environ.get(PASSPHRASE_ENV)
    if passphrase is None:
        passphrase = typer.prompt(
            "Passphrase for the review desk private key",
            hide_input=True,
            confirmation_prompt=True,
            err=True,
        )
    if not passphrase:
        raise ConfigError("the review desk key needs a non-empty passphrase")
    return passphrase


def register(app: typer.Typer) -> None:
    keys = typer.Typer(
        help="The review desk's key pair (tips are sealed to its public half).",
        no_args_is_help=True,
    )
    app.add_typer(keys, name="keys")

    @keys.command("init")
    @one_line_errors
    def init(
        private_out: Annotated[
            Path | None,
            typer.Option(
                "--private-out",
                help=f"Where to write the private key (default: <home>/{PRIVATE_KEY_NAME}).",
                dir_okay=False,
            ),
        ] = None,
        public_out: Annotated[
            Path | None,
            typer.Option(
                "--public-out",
                help="Where to write the public key (default: <home>/desk-public.txt).",
                dir_okay=False,
            ),
        ] = None,
        force: Annotated[
            bool, typer.Option("--force", help="Overwrite existing key files.")
        ] = False,
    ) -> None:
        """Make the review desk key pair: a passphrase-protected private key and its public key.

        The passphrase comes from TIPLEDGER_DESK_PASSPHRASE, or is asked for twice.
        """
        s = settings()
        private_path = private_out or s.home / PRIVATE_KEY_NAME
        public_path = public_out or s.desk_public_file
        if not force:
            for path in (private_path, public_path):
                if path.exists():
                    raise ConfigError(
                        f"{path} already exists; pass --force to replace the review desk key "
                        "(tips sealed to the old key can then be opened only with the old one)"
                    )
        passphrase = _passphrase()
        if private_out is None or public_out is None:
            s.ensure_home()
        key = generate_desk_keypair()
        public_key = key.public_key()
        save_private_key(private_path, key, passphrase, overwrite=force)
        save_public_key(public_path, public_key, overwrite=force)
        err.print(f"review desk key {key_id(public_key)}")
        err.print(f"  private key  {private_path}  (keep it, and its passphrase, at the desk)")
        err.print(f"  public key   {public_path}  (the service seals tips to it)")
        if s.desk_public_key:
            err.print(
                "[yellow]note:[/] TIPLEDGER_DESK_PUBLIC_KEY is set and takes precedence over "
                f"{s.desk_public_file}"
            )
        out.print(public_key_to_text(public_key))

    @keys.command("show")
    @one_line_errors
    def show() -> None:
        """Print the review desk public key the service seals tips to, and its key id."""
        s = settings()
        public_key = configured_public_key(s)
        if public_key is None:
            raise ConfigError(
                "no review desk public key: set TIPLEDGER_DESK_PUBLIC_KEY, or run "
                f"`tipledger keys init` (it writes {s.desk_public_file})"
            )
        source = "TIPLEDGER_DESK_PUBLIC_KEY" if s.desk_public_key else str(s.desk_public_file)
        out.print(public_key_to_text(public_key))
        err.print(f"key id  {key_id(public_key)}")
        err.print(f"from    {source}")
