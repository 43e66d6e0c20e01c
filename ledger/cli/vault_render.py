"""How the vault commands show disclosure requests: a table of many, or one in full.

Both the custodians' commands (``custodian …``) and the investigator's (``disclosure …``) show
requests, so the rendering lives here rather than in either of them.
"""

from __future__ import annotations

from typing import Any

from rich.table import Table

from ledger.cli.common import err, utc


def short(value: str, keep: int = 10) -> str:
    return value if len(value) <= 2 * keep else f"{value[:keep]}…{value[-4:]}"


def requests_table(found: list[dict[str, Any]], title: str) -> Table:
    table = Table(title=title)
    for col in ("#", "state", "kind", "record", "requester", "filed", "approvals", "purpose"):
        table.add_column(col)
    for r in found:
        table.add_row(
            str(r["id"]),
            r["state"],
            r["kind"],
            short(r["record_id"]),
            short(r["requester"]),
            utc(r["filed_at"]),
            f"{len(r['approvals'])}/{r['need']} ({len(r['declines'])} declined)",
            short(r["purpose"], 24),
        )
    return table


def print_request(view: dict[str, Any]) -> None:
    """One request in full, on stderr (its digest was recomputed by ``check_request``)."""
    err.print(f"[bold]request {view['id']}[/]  {view['state']}", markup=True)
    err.print(f"  purpose       {view['purpose']}")
    err.print(f"  requester     {view['requester']}   filed {utc(view['filed_at'])}")
    err.print(f"  investigator  key {view['investigator_key_id']} ({view['investigator_key']})")
    err.print(f"  record        {view['record_id']} ({view['kind']}, epoch {view['epoch']})")
    err.print(f"  digest        {view['request_digest']} (recomputed here: it matches)")
    err.print(f"  approvals     {len(view['approvals'])} of {view['need']} needed")
    for a in view["approvals"]:
        err.print(f"    approved    {a['address']}  {utc(a['decided_at'])}")
    for d in view["declines"]:
        err.print(f"    declined    {d['address']}  {utc(d['decided_at'])}: {d['reason']}")
    if view["recorded"]:
        rec = view["recorded"]
        err.print(f"  on chain      tx {rec['tx_hash']}, block {rec['block_number']}")
    err.print(f"  re-sealed     {view['resealed']} share(s)")
