"""What every command shares: settings, one-line errors, opening the deployment and the store."""

from __future__ import annotations

import functools
import shutil
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from web3 import Web3

from ledger.chain.client import connect
from ledger.chain.contract import TipLedgerContract
from ledger.chain.deploy import Deployment, open_deployment
from ledger.config import Settings
from ledger.core.receipt import Receipt
from ledger.errors import ConfigError, LedgerError, ReceiptError
from ledger.store import LogStore, open_database

# Results (receipts, JSON) go to stdout; everything for people goes to stderr.
out = Console(soft_wrap=True, highlight=False)
err = Console(stderr=True, soft_wrap=True, highlight=False)

EXIT_INVALID = 1  # a verdict: the receipt does not verify
EXIT_ERROR = 2  # could not do what was asked (bad input, unreachable chain, ...)

F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str, code: int = EXIT_ERROR) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}", markup=True, highlight=False)
    raise typer.Exit(code)


def one_line_errors(fn: F) -> F:
    """Turn LedgerError (and Ctrl-C) into one readable line and an exit code, never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except LedgerError as exc:
            fail(str(exc).replace("\n", " "))
        except KeyboardInterrupt:
            err.print("interrupted")
            sys.exit(130)

    return wrapper  # type: ignore[return-value]


def command_name() -> str:
    """How the user can run this command again: ``tipledger`` if that is what their PATH finds,
    else the path they ran (``.venv/bin/tipledger`` from the repository root)."""
    ran = Path(sys.argv[0])
    found = shutil.which("tipledger")
    if found is not None and ran.name == "tipledger" and Path(found).resolve() == ran.resolve():
        return "tipledger"
    if ran.name != "tipledger":
        return "tipledger"  # run some other way (python -m, tests): the installed name
    try:
        return str(ran.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(ran.resolve())


def settings() -> Settings:
    """The settings, or one line naming the TIPLEDGER_* variable that is wrong."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"TIPLEDGER_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
            for e in exc.errors()
        )
        raise ConfigError(f"invalid setting: {problems}") from exc


def load_deployment(s: Settings) -> Deployment:
    return Deployment.load(s.deployment_file)


def rpc_url(s: Settings, given: str | None, deployment: Deployment | None) -> str:
    url = given or s.rpc_url or (deployment.rpc_url if deployment else None)
    if not url:
        raise ConfigError(
            "no chain to talk to: pass --rpc URL, set TIPLEDGER_RPC_URL, or run "
            "`tipledger devchain` (it writes the RPC URL to the deployment file)"
        )
    return url


def open_chain(s: Settings, given_rpc: str | None) -> tuple[Deployment, Web3, TipLedgerContract]:
    deployment = load_deployment(s)
    w3 = connect(rpc_url(s, given_rpc, deployment), timeout=s.rpc_timeout)
    return deployment, w3, open_deployment(w3, deployment)


def open_store(s: Settings, deployment: Deployment) -> LogStore:
    s.ensure_home()
    store = LogStore(open_database(s.database))
    store.bind_deployment(deployment.chain_id, deployment.address)
    return store


def utc(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def read_receipt(path: Path) -> tuple[Receipt, bytes]:
    """The receipt in ``path`` ('-' for stdin) and the file's bytes, which may hold more than a
    receipt defines (the follow-up secret); a one-line failure if it cannot be read or parsed."""
    try:
        raw = sys.stdin.buffer.read() if str(path) == "-" else path.read_bytes()
    except OSError as exc:
        fail(f"cannot read the receipt {path}: {exc.strerror}")
    try:
        return Receipt.from_json(raw), raw
    except ReceiptError as exc:
        fail(f"not a valid receipt: {exc}")
