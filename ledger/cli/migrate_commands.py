"""``tipledger migrate agencies``: a deployment from before agencies moves to a contract with them.

The contract cannot change in place, so the move deploys the contract with agencies beside the
old one and binds the log to it (``LogStore.move_to_deployment``):

- the old contract stays on chain and keeps every receipt issued so far verifiable (a receipt
  names its contract); its deployment file is kept beside the new one;
- the new contract gets the old one's anchorer, ``maxMergeDelay``, disclosure threshold and
  current REVIEWER_ROLE and CUSTODIAN_ROLE holders, and the intake desk, whose members are the
  addresses given with ``--member``, each with the old desk key as its X25519 key: that key
  becomes the member key of the first agency, so every tip stored so far opens as before;
- the service's next sequencer step anchors the whole log on the new contract, routed to the
  intake desk (migration 0010 gave every stored tip a routing salt).

Disclosures recorded on the old contract stay there: a custodian's approval is an EIP-712
signature bound to the contract it was given for, so open requests must be finished first.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from ledger.chain.client import connect
from ledger.chain.contract import TipLedgerContract
from ledger.chain.deploy import Deployment, deploy
from ledger.chain.roles import role_holders
from ledger.cli.common import err, fail, one_line_errors, out, rpc_url, settings
from ledger.core.agency import INTAKE, agency_id
from ledger.core.hpke import key_id, public_bytes
from ledger.desk.keys import configured_public_key
from ledger.errors import ChainError
from ledger.ops.devnet import INTAKE_NAME_EN, INTAKE_NAME_TH
from ledger.ops.keyfiles import load_key, read_passphrase
from ledger.store import LogStore, open_database

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    migrate = typer.Typer(
        help="Move a deployment to a newer contract (see the README).", no_args_is_help=True
    )
    app.add_typer(migrate, name="migrate")

    @migrate.command("agencies")
    @one_line_errors
    def agencies(
        key_file: Annotated[
            Path,
            typer.Option(
                "--key-file",
                exists=True,
                dir_okay=False,
                help="The admin's key (DEFAULT_ADMIN_ROLE on the old contract): it deploys the "
                "new one and becomes its admin.",
            ),
        ],
        member: Annotated[
            list[str] | None,
            typer.Option(
                "--member",
                help="An address to make a member of the intake desk, with the old desk key as "
                "its X25519 key (repeat for each reviewer).",
            ),
        ] = None,
        rpc: Annotated[str | None, typer.Option("--rpc", help="JSON-RPC URL.")] = None,
    ) -> None:
        """Deploy the contract with agencies, make the old desk key the intake desk's member
        key, and bind the log to the new contract (the old one keeps its receipts)."""
        s = settings()
        old = Deployment.load(s.deployment_file)
        desk = configured_public_key(s)
        if desk is None:
            fail(
                f"no desk public key ({s.desk_public_file} or TIPLEDGER_DESK_PUBLIC_KEY): it "
                "becomes the intake desk's member key, so every stored tip still opens"
            )
        admin = load_key(key_file, read_passphrase(s.key_passphrase, s.key_passphrase_file))
        w3 = connect(rpc_url(s, rpc, old), timeout=s.rpc_timeout)
        previous = TipLedgerContract(w3, old.address)
        try:
            previous.agency_ids()
        except ChainError:
            pass  # no agencyIds(): a contract from before agencies, as expected
        else:
            fail(f"the contract {old.address} already has agencies: nothing to migrate")
        if not previous.has_role("DEFAULT_ADMIN_ROLE", admin.address):
            fail(f"{admin.address} is not the admin of {old.address}")
        reviewers = role_holders(previous, "REVIEWER_ROLE", old.deploy_block)
        custodians = role_holders(previous, "CUSTODIAN_ROLE", old.deploy_block)
        new = deploy(
            w3,
            admin,
            anchorer=old.anchorer,
            reviewers=reviewers,
            custodians=custodians,
            max_merge_delay=previous.max_merge_delay(),
            disclosure_threshold=previous.disclosure_threshold(),
        )
        new = replace(new, rpc_url=old.rpc_url)
        contract = TipLedgerContract(w3, new.address)
        intake = agency_id(INTAKE)
        contract.add_agency(admin, intake, INTAKE_NAME_TH, INTAKE_NAME_EN)
        for address in member or []:
            contract.add_member(admin, intake, address, public_bytes(desk))
        engine = open_database(s.database)
        try:
            forgotten = LogStore(engine).move_to_deployment(new.chain_id, new.address)
        finally:
            engine.dispose()
        kept = s.deployment_file.with_name(f"deployment-before-agencies-{old.address[:10]}.json")
        shutil.copyfile(s.deployment_file, kept)
        new.save(s.deployment_file)
        err.print(f"[bold green]moved to agencies[/]: TipLedger with agencies at {new.address}")
        err.print(f"  old contract  {old.address}, kept in {kept} (its receipts verify there)")
        err.print(
            f"  roles copied  {len(reviewers)} REVIEWER_ROLE, {len(custodians)} CUSTODIAN_ROLE"
        )
        err.print(
            f"  intake desk   {len(member or [])} member(s) with the old desk key {key_id(desk)}"
        )
        err.print(
            f"  the log       {forgotten} checkpoint(s) of the old contract forgotten here; the "
            "next `tipledger serve` anchors the whole log on the new one"
        )
        err.print(
            "  next          each member makes a key file holding the old desk key and their own "
            "Ethereum key: `tipledger member keygen --from-desk-key review-desk-private.pem "
            "--eth-key-file THEIR_KEY`"
        )
        out.print(json.dumps({"contract": new.address, "previous": old.address}))
