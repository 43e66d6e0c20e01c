"""``tipledger custodian …`` and ``tipledger vault …``: the custodians' side of the identity vault.

A custodian's life: ``custodian keygen`` (on their own machine) -> the admin grants CUSTODIAN_ROLE
on chain (``roles grant``) -> ``custodian register`` -> the admin puts them in a set (``vault
set-custodians``) -> for each disclosure request, ``custodian show``, then ``approve`` (an EIP-712
signature made here) or ``decline`` -> once the disclosure is recorded on chain, ``custodian
reseal`` re-seals their share to the investigator (this command checks the chain itself first).
Rotations: ``vault rotate start | contribute | finish | show | cancel``.

The investigator's side is ``disclosure …`` (``disclosure_commands``), the admin's ``roles …``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from ledger.cli.api_client import DeskClient
from ledger.cli.common import err, fail, one_line_errors, out, utc
from ledger.cli.vault_render import print_request, requests_table
from ledger.cli.vault_support import (
    CUSTODIAN_ENV,
    CUSTODIAN_KEY_NAME,
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
    sign_in_account,
    signed_in,
    vault_info,
)
from ledger.core.encoding import checksum_address, to_hex
from ledger.vault.client import (
    contribute_shares,
    require_recorded,
    reseal_for,
    reshare_records,
)
from ledger.vault.custodian_keys import DEFAULT_SCRYPT_N, CustodianKey
from ledger.vault.digests import sign_registration

RequestArg = Annotated[int, typer.Argument(help="The disclosure request's number.", min=1)]
RotationArg = Annotated[int, typer.Argument(help="The rotation's number.", min=1)]


def _custodian(key_file: Path | None, passphrase_file: Path | None) -> CustodianKey:
    path = default_key(key_file, CUSTODIAN_KEY_NAME)
    return open_key(path, CUSTODIAN_ENV, passphrase_file, what="custodian")


def _mine(view: dict[str, Any], key: CustodianKey) -> None:
    if key.address not in {c["address"] for c in view["custodians"]}:
        fail(f"{key.address} holds no share of record {view['record_id']}: nothing to decide")


def register(app: typer.Typer) -> None:
    custodian = typer.Typer(
        help="A custodian's keys and decisions (on their own machine).", no_args_is_help=True
    )
    vault = typer.Typer(help="Custodian sets and rotations.", no_args_is_help=True)
    rotate = typer.Typer(
        help="Move a kind's records to its current custodian set.", no_args_is_help=True
    )
    app.add_typer(custodian, name="custodian")
    app.add_typer(vault, name="vault")
    vault.add_typer(rotate, name="rotate")

    @custodian.command("keygen")
    @one_line_errors
    def keygen(
        key_file: KeyFile = None,
        passphrase_file: PassphraseFile = None,
        scrypt_n: ScryptN = DEFAULT_SCRYPT_N,
        force: Annotated[
            bool, typer.Option("--force", help="Replace an existing key file.")
        ] = False,
    ) -> None:
        """Make a custodian's X25519 (shares) and Ethereum (approvals) keys, encrypted under a
        passphrase in one file; print the public part (its registration)."""
        path = default_key(key_file, CUSTODIAN_KEY_NAME)
        key = new_key(
            path, CUSTODIAN_ENV, passphrase_file, what="custodian", scrypt_n=scrypt_n, force=force
        )
        err.print(f"custodian key {key.key_id}, address {key.address}")
        err.print(f"  key file  {path}  (keep it, and its passphrase, on this machine only)")
        err.print(f"next: the admin runs `tipledger roles grant CUSTODIAN_ROLE {key.address}`,")
        err.print("      then you run `tipledger custodian register --api URL`")
        out.print(key.public().to_json(), end="")

    @custodian.command("register")
    @one_line_errors
    def register_(
        api: Api,
        name: Annotated[str, typer.Option("--name", help="Who you are, for the others.")] = "",
        key_file: KeyFile = None,
        passphrase_file: PassphraseFile = None,
    ) -> None:
        """Register your public keys with the service, proving you hold them (needs
        CUSTODIAN_ROLE on chain)."""
        key = _custodian(key_file, passphrase_file)
        with signed_in(api, key.eth_account) as desk:
            info = vault_info(desk)
            signature = sign_registration(
                key.eth_account, info["chain_id"], info["contract"], key.public()
            )
            created = desk.call(
                "POST",
                "/v1/vault/custodians",
                json={
                    "registration": key.public().to_dict(),
                    "signature": to_hex(signature),
                    "name": name,
                },
            )
        err.print(
            f"[bold green]registered[/] custodian {created['key_id']} ({created['address']})",
            markup=True,
        )
        out.print(created["key_id"])

    @custodian.command("requests")
    @one_line_errors
    def requests(
        api: Api,
        all_: Annotated[
            bool, typer.Option("--all", help="Every request, not only yours to decide.")
        ] = False,
        key_file: KeyFile = None,
        passphrase_file: PassphraseFile = None,
    ) -> None:
        """The open requests awaiting your decision (or all of them)."""
        key = _custodian(key_file, passphrase_file)
        with signed_in(api, key.eth_account) as desk:
            found = desk.call(
                "GET", "/v1/vault/requests", params={} if all_ else {"awaiting": "true"}
            )
        out.print(
            requests_table(found, "disclosure requests" if all_ else "awaiting your decision")
        )
        if not found:
            err.print("nothing awaits you" if not all_ else "no requests")

    @custodian.command("show")
    @one_line_errors
    def show(
        request: RequestArg,
        api: Api,
        key_file: KeyFile = None,
        passphrase_file: PassphraseFile = None,
    ) -> None:
        """One request in full, its digest recomputed here."""
        key = _custodian(key_file, passphrase_file)
        with open_request(api, key.eth_account, request) as req:
            print_request(req.view)

    @custodian.command("approve")
    @one_line_errors
    def approve(
        request: RequestArg,
        api: Api,
        yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
        key_file: KeyFile = None,
        passphrase_file: PassphraseFile = None,
    ) -> None:
        """Approve: sign the EIP-712 Disclosure here, after checking the request's digest."""
        key = _custodian(key_file, passphrase_file)
        with open_request(api, key.eth_account, request) as req:
            view, checked = req.view, req.checked
            if view["state"] not in ("pending", "approved"):
                fail(f"request {request} is {view['state']}: it takes no decisions")
            _mine(view, key)
            print_request(view)
            if not yes and not typer.confirm(
                f"Approve disclosing this identity to {view['requester']}?", err=True
            ):
                fail("not approved")
            info = req.info()
            signature = key.sign_disclosure(
                chain_id=info["chain_id"],
                contract=info["contract"],
                record_id=checked.record_id,
                request_digest=checked.request_digest,
                requester=checked.requester,
            )
            after = req.post("approvals", {"signature": to_hex(signature)})
        err.print(
            f"[bold green]approved[/] request {request}: now {after['state']}, "
            f"{len(after['approvals'])} of {after['need']} approvals",
            markup=True,
        )

    @custodian.command("decline")
    @one_line_errors
    def decline(
        request: RequestArg,
        api: Api,
        reason: Annotated[str, typer.Option("--reason", help="Why, for the record.")],
        key_file: KeyFile = None,
        passphrase_file: PassphraseFile = None,
    ) -> None:
        """Decline a request, with a reason."""
        key = _custodian(key_file, passphrase_file)
        with open_request(api, key.eth_account, request) as req:
            _mine(req.view, key)
            after = req.post("declines", {"reason": reason})
        err.print(f"declined request {request}: now {after['state']}")

    @custodian.command("reseal")
    @one_line_errors
    def reseal(
        request: RequestArg,
        api: Api,
        rpc: Rpc = None,
        contract: Contract = None,
        key_file: KeyFile = None,
        passphrase_file: PassphraseFile = None,
    ) -> None:
        """Re-seal your share to the investigator, only if the chain itself has the disclosure
        recorded (isDisclosed and its DisclosureApproved event)."""
        key = _custodian(key_file, passphrase_file)
        with open_request(api, key.eth_account, request) as req:
            view, checked = req.view, req.checked
            if key.address not in {a["address"] for a in view["approvals"]}:
                fail(
                    f"you ({key.address}) did not approve request {request}: only approving "
                    "custodians re-seal"
                )
            chain, _ = chain_for(req.info(), rpc, contract)
            found = require_recorded(chain, checked)
            err.print(
                "recorded on chain: DisclosureApproved in tx "
                f"{to_hex(found.tx_hash) if found.tx_hash else '?'}"
                f", block {found.block_number}, {utc(found.timestamp) if found.timestamp else '?'}"
            )
            share = req.get("share")
            resealed = reseal_for(key, share["share"], checked)
            after = req.post("resealed", {"resealed": to_hex(resealed)})
        err.print(
            f"[bold green]re-sealed[/] share {share['share']['index']} to investigator key "
            f"{view['investigator_key_id']} ({after['resealed']} of {view['threshold']} re-sealed)",
            markup=True,
        )

    # -- vault: listings, sets ---------------------------------------------------------------

    @vault.command("custodians")
    @one_line_errors
    def custodians(api: Api, key_file: AccountKey, passphrase_file: PassphraseFile = None) -> None:
        """The registered custodians (any desk role)."""
        found = desk_get(api, key_file, passphrase_file, "/v1/vault/custodians")
        table = Table(title="custodians")
        for col in ("key id", "address", "name", "registered", "active"):
            table.add_column(col)
        for c in found:
            table.add_row(
                c["key_id"],
                c["address"],
                c["name"],
                utc(c["registered_at"]),
                "yes" if c["active"] else "no",
            )
        out.print(table)

    @vault.command("sets")
    @one_line_errors
    def sets(api: Api, key_file: AccountKey, passphrase_file: PassphraseFile = None) -> None:
        """Every custodian set version, the current ones marked (any desk role)."""
        found = desk_get(api, key_file, passphrase_file, "/v1/vault/sets")
        table = Table(title="custodian sets")
        for col in ("kind", "version", "k of n", "custodians", "records", "current"):
            table.add_column(col)
        for s in found:
            members = ", ".join(m["key_id"] for m in s["custodians"])
            table.add_row(
                s["kind"],
                str(s["version"]),
                f"{s['threshold']} of {len(s['custodians'])}",
                members,
                str(s["records"]),
                "yes" if s["current"] else "",
            )
        out.print(table)

    @vault.command("set-custodians")
    @one_line_errors
    def set_custodians(
        custodian_ids: Annotated[
            list[str], typer.Argument(help="Key ids or addresses, in share order.")
        ],
        api: Api,
        key_file: AccountKey,
        kind: Annotated[str, typer.Option("--kind", help="reporter or witness.")] = "reporter",
        threshold: Annotated[
            int, typer.Option("--threshold", "-k", help="Shares to open a record.")
        ] = 3,
        passphrase_file: PassphraseFile = None,
    ) -> None:
        """Configure a kind's custodian set, k of n (DEFAULT_ADMIN_ROLE)."""
        with signed_in(api, sign_in_account(key_file, passphrase_file)) as desk:
            key_ids = _key_ids(desk, custodian_ids)
            created = desk.call(
                "POST",
                "/v1/vault/sets",
                json={"kind": kind, "threshold": threshold, "custodians": key_ids},
            )
            pending = [
                s
                for s in desk.call("GET", "/v1/vault/sets")
                if s["kind"] == kind and not s["current"] and s["records"]
            ]
        err.print(
            f"[bold green]{kind} set version {created['version']}[/]: {created['threshold']} of "
            f"{len(created['custodians'])} custodians",
            markup=True,
        )
        if pending:
            n = sum(s["records"] for s in pending)
            err.print(
                f"{n} older {kind} record(s) are sealed to earlier sets: a custodian of the "
                f"new set runs `tipledger vault rotate start --kind {kind}`"
            )
        out.print(str(created["id"]))

    @vault.command("deactivate")
    @one_line_errors
    def deactivate(
        custodian_id: Annotated[str, typer.Argument(help="The custodian's key id.")],
        api: Api,
        key_file: AccountKey,
        activate: Annotated[
            bool, typer.Option("--activate", help="Make it active again instead.")
        ] = False,
        passphrase_file: PassphraseFile = None,
    ) -> None:
        """Deactivate a custodian: it can no longer join a set, decide or re-seal (admin)."""
        with signed_in(api, sign_in_account(key_file, passphrase_file)) as desk:
            done = desk.call(
                "POST", f"/v1/vault/custodians/{custodian_id}/active", json={"active": activate}
            )
        state = "active" if done["active"] else "inactive"
        err.print(f"custodian {done['key_id']} ({done['address']}) is {state}")

    # -- rotations ---------------------------------------------------------------------------

    @rotate.command("start")
    @one_line_errors
    def rotate_start(
        api: Api,
        kind: Annotated[str, typer.Option("--kind", help="reporter or witness.")] = "reporter",
        rpc: Rpc = None,
        contract: Contract = None,
        key_file: KeyFile = None,
        passphrase_file: PassphraseFile = None,
    ) -> None:
        """Start moving a kind's older records to its current set, as their coordinator (you
        must be in the current set); contributes your own old shares at once."""
        key = _custodian(key_file, passphrase_file)
        with signed_in(api, key.eth_account) as desk:
            view = desk.call("POST", "/v1/vault/rotations", json={"kind": kind})
            err.print(
                f"rotation {view['id']} of {len(view['records'])} {kind} record(s) to set "
                f"version {view['to_set']['version']}"
            )
            _contribute(desk, key, view["id"], rpc, contract)
        out.print(str(view["id"]))

    @rotate.command("contribute")
    @one_line_errors
    def rotate_contribute(
        rotation: RotationArg,
        api: Api,
        rpc: Rpc = None,
        contract: Contract = None,
        key_file: KeyFile = None,
        passphrase_file: PassphraseFile = None,
    ) -> None:
        """Re-seal your shares of the rotation's records to its coordinator (whose key is used
        only if its registration verifies and it holds CUSTODIAN_ROLE on chain)."""
        key = _custodian(key_file, passphrase_file)
        with signed_in(api, key.eth_account) as desk:
            _contribute(desk, key, rotation, rpc, contract)

    @rotate.command("finish")
    @one_line_errors
    def rotate_finish(
        rotation: RotationArg,
        api: Api,
        rpc: Rpc = None,
        contract: Contract = None,
        key_file: KeyFile = None,
        passphrase_file: PassphraseFile = None,
    ) -> None:
        """As the coordinator: combine the contributions here, re-share every record to the new
        set (fresh K; each new custodian's key checked against its registration and the chain),
        upload; the old shares are deleted."""
        key = _custodian(key_file, passphrase_file)
        with signed_in(api, key.eth_account) as desk:
            info = vault_info(desk)
            chain, chain_id = chain_for(info, rpc, contract)
            data = desk.call("GET", f"/v1/vault/rotations/{rotation}/contributions")
            registered = desk.call("GET", "/v1/vault/custodians")
            records = reshare_records(key, data, registered, chain, chain_id)
            done = desk.call(
                "POST", f"/v1/vault/rotations/{rotation}/finish", json={"records": records}
            )
        err.print(
            f"[bold green]rotation {rotation} done[/]: {len(records)} record(s) re-shared to set "
            f"version {done['to_set']['version']}; {done['superseded_requests']} unfinished "
            "request(s) superseded",
            markup=True,
        )

    @rotate.command("show")
    @one_line_errors
    def rotate_show(
        rotation: RotationArg,
        api: Api,
        key_file: AccountKey,
        passphrase_file: PassphraseFile = None,
    ) -> None:
        """A rotation's records and contributions."""
        view = desk_get(api, key_file, passphrase_file, f"/v1/vault/rotations/{rotation}")
        err.print(
            f"rotation {view['id']} ({view['kind']}): {view['state']}, "
            f"coordinator {view['coordinator']['address']}"
        )
        for r in view["records"]:
            err.print(
                f"  {r['record_id']}  {len(r['contributed'])} of {r['threshold']} contributed"
            )
        err.print("ready to finish" if view["ready"] else "not ready")

    @rotate.command("cancel")
    @one_line_errors
    def rotate_cancel(
        rotation: RotationArg,
        api: Api,
        key_file: AccountKey,
        passphrase_file: PassphraseFile = None,
    ) -> None:
        """Cancel an open rotation (its coordinator or an administrator)."""
        with signed_in(api, sign_in_account(key_file, passphrase_file)) as desk:
            view = desk.call("POST", f"/v1/vault/rotations/{rotation}/cancel")
        err.print(f"rotation {view['id']} {view['state']}")


