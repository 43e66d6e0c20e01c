"""``tipledger member …`` and ``tipledger agency …``: members' keys, and agencies on chain.

A member's life: ``member keygen`` (on their own machine) -> the admin runs ``agency add-member
SLUG --member-key-file F`` (the file's public fields only: no passphrase) or ``--address A
--encryption-key 0x…`` -> the member reviews the cases their agency holds.

The agency commands read and write the chain only (PROTOCOL.md section 16.5); the admin's key
(DEFAULT_ADMIN_ROLE) signs the writes, as for ``roles …``. The contract's refusals come back as
one line in words, its custom error named at the end.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from eth_account.signers.local import LocalAccount
from rich.table import Table

from ledger.chain.client import connect
from ledger.chain.contract import ROLES, Member, TipLedgerContract
from ledger.cli.common import (
    err,
    fail,
    load_deployment,
    one_line_errors,
    open_chain,
    out,
    rpc_url,
    settings,
)
from ledger.cli.key_commands import PASSPHRASE_ENV as DESK_PASSPHRASE_ENV
from ledger.cli.vault_support import PassphraseFile, ScryptN, default_key, passphrase
from ledger.core.agency import agency_id, agency_slug
from ledger.core.encoding import checksum_address, from_hex, to_hex
from ledger.core.errors import AgencyError
from ledger.core.hpke import key_id
from ledger.desk.keys import load_private_key
from ledger.desk.member_keys import (
    DEFAULT_SCRYPT_N,
    MemberKey,
    PublicFields,
    read_member_public,
    save_member_key,
)
from ledger.errors import ConfigError, ContractRevertedError, ProtocolError
from ledger.ops.keyfiles import load_key, read_passphrase

MEMBER_ENV = "TIPLEDGER_MEMBER_PASSPHRASE"
MEMBER_KEY_NAME = "member-key.json"

Slug = Annotated[str, typer.Argument(help="The agency id: 2-31 of a-z, 0-9, '-' (e.g. intake).")]
Address = Annotated[str, typer.Argument(help="The member's 0x address.")]
Rpc = Annotated[str | None, typer.Option("--rpc", help="JSON-RPC URL (default: the deployment's).")]
Contract = Annotated[
    str | None,
    typer.Option("--contract", help="The TipLedger contract (default: the deployment's)."),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
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
MemberKeyFile = Annotated[
    Path | None,
    typer.Option(
        "--key-file",
        dir_okay=False,
        help=f"The member key file (default: {MEMBER_KEY_NAME} in TIPLEDGER_HOME).",
    ),
]


def register(app: typer.Typer) -> None:
    member = typer.Typer(
        help="An agency member's keys (on their own machine).", no_args_is_help=True
    )
    agency = typer.Typer(
        help="Agencies and their members, read and written on chain.", no_args_is_help=True
    )
    app.add_typer(member, name="member")
    app.add_typer(agency, name="agency")

    @member.command("keygen")
    @one_line_errors
    def keygen(
        key_file: MemberKeyFile = None,
        passphrase_file: PassphraseFile = None,
        scrypt_n: ScryptN = DEFAULT_SCRYPT_N,
        force: Annotated[
            bool, typer.Option("--force", help="Replace an existing key file.")
        ] = False,
        from_desk_key: Annotated[
            Path | None,
            typer.Option(
                "--from-desk-key",
                exists=True,
                dir_okay=False,
                help="Moving to agencies: take the X25519 key from this review desk private key "
                f"(its passphrase from {DESK_PASSPHRASE_ENV}, else asked), so the tips sealed "
                "to it before agencies open with this file.",
            ),
        ] = None,
        eth_key_file: Annotated[
            Path | None,
            typer.Option(
                "--eth-key-file",
                exists=True,
                dir_okay=False,
                help="Take the Ethereum key from this key file (keystore: passphrase from "
                "TIPLEDGER_KEY_PASSPHRASE[_FILE]; or a dev key) instead of making one: a "
                "reviewer's existing address.",
            ),
        ] = None,
    ) -> None:
        """Make a member's X25519 and Ethereum keys in one passphrase-protected file."""
        path = default_key(key_file, MEMBER_KEY_NAME)
        if path.exists() and not force:
            raise ConfigError(
                f"{path} already exists; pass --force to replace it (its key is then lost)"
            )
        made = MemberKey.generate()
        x25519 = made.x25519_private
        if from_desk_key is not None:
            desk_secret = os.environ.get(DESK_PASSPHRASE_ENV) or typer.prompt(
                f"Passphrase for the review desk key {from_desk_key}", hide_input=True, err=True
            )
            x25519 = load_private_key(from_desk_key, desk_secret)
        account = made.eth_account
        if eth_key_file is not None:
            s = settings()
            account = load_key(
                eth_key_file, read_passphrase(s.key_passphrase, s.key_passphrase_file)
            )
        secret = passphrase(MEMBER_ENV, passphrase_file, what="member", confirm=True)
        key = MemberKey(x25519, account)
        save_member_key(path, key, secret, overwrite=force, scrypt_n=scrypt_n)
        err.print(f"member key {key.key_id}, address {key.address}")
        err.print(f"  key file  {path}  (keep it, and its passphrase, on this machine only)")
        err.print(
            f"next: the admin runs `tipledger agency add-member SLUG --address {key.address} "
            f"--encryption-key {to_hex(key.encryption_key)} --key-file ADMIN`"
        )
        _print_public(key.public(), as_json=False)

    @member.command("show")
    @one_line_errors
    def show_member(key_file: MemberKeyFile = None, as_json: AsJson = False) -> None:
        """The public part of a member key file (no passphrase needed)."""
        path = default_key(key_file, MEMBER_KEY_NAME)
        if not path.exists():
            raise ConfigError(f"no member key file at {path}: run `tipledger member keygen` first")
        _print_public(read_member_public(path), as_json=as_json)

    @agency.command("add")
    @one_line_errors
    def add(
        slug: Slug,
        name_th: Annotated[str, typer.Option("--name-th", help="The agency's name in Thai.")],
        name_en: Annotated[str, typer.Option("--name-en", help="The agency's name in English.")],
        key_file: AdminKey,
        rpc: Rpc = None,
        contract: Contract = None,
    ) -> None:
        """Create agency SLUG on chain (DEFAULT_ADMIN_ROLE signs)."""
        raw = agency_id(slug)
        names = _name(name_th, "--name-th"), _name(name_en, "--name-en")
        admin, chain = _admin(key_file), _contract(rpc, contract)
        with _refusals():
            result = chain.add_agency(admin, raw, *names)
        err.print(f"added agency {slug} ({names[0]} / {names[1]}) in tx {to_hex(result.tx_hash)}")

    @agency.command("list")
    @one_line_errors
    def list_(as_json: AsJson = False, rpc: Rpc = None, contract: Contract = None) -> None:
        """Every agency on chain: id, names, active, member count."""
        chain = _contract(rpc, contract)
        with _refusals():
            found = [_agency_dict(chain, raw) for raw in chain.agency_ids()]
        if as_json:
            out.print(json.dumps(found, indent=2, ensure_ascii=False), markup=False)
            return
        table = Table(title=f"agencies of TipLedger {chain.address}")
        for col in ("agency", "name (th)", "name (en)", "active", "members"):
            table.add_column(col, justify="right" if col == "members" else "left")
        for a in found:
            table.add_row(
                a["agency"],
                a["name_th"],
                a["name_en"],
                "yes" if a["active"] else "no",
                str(a["member_count"]),
            )
        out.print(table)
        if not found:
            err.print("no agency on chain yet")

    @agency.command("show")
    @one_line_errors
    def show(
        slug: Slug, as_json: AsJson = False, rpc: Rpc = None, contract: Contract = None
    ) -> None:
        """Agency SLUG and its current members: address, key id, X25519 key."""
        raw = agency_id(slug)
        chain = _contract(rpc, contract)
        with _refusals():
            shown = _agency_dict(chain, raw)
            members = chain.members(raw)
        shown["members"] = [_member_dict(m) for m in members]
        if as_json:
            out.print(json.dumps(shown, indent=2, ensure_ascii=False), markup=False)
            return
        state = "active" if shown["active"] else "inactive"
        out.print(f"agency   {slug}  ({state})")
        out.print(f"names    {shown['name_th']} / {shown['name_en']}")
        table = Table(title=f"members of {slug}")
        for col in ("address", "key id", "X25519 key"):
            table.add_column(col, overflow="fold")  # a key shown whole or wrapped, never cut
        for m in shown["members"]:
            table.add_row(m["address"], m["key_id"], m["encryption_key"])
        out.print(table)
        if not members:
            err.print(f"{slug} has no member yet: `tipledger agency add-member {slug} …`")

    @agency.command("add-member")
    @one_line_errors
    def add_member(
        slug: Slug,
        key_file: AdminKey,
        member_key_file: Annotated[
            Path | None,
            typer.Option(
                "--member-key-file",
                dir_okay=False,
                help="The member's key file: its public fields are registered (no passphrase).",
            ),
        ] = None,
        address: Annotated[
            str | None, typer.Option("--address", help="The member's 0x address.")
        ] = None,
        encryption_key: Annotated[
            str | None,
            typer.Option("--encryption-key", help="The member's X25519 public key, 0x + 64 hex."),
        ] = None,
        rpc: Rpc = None,
        contract: Contract = None,
    ) -> None:
        """Register a member of agency SLUG: their address and X25519 key."""
        raw = agency_id(slug)
        who, public = _new_member(member_key_file, address, encryption_key)
        admin, chain = _admin(key_file), _contract(rpc, contract)
        with _refusals():
            result = chain.add_member(admin, raw, who, public)
        err.print(
            f"added {who} (key {key_id(public)}) to agency {slug} in tx {to_hex(result.tx_hash)}"
        )

    @agency.command("remove-member")
    @one_line_errors
    def remove_member(
        slug: Slug, address: Address, key_file: AdminKey, rpc: Rpc = None, contract: Contract = None
    ) -> None:
        """Remove member ADDRESS from agency SLUG: no new case key is granted to them."""
        raw = agency_id(slug)
        who = _address(address, "ADDRESS")
        admin, chain = _admin(key_file), _contract(rpc, contract)
        with _refusals():
            result = chain.remove_member(admin, raw, who)
        err.print(f"removed {who} from agency {slug} in tx {to_hex(result.tx_hash)}")

    @agency.command("deactivate")
    @one_line_errors
    def deactivate(
        slug: Slug, key_file: AdminKey, rpc: Rpc = None, contract: Contract = None
    ) -> None:
        """Mark agency SLUG inactive: no referral to it; its cases and members stay."""
        _set_active(slug, False, key_file, rpc, contract)

    @agency.command("activate")
    @one_line_errors
    def activate(
        slug: Slug, key_file: AdminKey, rpc: Rpc = None, contract: Contract = None
    ) -> None:
        """Mark agency SLUG active again."""
        _set_active(slug, True, key_file, rpc, contract)


