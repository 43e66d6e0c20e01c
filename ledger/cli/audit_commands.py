"""``tipledger audit``: the oversight audit of a deployment, from the chain and the published log.

Exit 0: no violation. Exit 1: violations, one line each on stderr naming the entry and block.
Exit 2: the audit could not be carried out (chain or API unreachable, bad arguments).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from hexbytes import HexBytes
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from ledger.audit import (
    AuditOptions,
    AuditResult,
    EntrySource,
    HttpEntrySource,
    StoreEntrySource,
    run_audit,
)
from ledger.audit.agencies import AgencySummary
from ledger.audit.deadlines import Deadlines, parse_deadlines
from ledger.audit.report import duration, summary, write_html, write_json
from ledger.chain.client import connect
from ledger.chain.contract import TipLedgerContract
from ledger.chain.deploy import Deployment, open_deployment
from ledger.cli.common import EXIT_INVALID, err, one_line_errors, out, rpc_url, settings, utc
from ledger.config import Settings
from ledger.errors import ConfigError, DeploymentError


class _RichProgress:
    """The audit's stages as rich progress bars on stderr."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._task: TaskID | None = None

    def begin(self, stage: str, total: int | None) -> None:
        self._finish()
        self._task = self._progress.add_task(stage, total=total)

    def total(self, total: int) -> None:
        if self._task is not None:
            self._progress.update(self._task, total=total)

    def advance(self, amount: int) -> None:
        if self._task is not None:
            self._progress.advance(self._task, amount)

    def _finish(self) -> None:
        if self._task is not None:
            task = self._progress.tasks[-1]
            self._progress.update(self._task, total=task.total or task.completed or 1)
            self._progress.update(self._task, completed=task.total or task.completed or 1)

    def close(self) -> None:
        self._finish()


def _open_contract(
    s: Settings, rpc: str | None, contract: str | None
) -> tuple[TipLedgerContract, int | None, bytes | None]:
    """The contract to audit, the block to start from and its deploy transaction, if known."""
    deployment: Deployment | None
    try:
        deployment = Deployment.load(s.deployment_file)
    except DeploymentError:
        if contract is None:
            raise
        deployment = None
    w3 = connect(rpc_url(s, rpc, deployment), timeout=s.rpc_timeout)
    if deployment is not None and (
        contract is None or contract.lower() == deployment.address.lower()
    ):
        return (
            open_deployment(w3, deployment),
            deployment.deploy_block,
            bytes(HexBytes(deployment.deploy_tx)),
        )
    assert contract is not None
    return TipLedgerContract(w3, contract), None, None


def _source(s: Settings, api: str | None, database: str | None) -> EntrySource:
    if api is not None and database is not None:
        raise ConfigError("give the entries' source as --api or --database, not both")
    if database is not None:
        return StoreEntrySource.from_url(database)
    return HttpEntrySource(api or s.service_url)


def _days(seconds: float | None) -> str:
    return "–" if seconds is None else duration(round(seconds))


def _agency_line(a: AgencySummary) -> str:
    name = f"{a.name_en} / {a.name_th}" if a.name_en or a.name_th else a.slug
    return (
        f"{name}{'' if a.active else ' (inactive)'}: {a.received:,} received, "
        f"{a.opened:,} opened, referrals {a.referrals_in:,} in / {a.referrals_out:,} out; "
        f"first response median {_days(a.ack_median)}, worst {_days(a.ack_worst)}; "
        f"outcome median {_days(a.outcome_median)}, worst {_days(a.outcome_worst)}; "
        f"past {a.ack.limit_days:g} days: {a.ack.late:,} of {a.ack.due:,} "
        f"({a.ack.open:,} open); past {a.outcome.limit_days:g} days: "
        f"{a.outcome.late:,} of {a.outcome.due:,} ({a.outcome.open:,} open)"
    )


def _deadlines(
    s: Settings, preset: str | None, first_review_days: float | None, outcome_days: float | None
) -> Deadlines:
    """The setting, or ``--deadlines``; ``--first-review-days``/``--outcome-days`` override it."""
    d = parse_deadlines(preset) if preset is not None else s.deadline_policy
    if first_review_days is None and outcome_days is None:
        return d
    return Deadlines(
        d.ack_days if first_review_days is None else first_review_days,
        d.outcome_days if outcome_days is None else outcome_days,
    )


