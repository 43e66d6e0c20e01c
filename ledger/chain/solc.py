"""Build the TipLedger contract with the pinned solc and load the committed artifact.

Running the service needs no compiler: it reads ``contracts/build/TipLedger.json``. Developers
regenerate that file with ``python -m ledger.chain.solc``; a unit test recompiles and compares,
so the committed artifact always matches the committed sources.

The compiler is a native ``solc`` of the pinned version if one is on PATH, else the npm
``solcjs``. Both must give the same bytes, so nothing in the artifact names which one ran.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ledger.errors import CompileError, ConfigError

__all__ = [
    "ARTIFACT_PATH",
    "CONTRACTS_DIR",
    "SOLC_VERSION",
    "build_artifact",
    "compile_contracts",
    "find_solc",
    "load_artifact",
    "write_artifact",
]

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CONTRACTS_DIR = PROJECT_ROOT / "contracts"
NODE_MODULES = PROJECT_ROOT / "node_modules"
ARTIFACT_PATH = CONTRACTS_DIR / "build" / "TipLedger.json"

SOLC_VERSION = "0.8.37"
CONTRACT_NAME = "TipLedger"
MAIN_SOURCE = "contracts/TipLedger.sol"
PROJECT_SOURCES = (
    "contracts/TipLedger.sol",
    "contracts/Agencies.sol",
    "contracts/ConsistencyVerifier.sol",
    "contracts/RoutingVerifier.sol",
)

# Fixed, so every machine produces the same bytes. Cancun runs on Anvil's default hardfork and on
# any chain that has had Dencun; high optimizer runs because anchor() is called forever and
# deployed once. bytecodeHash "none" keeps local paths and comments out of the bytecode.
SETTINGS: dict[str, Any] = {
    "evmVersion": "cancun",
    "optimizer": {"enabled": True, "runs": 1_000_000},
    "metadata": {"bytecodeHash": "none"},
    "outputSelection": {
        MAIN_SOURCE: {CONTRACT_NAME: ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]}
    },
}

# os.environ is process-wide; serialise the PATH tweak around the compiler subprocess.
_env_lock = threading.Lock()


def _native_solc() -> Path | None:
    """A ``solc`` on PATH reporting the pinned version, if any."""
    found = shutil.which("solc")
    if found is None:
        return None
    try:
        out = subprocess.run(
            [found, "--version"], capture_output=True, text=True, timeout=30, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return Path(found) if f"Version: {SOLC_VERSION}+" in out else None


def find_solc() -> Path:
    """The compiler to use: a native solc of the pinned version, else the npm solcjs."""
    native = _native_solc()
    if native is not None:
        return native
    solcjs = NODE_MODULES / ".bin" / "solcjs"
    if not solcjs.exists():
        raise ConfigError(
            f"no Solidity compiler: {solcjs} is missing and no solc {SOLC_VERSION} is on PATH; "
            "run `npm ci` in the project root"
        )
    return solcjs


@contextmanager
def _smt_solver_on_path(solc_binary: Path) -> Iterator[None]:
    """Make the venv's ``z3`` visible to solcjs.

    Without any SMT solver on PATH, solcjs prints a notice on stdout before its JSON, which
    the JSON parse would fail on. The z3-solver wheel installs a ``z3`` next to the interpreter.
    """
    if solc_binary.name != "solcjs" or shutil.which("z3") is not None:
        yield
        return
    venv_bin = str(Path(sys.executable).parent)
    path = os.environ.get("PATH", "")
    new_path = venv_bin + os.pathsep + path if path else venv_bin
    if shutil.which("z3", path=new_path) is None:
        raise CompileError(
            "solcjs needs an SMT solver on PATH to print clean JSON, and no `z3` was found "
            f"(also looked in {venv_bin}); install the z3-solver package into this environment"
        )
    with _env_lock:
        os.environ["PATH"] = new_path
        try:
            yield
        finally:
            os.environ["PATH"] = path


def _read_sources(root: Path) -> dict[str, dict[str, str]]:
    return {
        name: {"content": (root / name).read_text(encoding="utf-8")} for name in PROJECT_SOURCES
    }


def _standard_json(binary: Path, std_input: dict[str, Any], base_path: Path) -> dict[str, Any]:
    """``solc --standard-json``, its output written to a file, not a pipe: solcjs (node) exits
    before a pipe has taken more than 64 KiB of it, and the output is larger than that."""
    with tempfile.TemporaryFile() as sink:
        # No --allow-paths: solcjs rejects it, and the base path already admits node_modules.
        subprocess.run(
            [str(binary), "--standard-json", "--base-path", str(base_path)],
            input=json.dumps(std_input).encode(),
            stdout=sink,
            stderr=subprocess.PIPE,
            check=True,
            timeout=600,
        )
        sink.seek(0)
        text = sink.read().decode("utf-8")
    # solcjs may print a notice before the JSON (see _smt_solver_on_path): start at the brace.
    output: dict[str, Any] = json.loads(text[text.index("{") :] if "{" in text else text)
    return output


def compile_contracts(
    solc_binary: Path | None = None, project_root: Path = PROJECT_ROOT
) -> dict[str, Any]:
    """Run the compiler on the project's sources; returns its standard-JSON output.

    Compiler errors (severity ``error``) raise CompileError with the formatted messages;
    warnings are logged.
    """
    binary = solc_binary or find_solc()
    node_modules = project_root / "node_modules"
    if not (node_modules / "@openzeppelin" / "contracts").is_dir():
        raise ConfigError(f"OpenZeppelin contracts missing under {node_modules}: run `npm ci`")
    std_input = {
        "language": "Solidity",
        "sources": _read_sources(project_root),
        "settings": SETTINGS,
    }
    try:
        with _smt_solver_on_path(binary):
            output = _standard_json(binary, std_input, node_modules)
    except json.JSONDecodeError as exc:
        raise CompileError(
            f"{binary} printed something other than JSON on stdout ({exc.doc[:200]!r})"
        ) from exc
    except (OSError, subprocess.SubprocessError) as exc:
        raise CompileError(f"cannot run the Solidity compiler {binary}: {exc}") from exc
    errors = output.get("errors", [])
    fatal = [e["formattedMessage"] for e in errors if e.get("severity") == "error"]
    if fatal:
        raise CompileError("solc reported errors:\n" + "\n".join(fatal))
    for e in errors:
        log.warning("solc: %s", e.get("formattedMessage", e))
    return output


def _sha256_hex(data: bytes) -> str:
    return "0x" + hashlib.sha256(data).hexdigest()


def _source_hashes(output: Mapping[str, Any], project_root: Path) -> dict[str, str]:
    """SHA-256 of every source unit the compiler used, OpenZeppelin imports included."""
    hashes = {}
    for unit in output.get("sources", {}):
        own = project_root / unit
        path = own if unit in PROJECT_SOURCES else project_root / "node_modules" / unit
        hashes[unit] = _sha256_hex(path.read_bytes())
    return dict(sorted(hashes.items()))


def build_artifact(
    solc_binary: Path | None = None, project_root: Path = PROJECT_ROOT
) -> dict[str, Any]:
    """Compile and return the artifact dict exactly as it is committed."""
    output = compile_contracts(solc_binary, project_root)
    try:
        contract = output["contracts"][MAIN_SOURCE][CONTRACT_NAME]
    except KeyError as exc:
        raise CompileError(f"compiler output has no {MAIN_SOURCE}:{CONTRACT_NAME}") from exc
    bytecode = contract["evm"]["bytecode"]["object"]
    runtime = contract["evm"]["deployedBytecode"]["object"]
    if not bytecode or not runtime:
        raise CompileError(f"{CONTRACT_NAME} compiled to empty bytecode")
    return {
        "contractName": CONTRACT_NAME,
        "abi": contract["abi"],
        "bytecode": "0x" + bytecode,
        "deployedBytecode": "0x" + runtime,
        "compiler": f"solc-{SOLC_VERSION}",
        "sourceHashes": _source_hashes(output, project_root),
        "settings": SETTINGS,
    }


def dumps_artifact(artifact: Mapping[str, Any]) -> str:
    """The artifact's canonical text: sorted keys, two-space indent, trailing newline."""
    return json.dumps(artifact, sort_keys=True, indent=2) + "\n"


def write_artifact(artifact: Mapping[str, Any], path: Path = ARTIFACT_PATH) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dumps_artifact(artifact), encoding="utf-8")
    return path


def load_artifact(path: Path = ARTIFACT_PATH) -> dict[str, Any]:
    """Read the committed artifact (no compiler involved)."""
    try:
        artifact: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(
            f"contract artifact {path} is missing; run `python -m ledger.chain.solc`"
        ) from exc
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"contract artifact {path} is unreadable: {exc}") from exc
    for key in ("abi", "bytecode", "deployedBytecode"):
        if key not in artifact:
            raise ConfigError(f"contract artifact {path} has no {key!r}")
    return artifact


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    path = write_artifact(build_artifact())
    print(f"wrote {path.relative_to(PROJECT_ROOT)}")


if __name__ == "__main__":
    main()
