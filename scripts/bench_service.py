"""The ledger service end to end: submissions per second over real HTTP with durable storage,
time from submission to anchored, gas per tip, and one transaction per tip as the baseline.

    .venv/bin/python scripts/bench_service.py [--tips 30000] [--latency-tips 60000]
                                              [--connections 128] [--workers 2]
                                              [--database-url URL] [--skip-65536]

It starts its own devchain (`tipledger devchain`) and service (`tipledger serve`, subprocesses, in
a temporary TIPLEDGER_HOME) and drives them from a separate load process (raw HTTP/1.1 keep-alive
connections on asyncio, so the load generator costs little of the machine's two cores):

1. throughput: `--tips` submissions over `--connections` connections, each acknowledged only
   after its transaction committed (SQLite in WAL mode with synchronous=FULL, or PostgreSQL);
   then the time from submission to anchored receipt (median, 99th percentile) under the same
   load, over `--latency-tips` more submissions: a probe submits one tip every 100 ms and polls
   its receipt every 25 ms until it is anchored (the polling is load too, so the throughput of
   that run is printed beside);
2. gas per tip at batch sizes 1, 1,024 and 65,536: the service restarted with a batch cap of that
   size (and a long interval), that many tips submitted, the Anchored transaction's receipt read;
3. baseline, in the same run: the first tips of step 1 timestamped one transaction each
   (`commit(commitment)` on a fresh TipLedger, sent and awaited one by one through web3.py).

Tips are sealed as a reporter's device seals them (``ledger.device``), in the load process before
its clock starts, so the service only checks and stores them (PROTOCOL.md 17); the same load in
clear, sealed by the service (``TIPLEDGER_SERVER_SEALING=true``), is measured beside it.

Targets (DESIGN.md): >= 3,000 submissions/s on 2 cores (aim: 5,000 sealed on the device), median
<= 1.5 s and p99 <= 3 s from submission to anchor with a 1 s batch interval, <= 2 gas per tip at
a batch of 65,536.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TARGET_RATE = 3000
TARGET_MEDIAN = 1.5
TARGET_P99 = 3.0
TARGET_GAS_PER_TIP = 2.0  # with routing (issue 11); 1.5 before


# --- the load process ---------------------------------------------------------------------------


class Conn:
    """One keep-alive HTTP/1.1 connection, written by hand: the load must stay cheap."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        head = f"{method} {path} HTTP/1.1\r\nHost: bench\r\n"
        if body:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        self.writer.write(head.encode() + b"\r\n" + body)
        raw = await self.reader.readuntil(b"\r\n\r\n")
        status = int(raw[9:12])
        lower = raw.lower()
        i = lower.index(b"content-length:")
        length = int(raw[i + 15 : raw.index(b"\r\n", i)])
        payload = await self.reader.readexactly(length)
        if b"connection: close" in lower:
            self.writer.close()
            self.writer = None
        return status, payload


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _seal_bodies(args: tuple[int, str, str]) -> list[bytes]:
    """``count`` tips of 300 random bytes, sealed as a device seals them (for one pool worker)."""
    count, rpc, contract = args
    from ledger.chain.client import connect
    from ledger.chain.contract import TipLedgerContract
    from ledger.device import member_keys, seal_on_device

    keys = member_keys(TipLedgerContract(connect(rpc), contract), "intake")
    return [
        json.dumps(
            seal_on_device(keys, agency="intake", document=os.urandom(300)).sealed.to_json()
        ).encode()
        for _ in range(count)
    ]


