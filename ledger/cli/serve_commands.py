"""``tipledger serve``: the HTTP API and the sequencer, against the deployment in TIPLEDGER_HOME.

``run_service`` is shared with ``tipledger up`` (which starts the devchain first). On the embedded
default (SQLite in the data directory) with no review desk key configured, the first run makes
the desk's key pair and says where its private half and passphrase are.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.connection
import multiprocessing.process
import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer
import uvicorn
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
from fastapi import FastAPI
from web3 import Web3

from ledger.chain.client import connect
from ledger.chain.deploy import Deployment
from ledger.cli.common import (
    command_name,
    err,
    load_deployment,
    one_line_errors,
    rpc_url,
    settings,
)
from ledger.config import Settings
from ledger.desk.keys import (
    configured_public_key,
)
from ledger.errors import ChainUnavailableError, ConfigError
from ledger.ops.files import write_private
from ledger.ops.keyfiles import load_key, read_passphrase

if TYPE_CHECKING:
    from fastapi import FastAPI

    from ledger.service import LedgerService

DESK_PASSPHRASE_ENV = "TIPLEDGER_DESK_PASSPHRASE"  # noqa: S105 - a variable name
DESK_PRIVATE_NAME = "review-desk-private.pem"
DESK_PASSPHRASE_NAME = "review-desk-passphrase.txt"  # noqa: S105 - a file name
CHAIN_WAIT = 2.0  # seconds between attempts to reach the chain at start
# The event loop hands the GIL to the intake's committer thread this often (Python's default,
# 5 ms, would add up to 5 ms to every step of each group commit while requests keep the loop
# busy).
SWITCH_INTERVAL = 0.001

Port = Annotated[
    int | None,
    typer.Option("--port", "-p", help="Port for the API (default: TIPLEDGER_PORT or 8000)."),
]
Host = Annotated[
    str | None,
    typer.Option("--host", help="Address to listen on (default: TIPLEDGER_HOST or 127.0.0.1)."),
]


def embedded_default(s: Settings) -> bool:
    return s.database_url is None or s.database_url.startswith("sqlite")


def legacy_desk_key(s: Settings) -> X25519PublicKey | None:
    """The review desk key of a deployment from before agencies, if one is configured: the
    service seals the follow-up messages of those tips to it (their envelopes were sealed to
    it). New tips are sealed to their agency's members, read from chain (PROTOCOL.md 16.3)."""
    return configured_public_key(s)


def _write_secret(path: Path, text: str) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ConfigError(f"{path} already exists; refusing to overwrite it") from None
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)


def wait_for_chain(s: Settings, deployment: Deployment, given_rpc: str | None = None) -> Web3:
    """Connect to the deployment's chain, waiting (and saying so) while it does not answer."""
    url = rpc_url(s, given_rpc, deployment)
    said = False
    while True:
        try:
            return connect(url, timeout=s.rpc_timeout)
        except ChainUnavailableError as exc:
            if not said:
                err.print(f"[yellow]waiting for the chain[/]: {exc}")
                said = True
            time.sleep(CHAIN_WAIT)


