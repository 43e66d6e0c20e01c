"""``tipledger review``: the review desk from an agency member's terminal.

Everything that needs trust happens here, on the member's machine: the member's key file (one
file, both keys: ``tipledger member keygen``) opens their grant of each case key, the case key
opens the tip, which is checked against the chain itself (``ledger.desk.check``); questions to a
reporter are sealed here before they are sent; decisions and referrals are recorded on chain
with the member's own key (``recordReview``: the agency, the status and the SHA-256 of the
member's note; ``refer`` in ``ledger.cli.referral_commands``). The service is asked only for
what it stores: sealed envelopes, grants, proofs, sealed messages.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
from rich.table import Table
from rich.text import Text

from ledger.cli.api_client import DeskClient
from ledger.cli.attachment_support import OpenedAttachment, save_attachments
from ledger.cli.common import EXIT_INVALID, err, one_line_errors, out, settings, utc
from ledger.cli.desk_support import (
    AgencyOpt,
    Api,
    AsJson,
    CommitmentArg,
    ContractOpt,
    KeyFile,
    PassphraseFile,
    Rpc,
    acting_agency,
    agency_params,
    case_routing,
    chain_view,
    commitment_arg,
    member_key,
    open_case,
    read_note,
    same_ledger,
    service_url,
)
from ledger.cli.referral_commands import register as register_referrals
from ledger.core.agency import agency_slug
from ledger.core.encoding import checksum_address, from_hex, to_hex
from ledger.core.tip import TIP_FORMAT
from ledger.desk.check import CheckedTip, check_tip
from ledger.desk.reviews import STATUS_NAMES, status_id
from ledger.errors import ConfigError, EnvelopeError, ProtocolError
from ledger.followup.secrets import (
    FROM_REPORTER,
    FROM_REVIEWER,
    check_text,
    key_id,
    new_message_id,
    open_message,
    seal_message,
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
        help="The review desk: the cases your agency holds, opened and checked here, decisions "
        "and referrals on chain, questions to reporters.",
        no_args_is_help=True,
    )
    app.add_typer(review, name="review")

    @review.command("list")
    @one_line_errors
    def list_tips(
        key_file: KeyFile = None,
        passphrase_file: PassphraseFile = None,
        agency: AgencyOpt = None,
        api: Api = None,
        under_review: Annotated[
            bool, typer.Option("--under-review", help="Also tips still 'under review'.")
        ] = False,
        limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many.")] = 1000,
        as_json: AsJson = False,
    ) -> None:
        """List the cases your agency holds and has not reviewed on chain yet, oldest first."""
        s = settings()
        params_base = agency_params(agency)
        member = member_key(key_file, passphrase_file)
        tips: list[dict[str, Any]] = []
        with DeskClient(service_url(s, api), member.eth_account) as desk:
            after: str | None = None
            while len(tips) < limit:
                params: dict[str, Any] = {**params_base, "limit": min(500, limit - len(tips))}
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
        key_file: KeyFile = None,
        passphrase_file: PassphraseFile = None,
        agency: AgencyOpt = None,
        api: Api = None,
        rpc: Rpc = None,
        contract: ContractOpt = None,
        out_file: Annotated[
            Path | None,
            typer.Option("--out", "-o", help="Also write the tip document's bytes here."),
        ] = None,
        attachments_dir: Annotated[
            Path | None,
            typer.Option(
                "--attachments",
                help="Open the attachments sealed on the reporter's device here, into this "
                "directory (each kept only if it matches the digest the tip lists).",
                file_okay=False,
            ),
        ] = None,
        as_json: AsJson = False,
    ) -> None:
        """Open a case with your grant of its key and check it against the chain.

        Exit 0 when it verifies (or is pending but opens and matches its commitment), 1 when
        it does not: a tampered envelope, another commitment, a proof the chain refutes.
        """
        s = settings()
        entry = commitment_arg(commitment)
        params = agency_params(agency)
        member = member_key(key_file, passphrase_file)
        w3, chain_id, tipledger = chain_view(s, rpc, contract)
        saved: list[OpenedAttachment] = []
        with DeskClient(service_url(s, api), member.eth_account) as desk:
            same_ledger(desk, chain_id, tipledger)
            tip = desk.call("GET", f"/v1/review/tips/{to_hex(entry)}", params=params)
            try:
                case = open_case(tip, entry, member)
            except EnvelopeError as exc:
                err.print(f"[red]{exc}[/]")
                raise typer.Exit(EXIT_INVALID) from None
            checked = check_tip(tip, entry, case, w3, chain_id=chain_id, contract=tipledger.address)
            opened = checked.opened
            if opened is not None and attachments_dir is not None:
                saved = save_attachments(
                    desk,
                    entry,
                    params,
                    case,
                    opened.document,
                    attachments_dir,
                    list(tip.get("attachments") or []),
                )
        for item in saved:
            if item.path is not None:
                err.print(
                    f"[green]attachment {item.index + 1}[/] {item.name}: opened, matches its "
                    f"digest, written to {item.path}",
                    markup=True,
                )
            else:
                err.print(f"[red]attachment {item.index + 1} {item.name}: {item.error}[/]")
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
                        "agency": tip.get("agency"),
                        "holders": tip.get("holders"),
                        "review": tip.get("review"),
                        "latest_review": tip.get("latest_review"),
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
                out.print(f"routed to {tip.get('agency')}; held by {', '.join(tip['holders'])}")
                out.print(f"author    {checksum_address(opened.author)}")
                out.print(
                    "review    "
                    + (
                        "none recorded by your agency yet"
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
        if not (checked.ok or checked.pending) or any(item.path is None for a in saved):
            raise typer.Exit(EXIT_INVALID)

    @review.command("decide")
    @one_line_errors
    def decide(
        commitment: CommitmentArg,
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
                help="The member's note: its SHA-256 goes on chain.",
                dir_okay=False,
            ),
        ],
        key_file: KeyFile = None,
        passphrase_file: PassphraseFile = None,
        agency: AgencyOpt = None,
        api: Api = None,
        rpc: Rpc = None,
        contract: ContractOpt = None,
    ) -> None:
        """Record a decision on chain with your own key: recordReview(commitment, agency,
        status, SHA-256 of the note, the case's routing proof). The note itself stays with
        you."""
        s = settings()
        entry = commitment_arg(commitment)
        status_value = status_id(status)
        params = agency_params(agency)
        note = read_note(note_file)
        digest = hashlib.sha256(note).digest()
        member = member_key(key_file, passphrase_file)
        _w3, chain_id, tipledger = chain_view(s, rpc, contract)
        with DeskClient(service_url(s, api), member.eth_account) as desk:
            same_ledger(desk, chain_id, tipledger)
            tip = desk.call("GET", f"/v1/review/tips/{to_hex(entry)}", params=params)
        acting = acting_agency(tipledger, member, agency, tip)
        proof = case_routing(tipledger, entry, tip)
        result = tipledger.record_review(
            member.eth_account, entry, acting, status_value, digest, proof
        )
        err.print(
            f"[green]recorded[/] {STATUS_NAMES[status_value]} for {to_hex(entry)} by "
            f"{agency_slug(acting)} in block {result.block_number} (tx {to_hex(result.tx_hash)}); "
            f"note digest {to_hex(digest)}",
            markup=True,
        )
        out.print(to_hex(result.tx_hash))

    @review.command("ask")
    @one_line_errors
    def ask(
        commitment: CommitmentArg,
        text: Annotated[str, typer.Option("--text", "-t", help="The question, as text.")],
        key_file: KeyFile = None,
        passphrase_file: PassphraseFile = None,
        agency: AgencyOpt = None,
        api: Api = None,
    ) -> None:
        """Ask the reporter a question: sealed here, to their follow-up key and to the case."""
        s = settings()
        entry = commitment_arg(commitment)
        body = check_text(text)
        params = agency_params(agency)
        member = member_key(key_file, passphrase_file)
        with DeskClient(service_url(s, api), member.eth_account) as desk:
            tip = desk.call("GET", f"/v1/review/tips/{to_hex(entry)}", params=params)
            case_public = open_case(tip, entry, member).public_key()
            thread = desk.call("GET", f"/v1/review/tips/{to_hex(entry)}/messages", params=params)
            if thread.get("desk_key_id") != key_id(case_public).hex():
                raise ConfigError(
                    f"the service seals this thread to key {thread.get('desk_key_id')}, the "
                    f"case key is {key_id(case_public).hex()}"
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
                params=params,
                json={
                    "id": to_hex(message_id),
                    "to_reporter": sealed(reporter),
                    "to_desk": sealed(case_public),
                },
            )
        err.print(f"asked at {utc(int(sent['sent_at']))}: message {sent['id']}")

    @review.command("messages")
    @one_line_errors
    def messages(
        commitment: CommitmentArg,
        key_file: KeyFile = None,
        passphrase_file: PassphraseFile = None,
        agency: AgencyOpt = None,
        api: Api = None,
        as_json: AsJson = False,
    ) -> None:
        """The follow-up thread of a case, opened here with its case key."""
        s = settings()
        entry = commitment_arg(commitment)
        params = agency_params(agency)
        member = member_key(key_file, passphrase_file)
        with DeskClient(service_url(s, api), member.eth_account) as desk:
            tip = desk.call("GET", f"/v1/review/tips/{to_hex(entry)}", params=params)
            private = open_case(tip, entry, member)
            thread = desk.call("GET", f"/v1/review/tips/{to_hex(entry)}/messages", params=params)
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
            who = "reporter" if m["from"] == "reporter" else f"member {m['reviewer']}"
            table.add_row(
                utc(int(m["sent_at"])), who, Text(m["text"], style="" if m["ok"] else "red")
            )
        out.print(table)
        err.print(f"{len(shown)} message(s)")

    register_referrals(review)