def make_bodies(count: int, rpc: str | None, contract: str | None) -> list[bytes]:
    """The request bodies, made before the clock starts: sealed on the "device" (this load
    process, on every core) when ``rpc`` is given, else tips in clear for the service to seal."""
    if rpc is None or contract is None:
        return [b'{"document":"%s"}' % base64.b64encode(os.urandom(300)) for _ in range(count)]
    from concurrent.futures import ProcessPoolExecutor

    cores = os.cpu_count() or 1
    share = [count // cores + (i < count % cores) for i in range(cores)]
    with ProcessPoolExecutor(cores) as pool:
        parts = pool.map(_seal_bodies, [(n, rpc, contract) for n in share if n])
    return [body for part in parts for body in part]


async def _load(
    url: str, count: int, connections: int, probe_every: float, bodies: list[bytes]
) -> dict[str, Any]:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    statuses: dict[int, int] = {}
    commitments: list[str] = []
    ack_latency: list[float] = []
    probe_latency: list[float] = []
    remaining = count
    probe_bodies = bodies[count:]
    done_loading = asyncio.Event()

    async def worker() -> None:
        nonlocal remaining
        conn = Conn(host, int(port))
        while remaining > 0:
            remaining -= 1
            body = bodies[remaining]
            t0 = time.perf_counter()
            status, payload = await conn.request("POST", "/v1/tips", body)
            ack_latency.append(time.perf_counter() - t0)
            statuses[status] = statuses.get(status, 0) + 1
            if status == 202:
                commitments.append(json.loads(payload)["commitment"])

    async def probe_one() -> None:
        if not probe_bodies:
            return
        conn = Conn(host, int(port))
        body = probe_bodies.pop()
        t0 = time.perf_counter()
        status, payload = await conn.request("POST", "/v1/tips", body)
        if status != 202:
            return
        commitment = json.loads(payload)["commitment"]
        while True:
            status, _ = await conn.request("GET", f"/v1/tips/{commitment}/receipt")
            if status == 200:
                probe_latency.append(time.perf_counter() - t0)
                return
            if time.perf_counter() - t0 > 60:
                probe_latency.append(float("inf"))
                return
            await asyncio.sleep(0.025)

    async def prober() -> None:
        tasks = []
        while not done_loading.is_set():
            tasks.append(asyncio.create_task(probe_one()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done_loading.wait(), probe_every)
        await asyncio.gather(*tasks)

    probes = asyncio.create_task(prober() if probe_every > 0 else asyncio.sleep(0))
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    wall = time.perf_counter() - started
    done_loading.set()
    await probes
    return {
        "count": count,
        "wall": wall,
        "statuses": statuses,
        "commitments": commitments,
        "ack_p50": _percentile(ack_latency, 0.5),
        "ack_p99": _percentile(ack_latency, 0.99),
        "probe_latency": probe_latency,
    }


def load_main(args: argparse.Namespace) -> None:
    try:
        import uvloop

        run = uvloop.run
    except ImportError:  # pragma: no cover
        run = asyncio.run
    # Probes: at most one per probe interval for as long as the load could run at 500 tips/s.
    probes = 0 if args.probe_every <= 0 else int(args.count / 500 / args.probe_every) + 10
    started = time.perf_counter()
    bodies = make_bodies(args.count + probes, args.rpc, args.contract)
    sealing = time.perf_counter() - started
    result = run(_load(args.url, args.count, args.connections, args.probe_every, bodies))
    result["sealing_seconds"] = sealing
    Path(args.out).write_text(json.dumps(result))


def run_load(
    url: str, count: int, connections: int, probe_every: float, device: tuple[str, str] | None
) -> dict[str, Any]:
    """The load in its own process, so it does not share the service's interpreter.

    ``device`` (RPC URL, contract): tips sealed as a device seals them; None: tips in clear."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        out = f.name
    command = [sys.executable, __file__, "load", "--url", url, "--count", str(count)]
    command += ["--connections", str(connections), "--probe-every", str(probe_every)]
    if device is not None:
        command += ["--rpc", device[0], "--contract", device[1]]
    subprocess.run([*command, "--out", out], check=True)
    result: dict[str, Any] = json.loads(Path(out).read_text())
    os.unlink(out)
    return result


# --- processes ---------------------------------------------------------------------------------


class Proc:
    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ledger.cli", *args],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    def wait_for(self, pattern: str, timeout: float = 120) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = re.search(pattern, "".join(self.lines))
            if match:
                return match
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise SystemExit("".join(self.lines) + f"\n(no {pattern!r} in this output)")

    def stop(self) -> None:
        if self.proc.poll() is None:
            # SIGTERM, not SIGINT: a bench started in a shell's background has SIGINT ignored
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_service(env: dict[str, str], workers: int, **settings: Any) -> tuple[Proc, str]:
    import httpx

    env = {**env, **{f"TIPLEDGER_{k.upper()}": str(v) for k, v in settings.items()}}
    proc = Proc(["serve", "--port", "0", "--workers", str(workers)], env)
    url = proc.wait_for(r"API\s+(http://\S+)").group(1)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=5).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    return proc, url


def wait_anchored(url: str, commitment: str, timeout: float = 600) -> dict[str, Any]:
    import httpx

    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=url, timeout=30) as client:
        while time.monotonic() < deadline:
            response = client.get(f"/v1/tips/{commitment}/receipt")
            if response.status_code == 200:
                data: dict[str, Any] = response.json()
                return data
            time.sleep(0.1)
    raise SystemExit(f"{commitment} not anchored within {timeout} s")


# --- the benchmark -----------------------------------------------------------------------------


def mark(ok: bool) -> str:
    return "meets target" if ok else "MISSES target"


def gas_phase(
    env: dict[str, str], batch: int, w3: Any, device: tuple[str, str]
) -> tuple[int, int, int]:
    """Restart the service with a batch cap of ``batch``, send that many tips, read the gas."""
    import httpx

    service, url = start_service(env, 1, batch_cap=batch, batch_interval=3600)
    try:
        before = httpx.get(f"{url}/v1/log/checkpoint", timeout=30).json()["tree_size"]
        result = run_load(url, batch, 64, 0, device)  # no probes: exactly `batch` tips
        assert result["statuses"] == {"202": batch}, result["statuses"]
        fetched = wait_anchored(url, result["commitments"][-1])
        inclusion = fetched["inclusion"]
        # the batch went in one anchor: the new checkpoint is exactly `batch` larger
        assert inclusion["tree_size"] == before + batch, (before, inclusion["tree_size"])
        receipt = w3.eth.get_transaction_receipt(inclusion["anchor_tx"])
        return int(receipt["gasUsed"]), int(inclusion["tree_size"]), batch
    finally:
        service.stop()


def _fresh_schema(url: str) -> tuple[str, Any]:
    """A private schema in that PostgreSQL database for this run (dropped at the end)."""
    import uuid

    from sqlalchemy import create_engine, text

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))

    def drop() -> None:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options=-csearch_path%3D{schema}", drop


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="mode")
    load = sub.add_parser("load", help="(internal) the load process")
    load.add_argument("--url", required=True)
    load.add_argument("--count", type=int, required=True)
    load.add_argument("--connections", type=int, default=64)
    load.add_argument("--probe-every", type=float, default=0.1)
    load.add_argument("--out", required=True)
    load.add_argument("--rpc", help="seal the tips on the device, to the keys read here")
    load.add_argument("--contract")
    ap.add_argument("--tips", type=int, default=30_000, help="submissions in the throughput run")
    ap.add_argument("--connections", type=int, default=128, help="concurrent submitters")
    ap.add_argument("--workers", type=int, default=2, help="API worker processes")
    ap.add_argument(
        "--latency-tips",
        type=int,
        default=60_000,
        help="submissions in the latency run (a probe every 100 ms: ~200 probes at 3,000/s)",
    )
    ap.add_argument("--baseline", type=int, default=500, help="tips for the baseline")
    ap.add_argument("--database-url", help="e.g. postgresql+psycopg://… (default: SQLite)")
    ap.add_argument("--skip-65536", action="store_true", help="skip the 65,536-tip gas batch")
    args = ap.parse_args()
    if args.mode == "load":
        load_main(args)
        return

    from ledger.chain.client import connect
    from ledger.chain.contract import TipLedgerContract
    from ledger.chain.deploy import Deployment, deploy, open_deployment
    from ledger.ops.keyfiles import load_key

    home = Path(tempfile.mkdtemp(prefix="tipledger-bench-"))
    env = {**os.environ, "TIPLEDGER_HOME": str(home), "NO_COLOR": "1", "COLUMNS": "200"}
    for name in ("TIPLEDGER_RPC_URL", "TIPLEDGER_BATCH_CAP", "TIPLEDGER_BATCH_INTERVAL"):
        env.pop(name, None)
    drop_schema = None
    if args.database_url:
        database_url = args.database_url
        if database_url.startswith("postgresql") and "options=" not in database_url:
            database_url, drop_schema = _fresh_schema(database_url)
        env["TIPLEDGER_DATABASE_URL"] = database_url
    storage = args.database_url.split("://")[0] if args.database_url else "SQLite (WAL, FULL)"
    print(f"TipLedger service benchmark: {os.cpu_count()} cores, data in {home}")
    print("command: " + " ".join([Path(sys.executable).name, *sys.argv]))
    devchain = Proc(["devchain"], env)
    try:
        rpc = devchain.wait_for(r"RPC URL\s+(http://\S+)").group(1)
        devchain.wait_for(r"contract\s+0x")
        w3 = connect(rpc)  # `tipledger devchain` made the intake desk and its member: tips go
        device = (rpc, Deployment.load(home / "deployment.json").address)

        # 1. throughput and time to anchor, under load, tips sealed on the device (the default)
        service, url = start_service(env, args.workers, batch_interval=1.0)
        try:
            run_load(url, 2000, args.connections, 0, device)  # warm-up (imports, caches, pools)
            result = run_load(url, args.tips, args.connections, 0, device)
            probed = run_load(url, args.latency_tips, args.connections, 0.1, device)
            wait_anchored(url, probed["commitments"][-1])
        finally:
            service.stop()
        # side by side: the same load in clear, sealed by the service (server sealing on)
        service, url = start_service(env, args.workers, batch_interval=1.0, server_sealing=True)
        try:
            run_load(url, 2000, args.connections, 0, None)
            clear = run_load(url, args.tips, args.connections, 0, None)
            wait_anchored(url, clear["commitments"][-1])  # none left for the gas batches
        finally:
            service.stop()
        rate = result["count"] / result["wall"]
        probed_rate = probed["count"] / probed["wall"]
        probes = [p for p in probed["probe_latency"] if p != float("inf")]
        lost = len(probed["probe_latency"]) - len(probes)
        median = statistics.median(probes) if probes else float("inf")
        p99 = _percentile(probes, 0.99) if probes else float("inf")

        # 2. gas per tip at batch sizes 1, 1,024 and 65,536
        batches = [1, 1024] + ([] if args.skip_65536 else [65536])
        gas = [gas_phase(env, batch, w3, device) for batch in batches]

        # 3. baseline: the same tips, one transaction each
        deployment = Deployment.load(home / "deployment.json")
        account = load_key(home / "anchorer-key.json")
        fresh: TipLedgerContract = open_deployment(
            w3, deploy(w3, account, anchorer=account.address)
        )
        tips = [bytes.fromhex(c[2:]) for c in result["commitments"][: args.baseline]]
        started = time.perf_counter()
        baseline_gas = [fresh.commit(account, c).gas_used for c in tips]
        baseline_wall = time.perf_counter() - started
    finally:
        devchain.stop()
        if drop_schema is not None:
            drop_schema()

    print(f"\nstorage {storage}; API workers {args.workers}; contract {deployment.address}")
    print(f"\n1. Submissions over real HTTP ({args.tips:,} tips, {args.connections} connections)")
    print("   sealed on the device (the load process sealed each to the intake member's key,")
    print(f"   {result['sealing_seconds']:.1f} s for all, before the clock started)")
    print(f"   statuses            {result['statuses']}")
    print(
        f"   throughput          {rate:,.0f} submissions/s, durable   "
        f"[target >= {TARGET_RATE:,}: {mark(rate >= TARGET_RATE)}; aim 5,000: "
        f"{mark(rate >= 5000)}]"
    )
    clear_rate = clear["count"] / clear["wall"]
    print(
        f"   side by side: in clear, sealed by the service (TIPLEDGER_SERVER_SEALING=true): "
        f"{clear_rate:,.0f} submissions/s {clear['statuses']}"
    )
    print(
        f"   acknowledgement     p50 {result['ack_p50'] * 1e3:.1f} ms, "
        f"p99 {result['ack_p99'] * 1e3:.1f} ms (after the commit)"
    )
    print(
        f"   submission -> anchored receipt ({len(probes)} probes, 1 s interval, under a load of "
        f"{probed_rate:,.0f} submissions/s)"
    )
    ok_median, ok_p99 = median <= TARGET_MEDIAN, p99 <= TARGET_P99
    print(f"     median            {median:.2f} s   [target <= {TARGET_MEDIAN}: {mark(ok_median)}]")
    print(f"     99th percentile   {p99:.2f} s   [target <= {TARGET_P99}: {mark(ok_p99)}]")
    if lost:
        print(f"     {lost} probes not anchored within 60 s")
    print("\n2. Gas per tip (the Anchored transaction's receipt, consistency proof included)")
    print(f"   {'batch':>8} {'tree size':>10} {'gas':>9} {'gas per tip':>12}")
    for used, size, batch in gas:
        per = used / batch
        note = (
            f"   [target <= {TARGET_GAS_PER_TIP}: {mark(per <= TARGET_GAS_PER_TIP)}]"
            if batch == 65536
            else ""
        )
        print(f"   {batch:>8,} {size:>10,} {used:>9,} {per:>12,.3f}{note}")
    base_rate = len(tips) / baseline_wall
    base_gas = statistics.mean(baseline_gas)
    print(f"\n3. Baseline: the first {len(tips):,} of those tips, one commit() transaction each")
    print(f"   throughput          {base_rate:,.0f} tips/s (sent and awaited one by one)")
    print(f"   gas per tip         {base_gas:,.0f}")
    print(
        f"\nSide by side: {rate / base_rate:,.0f}x the tips per second; at a batch of "
        f"{gas[-1][2]:,}, {base_gas / (gas[-1][0] / gas[-1][2]):,.0f}x less gas per tip."
    )


if __name__ == "__main__":
    main()
