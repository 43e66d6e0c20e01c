"""``tipledger follow-up``: a reporter's anonymous follow-up, with the secret in their receipt.

No sign-in and nothing that names the reporter: the secret the service gave with the receipt
(``"follow_up": {"secret": "tlf1_…"}``, kept in the receipt file by ``submit --api``) is sent
in the Authorization header, and is all the service asks for.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from ledger.cli.api_client import ReporterClient
from ledger.cli.common import err, fail, one_line_errors, out, read_receipt, settings, utc
from ledger.followup.secrets import check_text

ReceiptArg = Annotated[
    Path, typer.Argument(metavar="RECEIPT", help="The receipt file ('-' for stdin).")
]
Api = Annotated[
    str | None,
    typer.Option(
        "--api",
        envvar="TIPLEDGER_API_URL",
        help="URL of the TipLedger service (TIPLEDGER_API_URL; default TIPLEDGER_PUBLIC_URL).",
    ),
]


def _open(receipt_file: Path, api: str | None) -> ReporterClient:
    receipt, raw = read_receipt(receipt_file)
    follow_up = json.loads(raw).get("follow_up")
    secret = follow_up.get("secret") if isinstance(follow_up, dict) else None
    if not isinstance(secret, str):
        fail(
            f"{receipt_file} holds no follow-up secret: the tip was submitted without one "
            "(`tipledger submit --api URL` asks for it unless given --no-follow-up)"
        )
    return ReporterClient((api or settings().service_url).rstrip("/"), receipt.commitment, secret)


def register(app: typer.Typer) -> None:
    follow_up = typer.Typer(
        help="Follow up on your tip anonymously: its review status, the desk's questions, your "
        "answers.",
        no_args_is_help=True,
    )
    app.add_typer(follow_up, name="follow-up")

    @follow_up.command("status")
    @one_line_errors
    def status(
        receipt_file: ReceiptArg,
        api: Api = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print the JSON answer.")] = False,
    ) -> None:
        """The tip's review status (read from the chain by the service) and its thread."""
        with _open(receipt_file, api) as client:
            view = client.status()
        if as_json:
            out.print_json(json.dumps(view))
            return
        review: dict[str, Any] | None = view.get("review")
        out.print(f"tip       {view['commitment']}", markup=False)
        out.print(f"anchored  {'yes' if view['anchored'] else 'not yet'}")
        out.print(
            "review    "
            + (
                "none recorded yet"
                if review is None
                else f"{review['status_name']} (since {utc(int(review['recorded_at']))})"
            )
        )
        if not view["messages"]:
            err.print("no messages")
            return
        table = Table("sent", "from", "text")
        for m in view["messages"]:
            table.add_row(utc(int(m["sent_at"])), m["from"], Text(m["text"]))
        out.print(table)

    @follow_up.command("reply")
    @one_line_errors
    def reply(
        receipt_file: ReceiptArg,
        text: Annotated[str, typer.Option("--text", "-t", help="Your message, as text.")],
        api: Api = None,
    ) -> None:
        """Send the review desk a message (sealed at once to the desk's key)."""
        body = check_text(text)
        with _open(receipt_file, api) as client:
            sent = client.reply(body)
        err.print(f"sent at {utc(int(sent['sent_at']))}: message {sent['id']}")

    @follow_up.command("add-identity")
    @one_line_errors
    def add_identity(
        receipt_file: ReceiptArg,
        identity_file: Annotated[
            Path,
            typer.Option(
                "--identity-file",
                help="Who you are, as a JSON object (name, contact, ...).",
                dir_okay=False,
            ),
        ],
        api: Api = None,
    ) -> None:
        """Add your identity to the tip: encrypted, its key split among the custodians."""
        try:
            identity = json.loads(identity_file.read_text(encoding="utf-8"))
        except OSError as exc:
            fail(f"cannot read {identity_file}: {exc.strerror}")
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            fail(f"{identity_file} is not JSON: {exc}")
        if not isinstance(identity, dict) or not identity:
            fail(f"{identity_file} must hold a JSON object with your details")
        with _open(receipt_file, api) as client:
            summary = client.add_identity(identity)
        err.print("identity sealed for the custodians; the service cannot read it")
        out.print_json(json.dumps(summary))
