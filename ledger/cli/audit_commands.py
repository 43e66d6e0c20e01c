"""``tipledger audit``: the oversight audit of a deployment, from the chain and the published log.

Exit 0: no violation. Exit 1: violations, one line each on stderr naming the entry and block.
Exit 2: the audit could not be carried out (chain or API unreachable, bad arguments).

The summary and the HTML report are in Thai unless ``--lang en``. Signed in as oversight
(``--key-file``: a key holding REVIEWER_ROLE, CUSTODIAN_ROLE or DEFAULT_ADMIN_ROLE), or reading
the operator's own ``--database``, the audit measures each tip's time to anchor from its signed
arrival time; otherwise it reports the upper bound the public log gives.
"""

from __future__ import annotations

import contextlib
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
    TileEntrySource,
    run_audit,
)
from ledger.audit.agencies import AgencySummary
from ledger.audit.arrivals import ArrivalSource, HttpArrivalSource, StoreArrivalSource
from ledger.audit.deadlines import Deadlines, parse_deadlines
from ledger.audit.report import anchor_times, summary, write_json
from ledger.audit.report_html import write_html
from ledger.audit.report_text import Lang, Text, parse_lang
from ledger.chain.client import connect
from ledger.chain.contract import TipLedgerContract
from ledger.chain.deploy import Deployment, open_deployment
from ledger.cli.api_client import DeskClient
from ledger.cli.common import EXIT_INVALID, err, one_line_errors, out, rpc_url, settings
from ledger.cli.vault_support import sign_in_account
from ledger.config import Settings
from ledger.errors import ConfigError, DeploymentError
from ledger.store.submissions import SubmissionStore


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


def _source(
    s: Settings, api: str | None, database: str | None, tiles: str | None = None
) -> EntrySource:
    if sum(x is not None for x in (api, database, tiles)) > 1:
        raise ConfigError("give the entries' source as --api, --database or --tiles, not two")
    if database is not None:
        return StoreEntrySource.from_url(database)
    if tiles is not None:
        if not tiles.startswith(("http://", "https://")):
            raise ConfigError(f"--tiles must be an http(s) URL, got {tiles!r}")
        return TileEntrySource(tiles)
    return HttpEntrySource(api or s.service_url)


def _lang(value: str) -> Lang:
    try:
        return parse_lang(value)
    except ValueError as exc:
        raise ConfigError(f"--lang: {exc}") from None


def _arrivals(source: EntrySource, desk: DeskClient | None, api: str) -> ArrivalSource | None:
    """Where the signed arrival times come from: the operator's database, or the service for a
    signed-in oversight session; None without either (the report then gives the bound)."""
    if isinstance(source, StoreEntrySource):
        return StoreArrivalSource(SubmissionStore(source.store))
    if desk is not None:
        token = str(desk.http.headers["Authorization"]).removeprefix("Bearer ")
        arrivals = HttpArrivalSource(api, token)
        arrivals.probe()  # a key without an oversight role fails here, in one line
        return arrivals
    return None


