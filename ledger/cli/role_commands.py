"""``tipledger roles …``: grant, revoke and show the contract's roles (the admin's key signs).

On the devchain the admin (DEFAULT_ADMIN_ROLE) is Anvil's account 0, the deployer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ledger.chain.contract import ROLES
from ledger.cli.common import err, one_line_errors, open_chain, out, settings
from ledger.core.encoding import to_hex
from ledger.errors import ProtocolError
from ledger.ops.keyfiles import load_key, read_passphrase

Role = Annotated[str, typer.Argument(help=f"One of {', '.join(ROLES)}.")]
Address = Annotated[str, typer.Argument(help="The 0x address.")]
Rpc = Annotated[str | None, typer.Option("--rpc", help="JSON-RPC URL (default: the deployment's).")]
AdminKey = Annotated[
    Path,
    typer.Option(
        "--key-file",
        exists=True,
        dir_okay=False,
        help="The admin's key: keystore (passphrase from TIPLEDGER_KEY_PASSPHRASE[_FILE]), dev key "
        "or bare hex key.",
    ),
]


def _role(name: str) -> str:
    role = name.upper()
    if role not in ROLES:
        raise ProtocolError(f"unknown role {name!r}: expected one of {', '.join(ROLES)}")
    return role


def register(app: typer.Typer) -> None:
    roles = typer.Typer(
        help="The contract's roles, granted and revoked on chain.", no_args_is_help=True
    )
    app.add_typer(roles, name="roles")

    @roles.command("grant")
    @one_line_errors
    def grant(role: Role, address: Address, key_file: AdminKey, rpc: Rpc = None) -> None:
        """Grant ROLE to ADDRESS (DEFAULT_ADMIN_ROLE signs)."""
        _change(grant=True, role=role, address=address, key_file=key_file, rpc=rpc)

    @roles.command("revoke")
    @one_line_errors
    def revoke(role: Role, address: Address, key_file: AdminKey, rpc: Rpc = None) -> None:
        """Revoke ROLE from ADDRESS (DEFAULT_ADMIN_ROLE signs)."""
        _change(grant=False, role=role, address=address, key_file=key_file, rpc=rpc)

    @roles.command("show")
    @one_line_errors
    def show(address: Address, rpc: Rpc = None) -> None:
        """The roles ADDRESS holds on chain now."""
        s = settings()
        _deployment, _w3, contract = open_chain(s, rpc)
        held = [r for r in ROLES if contract.has_role(r, address)]
        out.print(" ".join(held) if held else "(none)")


def _change(*, grant: bool, role: str, address: str, key_file: Path, rpc: str | None) -> None:
    s = settings()
    role = _role(role)
    admin = load_key(key_file, read_passphrase(s.key_passphrase, s.key_passphrase_file))
    _deployment, _w3, contract = open_chain(s, rpc)
    held = contract.has_role(role, address)
    if held == grant:
        err.print(
            f"{address} {'already holds' if grant else 'does not hold'} {role}: nothing to do"
        )
        return
    change = contract.grant_role if grant else contract.revoke_role
    result = change(admin, role, address)
    err.print(
        f"{'granted' if grant else 'revoked'} {role} {'to' if grant else 'from'} {address} "
        f"in tx {to_hex(result.tx_hash)}"
    )
