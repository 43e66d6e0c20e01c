"""Floods and log noise (issue 14, point 5): the figures, from a real devchain and service.

    .venv/bin/python scripts/bench_flood.py [--submits 300] [--flood-threads 6]

It starts `tipledger devchain` and `tipledger serve` (subprocesses, a temporary TIPLEDGER_HOME,
the default settings) and prints:

1. the lines the service writes for one aborted ``POST /v1/verify`` (Content-Length 1,000,000,
   1,000 bytes sent, then the connection closed), averaged over 3;
2. ``POST /v1/auth/challenge`` from one source, one after another for 3 s: how many were
   accepted (per second) and how many refused with 429;
3. tip-submit latency (median, p90) alone, then beside ``--flood-threads`` threads asking for
   challenges as fast as they can from the same source.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_service import Proc, start_service


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def aborted_verify_lines(serve: Proc, url: str, count: int = 3) -> float:
    parts = urlsplit(url)
    time.sleep(1.0)
    before = len("".join(serve.lines).splitlines())
    for _ in range(count):
        with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
            head = (
                f"POST /v1/verify HTTP/1.1\r\nHost: {parts.netloc}\r\n"
                "Content-Type: application/json\r\nContent-Length: 1000000\r\n\r\n"
            )
            sock.sendall(head.encode("ascii") + b"{" + b" " * 999)
            time.sleep(0.3)
    time.sleep(2.0)
    return (len("".join(serve.lines).splitlines()) - before) / count


def challenge_rate(url: str, seconds: float = 3.0) -> tuple[int, int, float]:
    accepted = refused = 0
    with httpx.Client(base_url=url, timeout=30) as client:
        started = time.monotonic()
        while time.monotonic() - started < seconds:
            status = client.post("/v1/auth/challenge").status_code
            if status == 200:
                accepted += 1
            elif status == 429:
                refused += 1
        elapsed = time.monotonic() - started
    return accepted, refused, elapsed


def submit_latencies(url: str, count: int, home: Path) -> list[float]:
    """The time to accept each of ``count`` tips, sealed beforehand as a device seals them."""
    from ledger.chain.client import connect
    from ledger.chain.contract import TipLedgerContract
    from ledger.chain.deploy import Deployment
    from ledger.device import member_keys, seal_on_device

    deployment = Deployment.load(home / "deployment.json")
    assert deployment.rpc_url is not None
    keys = member_keys(TipLedgerContract(connect(deployment.rpc_url), deployment.address), "intake")
    bodies = [
        seal_on_device(
            keys, agency="intake", document=f"bench tip {i} {time.time_ns()}".encode()
        ).sealed.to_json()
        for i in range(count)
    ]
    times = []
    with httpx.Client(base_url=url, timeout=30) as client:
        for body in bodies:
            started = time.perf_counter()
            response = client.post("/v1/tips", json=body)
            times.append(time.perf_counter() - started)
            assert response.status_code == 202, response.text
    return times


def flood(url: str, stop: threading.Event, counts: list[int]) -> None:
    with httpx.Client(base_url=url, timeout=30) as client:
        while not stop.is_set():
            counts.append(client.post("/v1/auth/challenge").status_code)


def p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10)[-1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submits", type=int, default=300)
    parser.add_argument("--flood-threads", type=int, default=6)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="tipledger-flood-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIPLEDGER_")}
    env.update(TIPLEDGER_HOME=str(home), PYTHONUNBUFFERED="1")
    print(f"TipLedger flood figures: {os.cpu_count()} cores, data in {home}")
    devchain = Proc(["devchain", "--port", str(free_port())], env)
    serve = None
    try:
        devchain.wait_for(r"contract\s+0x")
        serve, url = start_service(env, 1)
        lines = aborted_verify_lines(serve, url)
        print(f"1. aborted POST /v1/verify: {lines:.0f} log lines per request")
        accepted, refused, elapsed = challenge_rate(url)
        print(
            f"2. challenges from one source in {elapsed:.1f} s: {accepted} accepted "
            f"({accepted / elapsed:.1f}/s), {refused} refused with 429"
        )
        time.sleep(61)  # the source's bucket refills, so the flood below starts from a full one
        alone = submit_latencies(url, args.submits, home)
        stop = threading.Event()
        counts: list[int] = []
        threads = [
            threading.Thread(target=flood, args=(url, stop, counts), daemon=True)
            for _ in range(args.flood_threads)
        ]
        for t in threads:
            t.start()
        time.sleep(0.5)
        flooded = submit_latencies(url, args.submits, home)
        stop.set()
        for t in threads:
            t.join(30)
        ok = sum(1 for c in counts if c == 200)
        print(
            f"3. tip submit, {args.submits} one by one: median {statistics.median(alone) * 1e3:.1f}"
            f" ms, p90 {p90(alone) * 1e3:.1f} ms alone; median "
            f"{statistics.median(flooded) * 1e3:.1f} ms, p90 {p90(flooded) * 1e3:.1f} ms beside "
            f"{args.flood_threads} threads asking for challenges ({len(counts)} asked, {ok} "
            "accepted)"
        )
    finally:
        if serve is not None:
            serve.stop()
        devchain.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