# --- helpers ---------------------------------------------------------------------------------


def _print_public(public: PublicFields, *, as_json: bool) -> None:
    fields = {
        "address": public.address,
        "x25519_public": to_hex(public.x25519_public_raw),
        "key_id": public.key_id,
    }
    if as_json:
        out.print(json.dumps(fields, indent=2), markup=False)
        return
    for name, value in fields.items():
        out.print(f"{name:<14} {value}")


def _set_active(
    slug: str, active: bool, key_file: Path, rpc: str | None, contract: str | None
) -> None:
    raw = agency_id(slug)
    admin, chain = _admin(key_file), _contract(rpc, contract)
    with _refusals():
        info = chain.agency_info(raw)
        if info is None:
            fail(f"there is no agency {slug!r} on chain")
        if info.active == active:
            err.print(
                f"agency {slug} is already {'active' if active else 'inactive'}: nothing to do"
            )
            return
        result = chain.set_agency_active(admin, raw, active)
    err.print(
        f"{'activated' if active else 'deactivated'} agency {slug} in tx {to_hex(result.tx_hash)}"
    )


def _contract(rpc: str | None, contract: str | None) -> TipLedgerContract:
    """The deployment's contract, or ``--contract`` at ``--rpc`` (else the deployment's RPC)."""
    s = settings()
    if contract is None:
        _deployment, _w3, found = open_chain(s, rpc)
        return found
    address = _address(contract, "--contract")
    deployment = load_deployment(s) if s.deployment_file.exists() else None
    w3 = connect(rpc_url(s, rpc, deployment), timeout=s.rpc_timeout)
    return TipLedgerContract(w3, address)


