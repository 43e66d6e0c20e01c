"""End-to-end fixtures: Debian's Chromium driven by Playwright, and the reporter pages served.

``services`` runs the real ``tipledger devchain`` and ``tipledger serve`` (the installed console
script) in a fresh TIPLEDGER_HOME, once for the package; ``pages_only`` serves just the pages.
Never downloads a browser: Playwright launches ``/usr/bin/chromium`` (``apt-get install chromium
fonts-thai-tlwg``; scripts/bootstrap.sh installs it when run as root). Without it, or without
the ``playwright`` package, every test here skips with one line saying so.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from ledger.chain.client import connect
from ledger.chain.contract import TipLedgerContract
from ledger.chain.deploy import Deployment

CHROMIUM = Path(os.environ.get("TIPLEDGER_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
INSTALL_HINT = "browser tests need Chromium: apt-get install chromium fonts-thai-tlwg"
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "e2e"
PHONE = {"width": 390, "height": 844}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        pytest.skip(INSTALL_HINT)
    return CHROMIUM


@pytest.fixture(scope="package")
def browser(chromium_path: Path) -> Iterator[Any]:
    # Package scope, not session: Playwright's sync API keeps an event loop running in this
    # thread while it lives, and asyncio.run() in later (non-browser) tests would refuse to start.
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("browser tests need Playwright for Python: scripts/bootstrap.sh installs it")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(chromium_path), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


class ServedApp:
    """A uvicorn server for an ASGI app in a background thread, on a free loopback port."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", access_log=False
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="e2e-uvicorn", daemon=True)

    def __enter__(self) -> ServedApp:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="session")
def pages_only() -> Iterator[ServedApp]:
    """Just the pages (no ledger service): enough to load the JS modules."""
    from fastapi import FastAPI

    from api.routes.pages import mount_pages

    app = FastAPI()
    mount_pages(
        app,
        chain_rpc_url="http://127.0.0.1:8545",
        chain_id=31337,
        contract="0x5FbDB2315678afecb367f032d93F642f64180aa3",
    )
    with ServedApp(app) as served:
        yield served


# --- the real service: `tipledger devchain` + `tipledger serve` -------------------------------

START_TIMEOUT = 90.0
# The real `tipledger` command, as installed next to this interpreter (the same code run as a
# module where no console script was installed).
_SCRIPT = Path(sys.executable).with_name("tipledger")
TIPLEDGER = [str(_SCRIPT)] if _SCRIPT.is_file() else [sys.executable, "-m", "ledger.cli"]


@dataclass
class Services:
    home: Path
    url: str
    rpc_url: str
    logs: dict[str, Path] = field(default_factory=dict)

    @property
    def origins(self) -> set[str]:
        return {origin(self.url), origin(self.rpc_url)}


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def http_get(url: str, timeout: float = 2.0) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, dict(resp.headers.items()), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers.items()), exc.read()


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM (both commands stop cleanly on it), then the whole process group if need be:
    each was started in its own session, so the group holds only it and its Anvil."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


