"""Tip commands: ``submit`` (tip to anchored receipt) and ``verify`` (receipt against the chain).

``submit`` without ``--api`` takes the service's path on this machine: the intake stores and
promises the tip (sealed to the review desk if this machine has its public key), then the
sequencer, stepped here, gives it its leaf and anchors it; the receipt comes from the one receipt
builder. With ``--api`` the tip is sealed here (``ledger.device``) to the agency's member keys read
from the chain, and a running service stores, promises and anchors it without reading it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import mimetypes
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer
from eth_account import Account
from eth_account.signers.local import LocalAccount
from rich.table import Table

from ledger.chain.agencies import AgencyDirectory
from ledger.chain.client import RECEIPT_TIMEOUT, connect
from ledger.chain.contract import TipLedgerContract
from ledger.cli import api_client
from ledger.cli.common import (
    EXIT_ERROR,
    EXIT_INVALID,
    err,
    fail,
    load_deployment,
    one_line_errors,
    open_chain,
    open_store,
    out,
    read_receipt,
    rpc_url,
    settings,
    utc,
)
from ledger.cli.verify_support import LazyTiles
from ledger.config import Settings
from ledger.core.agency import INTAKE, agency_id
from ledger.core.commitment import ZERO_AUTHOR
from ledger.core.eip712 import Signer
from ledger.core.receipt import Inclusion, Receipt
from ledger.device import AttachmentFile, member_keys, seal_on_device
from ledger.errors import ChainError, ChainMismatchError, ConfigError, DeploymentError, StoreError
from ledger.followup.code import seal_with_code
from ledger.followup.device import device_follow_up
from ledger.log.intake import Intake
from ledger.log.reader import LogReader
from ledger.log.receipts import ReceiptBuilder, TipStatus
from ledger.log.sequencer import Sequencer
from ledger.ops.keyfiles import load_key, read_passphrase, save_dev_key
from ledger.store.lease import Lease
from ledger.store.submissions import SubmissionStore
from ledger.verify import verify_receipt_uniformly

Text = Annotated[str | None, typer.Option("--text", "-t", help="The tip as text (UTF-8).")]
Rpc = Annotated[
    str | None,
    typer.Option("--rpc", help="JSON-RPC URL (default: TIPLEDGER_RPC_URL or the deployment's)."),
]


def _read_document(text: str | None, path: Path | None, what: str) -> bytes | None:
    if text is not None and path is not None:
        fail(f"give the {what} either as --text or as a file, not both")
    if text is not None:
        return text.encode("utf-8")
    if path is None:
        return None
    try:
        return sys.stdin.buffer.read() if str(path) == "-" else path.read_bytes()
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror}")


def _author(path: Path | None) -> LocalAccount | None:
    """The reporter's one-time key: loaded if the file exists, else made and saved there."""
    if path is None:
        return None
    if path.exists():
        return load_key(path)
    account: LocalAccount = Account.create()
    save_dev_key(path, account)
    err.print(f"made a new one-time author key {account.address}, saved to {path}")
    return account


Api = Annotated[
    str | None,
    typer.Option("--api", help="URL of a running TipLedger service (e.g. http://127.0.0.1:8000)."),
]
ANCHOR_WAIT = RECEIPT_TIMEOUT  # how long a local submit waits for its anchor to be final
FOLLOW_UP_CODE = "code"
FOLLOW_UP_SECRET = "secret"  # noqa: S105 - the name of a mode, not a password
CODE_TRIES = 3  # a locator taken is ~0.1 % of tips at a million: three in a row, never
STEP_PAUSE = 0.1  # seconds between the sequencer steps a local submit takes


def _write_receipt(text_out: str, out_file: Path | None) -> None:
    if out_file is not None:
        out_file.write_text(text_out + "\n", encoding="utf-8")
        err.print(f"receipt written to {out_file}")
    else:
        out.print(text_out, markup=False)


def _say_anchored(inclusion: Inclusion) -> None:
    err.print(
        f"[green]anchored[/]: entry {inclusion.leaf_index + 1} of {inclusion.tree_size}, "
        f"block {inclusion.block_number} at "
        f"{utc(inclusion.block_timestamp)}. Keep the receipt secret: with the document it "
        "proves your tip."
    )


