"""``tipledger review refer`` and ``review grant``: a case handed on, from a member's machine.

The case key is opened here with the member's own grant and sealed to the other members'
keys, read from the chain itself (``members``), never from the service: a compromised service
cannot slip a key of its own into a referral. The referral is recorded on chain first
(``refer``: which case, from which agency, to which, by whom, keeping access or not); only then
are the grants handed to the service, which checks the Referred event before it stores them.
"""

from __future__ import annotations

import base64
from typing import Annotated

import typer

from ledger.cli import desk_support as rc
from ledger.cli.api_client import DeskClient
from ledger.cli.common import err, fail, one_line_errors, out, settings
from ledger.core.agency import agency_id, agency_slug
from ledger.core.encoding import to_hex
from ledger.desk.member import grants_for

__all__ = ["register"]


def register(review: typer.Typer) -> None:
    @review.command("refer")
    @one_line_errors
    def refer(
        commitment: rc.CommitmentArg,
        to: Annotated[str, typer.Option("--to", help="The agency to refer the case to (its id).")],
        keep_access: Annotated[
            bool,
            typer.Option(
                "--keep-access/--hand-over",
                help="Whether your agency keeps the case after the referral (default: hand over).",
            ),
        ] = False,
        key_file: rc.KeyFile = None,
        passphrase_file: rc.PassphraseFile = None,
        agency: rc.AgencyOpt = None,
        api: rc.Api = None,
        rpc: rc.Rpc = None,
        contract: rc.ContractOpt = None,
    ) -> None:
        """Refer a case to another agency: recorded on chain with your key, and its case key
        granted here to that agency's members (as the chain lists them)."""
        s = settings()
        entry = rc.commitment_arg(commitment)
        target = agency_id(to)
        params = rc.agency_params(agency)
        member = rc.member_key(key_file, passphrase_file)
        _w3, chain_id, tipledger = rc.chain_view(s, rpc, contract)
        info = tipledger.agency_info(target)
        if info is None:
            fail(f"there is no agency {to!r} on chain {chain_id}")
        if not info.active:
            fail(f"the agency {to!r} is inactive: it takes no referrals")
        receivers = tipledger.members(target)
        if not receivers:
            fail(f"the agency {to!r} has no members on chain: nobody could open the case")
        with DeskClient(rc.service_url(s, api), member.eth_account) as desk:
            rc.same_ledger(desk, chain_id, tipledger)
            tip = desk.call("GET", f"/v1/review/tips/{to_hex(entry)}", params=params)
            acting = rc.acting_agency(tipledger, member, agency, tip)
            case = rc.open_case(tip, entry, member)
            grants = grants_for(receivers, case, entry)
            proof = rc.case_routing(tipledger, entry, tip)
            result = tipledger.refer(member.eth_account, entry, acting, target, keep_access, proof)
            err.print(
                f"[green]referred[/] {to_hex(entry)} from {agency_slug(acting)} to {to} in block "
                f"{result.block_number} (tx {to_hex(result.tx_hash)})"
                + ("; your agency keeps access" if keep_access else "; your agency hands it over"),
                markup=True,
            )
            desk.call(
                "POST",
                f"/v1/review/tips/{to_hex(entry)}/referrals",
                params={"agency": agency_slug(acting)},
                json={
                    "tx_hash": to_hex(result.tx_hash),
                    "block_number": result.block_number,
                    "grants": [base64.b64encode(g).decode("ascii") for g in grants],
                },
            )
        err.print(f"granted the case key to {len(grants)} member(s) of {to}")
        out.print(to_hex(result.tx_hash))

    @review.command("grant")
    @one_line_errors
    def grant(
        commitment: rc.CommitmentArg,
        key_file: rc.KeyFile = None,
        passphrase_file: rc.PassphraseFile = None,
        agency: rc.AgencyOpt = None,
        api: rc.Api = None,
        rpc: rc.Rpc = None,
        contract: rc.ContractOpt = None,
    ) -> None:
        """Grant a case your agency holds to every current member of it (for example one added
        after the tip came), sealed here to the keys the chain lists."""
        s = settings()
        entry = rc.commitment_arg(commitment)
        params = rc.agency_params(agency)
        member = rc.member_key(key_file, passphrase_file)
        _w3, chain_id, tipledger = rc.chain_view(s, rpc, contract)
        with DeskClient(rc.service_url(s, api), member.eth_account) as desk:
            rc.same_ledger(desk, chain_id, tipledger)
            tip = desk.call("GET", f"/v1/review/tips/{to_hex(entry)}", params=params)
            acting = rc.acting_agency(tipledger, member, agency, tip)
            case = rc.open_case(tip, entry, member)
            others = [m for m in tipledger.members(acting) if m.address != member.address]
            if not others:
                fail(f"you are the only member of {agency_slug(acting)}: nobody to grant to")
            stored = desk.call(
                "POST",
                f"/v1/review/tips/{to_hex(entry)}/grants",
                params={"agency": agency_slug(acting)},
                json={
                    "grants": [
                        base64.b64encode(g).decode("ascii") for g in grants_for(others, case, entry)
                    ]
                },
            )
        err.print(f"granted {to_hex(entry)} to {stored['grants']} member(s) of {stored['agency']}")