def _print_summary(result: AuditResult) -> None:
    h = result.history
    s = summary(result)
    roots = [a for a in result.anchors if a.root_matches is not None]
    matching = sum(1 for a in roots if a.root_matches)
    statuses = dict.fromkeys(("on-time", "late", "missing", "pending"), 0)
    for d in result.directs:
        statuses[d.status] += 1
    quorum_ok = sum(1 for d in result.disclosures if d.ok)
    rows = [
        ("contract", f"{h.contract} on chain {h.chain_id}"),
        ("as of", f"block {h.to_block} ({utc(h.head_timestamp)}), from block {h.from_block}"),
        (
            "entries",
            f"{s['anchored_size']:,} anchored in {s['checkpoints']:,} checkpoint(s); "
            f"{s['served']:,} served by {result.source}",
        ),
        ("roots", f"{matching:,} of {len(result.anchors):,} checkpoint(s) match the entries"),
        (
            "direct",
            f"{s['direct_commitments']:,} commitment(s): {statuses['on-time']} on time, "
            f"{statuses['late']} late, {statuses['missing']} missing, "
            f"{statuses['pending']} pending",
        ),
        ("reviews", f"{s['reviews']:,} review(s) of {s['reviewed_tips']:,} logged tip(s)"),
        ("disclosures", f"{s['disclosures']:,}: {quorum_ok:,} with a valid quorum"),
        (
            "deadlines",
            f"first review ({result.options.first_review_days:g} days): "
            f"{s['overdue_first_review']:,} late, {s['overdue_first_review_open']:,} still open; "
            f"outcome ({result.options.outcome_days:g} days): {s['overdue_outcome']:,} late, "
            f"{s['overdue_outcome_open']:,} still open",
        ),
        ("violations", f"{s['violations']:,}"),
    ]
    out.print(f"TipLedger audit: {'PASS' if result.ok else 'FAIL'}")
    for label, text in rows:
        out.print(f"  {label:<12} {text}")
    basis = f"{result.options.deadlines.spec()}: {result.options.basis}"
    out.print(f"  {'agencies':<12} {len(result.agencies)} (deadlines {basis})")
    for a in result.agencies:
        out.print(f"  {a.slug:<12} {_agency_line(a)}")
    for note in result.notes:
        out.print(f"  {'note':<12} {note}")


def register(app: typer.Typer) -> None:
    @app.command()
    @one_line_errors
    def audit(
        rpc: Annotated[
            str | None,
            typer.Option(
                "--rpc", help="JSON-RPC URL (default: TIPLEDGER_RPC_URL or the deployment's)."
            ),
        ] = None,
        contract: Annotated[
            str | None,
            typer.Option("--contract", help="TipLedger address (default: the deployment's)."),
        ] = None,
        api: Annotated[
            str | None,
            typer.Option(
                "--api",
                help="API serving the log entries (default: TIPLEDGER_PUBLIC_URL, else the URL"
                " `serve` of this data directory is serving, else TIPLEDGER_HOST:TIPLEDGER_PORT).",
            ),
        ] = None,
        database: Annotated[
            str | None,
            typer.Option(
                "--database",
                help="Read the entries from this database URL instead of the API (read-only).",
            ),
        ] = None,
        json_path: Annotated[
            Path | None, typer.Option("--json", dir_okay=False, help="Write the JSON report.")
        ] = None,
        html_path: Annotated[
            Path | None, typer.Option("--html", dir_okay=False, help="Write the HTML report.")
        ] = None,
        deadlines: Annotated[
            str | None,
            typer.Option(
                "--deadlines",
                help="Deadline preset (th, eu) or 'ack=7d,outcome=90d' (default:"
                " TIPLEDGER_DEADLINES, else th).",
            ),
        ] = None,
        first_review_days: Annotated[
            float | None,
            typer.Option(min=0.0, help="Deadline for a tip's first review, in days (overrides)."),
        ] = None,
        outcome_days: Annotated[
            float | None,
            typer.Option(min=0.0, help="Deadline for a tip's outcome, in days (overrides)."),
        ] = None,
        from_block: Annotated[
            int | None,
            typer.Option(
                min=0, help="First block to read (default: the deployment's block, else 0)."
            ),
        ] = None,
        chunk_blocks: Annotated[
            int, typer.Option(min=1, help="Blocks per eth_getLogs request.")
        ] = 10_000,
        strict_deadlines: Annotated[
            bool,
            typer.Option(help="Also exit 1 when a tip is past a review deadline."),
        ] = False,
    ) -> None:
        """Audit the whole ledger: the published log against every anchored root, direct
        commitments merged in time, reviews and referrals by members of an agency holding the
        case, disclosures by a custodian quorum, and review deadlines per agency. Exit 0 clean,
        1 on violations (one line each on stderr), 2 if the audit could not run."""
        s = settings()
        tl, deploy_block, deploy_tx = _open_contract(s, rpc, contract)
        source = _source(s, api, database)
        options = AuditOptions.of(_deadlines(s, deadlines, first_review_days, outcome_days))
        with Progress(
            SpinnerColumn(),
            TextColumn("{task.description:<13}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
            transient=False,
        ) as bar:
            progress = _RichProgress(bar)
            result = run_audit(
                tl,
                source,
                options,
                from_block=from_block if from_block is not None else deploy_block or 0,
                deploy_tx=deploy_tx,
                chunk_blocks=chunk_blocks,
                progress=progress,
            )
            progress.close()
        if json_path is not None:
            write_json(result, json_path)
        if html_path is not None:
            write_html(result, html_path)
        _print_summary(result)
        written = [str(p) for p in (json_path, html_path) if p is not None]
        if written:
            out.print(f"  {'reports':<12} {', '.join(written)}")
        out.print(f"  {'took':<12} {result.timings.get('total', 0.0):.2f} s")
        for v in result.violations:
            err.print(f"VIOLATION {v.line()}", markup=False, highlight=False)
        overdue = len(result.overdue_first_review) + len(result.overdue_outcome)
        if result.violations or (strict_deadlines and overdue):
            raise typer.Exit(EXIT_INVALID)