def _submit_locally(
    s: Settings, rpc: str | None, document: bytes, author_key: Path | None, agency: bytes
) -> tuple[Receipt, ChainError | None]:
    """The tip through this machine's log, on the service's path (the module's doc).

    Once the intake has stored the tip, its receipt (with the salt, which exists nowhere else)
    is always returned: anchored, or pending with the reason it could not be anchored now (the
    next sequencer step anchors it; its inclusion can be fetched later).
    """
    deployment, _w3, contract = open_chain(s, rpc)
    anchorer = load_key(
        s.anchorer_key_file, read_passphrase(s.key_passphrase, s.key_passphrase_file)
    )
    submissions = SubmissionStore(open_store(s, deployment))
    author = _author(author_key)
    # Sealed to the agency's members as the chain lists them; a chain with no agency at all
    # (a bare deployment) keeps no sealed copy: the tip reaches only the log and the receipt.
    directory = AgencyDirectory(contract) if contract.agency_ids() else None
    if directory is None:
        err.print("[yellow]no agency on this chain[/]: no sealed copy is kept, only the log entry")
    intake = Intake(
        submissions,
        Signer(anchorer.key),
        directory,
        chain_id=deployment.chain_id,
        contract=deployment.address,
        linger=0.0,  # one tip: no one else to wait for
    )
    intake.start()
    try:
        accepted = intake.submit(document, author=author.address if author else None, agency=agency)
    finally:
        intake.close()
    receipt = ReceiptBuilder(deployment.chain_id, deployment.address).receipt(accepted)
    try:
        status = _anchor_now(
            s, submissions, contract, anchorer, deployment.deploy_block, accepted.commitment
        )
    except ChainError as exc:  # stored: the receipt must not be lost with the error
        return receipt, exc
    assert status.inclusion is not None  # anchored
    return receipt.with_inclusion(status.inclusion), None


def _anchor_now(
    s: Settings,
    submissions: SubmissionStore,
    contract: TipLedgerContract,
    anchorer: LocalAccount,
    deploy_block: int,
    commitment: bytes,
) -> TipStatus:
    """Step the sequencer until a checkpoint on chain covers ``commitment``.

    This process steps it while it holds the sequencer lease; while a running service holds the
    lease, that service's sequencer anchors the tip and the steps here only wait for it.
    """
    engine = submissions.log.engine
    lease = Lease(engine, name="sequencer", seconds=s.lease_seconds)
    sequencer = Sequencer(
        submissions, contract, anchorer, settings=s, lease=lease, deploy_block=deploy_block
    )
    reader = LogReader(engine)
    # The step's error, if any, is this command's one line: not its log lines as well.
    logging.getLogger("tipledger.sequencer").addHandler(logging.NullHandler())
    deadline = time.monotonic() + ANCHOR_WAIT
    try:
        while True:
            step = sequencer.step()
            status = reader.tip_status(commitment)
            if status.status == "anchored":
                return status
            if step.halted:
                raise ChainMismatchError(step.error or "the chain does not match the stored log")
            if step.leader and step.error and step.in_flight is None:
                raise ChainError(step.error)
            if time.monotonic() >= deadline:
                raise ChainError(
                    f"the tip is stored, but its anchor was not final within {ANCHOR_WAIT:g} s"
                )
            time.sleep(STEP_PAUSE)
    finally:
        with contextlib.suppress(StoreError):  # it expires by itself anyway
            lease.release()