def _key_ids(desk: DeskClient, given: list[str]) -> list[str]:
    """Key ids for the given key ids or addresses (addresses looked up in the registrations)."""
    registered = desk.call("GET", "/v1/vault/custodians")
    by_address = {c["address"]: c["key_id"] for c in registered}
    out_ = []
    for g in given:
        if g.startswith("0x"):
            address = checksum_address(g)
            if address not in by_address:
                fail(f"{address} is not a registered custodian")
            out_.append(by_address[address])
        else:
            out_.append(g)
    return out_


def _contribute(
    desk: DeskClient, key: CustodianKey, rotation: int, rpc: str | None, contract: str | None
) -> None:
    data = desk.call("GET", f"/v1/vault/rotations/{rotation}/shares")
    if not data["shares"]:
        err.print(f"you hold no shares to contribute to rotation {rotation}")
        return
    info = vault_info(desk)
    chain, chain_id = chain_for(info, rpc, contract)
    items = contribute_shares(key, data["rotation"], data["shares"], chain, chain_id)
    view = desk.call(
        "POST",
        f"/v1/vault/rotations/{rotation}/contributions",
        json={"shares": [{"record_id": to_hex(r), "resealed": to_hex(s)} for r, s in items]},
    )
    err.print(
        f"contributed {len(items)} share(s) to rotation {rotation}, re-sealed to its coordinator "
        f"{view['coordinator']['address']}" + ("; it is ready to finish" if view["ready"] else "")
    )