def _wait(what: str, ready: Any, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if ready():
                return
        except (OSError, ValueError):
            pass
        time.sleep(0.25)
    raise RuntimeError(f"{what} did not start in {START_TIMEOUT:.0f} s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="package")
def services(tmp_path_factory: pytest.TempPathFactory, chromium_path: Path) -> Iterator[Services]:
    """``tipledger devchain`` + ``tipledger serve`` (with the pages) in a fresh TIPLEDGER_HOME."""
    home = tmp_path_factory.mktemp("tipledger-home")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIPLEDGER_")}
    env.update(TIPLEDGER_HOME=str(home), TIPLEDGER_BATCH_INTERVAL="0.5", PYTHONUNBUFFERED="1")
    chain_port, api_port = free_port(), free_port()
    procs: list[subprocess.Popen[bytes]] = []
    logs = {name: home / f"{name}.log" for name in ("devchain", "serve")}
    try:
        with logs["devchain"].open("wb") as out:
            devchain = subprocess.Popen(
                [*TIPLEDGER, "devchain", "--port", str(chain_port)],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        procs.append(devchain)
        _wait(
            "tipledger devchain",
            lambda: "is running" in logs["devchain"].read_text(),
            devchain,
            logs["devchain"],
        )
        url = f"http://127.0.0.1:{api_port}"
        with logs["serve"].open("wb") as out:
            serve = subprocess.Popen(
                [*TIPLEDGER, "serve", "--port", str(api_port)],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        procs.append(serve)
        _wait(
            "tipledger serve",
            lambda: http_get(url + "/web-config.json")[0] == 200,
            serve,
            logs["serve"],
        )
        config = json.loads(http_get(url + "/web-config.json")[2])
        yield Services(home=home, url=url, rpc_url=config["rpc_url"], logs=logs)
    finally:
        for proc in reversed(procs):
            _stop(proc)


@pytest.fixture(scope="package")
def contract(services: Services) -> TipLedgerContract:
    """The TipLedger the service anchors to, for the admin's and the desk's transactions."""
    deployment = Deployment.load(services.home / "deployment.json")
    return TipLedgerContract(connect(services.rpc_url), deployment.address)


class Recorder:
    """Every request a page makes, every response header, and console/CSP trouble."""

    def __init__(self, page: Any) -> None:
        self.requests: list[str] = []
        self.cookies: list[str] = []
        self.problems: list[str] = []
        page.on("request", lambda r: self.requests.append(r.url))
        page.on("response", self._response)
        page.on("console", self._console)
        page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))

    def _response(self, response: Any) -> None:
        headers = response.all_headers()
        if "set-cookie" in headers:
            self.cookies.append(f"{response.url}: {headers['set-cookie']}")

    def _console(self, message: Any) -> None:
        if message.type in ("error", "warning"):
            self.problems.append(f"console {message.type}: {message.text}")

    def foreign(self, allowed: set[str]) -> list[str]:
        return [
            u
            for u in self.requests
            if not u.startswith(("data:", "blob:")) and origin(u) not in allowed
        ]


@pytest.fixture
def tab(browser: Any, services: Services) -> Iterator[tuple[Any, Recorder]]:
    context = browser.new_context(viewport=PHONE, accept_downloads=True, locale="th-TH")
    page = context.new_page()
    recorder = Recorder(page)
    yield page, recorder
    context.close()


def open_page(page: Any, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("body[data-ready=true]")


@contextmanager
def phone_tab(browser: Any, url: str) -> Iterator[Any]:
    """A tab of its own, phone-sized, on the ready page at ``url``: where a test module runs
    the pages' JavaScript modules (``page.evaluate``), closed with its context afterwards."""
    context = browser.new_context(viewport=PHONE)
    tab = context.new_page()
    open_page(tab, url)
    yield tab
    context.close()


def unnamed_controls(page: Any) -> list[str]:
    """The visible form controls that have no accessible name (a label, aria-label or text)."""
    found: list[str] = page.evaluate(
        """() => [...document.querySelectorAll('input, textarea, select, button')]
             .filter((el) => !el.closest('[hidden]'))
             .filter((el) => !(el.labels?.length || el.getAttribute('aria-label')
                               || el.textContent.trim()))
             .map((el) => el.id || el.outerHTML)"""
    )
    return found


def fits_the_screen(page: Any) -> bool:
    """Nothing on the page is wider than the (phone-sized) viewport: no sideways scrolling."""
    return bool(page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth"))


def send_tip(page: Any, services: Services, text: str, *, screenshot: Path | None = None) -> None:
    """Send a text tip as the submit page offers it (follow-up on) and land on its receipt."""
    open_page(page, services.url + "/")
    page.fill("#tip-text", text)
    if screenshot is not None:
        page.screenshot(path=screenshot, full_page=True)
    page.click("#submit-button")
    page.wait_for_url("**/receipt*", timeout=20_000)
    page.wait_for_selector("body[data-ready=true]")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "e2e: drives Debian's Chromium through Playwright")