def _device_chain(url: str, rpc: str | None, contract_address: str | None) -> TipLedgerContract:
    """The contract the members' keys are read from: ``--contract``, else this data
    directory's deployment, else the one the service names (said, so it can be compared with
    the address the agencies publish)."""
    s = settings()
    deployment = None
    node: str | None
    if contract_address is None:
        try:
            deployment = load_deployment(s)
        except ConfigError:
            deployment = None
    chain_id: int | None = None
    address: str
    if deployment is not None and contract_address is None:
        address, chain_id = str(deployment.address), deployment.chain_id
        node = rpc_url(s, rpc, deployment)
    elif contract_address is not None:
        address, node = contract_address, rpc or s.rpc_url
    else:
        offered = api_client.web_config(url)
        address, chain_id = str(offered["contract"]), int(offered["chain_id"])
        node = rpc or s.rpc_url or offered.get("rpc_url")
        err.print(
            f"[yellow]contract {address} (chain {chain_id}) is the service's word[/]: compare it "
            "with the address the agencies publish, or pass --contract"
        )
    if not node:
        fail("no chain to read the agency's keys from: pass --rpc URL")
    w3 = connect(node, timeout=s.rpc_timeout)
    if chain_id is not None and w3.eth.chain_id != chain_id:
        fail(f"the node at {node} serves chain {w3.eth.chain_id}, the deployment is on {chain_id}")
    return TipLedgerContract(w3, address)


def _submit_via_api(
    url: str,
    document: bytes | None,
    text: str | None,
    attach: list[Path],
    author: LocalAccount | None,
    out_file: Path | None,
    wait: float,
    *,
    follow_up: str | None = FOLLOW_UP_CODE,
    agency: str | None = None,
    rpc: str | None = None,
    contract_address: str | None = None,
) -> None:
    """Seal the tip here for the agency's members as the chain lists them, then send it.

    ``follow_up``: a code (the default, whose salt is the tip's: a new code means sealing the
    tip again, as when the service says its first six symbols are taken), a version 2 secret
    kept in the receipt (``FOLLOW_UP_SECRET``), or None for neither.
    """
    slug = agency or INTAKE
    keys = member_keys(_device_chain(url, rpc, contract_address), slug)
    files = [AttachmentFile(p.name, _read_file(p), _media_type(p)) for p in attach]
    signer = author.address if author else ZERO_AUTHOR

    def accepted(receipt: Receipt) -> None:
        promise = receipt.promise
        when = f" at {utc(promise.received_at)}" if promise is not None else ""
        err.print(f"accepted{when}: commitment {receipt.commitment}; waiting for the anchor…")

    def sealed_here(count: int) -> None:
        err.print(
            f"sealed here to {count} member key(s) of {slug!r} read from the chain"
            + (f", with {len(files)} sealed attachment(s)" if files else "")
        )

    code = None
    if follow_up == FOLLOW_UP_CODE:
        for attempt in range(CODE_TRIES):
            made = seal_with_code(
                keys, agency=slug, document=document, text=text, attachments=files, author=signer
            )
            if attempt == 0:
                sealed_here(len(keys))
            try:
                submitted = api_client.submit(
                    url, made.tip, wait=wait, on_pending=accepted, follow_up_code=made.code.text
                )
                code = made.code
                break
            except api_client.CodeTakenError as exc:
                if attempt == CODE_TRIES - 1:
                    raise
                err.print(f"{exc}: making a new code and sealing again")
    else:
        tip = seal_on_device(
            keys, agency=slug, document=document, text=text, attachments=files, author=signer
        )
        secret = None
        if follow_up == FOLLOW_UP_SECRET:
            secret, enrolment = device_follow_up(tip.commitment)
            tip = replace(tip, sealed=replace(tip.sealed, follow_up=enrolment))
        sealed_here(len(keys))
        submitted = api_client.submit(
            url,
            tip,
            wait=wait,
            on_pending=accepted,
            follow_up_secret=None if secret is None else secret.text,
        )
    receipt = submitted.receipt
    _write_receipt(submitted.to_json(), out_file)
    if code is not None:
        err.print(
            f"\n[bold]Your code: {code.text}[/] — write it down; it is all you need to follow "
            "up.\nWith it and your copy of the tip, `tipledger follow-up status --code -` shows "
            "the review and the desk's questions, and `tipledger follow-up receipt --code -` "
            "gives the receipt back. Anyone holding it can do the same: keep it apart from the "
            "tip.\n",
            highlight=False,
            soft_wrap=True,  # the code on one line, whatever the terminal's width
        )
    elif submitted.follow_up is not None:
        err.print(
            "the receipt holds a follow-up secret made here: with it, `tipledger follow-up "
            "status RECEIPT` shows the review and the desk's questions (anyone holding it can too)"
        )
    inclusion = receipt.inclusion
    if inclusion is None:
        err.print(
            f"[yellow]not anchored within {wait:g} s[/]: this receipt is pending (its promise is "
            f"the service's word). Fetch the inclusion later from {url.rstrip('/')}"
            f"/v1/tips/{receipt.commitment}/receipt"
        )
        raise typer.Exit(EXIT_ERROR)
    _say_anchored(inclusion)


