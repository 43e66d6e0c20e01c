"""Issue 14, point 3, over real HTTP on SQLite and PostgreSQL: tips sent one by one inside one
second leave no trace of their order, in the database or in the public log, and the public
counters (/healthz, /metrics), polled, move only at whole-second boundaries.
"""

from __future__ import annotations

import base64
import os
import threading
import time
from collections import defaultdict
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine
from sqlalchemy.exc import OperationalError

from .conftest import Server
from .test_api import wait_anchored

pytestmark = pytest.mark.chain

TIP_TABLES = ("submissions", "follow_ups", "follow_up_messages")


def submit(client: httpx.Client, text: bytes) -> dict[str, Any]:
    body = {"document": base64.b64encode(text).decode(), "follow_up": True}
    response = client.post("/v1/tips", json=body)
    assert response.status_code == 202, response.text
    answer: dict[str, Any] = response.json()
    return answer


def ten_in_one_second(client: httpx.Client) -> list[dict[str, Any]]:
    """Ten tips sent one after another, each answered before the next, all in one second."""
    for _ in range(5):
        time.sleep(1 - time.time() % 1 + 0.01)  # just after a second begins
        sent = [submit(client, b"order %d " % n + os.urandom(8).hex().encode()) for n in range(10)]
        if len({s["promise"]["received_at"] for s in sent}) == 1:
            return sent
    pytest.fail("could not send ten tips within one second")


def ctid(value: str) -> tuple[int, int]:
    page, item = value.strip("()").split(",")
    return int(page), int(item)


def test_tips_sent_one_by_one_in_a_second_leave_no_order(
    server: Server, client: httpx.Client
) -> None:
    sent = ten_in_one_second(client)
    commitments = [bytes.fromhex(s["commitment"][2:]) for s in sent]
    assert commitments != sorted(commitments)
    leaves = {
        bytes.fromhex(s["commitment"][2:]): int(
            wait_anchored(client, s["commitment"])["leaf_index"]
        )
        for s in sent
    }
    # The public log: the second's tips are consecutive leaves, in commitment order.
    in_log = sorted(commitments, key=leaves.__getitem__)
    assert in_log == sorted(commitments)
    assert sorted(leaves.values()) == list(range(min(leaves.values()), min(leaves.values()) + 10))

    engine = create_engine(server.database_url)
    wanted = set(commitments)
    try:
        with engine.connect() as conn:
            for table in ("submissions", "follow_ups"):
                if engine.dialect.name == "sqlite":
                    for t in TIP_TABLES:
                        with pytest.raises(OperationalError, match="rowid"):
                            conn.exec_driver_sql(f"SELECT rowid FROM {t}")
                    scan = [
                        bytes(c) for (c,) in conn.exec_driver_sql(f"SELECT commitment FROM {table}")
                    ]
                    assert [c for c in scan if c in wanted] == sorted(commitments), table
                    continue
                rows = [
                    (bytes(c), x, ctid(p))
                    for c, x, p in conn.exec_driver_sql(
                        f"SELECT commitment, xmin::text, ctid::text FROM {table}"
                    )
                    if bytes(c) in wanted
                ]
                heap = [c for c, _, _ in sorted(rows, key=lambda r: r[2])]
                assert len({x for _, x, _ in rows}) == 1, f"{table}: several writers (xmin)"
                # One statement wrote them all in commitment order; PostgreSQL may still place a
                # row at a line pointer freed by pruning, out of that order: never the sending
                # order (the sending order is not the commitment order, asserted above).
                assert heap == sorted(commitments) or heap != commitments, f"{table}: heap order"
            if engine.dialect.name == "postgresql":
                serial = conn.exec_driver_sql(
                    "SELECT table_name, column_name FROM information_schema.columns "
                    "WHERE table_schema = current_schema() AND column_default LIKE 'nextval%%' "
                    "AND table_name IN ('submissions', 'follow_ups', 'follow_up_messages', "
                    "'vault_records', 'vault_shares')"
                ).all()
                assert serial == []
    finally:
        engine.dispose()


# Figures that move with the log's growth or the chain's anchors, both public in themselves
# (the log's entries, the contract's checkpoints), are left out: the sequencer grows the log
# with whole seconds only, after they end.
PUBLIC_ANYWAY = ("log_size", "anchored_tree_size", "last_anchor_timestamp", "latency")


def figures(client: httpx.Client) -> tuple[int, dict[str, str]] | None:
    """Every public figure that moves with tips, with the second it was read in (None if the
    requests straddled a second boundary)."""
    before = time.time()
    health = client.get("/healthz").json()
    metrics = client.get("/metrics").text
    after = time.time()
    if int(before) != int(after):
        return None
    values = {
        line.split()[0]: line.split()[1]
        for line in metrics.splitlines()
        if line.startswith("tipledger_")
    }
    values["healthz pending"] = str(health["pending"])
    values["healthz sequencer.pending"] = str(health["sequencer"].get("pending"))
    return int(before), {k: v for k, v in values.items() if not any(p in k for p in PUBLIC_ANYWAY)}


def test_polled_counters_change_only_at_second_boundaries(
    server: Server, client: httpx.Client
) -> None:
    stop = threading.Event()

    def keep_submitting() -> None:
        with server.client() as other:
            while not stop.is_set():
                submit(other, b"counted " + os.urandom(8).hex().encode())
                time.sleep(0.03)

    first = None
    while first is None:
        first = figures(client)
    sender = threading.Thread(target=keep_submitting, daemon=True)
    sender.start()
    readings: dict[int, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    try:
        deadline = time.monotonic() + 3.5
        while time.monotonic() < deadline:
            got = figures(client)
            if got is not None:
                for name, value in got[1].items():
                    readings[got[0]][name].add(value)
    finally:
        stop.set()
        sender.join(30)
    time.sleep(1.1)
    last = None
    while last is None:
        last = figures(client)
    accepted = "tipledger_submissions_accepted_total"
    assert int(float(last[1][accepted])) > int(float(first[1][accepted]))  # they do move
    assert len(readings) >= 3
    changing = {
        (second, name): values
        for second, by_name in readings.items()
        for name, values in by_name.items()
        if len(values) > 1
    }
    assert changing == {}, "a public figure changed inside a second"
