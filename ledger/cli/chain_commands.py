"""Chain commands: ``up``, ``devchain``, ``deploy``, ``log``."""

from __future__ import annotations

import signal
from dataclasses import replace
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
from rich.table import Table
from web3 import Web3

from ledger.chain.anvil import Devchain
from ledger.chain.client import connect
from ledger.chain.deploy import Deployment
from ledger.chain.deploy import deploy as deploy_contract
from ledger.cli.common import err, one_line_errors, open_chain, out, settings, utc
from ledger.cli.serve_commands import Host, run_service
from ledger.config import Settings
from ledger.core.encoding import to_hex
from ledger.ops.devnet import ensure_intake_desk, provision, start_devchain
from ledger.ops.keyfiles import load_key, read_passphrase

Port = Annotated[
    int | None, typer.Option("--port", "-p", help="Loopback port for Anvil (default: a free one).")
]
Rpc = Annotated[
    str | None,
    typer.Option("--rpc", help="JSON-RPC URL (default: TIPLEDGER_RPC_URL or the deployment's)."),
]


def _stop_on_signal(_sig: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _provisioned(s: Settings, chain: Devchain) -> tuple[Web3, Deployment]:
    """TipLedger on the devchain just started (deployed, or the existing deployment resumed),
    announced; ``devchain`` and ``up`` each say the rest."""
    w3 = connect(chain.rpc_url)
    deployment, new = provision(s, w3, chain.rpc_url)
    err.print(
        f"[bold green]TipLedger devchain is running[/] "
        f"({'deployed a new contract' if new else 'resumed the existing deployment'})",
    )
    err.print(f"  RPC URL      {chain.rpc_url}")
    desk = ensure_intake_desk(s, w3, deployment)
    if desk.created:
        err.print(
            f"[bold]made the intake desk's member key {desk.key_id}[/] ({desk.address}), first run:"
        )
        err.print(f"  key file     {desk.key_file}")
        err.print(f"  passphrase   {desk.passphrase_file}")
        err.print(
            "  Every tip to the intake desk is sealed to this key. Move both files to the "
            "member's machine: whoever holds them reads those tips."
        )
    else:
        err.print(f"  intake desk  member {desk.address} ({desk.key_file})")
    return w3, deployment


def _run_devchain(port: int | None) -> None:
    # Before anything starts, and both signals explicitly: a process started in the background
    # of a shell has SIGINT ignored, and a supervisor's Ctrl-C or SIGTERM must not leave Anvil
    # running (the ``finally`` below stops it, at whatever step the signal arrives).
    signal.signal(signal.SIGTERM, _stop_on_signal)
    signal.signal(signal.SIGINT, _stop_on_signal)
    s = settings()
    try:
        chain = start_devchain(s, port)
    except KeyboardInterrupt:
        return
    try:
        _w3, deployment = _provisioned(s, chain)
        err.print(f"  contract     {deployment.address}")
        err.print(f"  chain id     {deployment.chain_id}")
        err.print(f"  data dir     {s.home}")
        err.print("Submit a tip from another terminal:  tipledger submit --text '…'")
        err.print("Press Ctrl-C to stop (the chain's state is kept in the data directory).")
        chain.wait()
    except KeyboardInterrupt:
        err.print("stopping the devchain…")
    finally:
        chain.stop()


def _run_up(port: int | None, host: str | None, api_port: int | None) -> None:
    s = settings()
    chain = start_devchain(s, port)
    try:
        w3, deployment = _provisioned(s, chain)
        err.print(f"  data dir     {s.home}")
        # The API server handles SIGINT/SIGTERM itself and returns; the chain stops after it.
        run_service(s, deployment, w3, host=host, port=api_port)
    except KeyboardInterrupt:
        pass
    finally:
        err.print("stopping the devchain…")
        chain.stop()


ApiPort = Annotated[
    int | None,
    typer.Option("--api-port", help="Port for the HTTP API (default: TIPLEDGER_PORT or 8000)."),
]


def register(app: typer.Typer) -> None:
    @app.command()
    @one_line_errors
    def up(port: Port = None, host: Host = None, api_port: ApiPort = None) -> None:
        """Start the embedded default: a local chain, TipLedger deployed on it if needed, and
        the HTTP API with its sequencer (SQLite in the data directory). Ctrl-C stops all."""
        _run_up(port, host, api_port)

    @app.command()
    @one_line_errors
    def devchain(port: Port = None) -> None:
        """Run Anvil in the foreground, deploy TipLedger if needed, print RPC URL and contract."""
        _run_devchain(port)

    @app.command()
    @one_line_errors
    def deploy(
        rpc: Annotated[str, typer.Option("--rpc", help="JSON-RPC URL of the chain.")],
        key_file: Annotated[
            Path,
            typer.Option(
                "--key-file",
                exists=True,
                dir_okay=False,
                help="Deployer key: keystore (passphrase from TIPLEDGER_KEY_PASSPHRASE[_FILE]).",
            ),
        ],
        anchorer: Annotated[
            str | None, typer.Option(help="Address given ANCHORER_ROLE (default: the deployer).")
        ] = None,
        max_merge_delay: Annotated[int, typer.Option(help="Seconds, see PROTOCOL.md 4.")] = 86_400,
        disclosure_threshold: Annotated[int, typer.Option(help="Custodian quorum.")] = 3,
    ) -> None:
        """Deploy TipLedger to any chain and write the deployment file in the data directory."""
        s = settings()
        account = load_key(key_file, read_passphrase(s.key_passphrase, s.key_passphrase_file))
        w3 = connect(rpc, timeout=s.rpc_timeout)
        deployment = deploy_contract(
            w3,
            account,
            anchorer=anchorer or account.address,
            max_merge_delay=max_merge_delay,
            disclosure_threshold=disclosure_threshold,
        )
        deployment = replace(deployment, rpc_url=rpc)
        s.ensure_home()
        deployment.save(s.deployment_file)
        if anchorer is None and not s.anchorer_key_file.exists():
            s.anchorer_key_file.write_bytes(key_file.read_bytes())
            s.anchorer_key_file.chmod(0o600)
        err.print(f"[bold green]deployed[/] TipLedger at {deployment.address}")
        err.print(f"  chain id {deployment.chain_id}, block {deployment.deploy_block}")
        err.print(f"  deployment file {s.deployment_file}")
        if anchorer is not None:
            err.print(f"  put the key of {anchorer} at {s.anchorer_key_file} to anchor")
        out.print(deployment.address)

    @app.command("log")
    @one_line_errors
    def log_(rpc: Rpc = None) -> None:
        """List the checkpoints anchored on chain, oldest first."""
        s = settings()
        deployment, _w3, contract = open_chain(s, rpc)
        events = contract.anchored_events(deployment.deploy_block)
        table = Table(title=f"TipLedger {contract.address} on chain {deployment.chain_id}")
        for col in ("tree size", "root hash", "block", "block time", "transaction"):
            table.add_column(col, justify="right" if col in ("tree size", "block") else "left")
        for e in events:
            table.add_row(
                f"{e.tree_size:,}",
                to_hex(e.root_hash),
                str(e.block_number),
                utc(e.timestamp),
                to_hex(e.tx_hash),
            )
        out.print(table)
        if not events:
            err.print("no checkpoint anchored yet")
