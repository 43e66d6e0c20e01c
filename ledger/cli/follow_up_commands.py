"""``tipledger follow-up``: a reporter's anonymous follow-up, with the secret in their receipt.

No sign-in and nothing that names the reporter. A secret made on this machine (``tlf2_``, kept
in the receipt file by ``submit --api``) never leaves it: the service gets only the token
derived from it, the desk's questions come back sealed and are opened here, and answers and
identities are sealed here (``ledger.followup.device``, ``ledger.vault.client``). A secret the
service made (``tlf1_``) is sent as it always was; its answers are sealed here too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from ledger.cli import api_client
from ledger.cli.api_client import ReporterClient
from ledger.cli.common import err, fail, one_line_errors, out, read_receipt, settings, utc
from ledger.cli.vault_support import chain_for
from ledger.core.followup import FollowUpSecret
from ledger.core.identity import RecordKind
from ledger.followup.device import any_secret, bearer, open_thread, seal_answer
from ledger.followup.secrets import check_text
from ledger.vault.client import checked_custodian_set, seal_identity_on_device

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
Rpc = Annotated[
    str | None,
    typer.Option(
        "--rpc", help="JSON-RPC URL the custodians are checked on (default: the deployment's)."
    ),
]
Contract = Annotated[
    str | None,
    typer.Option("--contract", help="The TipLedger contract to check the custodians against."),
]


class _FollowUp:
    """A receipt's follow-up: the secret (kept here), the tip, and a client showing only the
    credential (the token for a version 2 secret)."""

    def __init__(self, receipt_file: Path, api: str | None) -> None:
        receipt, raw = read_receipt(receipt_file)
        follow_up = json.loads(raw).get("follow_up")
        text = follow_up.get("secret") if isinstance(follow_up, dict) else None
        if not isinstance(text, str):
            fail(
                f"{receipt_file} holds no follow-up secret: the tip was submitted without one "
                "(`tipledger submit --api URL` makes one unless given --no-follow-up)"
            )
        secret = any_secret(text)
        if secret is None:
            fail(f"{receipt_file}: its follow-up secret is not a tlf2_… or tlf1_… secret")
        self.secret: FollowUpSecret = secret
        # The case key the reporter's device sealed the tip to (receipts from submit --api keep
        # it): answers are sealed to it and to no other key the service may name.
        pinned = follow_up.get("case_key") if isinstance(follow_up, dict) else None
        self.case_key: str | None = pinned.lower() if isinstance(pinned, str) else None
        self.commitment = receipt.commitment_bytes
        self.base_url = (api or settings().service_url).rstrip("/")
        self.client = ReporterClient(
            self.base_url, receipt.commitment, bearer(secret, self.commitment)
        )

    def thread(self) -> dict[str, Any]:
        """The thread with every message as text (opened here for a version 2 secret)."""
        return open_thread(self.client.status(), self.secret, self.commitment)

    def __enter__(self) -> _FollowUp:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.client.close()


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
        as_json: Annotated[
            bool, typer.Option("--json", help="Print the thread as JSON (messages opened).")
        ] = False,
    ) -> None:
        """The tip's review status (read from the chain by the service) and its thread."""
        with _FollowUp(receipt_file, api) as f:
            view = f.thread()
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
        """Send the review desk a message, sealed here to the tip's key and to yours."""
        body = check_text(text)
        with _FollowUp(receipt_file, api) as f:
            seal_to = f.client.status().get("seal_to")
            named = str(seal_to.get("key", "")).lower() if isinstance(seal_to, dict) else None
            if f.case_key is not None and named != f.case_key:
                fail(
                    f"refusing to seal: the service names key {named} for your answer, but your "
                    f"tip was sealed to {f.case_key} (your receipt keeps it)"
                )
            if seal_to is None and f.secret.version == 1:
                sent = f.client.reply(body)  # a deployment that still seals answers itself
            else:
                sent = f.client.send_sealed(seal_answer(f.secret, f.commitment, seal_to, body))
        err.print(f"sent at {utc(int(sent['sent_at']))}: message {sent['id']}")

    @follow_up.command("add-identity")
    @one_line_errors
    def add_identity(
        receipt_file: ReceiptArg,
        identity_file: Annotated[
            Path,
            typer.Option(
                "--identity-file",
                help="Who you are, as a JSON object (name, contact, ...; role: witness for a "
                "witness).",
                dir_okay=False,
            ),
        ],
        api: Api = None,
        rpc: Rpc = None,
        contract: Contract = None,
    ) -> None:
        """Add your identity to the tip: sealed here for the custodians (checked on chain),
        its key split among them."""
        try:
            identity = json.loads(identity_file.read_text(encoding="utf-8"))
        except OSError as exc:
            fail(f"cannot read {identity_file}: {exc.strerror}")
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            fail(f"{identity_file} is not JSON: {exc}")
        if not isinstance(identity, dict) or not identity:
            fail(f"{identity_file} must hold a JSON object with your details")
        kind = RecordKind.WITNESS if identity.get("role") == "witness" else RecordKind.REPORTER
        with _FollowUp(receipt_file, api) as f:
            view = api_client.custodian_set(f.base_url, kind.value)
            chain, chain_id = chain_for(view, rpc, contract)
            checked = checked_custodian_set(view, chain, chain_id, kind)
            record = seal_identity_on_device(
                identity, kind, checked.share_keys, checked.threshold
            ).to_dict()
            summary = f.client.add_identity_record(record)
        err.print(
            f"identity sealed here for {len(checked.custodians)} custodians (any "
            f"{checked.threshold} together can open it); the service cannot read it"
        )
        out.print_json(json.dumps(summary))
