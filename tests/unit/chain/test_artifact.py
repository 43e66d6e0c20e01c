"""The committed contract artifact is exactly what the pinned compiler makes of the sources."""

from __future__ import annotations

import copy
import hashlib
import json
import os
import shutil
import sys
from pathlib import Path

import pytest

from ledger.chain import solc
from ledger.chain.solc import (
    ARTIFACT_PATH,
    PROJECT_ROOT,
    PROJECT_SOURCES,
    build_artifact,
    dumps_artifact,
    load_artifact,
)
from ledger.errors import CompileError, ConfigError

ROUTING_PROOF = "(uint64,uint64,bytes32,bytes32[])"
EXPECTED_FUNCTIONS = {
    "anchor(uint64,bytes32,bytes32[],bytes32,bytes)",
    "checkpoint(uint64)",
    "routingOf(uint64)",
    "latest()",
    "maxMergeDelay()",
    "commit(bytes32)",
    "addAgency(bytes32,string,string)",
    "setAgencyActive(bytes32,bool)",
    "addMember(bytes32,address,bytes32)",
    "removeMember(bytes32,address)",
    "agencyIds()",
    "agencyInfo(bytes32)",
    "members(bytes32)",
    "isMember(bytes32,address)",
    "membershipsOf(address)",
    "holds(bytes32,bytes32)",
    "caseOpened(bytes32)",
    f"recordReview(bytes32,bytes32,uint8,bytes32,{ROUTING_PROOF})",
    f"refer(bytes32,bytes32,bytes32,bool,{ROUTING_PROOF})",
    "reviewOf(bytes32)",
    "reviewBy(bytes32,bytes32)",
    "disclosureThreshold()",
    "recordDisclosure(bytes32,bytes32,address,bytes[])",
}
EXPECTED_EVENTS = {
    "Anchored(uint64,bytes32,uint64)",
    "Routed(uint64,bytes32,uint64,bytes)",
    "DirectCommitment(bytes32,address,uint64)",
    "AgencyAdded(bytes32,string,string)",
    "AgencyActiveSet(bytes32,bool)",
    "MemberAdded(bytes32,address,bytes32)",
    "MemberRemoved(bytes32,address)",
    "CaseOpened(bytes32,bytes32,uint64,uint64)",
    "Referred(bytes32,bytes32,bytes32,bool,address,uint64)",
    "ReviewRecorded(bytes32,bytes32,uint8,bytes32,address,uint64)",
    "DisclosureApproved(bytes32,bytes32,address,uint64)",
}
# PROTOCOL.md 16.5: every refusal has its own custom error, with these arguments.
EXPECTED_ERRORS = {
    "RoutingCountMismatch(uint256,uint64)",
    "UnsortedAgencies()",
    "MalformedRoutingCounts(uint256)",
    "UnknownAgencyIndex(uint16)",
    "ZeroRoutingCount(uint16)",
    "TooManyAgencies()",
    "InvalidAgencyId()",
    "AgencyExists(bytes32)",
    "UnknownAgency(bytes32)",
    "AgencyInactive(bytes32)",
    "SameAgency(bytes32)",
    "ZeroAddress()",
    "ZeroKey()",
    "AlreadyMember(bytes32,address)",
    "NotMember(bytes32,address)",
    "UnroutedCheckpoint(uint64)",
    "InvalidRoutingProof(bytes32)",
    "CaseNotHeld(bytes32,bytes32)",
    "AlreadyHolds(bytes32,bytes32)",
    "InvalidReviewStatus(uint8)",
    "ZeroRootHash()",
}


def abi_type(param: dict) -> str:  # type: ignore[type-arg]
    if param["type"].startswith("tuple"):
        inner = ",".join(abi_type(c) for c in param["components"])
        return f"({inner}){param['type'][5:]}"
    return str(param["type"])


def signature(item: dict) -> str:  # type: ignore[type-arg]
    return f"{item['name']}({','.join(abi_type(i) for i in item['inputs'])})"


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
    errors = {signature(i) for i in abi if i["type"] == "error"}
    assert functions >= EXPECTED_FUNCTIONS
    assert events >= EXPECTED_EVENTS
    assert errors >= EXPECTED_ERRORS
    indexed = {
        i["name"]: [p["name"] for p in i["inputs"] if p["indexed"]]
        for i in abi
        if i["type"] == "event"
    }
    assert indexed["Anchored"] == ["treeSize"]
    assert indexed["DirectCommitment"] == ["commitment", "sender"]
    assert indexed["ReviewRecorded"] == ["commitment", "agency", "reviewer"]
    assert indexed["Routed"] == ["treeSize"]
    assert indexed["AgencyAdded"] == ["agency"]
    assert indexed["AgencyActiveSet"] == ["agency"]
    assert indexed["MemberAdded"] == ["agency", "member"]
    assert indexed["MemberRemoved"] == ["agency", "member"]
    assert indexed["CaseOpened"] == ["commitment", "agency"]
    assert indexed["Referred"] == ["commitment", "fromAgency", "toAgency"]
    assert indexed["DisclosureApproved"] == ["recordId", "requester"]


def test_the_anchor_reads_the_agency_count_in_the_latest_size_slot(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An anchor checks its agency indexes against the agency count alone; packed beside the
    latest size (which it reads anyway) that costs no storage read of its own. Storage packing
    across the inheritance is the compiler's to decide: the layout it reports must show it."""
    settings = copy.deepcopy(solc.SETTINGS)
    settings["outputSelection"][solc.MAIN_SOURCE][solc.CONTRACT_NAME].append("storageLayout")
    monkeypatch.setattr(solc, "SETTINGS", settings)
    output = solc.compile_contracts()
    layout = output["contracts"][solc.MAIN_SOURCE][solc.CONTRACT_NAME]["storageLayout"]
    where = {v["label"]: (int(v["slot"]), v["offset"], v["type"]) for v in layout["storage"]}
    # tests/integration/chain/test_agencies.py sets the count at this slot, and
    # tests/integration/audit/test_audit_agencies.py a membership under _agencies.
    assert where["_agencies"][:2] == (3, 0)
    assert where["_agencyCount"] == (5, 0, "t_uint32")
    assert where["_latestSize"] == (5, 4, "t_uint64")
    assert where["_disclosureThreshold"] == (5, 12, "t_uint8")


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
