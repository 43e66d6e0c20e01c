"""The active sequencer's state, published in the database for every instance's ``/healthz``.

With several API processes (``serve --workers N``) or instances, the sequencer runs in one of
them, or in a process of its own; the others would otherwise report nothing about anchoring.
The sequencer writes a small report (leader, halted, last error, pending, time) when it changes
and every few seconds; anyone reads it. A report older than ``STALE_SECONDS`` says the sequencer
itself is not reporting.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from sqlalchemy import Engine, insert, select, update

from ledger.store.database import connection, transaction
from ledger.store.schema import meta

__all__ = ["HEARTBEAT_SECONDS", "STALE_SECONDS", "publish", "read"]

KEY = "sequencer_report"
HEARTBEAT_SECONDS = 5.0
STALE_SECONDS = 30.0
_VALUE_SIZE = 256  # meta.value is String(256)


def publish(engine: Engine, report: dict[str, Any]) -> None:
    """Store ``report`` (JSON-ready, with ``at`` set here); long errors are shortened to fit."""
    report = {**report, "at": int(time.time())}
    value = orjson.dumps(report).decode()
    if len(value) > _VALUE_SIZE and isinstance(report.get("last_error"), str):
        spare = _VALUE_SIZE - (len(value) - len(report["last_error"])) - 1
        report["last_error"] = report["last_error"][: max(0, spare)] + "…"
        value = orjson.dumps(report).decode()
    value = value[:_VALUE_SIZE]
    with transaction(engine, "publishing the sequencer's state") as conn:
        done = conn.execute(update(meta).where(meta.c.key == KEY).values(value=value)).rowcount
        if not done:
            conn.execute(insert(meta).values(key=KEY, value=value))


def read(engine: Engine) -> dict[str, Any] | None:
    """The last report, with ``stale`` set when the sequencer has stopped reporting."""
    with connection(engine, "reading the sequencer's state") as conn:
        value = conn.scalar(select(meta.c.value).where(meta.c.key == KEY))
    if value is None:
        return None
    try:
        report: dict[str, Any] = orjson.loads(value)
    except orjson.JSONDecodeError:
        return None
    report["stale"] = time.time() - float(report.get("at", 0)) > STALE_SECONDS
    return report