def bind(host: str, port: int, *, listen: bool = True, reuse_port: bool = False) -> socket.socket:
    """A socket bound to ``host:port`` (port 0: a free one), listening unless told not to.

    ``reuse_port`` lets several worker processes each listen on the same port with their own
    socket (``SO_REUSEPORT``), so the kernel spreads connections evenly among them.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ConfigError(f"cannot listen on {host}: {exc.strerror}") from None
    family, kind, proto, _name, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    if listen:
        sock.listen(2048)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def open_service(
    s: Settings, deployment: Deployment, w3: Web3, *, run_sequencer: bool = True
) -> LedgerService:
    """The service for this data directory: keys loaded, stores opened (not started)."""
    from ledger.service import LedgerService

    public_key = legacy_desk_key(s)
    anchorer = load_key(
        s.anchorer_key_file, read_passphrase(s.key_passphrase, s.key_passphrase_file)
    )
    return LedgerService(
        settings=s,
        deployment=deployment,
        w3=w3,
        anchorer=anchorer,
        desk_key=public_key,
        run_sequencer=run_sequencer,
    )


def worker_app() -> FastAPI:
    """The app of one worker process (``serve --workers N``), all from the environment.

    Every worker accepts submissions with its own group commit; none runs a sequencer: that is
    a process of its own (``_sequencer_main``), so its chain work never takes a worker's time.
    """
    from api.main import create_app

    s = settings()
    deployment = load_deployment(s)
    service = open_service(s, deployment, wait_for_chain(s, deployment), run_sequencer=False)
    return create_app(service)


def run_service(
    s: Settings,
    deployment: Deployment,
    w3: Web3,
    *,
    host: str | None = None,
    port: int | None = None,
    workers: int = 1,
) -> None:
    """Serve the API (and run the sequencer) until Ctrl-C or SIGTERM."""

    from api.main import create_app, uvicorn_config

    sys.setswitchinterval(SWITCH_INTERVAL)
    host = host or s.host
    if workers <= 1:
        sock = bind(host, s.port if port is None else port)
    else:
        # Holds the port (bound, not listening, so it takes no connections) while the workers
        # listen on it with sockets of their own.
        sock = bind(host, s.port if port is None else port, listen=False, reuse_port=True)
    url = url_of(sock)
    if s.public_url is None:
        # Sign-in messages name the URL actually served (workers read it from the environment).
        os.environ["TIPLEDGER_PUBLIC_URL"] = url
        s = s.model_copy(update={"public_url": url})
    if workers <= 1:
        service = open_service(s, deployment, w3)
        server = uvicorn.Server(uvicorn_config(create_app(service), s, log_level="warning"))
    err.print(
        "[bold green]TipLedger API is serving[/]"
        + (f" ({workers} worker processes and a sequencer process)" if workers > 1 else "")
    )
    err.print(f"  open         [bold]{url}/[/]  (reporter pages: submit a tip)")
    err.print(f"  status       {url}/status  (a reporter's review status and questions)")
    err.print(f"  verify       {url}/verify  (checks a receipt against the chain)")
    err.print(f"  API          {url}  (routes under /v1, docs at {url}/docs)")
    err.print(f"  contract     {deployment.address} on chain {deployment.chain_id}")
    err.print(f"  database     {_redacted(s.database)}")
    err.print(f"Submit a tip:  {command_name()} submit --api {url} --text '…'")
    err.print("Press Ctrl-C to stop.")
    # so `audit`, `review` and `follow-up` find this service without --api, whatever its port
    write_private(
        s.served_url_file, url.encode() + b"\n", what="the served URL", overwrite=True, mode=0o644
    )
    try:
        if workers <= 1:
            # uvicorn shuts down on SIGTERM, then raises the signal again: with the default
            # handler that would end the process at once, skipping every cleanup after this
            # (``tipledger up`` stopping its devchain); as an interrupt, it unwinds normally.
            signal.signal(signal.SIGTERM, _interrupt)
            with contextlib.suppress(KeyboardInterrupt):
                server.run(sockets=[sock])
        else:
            _supervise(host, int(sock.getsockname()[1]), workers)
    finally:
        sock.close()
        s.served_url_file.unlink(missing_ok=True)
    err.print("stopped the API")


def _interrupt(_sig: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _worker_main(host: str, port: int) -> None:  # pragma: no cover - runs in a child process
    """One worker process: its own listening socket on the shared port, its own service."""

    from api.main import uvicorn_config

    parent = os.getppid()

    def orphaned() -> None:  # the supervisor died (even by kill -9): stop too
        while os.getppid() == parent:
            time.sleep(1.0)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=orphaned, name="tipledger-orphan-watch", daemon=True).start()
    sys.setswitchinterval(SWITCH_INTERVAL)
    sock = bind(host, port, reuse_port=True)
    server = uvicorn.Server(uvicorn_config(worker_app(), settings(), log_level="warning"))
    server.run(sockets=[sock])


def _sequencer_main() -> None:  # pragma: no cover - runs in a child process
    """The sequencer process of ``serve --workers N``: batches, anchors, publishes its state.

    Its own process, so the sequencer's chain calls (web3 is costly in CPU) and the workers'
    requests do not queue for one interpreter lock. The database lease still makes it the only
    active sequencer among every instance on the same database.
    """
    parent = os.getppid()
    stop = threading.Event()

    def on_signal(_sig: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the supervisor decides when to stop
    s = settings()
    deployment = load_deployment(s)
    service = open_service(s, deployment, wait_for_chain(s, deployment))
    service.start()
    try:
        while not stop.wait(1.0):
            if os.getppid() != parent:  # the supervisor died (even by kill -9): stop too
                break
    finally:
        service.close()


def _supervise(host: str, port: int, workers: int) -> None:
    """Run ``workers`` API worker processes and one sequencer process; restart one that dies;
    stop all on Ctrl-C/SIGTERM."""
    ctx = multiprocessing.get_context("spawn")

    def spawn(i: int) -> multiprocessing.process.BaseProcess:
        if i == workers:
            proc = ctx.Process(target=_sequencer_main, name="tipledger-sequencer")
        else:
            proc = ctx.Process(target=_worker_main, args=(host, port), name=f"tipledger-worker-{i}")
        proc.start()
        return proc

    def stop(_sig: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    # Both, explicitly: a process started in the background of a shell has SIGINT ignored.
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    procs = [spawn(i) for i in range(workers + 1)]
    err.print(
        f"  processes    workers {', '.join(str(p.pid) for p in procs[:-1])}; "
        f"sequencer {procs[-1].pid}"
    )
    try:
        while True:
            multiprocessing.connection.wait([p.sentinel for p in procs])
            for i, proc in enumerate(procs):
                if not proc.is_alive():
                    what = "the sequencer" if i == workers else "worker"
                    err.print(f"[yellow]{what} {proc.pid} exited ({proc.exitcode})[/], restarting")
                    time.sleep(0.5)
                    procs[i] = spawn(i)
    except KeyboardInterrupt:
        err.print("stopping the workers…")
    finally:
        for proc in procs:
            if proc.is_alive() and proc.pid is not None:
                os.kill(proc.pid, signal.SIGTERM)  # uvicorn's graceful shutdown
        for proc in procs:
            proc.join(20)
            if proc.is_alive():
                proc.kill()
                proc.join()


def _redacted(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://…@{rest.split('@', 1)[1]}"
    return url


def register(app: typer.Typer) -> None:
    @app.command()
    @one_line_errors
    def serve(
        port: Port = None,
        host: Host = None,
        workers: Annotated[
            int,
            typer.Option(
                "--workers",
                min=1,
                max=64,
                help="Worker processes for the API (each with its own group commit; exactly "
                "one sequencer acts at a time, by the database lease).",
            ),
        ] = 1,
    ) -> None:
        """Serve the HTTP API and run the sequencer against the deployment in TIPLEDGER_HOME."""
        s = settings()
        deployment = load_deployment(s)
        w3 = wait_for_chain(s, deployment)
        run_service(s, deployment, w3, host=host, port=port, workers=workers)
