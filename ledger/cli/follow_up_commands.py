"""``tipledger follow-up``: a reporter's anonymous follow-up, with their code (``--code``) or
the secret in their receipt.

No sign-in and nothing that names the reporter. A code (16 symbols, made by ``submit --api``)
never leaves this machine but for its first six symbols, which find the tip
(``GET /v1/codes/{locator}``); the rest stretches here into the follow-up secret, the tip's salt
and the pin on its case key (``ledger.followup.code``). A secret made on this machine (``tlf2_``,
kept in the receipt file by ``submit --api --secret``) never leaves it either: the service gets
only the token derived from it, the desk's questions come back sealed and are opened here, and
answers and identities are sealed here (``ledger.followup.device``, ``ledger.vault.client``). A
secret the service made (``tlf1_``) is sent as it always was; its answers are sealed here too.
``--code -`` reads the code from stdin, out of the shell's history.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from ledger.cli import api_client
from ledger.cli.api_client import ReporterClient
from ledger.cli.common import err, fail, one_line_errors, out, read_receipt, settings, utc
from ledger.cli.vault_support import chain_for
from ledger.core.commitment import ZERO_AUTHOR
from ledger.core.encoding import address_bytes, to_hex
from ledger.core.followup import FollowUpSecret
from ledger.core.identity import RecordKind
from ledger.core.reporter_code import CodeKeys
from ledger.errors import ProtocolError
from ledger.followup.code import open_code_thread, recovered_receipt, seal_code_answer, unlock
from ledger.followup.device import any_secret, bearer, open_thread, seal_answer
from ledger.followup.secrets import check_text
from ledger.vault.client import checked_custodian_set, seal_identity_on_device
from ledger.verify import verify_receipt

ReceiptArg = Annotated[
    Path | None,
    typer.Argument(
        metavar="RECEIPT", help="The receipt file ('-' for stdin); or give --code instead."
    ),
]
CodeOpt = Annotated[
    str | None,
    typer.Option(
        "--code",
        help="Your code, XXXX-XXXX-XXXX-XXXX ('-': read it from stdin, kept out of the shell's "
        "history).",
    ),
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


def _code_text(code: str) -> str:
    """The code as given: ``-`` reads one line from stdin."""
    if code != "-":
        return code
    line = sys.stdin.readline()
    if not line.strip():
        fail("no code on stdin: type or pipe the 16 letters and digits of your code")
    return line.strip()


def _base_url(api: str | None) -> str:
    return (api or settings().service_url).rstrip("/")


class _FollowUp:
    """A tip's follow-up: the code or the receipt's secret (kept here), the tip, and a client
    showing only the credential (the token, for a code or a version 2 secret)."""

    def __init__(self, receipt_file: Path | None, api: str | None, code: str | None = None) -> None:
        self.base_url = _base_url(api)
        self.keys: CodeKeys | None = None
        self.case_key: str | None = None
        if (receipt_file is None) == (code is None):
            fail("give either your code (--code) or the receipt file, not both and not neither")
        if code is not None:
            self.keys = unlock(_code_text(code))  # a mistyped code: one line, nothing sent
            self.commitment = api_client.code_tip(self.base_url, self.keys.code.locator)
            self._open(self.keys.follow_up)
            return
        assert receipt_file is not None
        receipt, raw = read_receipt(receipt_file)
        self.commitment = receipt.commitment_bytes
        follow_up = json.loads(raw).get("follow_up")
        if isinstance(follow_up, dict) and "code" in follow_up:  # a receipt of a code's tip
            self.keys = unlock(follow_up.get("code"))
            self._open(self.keys.follow_up)
            return
        text = follow_up.get("secret") if isinstance(follow_up, dict) else None
        if not isinstance(text, str):
            fail(
                f"{receipt_file} holds no follow-up secret: the tip was submitted without one "
                "(`tipledger submit --api URL` makes one unless given --no-follow-up)"
            )
        secret = any_secret(text)
        if secret is None:
            fail(f"{receipt_file}: its follow-up secret is not a tlf2_… or tlf1_… secret")
        # The case key the reporter's device sealed the tip to (receipts from submit --api keep
        # it): answers are sealed to it and to no other key the service may name.
        pinned = follow_up.get("case_key") if isinstance(follow_up, dict) else None
        self.case_key = pinned.lower() if isinstance(pinned, str) else None
        self._open(secret)

    def _open(self, secret: FollowUpSecret) -> None:
        self.secret = secret
        self.client = ReporterClient(
            self.base_url, to_hex(self.commitment), bearer(secret, self.commitment)
        )

    def thread(self) -> dict[str, Any]:
        """The thread with every message as text (opened here for a code or a version 2
        secret; a code's view only once its case key checks against the code's tag)."""
        view = self.client.status()
        if self.keys is not None:
            return open_code_thread(view, self.keys, self.commitment)
        return open_thread(view, self.secret, self.commitment)

    def answer(self, text: str) -> dict[str, Any]:
        """``text`` sealed here and sent: to the reporter key and to the case key (checked by
        the code's tag, or the one the receipt keeps)."""
        view = self.client.status()
        if self.keys is not None:
            return self.client.send_sealed(seal_code_answer(view, self.keys, self.commitment, text))
        seal_to = view.get("seal_to")
        named = str(seal_to.get("key", "")).lower() if isinstance(seal_to, dict) else None
        if self.case_key is not None and named != self.case_key:
            fail(
                f"refusing to seal: the service names key {named} for your answer, but your "
                f"tip was sealed to {self.case_key} (your receipt keeps it)"
            )
        if seal_to is None and self.secret.version == 1:
            return self.client.reply(text)  # a deployment that still seals answers itself
        return self.client.send_sealed(seal_answer(self.secret, self.commitment, seal_to, text))

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
        receipt_file: ReceiptArg = None,
        code: CodeOpt = None,
        api: Api = None,
        as_json: Annotated[
            bool, typer.Option("--json", help="Print the thread as JSON (messages opened).")
        ] = False,
    ) -> None:
        """The tip's review status (read from the chain by the service) and its thread."""
        with _FollowUp(receipt_file, api, code) as f:
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
        text: Annotated[str, typer.Option("--text", "-t", help="Your message, as text.")],
        receipt_file: ReceiptArg = None,
        code: CodeOpt = None,
        api: Api = None,
    ) -> None:
        """Send the review desk a message, sealed here to the tip's key and to yours."""
        body = check_text(text)
        with _FollowUp(receipt_file, api, code) as f:
            sent = f.answer(body)
        err.print(f"sent at {utc(int(sent['sent_at']))}: message {sent['id']}")

    @follow_up.command("add-identity")
    @one_line_errors
    def add_identity(
        identity_file: Annotated[
            Path,
            typer.Option(
                "--identity-file",
                help="Who you are, as a JSON object (name, contact, ...; role: witness for a "
                "witness).",
                dir_okay=False,
            ),
        ],
        receipt_file: ReceiptArg = None,
        code: CodeOpt = None,
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
        with _FollowUp(receipt_file, api, code) as f:
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

    @follow_up.command("receipt")
    @one_line_errors
    def receipt(
        code: Annotated[
            str,
            typer.Option(
                "--code",
                help="Your code, XXXX-XXXX-XXXX-XXXX ('-': read it from stdin).",
            ),
        ],
        document_file: Annotated[
            Path,
            typer.Option(
                "--document",
                "-d",
                help="Your copy of the tip document, exactly as sent ('-' for stdin).",
                dir_okay=False,
            ),
        ],
        out_file: Annotated[
            Path | None, typer.Option("--out", "-o", help="Write the receipt here, not stdout.")
        ] = None,
        author: Annotated[
            str | None,
            typer.Option(
                "--author",
                help="The address of the one-time author key the tip was signed with, if any.",
            ),
        ] = None,
        api: Api = None,
        rpc: Rpc = None,
        contract: Contract = None,
    ) -> None:
        """Get the whole receipt back from your code and your copy of the tip: the commitment
        computed here, the promise and inclusion from the service, all checked against the chain
        before the receipt is written."""
        if document_file == Path("-") and code == "-":
            fail("only one of --code and --document can be read from stdin")
        keys = unlock(_code_text(code))
        try:
            document = (
                sys.stdin.buffer.read() if str(document_file) == "-" else document_file.read_bytes()
            )
        except OSError as exc:
            fail(f"cannot read {document_file}: {exc.strerror}")
        try:
            signer = ZERO_AUTHOR if author is None else address_bytes(author)
        except ProtocolError as exc:
            fail(f"--author: {exc}")
        base = _base_url(api)
        commitment = api_client.code_tip(base, keys.code.locator)
        status = api_client.receipt_status(base, commitment)
        recovered = recovered_receipt(keys, document, status, signer)
        served = api_client.web_config(base)
        info = {"contract": status.get("contract"), "chain_id": status.get("chain_id")}
        chain, _chain_id = chain_for({**info, "rpc_url": served.get("rpc_url")}, rpc, contract)
        verdict = verify_receipt(recovered, document, chain.contract().w3)
        if not (verdict.ok or verdict.pending) or verdict.failures:
            fail(f"the receipt built from the service's answer does not check: {verdict.summary()}")
        data = {**recovered.to_dict(), "follow_up": {"code": keys.code.text}}
        text = json.dumps(data, indent=2, ensure_ascii=False)
        if out_file is not None:
            out_file.write_text(text + "\n", encoding="utf-8")
            err.print(f"receipt written to {out_file}")
        else:
            out.print(text, markup=False)
        err.print(verdict.summary())
