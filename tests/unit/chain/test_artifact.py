"""The committed contract artifact is exactly what the pinned compiler makes of the sources."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from pathlib import Path

import pytest

from ledger.chain.solc import (
    ARTIFACT_PATH,
    PROJECT_ROOT,
    PROJECT_SOURCES,
    build_artifact,
    dumps_artifact,
    load_artifact,
)
from ledger.errors import CompileError, ConfigError

EXPECTED_FUNCTIONS = {
    "anchor(uint64,bytes32,bytes32[])",
    "checkpoint(uint64)",
    "latest()",
    "maxMergeDelay()",
    "commit(bytes32)",
    "recordReview(bytes32,uint8,bytes32)",
    "reviewOf(bytes32)",
    "disclosureThreshold()",
    "recordDisclosure(bytes32,bytes32,address,bytes[])",
}
EXPECTED_EVENTS = {
    "Anchored(uint64,bytes32,uint64)",
    "DirectCommitment(bytes32,address,uint64)",
    "ReviewRecorded(bytes32,uint8,bytes32,address,uint64)",
    "DisclosureApproved(bytes32,bytes32,address,uint64)",
}


def signature(item: dict) -> str:  # type: ignore[type-arg]
    return f"{item['name']}({','.join(i['type'] for i in item['inputs'])})"


@pytest.fixture(scope="module")
def rebuilt() -> dict:  # type: ignore[type-arg]
    return build_artifact()


def test_committed_artifact_is_byte_identical_to_a_rebuild(rebuilt: dict) -> None:  # type: ignore[type-arg]
    committed = ARTIFACT_PATH.read_text(encoding="utf-8")
    assert dumps_artifact(rebuilt) == committed, (
        "contracts/build/TipLedger.json is stale: run `python -m ledger.chain.solc`"
    )
    loaded = load_artifact()
    for key in ("abi", "bytecode", "deployedBytecode", "sourceHashes", "settings", "compiler"):
        assert loaded[key] == rebuilt[key], key


def test_source_hashes_cover_own_and_imported_sources(rebuilt: dict) -> None:  # type: ignore[type-arg]
    hashes = rebuilt["sourceHashes"]
    for name in PROJECT_SOURCES:
        digest = hashlib.sha256((PROJECT_ROOT / name).read_bytes()).hexdigest()
        assert hashes[name] == "0x" + digest
    assert any(name.startswith("@openzeppelin/contracts/") for name in hashes)


def test_abi_has_the_protocol_interface() -> None:
    abi = load_artifact()["abi"]
    functions = {signature(i) for i in abi if i["type"] == "function"}
    events = {signature(i) for i in abi if i["type"] == "event"}
    assert functions >= EXPECTED_FUNCTIONS
    assert events >= EXPECTED_EVENTS
    indexed = {
        i["name"]: [p["name"] for p in i["inputs"] if p["indexed"]]
        for i in abi
        if i["type"] == "event"
    }
    assert indexed["Anchored"] == ["treeSize"]
    assert indexed["DirectCommitment"] == ["commitment", "sender"]
    assert indexed["ReviewRecorded"] == ["commitment", "reviewer"]
    assert indexed["DisclosureApproved"] == ["recordId", "requester"]


def test_artifact_file_is_canonical_json() -> None:
    text = ARTIFACT_PATH.read_text(encoding="utf-8")
    assert text == json.dumps(json.loads(text), sort_keys=True, indent=2) + "\n"


def test_compiler_errors_are_not_hidden(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "contracts").mkdir()
    (tmp_path / "node_modules").symlink_to(PROJECT_ROOT / "node_modules")
    for name in PROJECT_SOURCES:
        (tmp_path / name).write_text((PROJECT_ROOT / name).read_text())
    broken = (tmp_path / "contracts/TipLedger.sol").read_text().replace("EmptyTree();", "Empty(", 1)
    (tmp_path / "contracts/TipLedger.sol").write_text(broken)
    with pytest.raises(CompileError, match="ParserError"):
        build_artifact(project_root=tmp_path)


def test_missing_artifact_is_a_config_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError, match=r"ledger\.chain\.solc"):
        load_artifact(tmp_path / "nope.json")


def path_without_z3() -> str:
    """PATH reduced to the directories that do not hold a ``z3`` (node stays reachable)."""
    dirs = os.environ.get("PATH", "").split(os.pathsep)
    return os.pathsep.join(d for d in dirs if d and not (Path(d) / "z3").exists())


def test_solcjs_gets_z3_from_the_venv(monkeypatch: pytest.MonkeyPatch) -> None:
    """npm solcjs prints a notice before its JSON when no SMT solver is on PATH; the compile
    must put the venv's z3 there by itself, and leave PATH as it was."""
    if not (Path(sys.executable).parent / "z3").exists():
        pytest.skip("z3-solver is not installed in this interpreter's environment")
    monkeypatch.setenv("PATH", path_without_z3())
    before = os.environ["PATH"]
    assert shutil.which("z3") is None
    assert dumps_artifact(build_artifact()) == ARTIFACT_PATH.read_text(encoding="utf-8")
    assert os.environ["PATH"] == before


def test_no_z3_anywhere_is_a_clear_compile_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", path_without_z3())
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    with pytest.raises(CompileError, match="z3"):
        build_artifact(solc_binary=PROJECT_ROOT / "node_modules" / ".bin" / "solcjs")