def _admin(key_file: Path) -> LocalAccount:
    s = settings()
    return load_key(key_file, read_passphrase(s.key_passphrase, s.key_passphrase_file))


def _name(value: str, option: str) -> str:
    name = value.strip()
    if not name:
        raise ConfigError(f"{option} must not be empty")
    return name


def _address(value: str, what: str) -> str:
    try:
        return checksum_address(value)
    except ProtocolError as exc:
        raise ConfigError(f"{what}: {exc}") from None


def _new_member(
    key_file: Path | None, address: str | None, encryption_key: str | None
) -> tuple[str, bytes]:
    """(address, raw X25519 key) from ``--member-key-file`` or the two options, never both."""
    if key_file is not None:
        if address is not None or encryption_key is not None:
            raise ConfigError(
                "give --member-key-file, or --address with --encryption-key, not both"
            )
        public = read_member_public(key_file)
        return public.address, public.x25519_public_raw
    if address is None or encryption_key is None:
        raise ConfigError("give --member-key-file, or both --address and --encryption-key")
    try:
        raw = from_hex(encryption_key, 32)
    except ProtocolError as exc:
        raise ConfigError(f"--encryption-key: {exc}") from None
    _check_usable(raw)
    return _address(address, "--address"), raw


def _check_usable(raw: bytes) -> None:
    """Refuse a key no case key could be granted to: a non-canonical or low-order point."""
    if int.from_bytes(raw, "little") >= 2**255 - 19:
        raise ConfigError("--encryption-key is not a canonical X25519 public key")
    try:
        X25519PrivateKey.generate().exchange(X25519PublicKey.from_public_bytes(raw))
    except ValueError:
        raise ConfigError("--encryption-key is not a usable X25519 public key") from None