def _agency_line(t: Text, a: AgencySummary) -> str:
    def days(seconds: float | None) -> str:
        return "–" if seconds is None else t.duration(seconds)

    if t.lang == "th":
        name = f"{a.name_th} / {a.name_en}" if a.name_en or a.name_th else a.slug
        return (
            f"{name}{'' if a.active else ' (ไม่รับเรื่องใหม่)'}: ได้รับ {a.received:,} "
            f"เปิดเรื่อง {a.opened:,} รับเรื่องต่อ {a.referrals_in:,} ส่งเรื่องต่อ "
            f"{a.referrals_out:,}; ดำเนินการครั้งแรก มัธยฐาน {days(a.ack_median)} นานที่สุด "
            f"{days(a.ack_worst)}; แจ้งผล มัธยฐาน {days(a.outcome_median)} นานที่สุด "
            f"{days(a.outcome_worst)}; เกิน {a.ack.limit_days:g} วัน: {a.ack.late:,} จาก "
            f"{a.ack.due:,} (ค้าง {a.ack.open:,}); เกิน {a.outcome.limit_days:g} วัน: "
            f"{a.outcome.late:,} จาก {a.outcome.due:,} (ค้าง {a.outcome.open:,})"
        )
    name = f"{a.name_en} / {a.name_th}" if a.name_en or a.name_th else a.slug
    return (
        f"{name}{'' if a.active else ' (inactive)'}: {a.received:,} received, "
        f"{a.opened:,} opened, referrals {a.referrals_in:,} in / {a.referrals_out:,} out; "
        f"first response median {days(a.ack_median)}, worst {days(a.ack_worst)}; "
        f"outcome median {days(a.outcome_median)}, worst {days(a.outcome_worst)}; "
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


def _anchor_line(t: Text, result: AuditResult) -> str:
    times = anchor_times(result)
    if times.median is None or times.worst is None:
        return "–"
    median, worst = t.duration(times.median), t.duration(times.worst)
    if t.lang == "th":
        basis = (
            f"วัดจากเวลาที่ได้รับตามคำรับรองที่ลงนาม {times.tips:,} รายการ"
            if times.measured
            else "ค่าสูงสุดที่เป็นไปได้ นับจากจุดบันทึกครั้งก่อน"
        )
        return f"มัธยฐาน {median} นานที่สุด {worst} ({basis})"
    basis = (
        f"measured from {times.tips:,} signed arrival(s)"
        if times.measured
        else "upper bound, from the previous checkpoint"
    )
    return f"median {median}, worst {worst} ({basis})"


def _print_summary(result: AuditResult, t: Text) -> None:
    h = result.history
    s = summary(result)
    roots = [a for a in result.anchors if a.root_matches is not None]
    matching = sum(1 for a in roots if a.root_matches)
    statuses = dict.fromkeys(("on-time", "late", "missing", "pending"), 0)
    for d in result.directs:
        statuses[d.status] += 1
    quorum_ok = sum(1 for d in result.disclosures if d.ok)
    o = result.options
    basis = f"{o.deadlines.spec()}: {o.basis}"
    if t.lang == "th":
        head = f"ผลการตรวจสอบ TipLedger: {'ผ่าน' if result.ok else 'ไม่ผ่าน'}"
        rows = [
            ("สัญญา", f"{h.contract} บนเชน {h.chain_id}"),
            ("ข้อมูล ณ", f"บล็อก {h.to_block} ({t.when(h.head_timestamp)}) จากบล็อก {h.from_block}"),
            (
                "รายการ",
                f"บันทึกลงบล็อกเชนแล้ว {s['anchored_size']:,} รายการ ใน {s['checkpoints']:,} "
                f"จุดบันทึก; อ่านจาก {result.source} ได้ {s['served']:,} รายการ",
            ),
            ("ค่าราก", f"ตรงกับรายการ {matching:,} จาก {len(result.anchors):,} จุดบันทึก"),
            ("เวลาจนบันทึก", _anchor_line(t, result)),
            (
                "ส่งตรง",
                f"{s['direct_commitments']:,} รายการ: ทันเวลา {statuses['on-time']} "
                f"ล่าช้า {statuses['late']} ไม่ปรากฏ {statuses['missing']} "
                f"ยังไม่ครบกำหนด {statuses['pending']}",
            ),
            ("พิจารณา", f"{s['reviews']:,} ครั้ง ของเบาะแส {s['reviewed_tips']:,} รายการ"),
            ("เปิดเผยตัวตน", f"{s['disclosures']:,} ครั้ง: อนุมัติครบองค์ประชุม {quorum_ok:,}"),
            (
                "กำหนดเวลา",
                f"พิจารณาครั้งแรก ({o.first_review_days:g} วัน): เกิน "
                f"{s['overdue_first_review']:,} ค้าง {s['overdue_first_review_open']:,}; "
                f"แจ้งผล ({o.outcome_days:g} วัน): เกิน {s['overdue_outcome']:,} ค้าง "
                f"{s['overdue_outcome_open']:,}",
            ),
            ("ข้อผิดปกติ", f"{s['violations']:,}"),
            ("หน่วยงาน", f"{len(result.agencies)} (กำหนดเวลา {basis})"),
        ]
        note_label = "หมายเหตุ"
    else:
        head = f"TipLedger audit: {'PASS' if result.ok else 'FAIL'}"
        rows = [
            ("contract", f"{h.contract} on chain {h.chain_id}"),
            (
                "as of",
                f"block {h.to_block} ({t.when(h.head_timestamp)}), from block {h.from_block}",
            ),
            (
                "entries",
                f"{s['anchored_size']:,} anchored in {s['checkpoints']:,} checkpoint(s); "
                f"{s['served']:,} served by {result.source}",
            ),
            ("roots", f"{matching:,} of {len(result.anchors):,} checkpoint(s) match the entries"),
            ("to anchor", _anchor_line(t, result)),
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
                f"first review ({o.first_review_days:g} days): "
                f"{s['overdue_first_review']:,} late, {s['overdue_first_review_open']:,} still "
                f"open; outcome ({o.outcome_days:g} days): {s['overdue_outcome']:,} late, "
                f"{s['overdue_outcome_open']:,} still open",
            ),
            ("violations", f"{s['violations']:,}"),
            ("agencies", f"{len(result.agencies)} (deadlines {basis})"),
        ]
        note_label = "note"
    out.print(head)
    for label, text in rows:
        out.print(f"  {label:<12} {text}")
    for a in result.agencies:
        out.print(f"  {a.slug:<12} {_agency_line(t, a)}")
    for note in result.notes:
        out.print(f"  {note_label:<12} {note}")


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
        tiles: Annotated[
            str | None,
            typer.Option(
                "--tiles",
                help="Read the entries from the log's tiles at this URL (the service's /log or"
                " a mirror's) instead of the API.",
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
        lang: Annotated[
            str,
            typer.Option(
                "--lang", help="Language of the summary and the HTML report: th (default) or en."
            ),
        ] = "th",
        key_file: Annotated[
            Path | None,
            typer.Option(
                "--key-file",
                exists=True,
                dir_okay=False,
                help="Sign in to the API with this key (REVIEWER_ROLE, CUSTODIAN_ROLE or"
                " DEFAULT_ADMIN_ROLE on chain) to measure each tip's time to anchor from its"
                " signed arrival time; without it (and without --database) the report gives"
                " the upper bound the public log allows.",
            ),
        ] = None,
        passphrase_file: Annotated[
            Path | None,
            typer.Option(
                "--passphrase-file", dir_okay=False, help="Read the key's passphrase from here."
            ),
        ] = None,
    ) -> None:
        """Audit the whole ledger: the published log against every anchored root, direct
        commitments merged in time, reviews and referrals by members of an agency holding the
        case, disclosures by a custodian quorum, and review deadlines per agency. Exit 0 clean,
        1 on violations (one line each on stderr), 2 if the audit could not run."""
        t = Text(_lang(lang))
        s = settings()
        if key_file is not None and database is not None:
            raise ConfigError("--key-file signs in to the API; with --database it is not needed")
        tl, deploy_block, deploy_tx = _open_contract(s, rpc, contract)
        source = _source(s, api, database, tiles)
        options = AuditOptions.of(_deadlines(s, deadlines, first_review_days, outcome_days))
        api_url = (api or s.service_url).rstrip("/")
        account = sign_in_account(key_file, passphrase_file) if key_file is not None else None
        with (
            (
                DeskClient(api_url, account) if account is not None else contextlib.nullcontext()
            ) as desk,
            Progress(
                SpinnerColumn(),
                TextColumn("{task.description:<13}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=err,
                transient=False,
            ) as bar,
        ):
            progress = _RichProgress(bar)
            result = run_audit(
                tl,
                source,
                options,
                from_block=from_block if from_block is not None else deploy_block or 0,
                deploy_tx=deploy_tx,
                chunk_blocks=chunk_blocks,
                progress=progress,
                arrivals=_arrivals(source, desk, api_url),
            )
            progress.close()
        if json_path is not None:
            write_json(result, json_path)
        if html_path is not None:
            write_html(result, html_path, t.lang)
        _print_summary(result, t)
        written = [str(p) for p in (json_path, html_path) if p is not None]
        th = t.lang == "th"
        if written:
            out.print(f"  {'รายงาน' if th else 'reports':<12} {', '.join(written)}")
        took = result.timings.get("total", 0.0)
        out.print(f"  {'ใช้เวลา' if th else 'took':<12} {took:.2f} {t('seconds_unit')}")
        for v in result.violations:
            err.print(f"VIOLATION {v.line()}", markup=False, highlight=False)
        overdue = len(result.overdue_first_review) + len(result.overdue_outcome)
        if result.violations or (strict_deadlines and overdue):
            raise typer.Exit(EXIT_INVALID)
