"""``tipledger review``: the review desk from a reviewer's terminal.

Everything that needs trust happens here, on the reviewer's machine: tips are opened with the
desk's private key and checked against the chain itself (``ledger.desk.check``), questions to a
reporter are sealed here before they are sent, and decisions are recorded on chain with the
reviewer's own key (``recordReview``: the status and the SHA-256 of the reviewer's note). The
service is asked only for what it stores: sealed envelopes, proofs, sealed messages.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from eth_account.signers.local import LocalAccount
from rich.table import Table
from rich.text import Text
from web3 import Web3

from ledger.chain.client import connect
from ledger.chain.contract import TipLedgerContract
from ledger.chain.deploy import Deployment
from ledger.chain.reader import ChainReader
from ledger.cli.api_client import DeskClient
from ledger.cli.common import EXIT_INVALID, err, fail, one_line_errors, out, rpc_url, settings, utc
from ledger.cli.key_commands import PASSPHRASE_ENV, PRIVATE_KEY_NAME
from ledger.config import Settings
from ledger.core.encoding import checksum_address, from_hex, to_hex
from ledger.core.tip import TIP_FORMAT
from ledger.desk.check import CheckedTip, check_tip
from ledger.desk.keys import configured_public_key, load_private_key
from ledger.desk.reviews import STATUS_NAMES, status_id
from ledger.errors import ConfigError, DeploymentError, EnvelopeError, ProtocolError
from ledger.followup.secrets import (
    FROM_REPORTER,
    FROM_REVIEWER,
    check_text,
    key_id,
    new_message_id,
    open_message,
    seal_message,
)
from ledger.ops.keyfiles import load_key, read_passphrase

Api = Annotated[
    str | None,
    typer.Option(
        "--api",
        envvar="TIPLEDGER_API_URL",
        help="URL of the TipLedger service (TIPLEDGER_API_URL; default TIPLEDGER_PUBLIC_URL).",
    ),
]
KeyFile = Annotated[
    Path,
    typer.Option(
        "--key-file",
        help="The reviewer's Ethereum key (keystore: passphrase from TIPLEDGER_KEY_PASSPHRASE or "
        "_FILE; or a dev key). It signs in and records decisions.",
        dir_okay=False,
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
DeskKey = Annotated[
    Path | None,
    typer.Option(
        "--desk-key",
        help=f"The review desk private key (default: <home>/{PRIVATE_KEY_NAME}).",
        dir_okay=False,
    ),
]
DeskPassphraseFile = Annotated[
    Path | None,
    typer.Option(
        "--desk-passphrase-file",
        help=f"File holding the desk key's passphrase (else {PASSPHRASE_ENV}, else asked).",
        dir_okay=False,
    ),
]
CommitmentArg = Annotated[str, typer.Argument(metavar="COMMITMENT", help="0x + 64 hex digits.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


# --- what the commands share ------------------------------------------------------------------


def _service_url(s: Settings, api: str | None) -> str:
    return (api or s.service_url).rstrip("/")


def _reviewer(s: Settings, key_file: Path) -> LocalAccount:
    return load_key(key_file, read_passphrase(s.key_passphrase, s.key_passphrase_file))


def _commitment(text: str) -> bytes:
    try:
        return from_hex(text, 32)
    except ProtocolError as exc:
        raise ProtocolError(f"COMMITMENT: {exc}") from None


def _desk_private(s: Settings, path: Path | None, passphrase_file: Path | None) -> X25519PrivateKey:
    key_path = path or s.home / PRIVATE_KEY_NAME
    if passphrase_file is not None:
        passphrase = read_passphrase(None, passphrase_file)
    else:
        passphrase = os.environ.get(PASSPHRASE_ENV)
    if passphrase is None:
        passphrase = typer.prompt(
            f"Passphrase for the review desk key {key_path}", hide_input=True, err=True
        )
    return load_private_key(key_path, passphrase or "")


def _chain(
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


def _same_ledger(desk: DeskClient, chain_id: int, contract: TipLedgerContract) -> None:
    """Refuse to work with a service that anchors to another contract than ours."""
    health = desk.call("GET", "/healthz")
    theirs = (health.get("chain_id"), str(health.get("contract", "")).lower())
    if theirs != (chain_id, contract.address.lower()):
        raise ConfigError(
            f"the service anchors to {health.get('contract')} on chain {health.get('chain_id')}, "
            f"not to {contract.address} on chain {chain_id}: check --api, --rpc and --contract"
        )


def _document_view(document: bytes) -> tuple[str, list[dict[str, Any]]]:
    """The tip's text and its attachments, for a person (a web or multipart tip is JSON)."""
    try:
        data = orjson.loads(document)
    except orjson.JSONDecodeError:
        data = None
    if isinstance(data, dict) and data.get("format") == TIP_FORMAT:
        attachments = data.get("attachments")
        return str(data.get("text", "")), attachments if isinstance(attachments, list) else []
    try:
        return document.decode("utf-8"), []
    except UnicodeDecodeError:
        return f"<{len(document)} bytes, not text: save them with --out>", []


