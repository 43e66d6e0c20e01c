"""End-to-end fixtures: Debian's Chromium driven by Playwright, and the reporter pages served.

Never downloads a browser: Playwright launches ``/usr/bin/chromium`` (``apt-get install chromium
fonts-thai-tlwg``; scripts/bootstrap.sh installs it when run as root). Without it, or without
the ``playwright`` package, every test here skips with one line saying so.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

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


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "e2e: drives Debian's Chromium through Playwright")