def _read_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror}")


def _media_type(path: Path) -> str | None:
    return mimetypes.guess_type(path.name)[0]


def _verify_via_api(url: str, receipt: Receipt, document: bytes | None, as_json: bool) -> None:
    verdict = api_client.verify(url, receipt, document)
    if as_json:
        out.print_json(json.dumps(verdict))
    else:
        table = Table(show_header=False, box=None, pad_edge=False)
        for c in verdict.get("checks", []):
            mark = "[green]✓[/]" if c.get("ok") else "[red]✗[/]"
            table.add_row(mark, str(c.get("name")), str(c.get("detail")))
        err.print(table)
        for w in verdict.get("warnings", []):
            err.print(f"[yellow]warning:[/] {w}")
        if document is None:
            err.print("[yellow]note:[/] no document given: only the receipt was checked")
        err.print(f"[dim]verdict computed by the service at {url}[/]")
        out.print(str(verdict.get("summary")))
    if not verdict.get("valid"):
        raise typer.Exit(EXIT_INVALID)


def register(app: typer.Typer) -> None:
    @app.command()
    @one_line_errors
    def submit(
        file: Annotated[
            Path | None,
            typer.Argument(help="File holding the tip document ('-' for stdin).", dir_okay=False),
        ] = None,
        text: Text = None,
        author_key: Annotated[
            Path | None,
            typer.Option(
                "--author-key",
                help="One-time key for this tip (created if the file does not exist).",
                dir_okay=False,
            ),
        ] = None,
        out_file: Annotated[
            Path | None, typer.Option("--out", "-o", help="Write the receipt here, not stdout.")
        ] = None,
        rpc: Rpc = None,
        api: Api = None,
        wait: Annotated[
            float,
            typer.Option(
                "--wait", min=0, help="With --api: seconds to wait for the anchor (default 60)."
            ),
        ] = 60.0,
        follow_up: Annotated[
            bool,
            typer.Option(
                "--follow-up/--no-follow-up",
                help="With --api: make a code (16 letters and digits, printed once: write it "
                "down) to read the review status and the desk's questions anonymously, and to "
                "get the receipt back with your copy of the tip.",
            ),
        ] = True,
        secret: Annotated[
            bool,
            typer.Option(
                "--secret",
                help="With --api: a follow-up secret kept in the receipt file instead of a code "
                "(the receipt is then needed to follow up).",
            ),
        ] = False,
        agency: Annotated[
            str | None,
            typer.Option(
                "--agency",
                help="The agency the tip is for (its id, see `tipledger agency list`; default: "
                "the national intake desk, 'intake').",
            ),
        ] = None,
        attach: Annotated[
            list[Path] | None,
            typer.Option(
                "--attach",
                help="With --api and --text: a file to attach (repeat for more), sealed here.",
                exists=True,
                dir_okay=False,
            ),
        ] = None,
        contract_address: Annotated[
            str | None,
            typer.Option(
                "--contract",
                help="With --api: the TipLedger contract to read the agency's member keys from "
                "(default: this data directory's deployment, else the one the service names).",
            ),
        ] = None,
    ) -> None:
        """Submit a tip and print its receipt (JSON).

        Without --api: stores it in the local log as the service would, and anchors it at once.
        With --api URL: seals it here (document, salt and author, and any attachments) to the
        agency's member keys read from the chain, sends only the sealed tip to the running
        service, and waits for the anchor.
        """
        attach = attach or []
        if attach and file is not None:
            fail("--attach goes with --text (the tip's text and its files), not with a FILE")
        if attach and api is None:
            fail("--attach needs --api: attachments are sealed here and sent to the agency")
        document = None if attach else _read_document(text, file, "tip")
        if document is None and not attach:
            fail("nothing to submit: give the tip with --text or as a FILE")
        if api is not None:
            if agency is not None:
                agency_id(agency)  # a bad id is this command's line, before anything is sent
            _submit_via_api(
                api,
                document,
                text,
                attach,
                _author(author_key),
                out_file,
                wait,
                follow_up=(FOLLOW_UP_SECRET if secret else FOLLOW_UP_CODE) if follow_up else None,
                agency=agency,
                rpc=rpc,
                contract_address=contract_address,
            )
            return
        assert document is not None
        receipt, anchor_error = _submit_locally(
            settings(), rpc, document, author_key, agency_id(agency or INTAKE)
        )
        _write_receipt(receipt.to_json(), out_file)
        if receipt.inclusion is None:
            err.print(
                f"[yellow]stored but not anchored[/]: {anchor_error}. Keep this pending receipt: "
                "it holds the salt. The next sequencer step (`tipledger serve`, or the next "
                "submit) anchors the tip."
            )
            raise typer.Exit(EXIT_ERROR)
        _say_anchored(receipt.inclusion)

    @app.command()
    @one_line_errors
    def verify(
        receipt_file: Annotated[
            Path, typer.Argument(metavar="RECEIPT", help="The receipt JSON file ('-' for stdin).")
        ],
        text: Text = None,
        document_file: Annotated[
            Path | None,
            typer.Option("--document", "-d", help="File holding the tip document.", dir_okay=False),
        ] = None,
        rpc: Rpc = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print the verdict as JSON.")] = False,
        api: Api = None,
        log_url: Annotated[
            str | None,
            typer.Option(
                "--log-url",
                help="Where the log's tiles are (default: TIPLEDGER_LOG_URL, this machine's "
                "log, or the service's published log_url).",
            ),
        ] = None,
    ) -> None:
        """Verify a receipt with only the receipt, the document, the chain and the log's tiles.

        It asks what every verifier asks (PROTOCOL.md 18): the chain's latest checkpoint, its
        events in the receipt's block window, and the tiles on the path to the entry's 256-entry
        tile. With --api URL the service's POST /v1/verify computes the verdict instead. Exit 0
        when valid, 1 when not, 2 when it could not be checked.
        """
        receipt, _ = read_receipt(receipt_file)
        document = _read_document(text, document_file, "document")
        if api is not None:
            _verify_via_api(api, receipt, document, as_json)
            return
        s = settings()
        try:
            deployment = load_deployment(s)
        except DeploymentError:
            deployment = None
        try:
            url = rpc_url(s, rpc, deployment)
        except ConfigError as exc:
            fail(str(exc))
        tiles = LazyTiles(s, log_url, receipt)
        w3 = connect(url, timeout=s.rpc_timeout)
        verdict = verify_receipt_uniformly(receipt, document, w3, tiles)
        if as_json:
            out.print_json(
                json.dumps(
                    {
                        "valid": verdict.ok,
                        "pending": verdict.pending,
                        "proven_time": verdict.proven_time,
                        "summary": verdict.summary(),
                        "checks": [
                            {"name": c.name, "ok": c.ok, "detail": c.detail} for c in verdict.checks
                        ],
                        "warnings": list(verdict.warnings),
                    }
                )
            )
        else:
            table = Table(show_header=False, box=None, pad_edge=False)
            for c in verdict.checks:
                mark = "[green]✓[/]" if c.ok else "[red]✗[/]"
                table.add_row(mark, c.name, c.detail)
            err.print(table)
            for w in verdict.warnings:
                err.print(f"[yellow]warning:[/] {w}")
            if deployment is not None and receipt.contract != deployment.address:
                err.print(
                    f"[yellow]note:[/] this receipt names contract {receipt.contract}, not the "
                    f"deployment in {s.home} ({deployment.address})"
                )
            if document is None:
                err.print("[yellow]note:[/] no document given: only the receipt was checked")
            out.print(verdict.summary())
        if not verdict.ok:
            raise typer.Exit(EXIT_INVALID)