def _print_check(checked: CheckedTip) -> None:
    if checked.verdict is not None:
        table = Table(show_header=False, box=None, pad_edge=False)
        for c in checked.verdict.checks:
            table.add_row("[green]✓[/]" if c.ok else "[red]✗[/]", c.name, Text(c.detail))
        err.print(table)
        for w in checked.verdict.warnings:
            err.print(f"[yellow]warning:[/] {w}")
    colour = "green" if checked.ok else ("yellow" if checked.pending else "red")
    err.print(Text(checked.summary(), style=f"bold {colour}"))


def _sender(name: object) -> int:
    return FROM_REVIEWER if name == "reviewer" else FROM_REPORTER


def _sealed(value: object) -> bytes:
    try:
        return base64.b64decode(str(value), validate=True)
    except (binascii.Error, ValueError):
        raise ProtocolError("the service sent a message that is not base64") from None


# --- the commands -----------------------------------------------------------------------------


def register(app: typer.Typer) -> None:
    review = typer.Typer(
        help="The review desk: tips awaiting review, opened and checked here, decisions on "
        "chain, questions to reporters.",
        no_args_is_help=True,
    )
    app.add_typer(review, name="review")

    @review.command("list")
    @one_line_errors
    def list_tips(
        key_file: KeyFile,
        api: Api = None,
        under_review: Annotated[
            bool, typer.Option("--under-review", help="Also tips still 'under review'.")
        ] = False,
        limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many.")] = 1000,
        as_json: AsJson = False,
    ) -> None:
        """List the tips nobody has reviewed on chain yet, oldest first."""
        s = settings()
        tips: list[dict[str, Any]] = []
        with DeskClient(_service_url(s, api), _reviewer(s, key_file)) as desk:
            after: str | None = None
            while len(tips) < limit:
                params: dict[str, Any] = {"limit": min(500, limit - len(tips))}
                if after:
                    params["after"] = after
                if under_review:
                    params["under_review"] = "true"
                page = desk.call("GET", "/v1/review/tips", params=params)
                tips.extend(page["tips"])
                after = page.get("next")
                if not after:
                    break
        if as_json:
            out.print_json(json.dumps(tips))
            return
        table = Table("commitment", "received", "entry", "anchored", "follow-up", "status")
        for t in tips:
            table.add_row(
                t["commitment"],
                utc(int(t["received_at"])),
                "" if t["leaf_index"] is None else str(t["leaf_index"] + 1),  # counted from 1
                "yes" if t["anchored"] else "pending",
                "yes" if t["follow_up"] else "",
                t["status"],
            )
        out.print(table)
        err.print(f"{len(tips)} tip(s) awaiting review")

    @review.command("show")
    @one_line_errors
    def show(
        commitment: CommitmentArg,
        key_file: KeyFile,
        api: Api = None,
        rpc: Rpc = None,
        contract: ContractOpt = None,
        desk_key: DeskKey = None,
        desk_passphrase_file: DeskPassphraseFile = None,
        out_file: Annotated[
            Path | None,
            typer.Option("--out", "-o", help="Also write the tip document's bytes here."),
        ] = None,
        as_json: AsJson = False,
    ) -> None:
        """Open a tip with the desk key and check it against the chain; show the verdict.

        Exit 0 when it verifies (or is pending but opens and matches its commitment), 1 when
        it does not: a tampered envelope, another commitment, a proof the chain refutes.
        """
        s = settings()
        entry = _commitment(commitment)
        private = _desk_private(s, desk_key, desk_passphrase_file)
        w3, chain_id, tipledger = _chain(s, rpc, contract)
        with DeskClient(_service_url(s, api), _reviewer(s, key_file)) as desk:
            _same_ledger(desk, chain_id, tipledger)
            tip = desk.call("GET", f"/v1/review/tips/{to_hex(entry)}")
        checked = check_tip(tip, entry, private, w3, chain_id=chain_id, contract=tipledger.address)
        opened = checked.opened
        if opened is not None and out_file is not None:
            out_file.write_bytes(opened.document)
            err.print(f"document written to {out_file}")
        text, attachments = _document_view(opened.document) if opened else ("", [])
        if as_json:
            verdict = checked.verdict
            out.print_json(
                json.dumps(
                    {
                        "commitment": to_hex(entry),
                        "valid": checked.ok,
                        "pending": checked.pending,
                        "summary": checked.summary(),
                        "checks": []
                        if verdict is None
                        else [
                            {"name": c.name, "ok": c.ok, "detail": c.detail} for c in verdict.checks
                        ],
                        "text": text if opened else None,
                        "attachments": attachments,
                        "author": None if opened is None else checksum_address(opened.author),
                        "received_at": tip.get("received_at"),
                        "review": tip.get("review"),
                        "follow_up": tip.get("follow_up"),
                    }
                )
            )
        else:
            _print_check(checked)
            if opened is not None:
                review_state = tip.get("review")
                out.print(f"[bold]tip[/] {to_hex(entry)}", markup=True)
                out.print(f"received  {utc(int(tip['received_at']))}")
                out.print(f"author    {checksum_address(opened.author)}")
                out.print(
                    "review    "
                    + (
                        "none recorded yet"
                        if not review_state
                        else f"{review_state['status_name']} by {review_state['reviewer']} at "
                        f"{utc(int(review_state['recorded_at']))}"
                    )
                )
                out.print(f"follow-up {'yes' if tip.get('follow_up') else 'no'}")
                for a in attachments:
                    line = f"attached  {a.get('name')} ({a.get('size')} bytes, {a.get('sha256')})"
                    out.print(line, markup=False)
                out.print("")
                out.print(text, markup=False, highlight=False)
        if not (checked.ok or checked.pending):
            raise typer.Exit(EXIT_INVALID)

    @review.command("decide")
    @one_line_errors
    def decide(
        commitment: CommitmentArg,
        key_file: KeyFile,
        status: Annotated[
            str,
            typer.Option(
                "--status",
                help="under_review, substantiated, unsubstantiated, referred or closed.",
            ),
        ],
        note_file: Annotated[
            Path,
            typer.Option(
                "--note-file",
                help="The reviewer's note: its SHA-256 goes on chain.",
                dir_okay=False,
            ),
        ],
        api: Api = None,
        rpc: Rpc = None,
        contract: ContractOpt = None,
    ) -> None:
        """Record a decision on chain with your own key: recordReview(commitment, status, SHA-256
        of the note). The note itself stays with you."""
        s = settings()
        entry = _commitment(commitment)
        status_value = status_id(status)
        try:
            note = note_file.read_bytes()
        except OSError as exc:
            fail(f"cannot read the note {note_file}: {exc.strerror}")
        if not note.strip():
            fail(f"the note {note_file} is empty: write down the reasons for the decision")
        digest = hashlib.sha256(note).digest()
        account = _reviewer(s, key_file)
        _w3, chain_id, tipledger = _chain(s, rpc, contract)
        if not tipledger.has_role("REVIEWER_ROLE", account.address):
            fail(f"{account.address} does not hold REVIEWER_ROLE on chain {chain_id}")
        with DeskClient(_service_url(s, api), account) as desk:
            _same_ledger(desk, chain_id, tipledger)
            desk.call("GET", f"/v1/review/tips/{to_hex(entry)}")  # a tip the desk holds
        result = tipledger.record_review(account, entry, status_value, digest)
        err.print(
            f"[green]recorded[/] {STATUS_NAMES[status_value]} for {to_hex(entry)} in block "
            f"{result.block_number} (tx {to_hex(result.tx_hash)}); note digest {to_hex(digest)}",
            markup=True,
        )
        out.print(to_hex(result.tx_hash))

    @review.command("ask")
    @one_line_errors
    def ask(
        commitment: CommitmentArg,
        key_file: KeyFile,
        text: Annotated[str, typer.Option("--text", "-t", help="The question, as text.")],
        api: Api = None,
        desk_key: DeskKey = None,
        desk_passphrase_file: DeskPassphraseFile = None,
    ) -> None:
        """Ask the reporter a question: sealed here, to their follow-up key and to the desk."""
        s = settings()
        entry = _commitment(commitment)
        body = check_text(text)
        desk_public: X25519PublicKey | None = configured_public_key(s)
        if desk_public is None:
            desk_public = _desk_private(s, desk_key, desk_passphrase_file).public_key()
        with DeskClient(_service_url(s, api), _reviewer(s, key_file)) as desk:
            thread = desk.call("GET", f"/v1/review/tips/{to_hex(entry)}/messages")
            if thread.get("desk_key_id") != key_id(desk_public).hex():
                raise ConfigError(
                    f"the service seals to desk key {thread.get('desk_key_id')}, this desk key is "
                    f"{key_id(desk_public).hex()}"
                )
            reporter = X25519PublicKey.from_public_bytes(from_hex(thread["reporter_key"], 32))
            message_id = new_message_id()

            def sealed(public_key: X25519PublicKey) -> str:
                envelope = seal_message(
                    public_key,
                    commitment=entry,
                    message_id=message_id,
                    sender=FROM_REVIEWER,
                    text=body,
                )
                return base64.b64encode(envelope).decode("ascii")

            sent = desk.call(
                "POST",
                f"/v1/review/tips/{to_hex(entry)}/messages",
                json={
                    "id": to_hex(message_id),
                    "to_reporter": sealed(reporter),
                    "to_desk": sealed(desk_public),
                },
            )
        err.print(f"asked at {utc(int(sent['sent_at']))}: message {sent['id']}")

    @review.command("messages")
    @one_line_errors
    def messages(
        commitment: CommitmentArg,
        key_file: KeyFile,
        api: Api = None,
        desk_key: DeskKey = None,
        desk_passphrase_file: DeskPassphraseFile = None,
        as_json: AsJson = False,
    ) -> None:
        """The follow-up thread of a tip, opened here with the desk key."""
        s = settings()
        entry = _commitment(commitment)
        private = _desk_private(s, desk_key, desk_passphrase_file)
        with DeskClient(_service_url(s, api), _reviewer(s, key_file)) as desk:
            thread = desk.call("GET", f"/v1/review/tips/{to_hex(entry)}/messages")
        shown: list[dict[str, Any]] = []
        for m in thread["messages"]:
            try:
                message_text = open_message(
                    private,
                    _sealed(m["sealed"]),
                    commitment=entry,
                    message_id=from_hex(m["id"], 16),
                    sender=_sender(m["from"]),
                )
                ok = True
            except (EnvelopeError, ProtocolError) as exc:
                message_text, ok = f"cannot open: {exc}", False
            fields = {k: m[k] for k in ("id", "from", "sent_at", "reviewer")}
            shown.append({**fields, "text": message_text, "ok": ok})
        if as_json:
            out.print_json(json.dumps(shown))
            return
        table = Table("sent", "from", "text")
        for m in shown:
            who = "reporter" if m["from"] == "reporter" else f"reviewer {m['reviewer']}"
            table.add_row(
                utc(int(m["sent_at"])), who, Text(m["text"], style="" if m["ok"] else "red")
            )
        out.print(table)
        err.print(f"{len(shown)} message(s)")
