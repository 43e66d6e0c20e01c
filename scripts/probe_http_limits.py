"""Probe a running TipLedger API for the HTTP edge's limits (issue 14 point 2), over raw sockets.

    .venv/bin/python scripts/probe_http_limits.py http://127.0.0.1:8000 [--pid PID]
        [--hold 60] [--half-sent 300] [--wait 15] [--flood 1100]

Prints one line per figure: the answer to an 8 MB header and to 100,000 headers; what an
unfinished 191 MiB header does to the server's memory (with ``--pid``, the server process's RSS
from /proc) and how much of it the server read; how long a client sending one byte every 2 s
keeps a connection (head, and body), up to ``--hold`` seconds; how many of ``--half-sent``
half-sent requests are still open after ``--wait`` seconds; and how many of ``--flood``
connections opened at once were refused (503 or closed) while all are held.
"""

from __future__ import annotations

import argparse
import select
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

MiB = 1024 * 1024


def answer(sock: socket.socket, timeout: float = 10.0) -> str:
    """The status the server sent, "closed" if it closed without one, "none" if it kept quiet."""
    sock.settimeout(timeout)
    try:
        data = sock.recv(4096)
    except ConnectionResetError:
        return "closed (reset)"
    except TimeoutError:
        return f"no answer in {timeout:g} s"
    return data[9:12].decode() if data.startswith(b"HTTP/1.") else "closed"


def send(sock: socket.socket, data: bytes) -> int:
    """Bytes the server took before it stopped reading."""
    sent = 0
    view = memoryview(data)
    try:
        while sent < len(data):
            sent += sock.send(view[sent : sent + MiB])
    except (BrokenPipeError, ConnectionResetError, TimeoutError):
        pass
    return sent


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


class Peak:
    """The highest RSS of a process while it runs (sampled every 20 ms)."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self.stop = pid, rss_mib(pid), threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.wait(0.02):
            self.peak = max(self.peak, rss_mib(self.pid))

    def close(self) -> float:
        self.stop.set()
        self.thread.join()
        return self.peak


def big_header(host: str, port: int) -> str:
    with socket.create_connection((host, port), timeout=30) as s:
        send(s, b"GET /healthz HTTP/1.1\r\nHost: p\r\nX-Big: " + b"a" * 8_000_000 + b"\r\n\r\n")
        return f"8 MB header: {answer(s)}"


def many_headers(host: str, port: int) -> str:
    headers = b"".join(b"X-%d: b\r\n" % i for i in range(100_000))
    with socket.create_connection((host, port), timeout=30) as s:
        send(s, b"GET /healthz HTTP/1.1\r\nHost: p\r\n" + headers + b"\r\n")
        return f"100,000 headers: {answer(s)}"


def unfinished_header(host: str, port: int, pid: int | None) -> str:
    peak = Peak(pid) if pid else None
    before = peak.peak if peak else 0.0
    with socket.create_connection((host, port), timeout=10) as s:
        taken = send(s, b"GET /healthz HTTP/1.1\r\nHost: p\r\nX-Unfinished: " + b"a" * (191 * MiB))
        reply = answer(s, timeout=3)
        if peak:  # memory while the connection is still open
            time.sleep(0.5)
        after = peak.close() if peak else 0.0
    memory = f"server RSS {before:.0f} -> {after:.0f} MiB peak, " if peak else ""
    return f"unfinished 191 MiB header: {memory}{taken / MiB:.1f} MiB sent, {reply}"


def trickle(host: str, port: int, head: bytes, data: bytes, hold: float) -> str:
    """Seconds a connection lasts when sending ``data`` one byte every 2 s after ``head``."""
    with socket.create_connection((host, port), timeout=10) as s:
        s.sendall(head)
        start = time.monotonic()
        for byte in data:
            readable, _, _ = select.select([s], [], [], 2.0)
            lasted = time.monotonic() - start
            if readable:
                return f"closed after {lasted:.1f} s ({answer(s)})"
            if lasted > hold:
                return f"still open after {hold:g} s"
            try:
                s.send(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                return f"closed after {lasted:.1f} s (reset)"
        return "sent everything"


def still_open(socks: list[socket.socket]) -> int:
    """Connections the server neither answered nor closed (poll: there may be over 1,024)."""
    poller = select.poll()
    for s in socks:
        poller.register(s, select.POLLIN)
    return len(socks) - len(poller.poll(0))


def half_sent(host: str, port: int, count: int, wait: float) -> str:
    socks = []
    try:
        for _ in range(count):
            s = socket.create_connection((host, port), timeout=10)
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: p\r\nX-Half: ")
            socks.append(s)
        time.sleep(wait)
        return f"{count} half-sent requests: {still_open(socks)} still open after {wait:g} s"
    finally:
        for s in socks:
            s.close()


def flood(host: str, port: int, count: int) -> str:
    """Open ``count`` connections, hold them all, count those the server refused at once."""
    socks = []
    try:
        for _ in range(count):
            socks.append(socket.create_connection((host, port), timeout=10))
        time.sleep(1.0)
        refused = len(socks) - still_open(socks)
        return f"{count} connections held at once: {refused} refused within 1 s"
    finally:
        for s in socks:
            s.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url")
    parser.add_argument("--pid", type=int, help="the server process, for its memory")
    parser.add_argument("--hold", type=float, default=60.0)
    parser.add_argument("--half-sent", type=int, default=300)
    parser.add_argument("--wait", type=float, default=15.0)
    parser.add_argument("--flood", type=int, default=1100)
    args = parser.parse_args()
    url = urlsplit(args.url)
    host, port = url.hostname or "127.0.0.1", url.port or 80

    print(big_header(host, port), flush=True)
    print(many_headers(host, port), flush=True)
    print(unfinished_header(host, port, args.pid), flush=True)
    post = b"POST /v1/tips HTTP/1.1\r\nHost: p\r\nContent-Type: application/json\r\n"
    slow: dict[str, Callable[[], str]] = {
        "header, one byte every 2 s": lambda: trickle(
            host, port, b"GET /healthz HTTP/1.1\r\n", b"X-Slow: " + b"a" * 1000, args.hold
        ),
        "body, one byte every 2 s": lambda: trickle(
            host, port, post + b"Content-Length: 1000\r\n\r\n", b"a" * 1000, args.hold
        ),
        "half-sent": lambda: half_sent(host, port, args.half_sent, args.wait),
    }
    results: dict[str, str] = {}
    threads = [
        threading.Thread(target=lambda k=k, f=f: results.__setitem__(k, f()))
        for k, f in slow.items()
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for name, result in results.items():
        print(result if name == "half-sent" else f"{name}: {result}", flush=True)
    time.sleep(3)  # the refused connections above drain and close
    print(flood(host, port, args.flood), flush=True)


if __name__ == "__main__":
    main()
