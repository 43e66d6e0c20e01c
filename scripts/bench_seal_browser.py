"""Sealing on the reporter's device, timed in headless Chromium (api/web/static/js/seal.js).

    .venv/bin/python scripts/bench_seal_browser.py [--tips 50] [--runs 5] [--megabytes 10]
                                                   [--members 3]

It serves only the reporter pages (the app's page routes and static files, no ledger service,
no chain) on a loopback port, opens them in Debian's Chromium (/usr/bin/chromium, or
$TIPLEDGER_CHROMIUM) through Playwright, and prints:

1. a 1 KB tip: the median (and 90th percentile) over ``--tips`` runs of a fresh case key,
   ``sealTip`` and ``grantCaseKey`` to ``--members`` member keys (the commitment is made
   before, as the page makes it before sealing);
2. a ``--megabytes`` attachment (random bytes in a Blob made in the page): the median over
   ``--runs`` of pass 1 (``hashFile``), pass 2 (``sealAttachment``, which hashes again to catch
   a file that changed) and both;
3. the page's peak JavaScript memory during one more such attachment: Chrome DevTools Protocol
   ``Runtime.getHeapUsage`` sampled every 5 ms, ``usedSize`` (the V8 heap) plus
   ``backingStorageSize`` (ArrayBuffer contents, where file slices and chunks live), above the
   figure before the run, after a forced garbage collection; ``Performance.getMetrics``
   ``JSHeapUsedSize`` is printed beside it as a cross-check of the V8 heap alone. Then the
   same run with garbage collected after every 1 MiB slice: the memory the sealing keeps
   alive (the first figure also counts dead slices V8 has not collected yet; without memory
   pressure it lets them pile up).

Targets (issue 12): at most 5 ms for the tip, at most 1 s for 10 MB. Figures only: nothing here
asserts on time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import socket
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CHROMIUM = Path(os.environ.get("TIPLEDGER_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--js-flags=--expose-gc",  # a clean baseline before the memory run
]
SAMPLE_INTERVAL = 0.005

PRELUDE = """
const S = await import('/web/js/seal.js');
const P = await import('/web/js/protocol.js');
"""

TIP_RUNS = """
const members = [];
for (let i = 0; i < arg.members; i++) members.push((await S.newCaseKey()).publicRaw);
const text = 'x'.repeat(1024 - 60);  // a 1 KB "tipledger-tip/1" document
const document = P.buildTipDocument(text, []);
const salt = P.newSalt();
const author = new Uint8Array(20);
const c = await P.commitment(salt, await P.contentDigest(document), author);
const times = [];
for (let run = 0; run < arg.tips + 5; run++) {  // 5 warm-up runs, not counted
  const t0 = performance.now();
  const caseKey = await S.newCaseKey();
  await S.sealTip(caseKey.publicRaw, { commitment: c, document, salt, author });
  for (const m of members) await S.grantCaseKey(m, caseKey.privateRaw, caseKey.publicRaw, c);
  if (run >= 5) times.push(performance.now() - t0);
}
return { times, documentSize: document.length };
"""

MAKE_FILE = """
const size = arg * 1024 * 1024;
const data = new Uint8Array(size);
for (let at = 0; at < size; at += 65536) crypto.getRandomValues(data.subarray(at, at + 65536));
window.benchFile = new File([data], 'evidence.bin', { type: 'application/octet-stream' });
window.benchKey = await S.newCaseKey();
window.benchCommitment = P.newSalt();
"""

ATTACHMENT_RUN = """
const file = window.benchFile;
const onProgress = arg === 'gc' ? () => gc() : undefined;
const t0 = performance.now();
const sha256 = await S.hashFile(file, onProgress);
const t1 = performance.now();
const sealed = await S.sealAttachment(file, window.benchKey.publicRaw, window.benchCommitment,
                                      0, { sha256, onProgress });
