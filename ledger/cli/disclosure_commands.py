"""``tipledger disclosure …``: the investigator's side, and the oversight listing.

``disclosure keygen`` makes the investigator's key file (an X25519 key the shares are re-sealed
to, and an Ethereum key: sign in with REVIEWER_ROLE, and the ``requester`` on chain).
``request`` files a request; once enough custodians approved, ``record`` sends
``recordDisclosure`` with their signatures (checked here first) from any funded key; once the
approving custodians re-sealed their shares, ``open`` combines them here and prints the
identity. ``list`` is the oversight listing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ledger.cli.common import err, fail, one_line_errors, out, settings, utc
from ledger.cli.vault_render import print_request, requests_table
from ledger.cli.vault_support import (
    INVESTIGATOR_ENV,
    INVESTIGATOR_KEY_NAME,
    AccountKey,
    Api,
    Contract,
    KeyFile,
    PassphraseFile,
    Rpc,
    ScryptN,
    chain_for,
    default_key,
    desk_get,
    new_key,
    open_key,
    open_request,
    signed_in,
)
from ledger.core.encoding import to_hex
from ledger.ops.keyfiles import load_key, read_passphrase
from ledger.vault.client import check_approvals, check_request, open_disclosure
from ledger.vault.custodian_keys import DEFAULT_SCRYPT_N, CustodianKey

RequestArg = Annotated[int, typer.Argument(help="The disclosure request's number.", min=1)]


def _investigator(key_file: Path | None, passphrase_file: Path | None) -> CustodianKey:
    path = default_key(key_file, INVESTIGATOR_KEY_NAME)
    return open_key(path, INVESTIGATOR_ENV, passphrase_file, what="investigator")


def register(app: typer.Typer) -> None:
    disclosure = typer.Typer(
        help="Disclosure requests: the investigator's side, and oversight.", no_args_is_help=True
    )
    app.add_typer(disclosure, name="disclosure")

    @disclosure.command("keygen")
    @one_line_errors
    def keygen(
        key_file: KeyFile = None,
        passphrase_file: PassphraseFile = None,
        scrypt_n: ScryptN = DEFAULT_SCRYPT_N,
        force: Annotated[
            bool, typer.Option("--force", help="Replace an existing key file.")
        ] = False,
    ) -> None:
        """Make the investigator's key file: X25519 (shares are re-sealed to it) and Ethereum
        (sign-in with REVIEWER_ROLE), encrypted under a passphrase."""
        path = default_key(key_file, INVESTIGATOR_KEY_NAME)
        key = new_key(
            path,
            INVESTIGATOR_ENV,
            passphrase_file,
            what="investigator",
            scrypt_n=scrypt_n,
            force=force,
        )
        err.print(f"investigator key {key.key_id}, address {key.address}")
        err.print(f"  key file  {path}  (keep it, and its passphrase, on this machine only)")
        err.print(f"next: the admin runs `tipledger roles grant REVIEWER_ROLE {key.address}`")
        out.print(key.address)

    @disclosure.command("request")
    @one_line_errors
    def request(
        api: Api,
        purpose: Annotated[str, typer.Option("--purpose", help="Why, for the record.")],
        record: Annotated[
            str | None, typer.Option("--record", help="The identity record id.")
        ] = None,
        tip: Annotated[str | None, typer.Option("--tip", help="Or: the tip's commitment.")] = None,
        kind: Annotated[
            str, typer.Option("--kind", help="With --tip: reporter or witness.")
        ] = "reporter",
        key_file: KeyFile = None,
        passphrase_file: PassphraseFile = None,
    ) -> None:
        """File a disclosure request for a record, to this investigator's key."""
        if (record is None) == (tip is None):
            fail("give exactly one of --record ID and --tip COMMITMENT")
        key = _investigator(key_file, passphrase_file)
        with signed_in(api, key.eth_account) as desk:
            if record is None:
                found = [
                    r
                    for r in desk.call("GET", "/v1/vault/records", params={"commitment": tip})
                    if r["kind"] == kind
                ]
                if not found:
                    fail(f"tip {tip} has no {kind} identity record")
                record = found[0]["record_id"]
            body = {
                "record_id": record,
                "purpose": purpose,
                "investigator_key": to_hex(key.share_key.raw),
            }
            view = desk.call("POST", "/v1/vault/requests", json=body)
        check_request(view)
        err.print(
            f"[bold green]filed[/] request {view['id']} for record {view['record_id']}: "
            f"{view['need']} custodian approvals needed",
            markup=True,
        )
        out.print(str(view["id"]))

    @disclosure.command("record")
    @one_line_errors
    def record_(
        request: RequestArg,
        api: Api,
        sender_key: Annotated[
            Path | None,
            typer.Option(
                "--sender-key",
                exists=True,
                dir_okay=False,
                help="A funded key to send it from (default: the investigator's).",
            ),
        ] = None,
        rpc: Rpc = None,
        contract: Contract = None,
        key_file: KeyFile = None,
        passphrase_file: PassphraseFile = None,
    ) -> None:
        """Send recordDisclosure with the approvals' signatures, each checked here first."""
        key = _investigator(key_file, passphrase_file)
        if sender_key is not None:
            s = settings()
            sender = load_key(sender_key, read_passphrase(s.key_passphrase, s.key_passphrase_file))
        else:
            sender = key.eth_account
        with open_request(api, key.eth_account, request) as req:
            view, checked = req.view, req.checked
            chain, chain_id = chain_for(req.info(), rpc, contract)
            if chain.recorded(checked.record_id, checked.request_digest) is not None:
                fail(f"request {request} is already recorded on chain")
            signatures = check_approvals(view, checked, chain, chain_id)
            result = chain.contract().record_disclosure(
                sender, checked.record_id, checked.request_digest, checked.requester, signatures
            )
            state = req.get("chain")
        event = state["event"] or {}
        err.print(
            f"[bold green]recorded on chain[/]: recordDisclosure with {len(signatures)} signatures "
            f"in tx {to_hex(result.tx_hash)}, block {result.block_number}",
            markup=True,
        )
        err.print(
            f"DisclosureApproved(recordId={event.get('record_id')}, requestDigest="
            f"{event.get('request_digest')}, requester={event.get('requester')}, "
            f"timestamp={event.get('timestamp')})"
        )
        out.print(to_hex(result.tx_hash))

    @disclosure.command("show")
    @one_line_errors
    def show(
        request: RequestArg, api: Api, key_file: AccountKey, passphrase_file: PassphraseFile = None
    ) -> None:
        """A request, and its state on chain (any desk role)."""
        state = desk_get(api, key_file, passphrase_file, f"/v1/vault/requests/{request}/chain")
        view = state["request"]
        check_request(view)
        print_request(view)
        event = state["event"]
        if event is None:
            err.print("  chain         not recorded (isDisclosed is false)")
        else:
            err.print(
                f"  chain         DisclosureApproved in tx {event['tx_hash']}, "
                f"block {event['block_number']}"
            )

    @disclosure.command("open")
    @one_line_errors
    def open_(
        request: RequestArg,
        api: Api,
        out_file: Annotated[
            Path | None,
            typer.Option("--out", dir_okay=False, help="Write the identity here (mode 0600)."),
        ] = None,
        key_file: KeyFile = None,
        passphrase_file: PassphraseFile = None,
    ) -> None:
        """Fetch the re-sealed shares, combine them here, print the identity."""
        key = _investigator(key_file, passphrase_file)
        with signed_in(api, key.eth_account) as desk:
            data = desk.call("GET", f"/v1/vault/requests/{request}/resealed")
        checked = check_request(data["request"])
        if checked.investigator_key.public_bytes_raw() != key.share_key.raw:
            fail(
                f"request {request} names investigator key "
                f"{data['request']['investigator_key_id']}, not this key ({key.key_id})"
            )
        identity = open_disclosure(key, data, checked)
        text = json.dumps(json.loads(identity), indent=2, ensure_ascii=False) + "\n"
        err.print(
            f"opened request {request}: {len(data['resealed'])} shares combined on this machine"
        )
        if out_file is not None:
            out_file.touch(mode=0o600)
            out_file.write_text(text, encoding="utf-8")
            err.print(f"identity written to {out_file}")
        else:
            out.print(text, end="", markup=False)

    @disclosure.command("list")
    @one_line_errors
    def list_(
        api: Api,
        key_file: AccountKey,
        state: Annotated[
            str | None,
            typer.Option("--state", help="pending, approved, declined, recorded or superseded."),
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="The full listing as JSON.")] = False,
        passphrase_file: PassphraseFile = None,
    ) -> None:
        """Oversight: every request, with every approval and decline (any desk role)."""
        found = desk_get(
            api, key_file, passphrase_file, "/v1/vault/requests", {"state": state} if state else {}
        )
        if as_json:
            out.print(json.dumps(found, indent=2, ensure_ascii=False), markup=False)
            return
        out.print(requests_table(found, "disclosure requests"))
        for r in found:
            for d in r["declines"]:
                err.print(
                    f"request {r['id']}: declined by {d['address']} "
                    f"{utc(d['decided_at'])}: {d['reason']}"
                )
