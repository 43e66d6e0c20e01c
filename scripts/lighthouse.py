#!/usr/bin/env python3
"""Lighthouse scores of the reporter pages, on a phone profile, printed as a table.

Runs Lighthouse (npm ``lighthouse``: not a dependency of the project; give its command with
``--lighthouse`` or put it on PATH) with Debian's Chromium against a running service
(``--url``), or against a system of its own: ``tipledger devchain`` and ``tipledger serve`` in a
temporary data directory, stopped afterwards. Exit 0 when every page reaches the targets
(accessibility, best practices and SEO 100, performance at least 95), 1 when one does not, 2
when Lighthouse or Chromium is missing or the service did not start.

    .venv/bin/python scripts/lighthouse.py [--url http://127.0.0.1:8000] [--lighthouse PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGES = ["/", "/receipt", "/status", "/verify", "/transparency", "/?lang=en"]
CATEGORIES = ["performance", "accessibility", "best-practices", "seo"]
TARGETS = {"performance": 95, "accessibility": 100, "best-practices": 100, "seo": 100}
CHROMIUM = os.environ.get("TIPLEDGER_CHROMIUM", "/usr/bin/chromium")


def _wait_for(url: str, proc: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the process serving {url} exited ({proc.returncode})")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"{url} did not become healthy in {timeout:.0f} s")


def _own_system(home: Path) -> tuple[str, list[subprocess.Popen[bytes]]]:
    env = {**os.environ, "TIPLEDGER_HOME": str(home)}
    tipledger = [sys.executable, "-m", "ledger.cli"]
    log = (home / "system.log").open("wb")
    devchain = subprocess.Popen([*tipledger, "devchain"], env=env, stdout=log, stderr=log)
    deployment = home / "deployment.json"
    deadline = time.monotonic() + 120
    while not deployment.exists():
        if devchain.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the devchain did not start: see {home / 'system.log'}")
        time.sleep(0.3)
    serve = subprocess.Popen([*tipledger, "serve", "--port", "0"], env=env, stdout=log, stderr=log)
    deadline = time.monotonic() + 120
    url = None
    while url is None:
        text = (home / "system.log").read_text(errors="replace")
        found = re.search(r"API\s+(http://\S+)", text)
        url = found.group(1) if found else None
        if url is None and (serve.poll() is not None or time.monotonic() > deadline):
            raise RuntimeError(f"serve did not start: see {home / 'system.log'}")
        time.sleep(0.3)
    _wait_for(url, serve)
    return url, [serve, devchain]


def _score(lighthouse: str, url: str, out: Path) -> dict[str, int]:
    command = [
        lighthouse,
        url,
        "--quiet",
        "--output=json",
        f"--output-path={out}",
        f"--only-categories={','.join(CATEGORIES)}",
        "--form-factor=mobile",
        "--screenEmulation.mobile",
        "--chrome-flags=--headless=new --no-sandbox --disable-gpu --disable-background-networking",
    ]
    env = {**os.environ, "CHROME_PATH": CHROMIUM}
    for _attempt in range(3):  # a loaded machine sometimes loses the trace (NO_NAVSTART)
        out.unlink(missing_ok=True)
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
        if done.returncode == 0 and out.exists():
            break
    else:
        raise RuntimeError(f"lighthouse failed on {url}: {done.stderr.strip()[-300:]}")
    report = json.loads(out.read_text())
    return {c: round(100 * (report["categories"][c]["score"] or 0)) for c in CATEGORIES}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a running service (default: start one of its own)")
    parser.add_argument("--lighthouse", default=shutil.which("lighthouse"))
    args = parser.parse_args()
    if not args.lighthouse:
        print("lighthouse is not installed: npm install -g lighthouse, or --lighthouse PATH")
        return 2
    if not Path(CHROMIUM).exists():
        print(f"no Chromium at {CHROMIUM}: apt-get install chromium")
        return 2
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory(prefix="tipledger-lighthouse-") as tmp:
        try:
            url = args.url.rstrip("/") if args.url else None
            if url is None:
                url, procs = _own_system(Path(tmp))
            rows = [
                (page, _score(args.lighthouse, url + page, Path(tmp) / "r.json")) for page in PAGES
            ]
        except RuntimeError as exc:
            print(exc)
            return 2
        finally:
            for proc in procs:
                proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
    print(f"{'page':12} " + " ".join(f"{c:>15}" for c in CATEGORIES))
    ok = True
    for page, scores in rows:
        print(f"{page:12} " + " ".join(f"{scores[c]:>15}" for c in CATEGORIES))
        ok = ok and all(scores[c] >= TARGETS[c] for c in CATEGORIES)
    targets = ", ".join(f"{c} {t}" for c, t in TARGETS.items())
    print(("all pages reach the targets" if ok else "below target") + f" ({targets})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
