"""What the desk commands share: the member's key file and agency, the member's own view of
the chain, and opening a case on this machine (``ledger.cli.review_commands``,
``ledger.cli.referral_commands``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from web3 import Web3

from ledger.chain.client import connect
from ledger.chain.contract import TipLedgerContract
from ledger.chain.deploy import Deployment
from ledger.chain.reader import ChainReader
from ledger.cli.agency_commands import MEMBER_ENV, MEMBER_KEY_NAME
from ledger.cli.api_client import DeskClient
from ledger.cli.common import fail, rpc_url
from ledger.cli.vault_support import default_key, passphrase
from ledger.config import Settings
from ledger.core.agency import agency_id, agency_slug
from ledger.core.encoding import from_hex, to_hex
from ledger.core.routing import RoutingProof
from ledger.desk.member import case_key, routing_proof
from ledger.desk.member_keys import MemberKey, load_member_key
from ledger.errors import ConfigError, DeploymentError, ProtocolError

Api = Annotated[
    str | None,
    typer.Option(
        "--api",
        envvar="TIPLEDGER_API_URL",
        help="URL of the TipLedger service (TIPLEDGER_API_URL; default TIPLEDGER_PUBLIC_URL).",
    ),
]
KeyFile = Annotated[
    Path | None,
    typer.Option(
        "--key-file",
        help=f"The member's key file (`tipledger member keygen`; default <home>/{MEMBER_KEY_NAME}"
        f"; passphrase from {MEMBER_ENV} or --passphrase-file, else asked): it signs in, opens "
        "cases and records decisions.",
        dir_okay=False,
    ),
]
PassphraseFile = Annotated[
    Path | None,
    typer.Option(
        "--passphrase-file", help="File holding the key file's passphrase.", dir_okay=False
    ),
]
AgencyOpt = Annotated[
    str | None,
    typer.Option(
        "--agency",
        help="The agency to act for (its id); needed only by a member of several.",
    ),
]
Rpc = Annotated[
    str | None,
    typer.Option("--rpc", help="JSON-RPC URL (default: TIPLEDGER_RPC_URL or the deployment's)."),
]
ContractOpt = Annotated[
    str | None,
    typer.Option("--contract", help="TipLedger address (default: the deployment file's)."),
]
CommitmentArg = Annotated[str, typer.Argument(metavar="COMMITMENT", help="0x + 64 hex digits.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


# --- what the commands share ------------------------------------------------------------------


def service_url(s: Settings, api: str | None) -> str:
    return (api or s.service_url).rstrip("/")


def member_key(key_file: Path | None, passphrase_file: Path | None) -> MemberKey:
    """The member's key file, opened with its passphrase."""
    path = default_key(key_file, MEMBER_KEY_NAME)
    if not path.exists():
        raise ConfigError(f"no member key file at {path}: run `tipledger member keygen` first")
    return load_member_key(path, passphrase(MEMBER_ENV, passphrase_file, what="member"))


def agency_params(agency: str | None) -> dict[str, str]:
    if agency is None:
        return {}
    agency_id(agency)  # a bad id is this command's line, before anything is sent
    return {"agency": agency}


def commitment_arg(text: str) -> bytes:
    try:
        return from_hex(text, 32)
    except ProtocolError as exc:
        raise ProtocolError(f"COMMITMENT: {exc}") from None


def chain_view(
    s: Settings, rpc: str | None, contract: str | None
) -> tuple[Web3, int, TipLedgerContract]:
    """The reviewer's own view of the chain: their deployment file or options, never the
    service's word."""
    try:
        deployment: Deployment | None = Deployment.load(s.deployment_file)
    except DeploymentError:
        deployment = None
    address = contract or (deployment.address if deployment else None)
    if address is None:
        raise ConfigError(
            f"no contract to check against: pass --contract ADDRESS (no deployment in {s.home})"
        )
    w3 = connect(rpc_url(s, rpc, deployment), timeout=s.rpc_timeout)
    chain_id = ChainReader(w3).chain_id()
    if deployment is not None and contract is None and deployment.chain_id != chain_id:
        raise DeploymentError(
            f"the endpoint is chain {chain_id}, the deployment in {s.home} is on chain "
            f"{deployment.chain_id}"
        )
    return w3, chain_id, TipLedgerContract(w3, address)


def same_ledger(desk: DeskClient, chain_id: int, contract: TipLedgerContract) -> None:
    """Refuse to work with a service that anchors to another contract than ours."""
    health = desk.call("GET", "/healthz")
    theirs = (health.get("chain_id"), str(health.get("contract", "")).lower())
    if theirs != (chain_id, contract.address.lower()):
        raise ConfigError(
            f"the service anchors to {health.get('contract')} on chain {health.get('chain_id')}, "
            f"not to {contract.address} on chain {chain_id}: check --api, --rpc and --contract"
        )


def open_case(tip: dict[str, Any], entry: bytes, member: MemberKey) -> X25519PrivateKey:
    """The case key of a tip the service served, from this member's grant."""
    return case_key(tip, entry, member.x25519_private)


def case_routing(
    tipledger: TipLedgerContract, entry: bytes, tip: dict[str, Any]
) -> RoutingProof | None:
    """The routing proof a case's first review or referral must show the contract (None once
    the case is open on chain); one line and exit 2 while the tip is not anchored yet, instead
    of the contract's refusal."""
    if tipledger.case_opened(entry):
        return None
    proof = routing_proof(tip)
    if proof is None:
        fail(
            f"tip {to_hex(entry)} is not anchored yet: its routing can be proved to the contract "
            "once its batch is anchored (a few seconds); try again then"
        )
    return proof


def read_note(note_file: Path) -> bytes:
    try:
        note = note_file.read_bytes()
    except OSError as exc:
        fail(f"cannot read the note {note_file}: {exc.strerror}")
    if not note.strip():
        fail(f"the note {note_file} is empty: write down the reasons for the decision")
    return note


def acting_agency(
    tipledger: TipLedgerContract, member: MemberKey, agency: str | None, tip: dict[str, Any]
) -> bytes:
    """The agency this member acts for, checked on chain (not the service's word)."""
    memberships = tipledger.memberships_of(member.address)
    if agency is not None:
        chosen = agency_id(agency)
    elif len(memberships) == 1:
        chosen = memberships[0]
    else:
        held = [a for a in memberships if agency_slug(a) in tip.get("holders", [])]
        if len(held) != 1:
            fail(f"{member.address} is a member of several agencies: say which with --agency")
        chosen = held[0]
    if chosen not in memberships:
        fail(f"{member.address} is not a member of {agency_slug(chosen)} on chain")
    return chosen
