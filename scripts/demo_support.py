"""What the demos share: a step's heading, one `tipledger` command run here as typed, a port.

`scripts/agency_demo.py` and `scripts/disclosure_demo.py` show each person's commands as they
would type them, and run them in this process (the real CLI, `ledger.cli.app`).
"""

from __future__ import annotations

import contextlib
import io
import socket
import sys

from ledger.cli.app import app

__all__ = ["free_port", "step", "tipledger"]


def step(title: str, who_reads: str | None = None) -> None:
    print(f"\n=== {title}", flush=True)
    if who_reads:
        print(f"    who can read the identity now: {who_reads}", flush=True)


def tipledger(*args: str, expect: int = 0) -> str:
    """Run one `tipledger` command as typed, here; its stdout is shown and returned. Stops the
    demo unless it exits ``expect``."""
    print("$ tipledger " + " ".join(f"'{a}'" if " " in a else a for a in args), flush=True)
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        try:
            code = app(list(args), standalone_mode=False, prog_name="tipledger")
        except SystemExit as exc:  # typer.Exit inside standalone_mode=False
            code = exc.code
    sys.stderr.flush()
    print(buffer.getvalue(), end="", flush=True)
    if (code or 0) != expect:
        raise SystemExit(f"demo failed: tipledger {' '.join(args[:2])} exited {code}")
    return buffer.getvalue().strip()


def free_port() -> socket.socket:
    """A listening socket on a free loopback port, for the demo's service."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    return sock