def _slug(raw: bytes) -> str:
    """The slug of an on-chain id; its hex if it is not one (set by hand, not by this CLI)."""
    try:
        return agency_slug(raw)
    except AgencyError:
        return to_hex(raw)


def _agency_dict(chain: TipLedgerContract, raw: bytes) -> dict[str, Any]:
    info = chain.agency_info(raw)
    if info is None:
        fail(f"there is no agency {_slug(raw)!r} on chain")
    return {
        "agency": _slug(raw),
        "id": to_hex(raw),
        "name_th": info.name_th,
        "name_en": info.name_en,
        "active": info.active,
        "member_count": info.member_count,
    }


def _member_dict(m: Member) -> dict[str, str]:
    return {
        "address": str(m.address),
        "key_id": key_id(m.encryption_key),
        "encryption_key": to_hex(m.encryption_key),
    }


@contextmanager
def _refusals() -> Iterator[None]:
    """The contract's custom errors as one line in words (``ContractRevertedError`` is a
    LedgerError: ``one_line_errors`` prints it and exits 2)."""
    try:
        yield
    except ContractRevertedError as exc:
        words = _in_words(exc.error_name, exc.error_args)
        if words is None:
            raise
        raise ContractRevertedError(
            f"refused by the contract: {words} ({exc.error_name})",
            exc.error_name,
            exc.error_args,
        ) from exc


def _in_words(name: str | None, args: tuple[object, ...]) -> str | None:
    def agency(i: int) -> str:
        value = args[i] if i < len(args) else None
        return _slug(value) if isinstance(value, bytes) else "the agency"

    def account(i: int) -> str:
        return str(args[i]) if i < len(args) else "that address"

    match name:
        case "InvalidAgencyId":
            return "an agency id must not be zero"
        case "AgencyExists":
            return f"the agency {agency(0)} already exists (agencies are never deleted)"
        case "UnknownAgency":
            return f"there is no agency {agency(0)} on chain"
        case "ZeroAddress":
            return "a member's address must not be zero"
        case "ZeroKey":
            return "a member's encryption key must not be zero"
        case "AlreadyMember":
            return f"{account(1)} is already a member of {agency(0)}"
        case "NotMember":
            return f"{account(1)} is not a member of {agency(0)}"
        case "AgencyInactive":
            return f"the agency {agency(0)} is inactive"
        case "AccessControlUnauthorizedAccount":
            role = args[1] if len(args) > 1 else None
            held = next((n for n, r in ROLES.items() if r == role), "the needed role")
            return (
                f"{account(0)} does not hold {held}: only the contract's admin may change "
                "agencies and their members"
            )
    return None