const t2 = performance.now();
const sealedSize = sealed.blob.size;
return { hash: t1 - t0, seal: t2 - t1, total: t2 - t0, sealedSize, size: file.size };
"""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PagesServer:
    """The reporter pages alone (as tests/e2e/conftest.py ``pages_only``), in a thread."""

    def __init__(self) -> None:
        import uvicorn
        from fastapi import FastAPI

        from api.routes.pages import mount_pages

        app = FastAPI()
        mount_pages(
            app,
            chain_rpc_url="http://127.0.0.1:8545",
            chain_id=31337,
            contract="0x5FbDB2315678afecb367f032d93F642f64180aa3",
        )
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", access_log=False
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="bench-pages", daemon=True)

    def __enter__(self) -> PagesServer:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the pages server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


async def js(page: Any, body: str, arg: Any = None) -> Any:
    return await page.evaluate(f"async (arg) => {{ {PRELUDE}\n{body} }}", arg)


async def heap(cdp: Any) -> tuple[int, int]:
    usage = await cdp.send("Runtime.getHeapUsage")
    return int(usage["usedSize"]), int(usage.get("backingStorageSize", 0))


async def js_heap_metric(cdp: Any) -> int:
    metrics = await cdp.send("Performance.getMetrics")
    return int(next(m["value"] for m in metrics["metrics"] if m["name"] == "JSHeapUsedSize"))


async def peak_memory(page: Any, cdp: Any, *, collect: bool = False) -> dict[str, int]:
    """Peak heap and ArrayBuffer memory while one attachment is sealed (and its baseline).

    With ``collect``, garbage is collected after every slice read (1 MiB): what is left is what
    the sealing holds alive, not what V8 has not yet bothered to free."""
    await page.evaluate("() => { gc(); gc(); }")
    base_used, base_backing = await heap(cdp)
    base_metric = await js_heap_metric(cdp)
    run = asyncio.ensure_future(js(page, ATTACHMENT_RUN, "gc" if collect else None))
    peak_used, peak_backing, peak_total, peak_metric, samples = 0, 0, 0, 0, 0
    while not run.done():
        used, backing = await heap(cdp)
        peak_metric = max(peak_metric, await js_heap_metric(cdp))
        peak_used, peak_backing = max(peak_used, used), max(peak_backing, backing)
        peak_total = max(peak_total, used + backing)
        samples += 1
        await asyncio.sleep(SAMPLE_INTERVAL)
    await run
    return {
        "base_used": base_used,
        "base_backing": base_backing,
        "peak_used": peak_used,
        "peak_backing": peak_backing,
        "peak_total": peak_total,
        "base_metric": base_metric,
        "peak_metric": peak_metric,
        "samples": samples,
    }


def mib(n: float) -> str:
    return f"{n / (1024 * 1024):.1f} MiB"


async def bench(args: argparse.Namespace, url: str) -> None:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()
            await page.goto(url + "/status")
            await page.wait_for_selector("body[data-ready=true]")
            cdp = await page.context.new_cdp_session(page)
            await cdp.send("Performance.enable")
            print(f"Chromium {browser.version}, {platform.machine()}, {os.cpu_count()} CPUs")

            tip = await js(page, TIP_RUNS, {"tips": args.tips, "members": args.members})
            times = sorted(tip["times"])
            p90 = times[int(0.9 * (len(times) - 1))]
            print(
                f"1 KB tip ({tip['documentSize']} B document): case key + sealTip + "
                f"{args.members} grants: median {statistics.median(times):.2f} ms, "
                f"p90 {p90:.2f} ms over {len(times)} runs (target <= 5 ms)"
            )

            await js(page, MAKE_FILE, args.megabytes)
            runs = [await js(page, ATTACHMENT_RUN) for _ in range(args.runs)]
            med = {k: statistics.median(r[k] for r in runs) for k in ("hash", "seal", "total")}
            print(
                f"{args.megabytes} MB attachment: hash (pass 1) {med['hash']:.0f} ms + "
                f"hash and seal (pass 2) {med['seal']:.0f} ms = {med['total']:.0f} ms, "
                f"median of {args.runs} (target <= 1000 ms for 10 MB); "
                f"sealed stream {runs[0]['sealedSize']:,} B for {runs[0]['size']:,} B"
            )

            mem = await peak_memory(page, cdp)
            print(
                "peak JS memory while sealing it (CDP Runtime.getHeapUsage, "
                f"{mem['samples']} samples): V8 heap {mib(mem['peak_used'])} "
                f"(baseline {mib(mem['base_used'])}), ArrayBuffers {mib(mem['peak_backing'])} "
                f"(baseline {mib(mem['base_backing'])}), together "
                f"{mib(mem['peak_total'])}, "
                f"{mib(mem['peak_total'] - mem['base_used'] - mem['base_backing'])} above the "
                f"baseline; Performance.getMetrics JSHeapUsedSize peak "
                f"{mib(mem['peak_metric'])} (baseline {mib(mem['base_metric'])})"
            )
            live = await peak_memory(page, cdp, collect=True)
            above = live["peak_total"] - live["base_used"] - live["base_backing"]
            print(
                "  of which alive (garbage collected after every 1 MiB read, same sampling): "
                f"V8 heap {mib(live['peak_used'])}, ArrayBuffers {mib(live['peak_backing'])}, "
                f"together {mib(live['peak_total'])}, {mib(above)} above the baseline; the "
                "rest is garbage V8 frees when it needs the memory"
            )
        finally:
            await browser.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tips", type=int, default=50)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--megabytes", type=int, default=10)
    parser.add_argument("--members", type=int, default=3)
    args = parser.parse_args()
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        print(f"no Chromium at {CHROMIUM}: apt-get install chromium", file=sys.stderr)
        return 2
    with PagesServer() as server:
        asyncio.run(bench(args, server.url))
    return 0


if __name__ == "__main__":
    sys.exit(main())
